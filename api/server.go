// Package api serves Groundwork over HTTP: the read API, the feed, the
// webhooks, bearer-token auth and the OpenAPI document.
package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

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
	// Feed wakes event streams of /v1/feed when events were stored;
	// without it they look every HeartbeatInterval.
	Feed FeedNotifier
	// HeartbeatInterval is how often an event stream sends a comment line
	// to keep proxies from closing it (default 15s).
	HeartbeatInterval time.Duration
	// Deliveries records webhook deliveries and queues collections; without
	// it the webhooks and POST /v1/incidents/{id}/collect answer 503.
	Deliveries timeline.DeliveryStore
	// Webhooks configures the webhook receivers.
	Webhooks WebhookConfig

	tokens []tokenEntry
	// writeTimeout bounds each write of a streamed response (default
	// 30s): a client that reads nothing for that long is dropped.
	writeTimeout time.Duration
	// streams counts the event streams being served.
	streams atomic.Int64
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
	route("GET /v1/feed", ScopeRead, s.getFeed)
	route("POST /v1/incidents/{id}/collect", ScopeWrite, s.collect)
	s.routeWebhooks(handle)
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
			if err := s.authenticate(r, scope); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
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
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ReadyFunc(ctx); err != nil {
			return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
