// Package api serves Groundwork over HTTP: the read API, the feed, the
// webhooks, bearer-token auth and the OpenAPI document.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Server holds what the handlers need. Fill in the fields, then call
// Handler once.
type Server struct {
	Store  timeline.Store
	Logger *zap.Logger
	// Tokens are the bearer tokens of api_tokens.
	Tokens []Token
	// Cursors signs and verifies pagination cursors.
	Cursors timeline.CursorCodec
	// ReadyFunc reports why the service cannot serve yet (database down,
	// schema not current), or nil.
	ReadyFunc func(ctx context.Context) error
	// MaxBody caps request bodies of the API (default 1 MiB).
	MaxBody int64
	// Metrics, when set, records HTTP latency and is served on /metrics.
	Metrics *Metrics
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time

	// Summaries, when set, gathers what the prepared summary of
	// GET /v1/incidents/{id} reads; without it the summary is null.
	Summaries timeline.SummaryStore
	// Versions, when set, gives incident and timeline responses an ETag
	// and answers If-None-Match with 304.
	Versions VersionStore
	// Review is the review: section (time zone, business hours, quiet
	// gap) the summary and the Markdown export use.
	Review timeline.ReviewConfig
	// Story is the review.story: section, the rules of the timeline's
	// story view; zero fields are the defaults (timeline.StoryConfig).
	Story timeline.StoryConfig
	// Feed wakes the feed hub, and through it the event streams of
	// /v1/feed, when events were stored; without it the hub looks every
	// HeartbeatInterval (it also does with it, in case a wake-up was lost).
	Feed FeedNotifier
	// FeedSource, when set, is what the feed hub reads instead of Store:
	// one hub per Server reads each new page of the feed once and fans it
	// out to every stream. Give it a pool of its own (one connection is
	// enough), so that streams never take a connection webhooks need.
	FeedSource FeedSource
	// FeedCatchUp, when set, is what a stream reads while its position is
	// older than the hub's history (a client resuming from an old
	// Last-Event-ID), at most Streams.CatchUpConcurrency at a time;
	// default FeedSource, else Store.
	FeedCatchUp FeedReader
	// Streams bounds the event streams.
	Streams StreamLimits
	// ReadTimeout bounds the database reads of the read endpoints (default
	// 10s): a request whose reads take longer gets 503 unavailable instead
	// of hanging on a database that does not answer. Streams and exports
	// apply it to each read.
	ReadTimeout time.Duration
	// HeartbeatInterval is how often an event stream sends a comment line
	// to keep proxies from closing it (default 15s).
	HeartbeatInterval time.Duration
	// Deliveries records webhook deliveries and queues collections; without
	// it the webhooks and POST /v1/incidents/{id}/collect answer 503.
	Deliveries timeline.DeliveryStore
	// Webhooks configures the webhook receivers.
	Webhooks WebhookConfig
	// Receivers are the sources' webhook receivers, each mounted at POST
	// /webhooks/{name} (see collectors.WebhookReceiver). They are not
	// bearer-authenticated: each verifies its sender before it parses
	// anything.
	Receivers []collectors.WebhookReceiver
	// Sources names the sources whose events the timeline's source filter
	// accepts: every source cmd lists. A filter naming another is refused.
	Sources []string
	// Annotations stores the markers and notes of /v1/incidents/{id}/annotations,
	// which timeline rows and the feed carry; without it those endpoints
	// answer 503 and timelines carry none.
	Annotations timeline.AnnotationStore
	// Shares stores the share links of /v1/incidents/{id}/share, which
	// ShareCodec signs; the meeting pages (/incidents/{id}) accept them.
	// Without both, those endpoints answer 503 and the pages accept API
	// tokens only.
	Shares     timeline.ShareStore
	ShareCodec timeline.ShareCodec
	// PublicURL is the address clients reach the server at (scheme, host,
	// optional path prefix), which the review packet's links and share
	// links start with; empty means the scheme and host of each request.
	PublicURL string
	// Deleter deletes incidents for DELETE /v1/incidents/{id}; without it
	// that endpoint answers 503.
	Deleter timeline.IncidentDeleter

	tokens []tokenEntry
	// streams counts the event streams being served, perToken by token
	// (the hash of it); streamsMu guards perToken and the admission.
	streams   atomic.Int64
	streamsMu sync.Mutex
	perToken  map[[sha256.Size]byte]int
	// heldMax is the largest batch, in bytes, a stream held.
	heldMax atomic.Int64
	// feedHub and catchUp are built on the first stream.
	hubInit sync.Once
	feedHub *feedHub
	catchUp *semaphore.Weighted
	// ready caches readyz's answer.
	ready readyCache
	// reviews caches prepared reviews by their inputs' version.
	reviews     *reviewCache
	reviewsInit sync.Once
	// closing is closed by CloseStreams.
	closing     chan struct{}
	closingInit sync.Once
	closeOnce   sync.Once
}

// handleFunc registers a handler for a pattern.
type handleFunc func(pattern string, h http.Handler)

// handlerFunc is an HTTP handler that returns its error to one mapper.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler returns the routed, instrumented handler.
func (s *Server) Handler() http.Handler {
	s.tokens = newTokenTable(s.Tokens)
	mux := http.NewServeMux()
	// allow records each path's methods, so that another method on a known
	// path gets a JSON 405 with an Allow header instead of the mux's text.
	allow := map[string][]string{}
	var paths []string
	handle := func(pattern string, h http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		if _, seen := allow[path]; !seen {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
		mux.Handle(pattern, h)
	}
	route := func(pattern, scope string, h handlerFunc) {
		var hh http.Handler = s.wrap(scope, h)
		if s.Metrics != nil {
			hh = s.Metrics.instrument(pattern, hh)
		}
		handle(pattern, hh)
	}
	route("GET /healthz", "", s.healthz)
	route("GET /readyz", "", s.readyz)
	route("GET /v1/incidents", ScopeRead, s.listIncidents)
	route("GET /v1/incidents/{id}", ScopeRead, s.getIncident)
	route("GET /v1/incidents/{id}/timeline", ScopeRead, s.getTimeline)
	route("GET /v1/incidents/{id}/people", ScopeRead, s.getPeople)
	route("GET /v1/incidents/{id}/changes", ScopeRead, s.getChanges)
	route("GET /v1/feed", ScopeRead, s.getFeed)
	route("POST /v1/incidents/{id}/collect", ScopeWrite, s.collect)
	route("DELETE /v1/incidents/{id}", ScopeWrite, s.deleteIncident)
	s.routeAnnotations(route)
	s.routeShares(route)
	s.routePages(handle)
	s.routePacket(route)
	s.routeReceivers(handle)
	route("GET /openapi.json", "", s.getOpenAPI)
	if s.Metrics != nil {
		handle("GET /metrics", s.Metrics.Handler())
	}
	for _, path := range paths {
		methods := strings.Join(allow[path], ", ")
		if strings.Contains(methods, http.MethodGet) {
			methods += ", " + http.MethodHead
		}
		mux.Handle(path, s.wrap("", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", methods)
			return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: r.Method + " is not allowed on " + quoted(r.URL.Path) + "; use " + methods}
		}))
	}
	mux.Handle("/", s.wrap("", func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no route for " + r.Method + " " + quoted(r.URL.Path)}
	}))
	return s.recoverer(s.checkPath(mux))
}

func (s *Server) wrap(scope string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		maxBody := s.MaxBody
		if maxBody <= 0 {
			maxBody = 1 << 20
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if scope != "" {
			var err error
			if r, err = s.authenticate(r, scope); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			s.writeError(w, r, err)
			return
		}
		hr := r
		if scope == ScopeRead {
			// Bound what a read endpoint waits for the database.
			ctx, cancel := context.WithTimeout(r.Context(), s.readTimeout())
			defer cancel()
			hr = r.WithContext(context.WithValue(ctx, untimedKey{}, r.Context()))
		}
		if err := h(w, hr); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
				// The database did not answer within ReadTimeout.
				err = fmt.Errorf("%w: %w", timeline.ErrUnavailable, err)
			}
			s.writeError(w, r, err)
		}
	})
}

const defaultReadTimeout = 10 * time.Second

func (s *Server) readTimeout() time.Duration { return orDefault(s.ReadTimeout, defaultReadTimeout) }

// untimedKey holds a read request's context before ReadTimeout was applied.
type untimedKey struct{}

// untimed returns the request's context without the read endpoints'
// ReadTimeout, for responses that outlive it (streams, exports), which
// bound each of their reads instead.
func untimed(r *http.Request) context.Context {
	if ctx, ok := r.Context().Value(untimedKey{}).(context.Context); ok {
		return ctx
	}
	return r.Context()
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger().Error("panic serving request", zap.String("path", r.URL.Path),
					zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) logger() *zap.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return zap.NewNop()
}

func (s *Server) now() time.Time {
	if s.NowFunc != nil {
		return s.NowFunc()
	}
	return time.Now()
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.ReadyFunc != nil {
		if err := s.ready.check(r.Context(), s.ReadyFunc); err != nil {
			// The cause names hosts, users and databases: it is logged, and
			// the unauthenticated caller gets a fixed reason.
			s.logger().Warn("not ready", zap.Error(err))
			return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable",
				"reason": "the database is unreachable or its schema is not current; the service's log says which"})
		}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// readyTTL is how long readyz reuses an answer: /readyz needs no token, so
// without it every caller could make the service query its database.
const readyTTL = time.Second

// readyCache remembers ReadyFunc's last answer for readyTTL. Concurrent
// callers of an expired answer wait for one check.
type readyCache struct {
	mu  sync.Mutex
	at  time.Time
	err error
	// nowFunc is the clock, time.Now when nil (tests set it).
	nowFunc func() time.Time
}

func (c *readyCache) check(ctx context.Context, f func(context.Context) error) error {
	now := time.Now
	if c.nowFunc != nil {
		now = c.nowFunc
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && now().Sub(c.at) < readyTTL {
		return c.err
	}
	// The answer serves other callers too: it must not fail because this
	// one went away.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	c.err = f(cctx)
	c.at = now()
	return c.err
}
