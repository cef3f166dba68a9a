package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"
)

// FeedNotifier wakes the feed hub after events were stored. A wake-up
// carries no data: the hub reads the feed by seq after it, so a missed or
// merged wake-up loses nothing.
type FeedNotifier interface {
	// Subscribe returns a channel that receives a value after events were
	// committed (several commits may share one), and cancel, which ends
	// the subscription. Fan-out never blocks on a subscriber.
	Subscribe() (wake <-chan struct{}, cancel func())
}

// StreamLimits bound the event streams of GET /v1/feed. Zero fields take
// the defaults.
type StreamLimits struct {
	// MaxStreams caps the streams served at once (default 5000). Past it
	// a new stream is refused with 503 and Retry-After.
	MaxStreams int
	// MaxPerToken caps the streams of one bearer token (default 1000).
	MaxPerToken int
	// WriteTimeout bounds each write of a stream or an export (default
	// 30s): a client that does not take a batch within it is dropped.
	WriteTimeout time.Duration
	// Buffer bounds the bytes of events a stream holds at a time, read
	// and not yet written (default 64 KiB; at least one event).
	Buffer int
	// History bounds the bytes of recent events the hub keeps encoded for
	// streams to follow (default 32 MiB). A stream further behind reads
	// the store until it catches up.
	History int64
	// CatchUpConcurrency caps the streams reading FeedCatchUp at once
	// (default 4); give FeedCatchUp's pool as many connections.
	CatchUpConcurrency int
}

// Feed limits and timings.
const (
	feedDefaultLimit          = 500
	feedMaxLimit              = 5000
	defaultHeartbeatInterval  = 15 * time.Second
	defaultWriteTimeout       = 30 * time.Second
	defaultMaxStreams         = 5000
	defaultMaxStreamsPerToken = 1000
	defaultStreamBuffer       = 64 << 10
	defaultFeedHistory        = 32 << 20
	defaultCatchUpConcurrency = 4
	// sseRetryMillis tells EventSource clients how soon to reconnect.
	sseRetryMillis = 2000
)

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (s *Server) heartbeatInterval() time.Duration {
	return orDefault(s.HeartbeatInterval, defaultHeartbeatInterval)
}

func (s *Server) streamWriteTimeout() time.Duration {
	return orDefault(s.Streams.WriteTimeout, defaultWriteTimeout)
}

func (s *Server) streamBuffer() int { return orDefault(s.Streams.Buffer, defaultStreamBuffer) }

// hub returns the process's feed hub, built on first use.
func (s *Server) hub() *feedHub {
	s.hubInit.Do(func() {
		src := s.FeedSource
		if src == nil {
			if fs, ok := s.Store.(FeedSource); ok {
				src = fs
			} else {
				src = headless{s.Store}
			}
		}
		s.feedHub = newFeedHub(src, s.Feed, s.heartbeatInterval(), s.readTimeout(),
			orDefault(s.Streams.History, defaultFeedHistory), s.logger(), s.Metrics)
		s.catchUp = semaphore.NewWeighted(int64(orDefault(s.Streams.CatchUpConcurrency, defaultCatchUpConcurrency)))
	})
	return s.feedHub
}

func (s *Server) catchUpSem() *semaphore.Weighted {
	s.hub()
	return s.catchUp
}

// catchUpReader is what streams behind the hub's ring read.
func (s *Server) catchUpReader() FeedReader {
	switch {
	case s.FeedCatchUp != nil:
		return s.FeedCatchUp
	case s.FeedSource != nil:
		return s.FeedSource
	}
	return s.Store
}

// admitStream counts a new stream against the caps, or refuses it; release
// uncounts it.
func (s *Server) admitStream(key [sha256.Size]byte) (release func(), err error) {
	maxTotal := orDefault(s.Streams.MaxStreams, defaultMaxStreams)
	maxPer := orDefault(s.Streams.MaxPerToken, defaultMaxStreamsPerToken)
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	switch {
	case s.streams.Load() >= int64(maxTotal):
		s.Metrics.feedRefused("max_streams")
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "too_many_streams",
			Message: fmt.Sprintf("this server already serves its limit of %d event streams; retry later, or poll the feed without Accept: text/event-stream", maxTotal)}
	case s.perToken[key] >= maxPer:
		s.Metrics.feedRefused("max_streams_per_token")
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "too_many_streams",
			Message: fmt.Sprintf("this token already holds its limit of %d event streams; close one or retry later", maxPer)}
	}
	if s.perToken == nil {
		s.perToken = map[[sha256.Size]byte]int{}
	}
	s.perToken[key]++
	s.streams.Add(1)
	s.Metrics.feedStreams(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.streamsMu.Lock()
			defer s.streamsMu.Unlock()
			if s.perToken[key]--; s.perToken[key] <= 0 {
				delete(s.perToken, key)
			}
			s.streams.Add(-1)
			s.Metrics.feedStreams(-1)
		})
	}, nil
}

// bearerToken is the request's bearer token, already checked by wrap.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < len("bearer ") {
		return ""
	}
	return strings.TrimSpace(h[len("bearer "):])
}

// noteHeld records the largest batch a stream held, for tests.
func (s *Server) noteHeld(n int) {
	for {
		old := s.heldMax.Load()
		if int64(n) <= old || s.heldMax.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}

// streamEnded counts a stream that ended on a failed write: a client that
// stopped reading (the write deadline passed) or went away.
func (s *Server) streamEnded(err error) {
	reason := "client_gone"
	if errors.Is(err, os.ErrDeadlineExceeded) {
		reason = "slow_reader"
	}
	s.Metrics.feedDropped(reason)
}

// CloseStreams ends every event stream being served, and any opened later
// after its first page, and stops the feed hub. Register it with
// http.Server.RegisterOnShutdown: streams never finish by themselves, so
// without it a graceful shutdown waits for them until its deadline. Clients
// reconnect (to another replica) with Last-Event-ID and lose nothing.
func (s *Server) CloseStreams() {
	ch := s.closingCh()
	s.closeOnce.Do(func() { close(ch) })
	s.hub().close()
}

func (s *Server) closingCh() chan struct{} {
	s.closingInit.Do(func() { s.closing = make(chan struct{}) })
	return s.closing
}

// feedParams is the decoded query string of the feed.
type feedParams struct {
	After int64
	Limit int
}

func parseSeq(name, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("invalid_"+strings.ToLower(strings.ReplaceAll(name, "-", "_")),
			fmt.Sprintf("%s must be a seq, a non-negative integer, got %q", name, v))
	}
	return n, nil
}

func parseFeedParams(r *http.Request) (feedParams, error) {
	q := r.URL.Query()
	var p feedParams
	var err error
	if v := q.Get("after"); v != "" {
		if p.After, err = parseSeq("after", v); err != nil {
			return p, err
		}
	}
	if p.Limit, err = parseLimit(q, feedDefaultLimit, feedMaxLimit); err != nil {
		return p, err
	}
	return p, nil
}

// wantsEventStream reports whether the client asked for server-sent events.
func wantsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	p, err := parseFeedParams(r)
	if err != nil {
		return err
	}
	if wantsEventStream(r) {
		// An EventSource that reconnects sends the last id it saw; it
		// wins over the after of the URL it reconnects to.
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			if p.After, err = parseSeq("Last-Event-ID", v); err != nil {
				return err
			}
		}
		return s.streamFeed(w, r, p, streamScope{key: sha256.Sum256([]byte(bearerToken(r)))})
	}
	events, err := s.Store.Feed(r.Context(), p.After, p.Limit)
	if err != nil {
		return err
	}
	out := feedPageJSON{Events: make([]any, 0, len(events)), NextAfter: p.After}
	for _, e := range events {
		out.Events = append(out.Events, feedEntryJSON(e))
		out.NextAfter = e.Seq
	}
	return writeJSON(w, http.StatusOK, out)
}

// streamFeed serves the feed as server-sent events, each with the event's
// seq as its id, from p.After on, until the client goes away.
//
// The stream follows the process's feed hub, which reads each new page of
// the feed once and keeps recent events encoded in a ring; a stream whose
// position is older than the ring first reads the store (FeedCatchUp, at
// most Streams.CatchUpConcurrency streams at a time) until it reaches the
// ring. Either way it sends the events after the last id it sent, in seq
// order: none skipped, none twice.
//
// A stream holds at most Streams.Buffer bytes of events at a time (at least
// one event), and each batch it writes has Streams.WriteTimeout: a client
// that stops reading is dropped without holding up anyone else.
//
// scope names what the stream caps count it against, and, for the stream
// of one incident's page, the incident whose entries it keeps.
func (s *Server) streamFeed(w http.ResponseWriter, r *http.Request, p feedParams, scope streamScope) error {
	rc := http.NewResponseController(w)
	// The server's ReadTimeout and WriteTimeout are meant for ordinary
	// requests; a stream lives as long as its client. Clear them first,
	// before anything that may wait; its writes get deadlines of their
	// own below.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	// A stream outlives the read endpoints' ReadTimeout; each of its
	// reads gets one of its own.
	ctx := untimed(r)
	release, err := s.admitStream(scope.key)
	if err != nil {
		return err
	}
	defer release()

	hub := s.hub()
	closing := s.closingCh()
	hub.start(closing)
	shard, leave := hub.join()
	defer leave()
	rows := min(p.Limit, catchUpMaxRows)
	st := &feedStream{s: s, hub: hub, shard: shard, pos: p.After, rows: rows, maxRows: rows, budget: s.streamBuffer(), incident: scope.incident}
	// The first batch is read before the headers, so that a database
	// failure is still a clean error response.
	batch, wait, err := st.next(ctx)
	if err != nil {
		return err
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	_ = rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
	fmt.Fprintf(w, "retry: %d\n\n", sseRetryMillis)
	if err := rc.Flush(); err != nil {
		s.streamEnded(err)
		return nil
	}

	heartbeat := time.NewTicker(s.heartbeatInterval())
	defer heartbeat.Stop()
	for {
		if len(batch) > 0 {
			if err := st.write(w, rc, batch); err != nil {
				s.streamEnded(err)
				return nil
			}
			if ctx.Err() != nil || isClosed(closing) {
				return nil
			}
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-closing:
				return nil
			case <-wait:
			case <-heartbeat.C:
				_ = rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
				if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil {
					s.streamEnded(err)
					return nil
				}
				if err := rc.Flush(); err != nil {
					s.streamEnded(err)
					return nil
				}
			}
		}
		if batch, wait, err = st.next(ctx); err != nil {
			if ctx.Err() == nil {
				// The headers are sent: end the stream. The client
				// reconnects with Last-Event-ID and loses nothing.
				s.logger().Warn("feed stream: reading the feed failed", zap.Int64("after", st.pos), zap.Error(err))
			}
			return nil
		}
	}
}

// streamScope is what streamFeed counts a stream against (the hash of its
// token or link), and the one incident it keeps ("" for every one).
type streamScope struct {
	key      [sha256.Size]byte
	incident string
}

// catchUpMaxRows is the most events a stream reads from the store at once.
const catchUpMaxRows = 100

// feedStream is one stream's position and what it reads next.
type feedStream struct {
	s     *Server
	hub   *feedHub
	shard int
	// pos: every event with a seq up to pos was sent, or was before
	// the position the client asked for.
	pos int64
	// storeDone: the last read of the store found nothing more while the
	// hub was not ready; wait for the hub rather than read again.
	storeDone bool
	// rows is the size of the next read of the store: halved when a
	// page overflows the budget, grown back up to maxRows after.
	rows, maxRows int
	budget        int
	buf           []frame
	// incident, when set, is the one incident whose entries the stream
	// sends; it skips the others' (its position moves past them).
	incident string
}

// next returns the next frames to send, or, when there are none yet, a
// channel that is closed when there may be. A stream of one incident skips
// the frames of others.
func (st *feedStream) next(ctx context.Context) ([]frame, <-chan struct{}, error) {
	for {
		frames, wait, err := st.nextAny(ctx)
		if err != nil || st.incident == "" || len(frames) == 0 {
			return frames, wait, err
		}
		kept := frames[:0]
		for _, f := range frames {
			if f.incident == st.incident {
				kept = append(kept, f)
			}
		}
		if len(kept) > 0 {
			return kept, nil, nil
		}
	}
}

// nextAny is next for a stream of every incident.
func (st *feedStream) nextAny(ctx context.Context) ([]frame, <-chan struct{}, error) {
	for {
		v := st.hub.since(st.pos, st.shard, st.budget, st.buf[:0])
		st.buf = v.frames[:0]
		if v.ready && !v.behind {
			if len(v.frames) == 0 {
				return nil, v.wait, nil
			}
			st.pos = v.frames[len(v.frames)-1].seq
			return v.frames, nil, nil
		}
		if !v.ready && st.storeDone {
			return nil, v.wait, nil
		}
		frames, complete, err := st.catchUp(ctx)
		if err != nil {
			return nil, nil, err
		}
		if len(frames) > 0 {
			st.pos = frames[len(frames)-1].seq
		}
		st.storeDone = complete && !v.ready
		if complete && v.behind {
			// The store had nothing after the page, and every event up
			// to lo was visible before the page was read: the stream has
			// sent all of them and follows the ring from lo.
			st.pos = max(st.pos, v.lo)
		}
		if len(frames) > 0 {
			return frames, nil, nil
		}
	}
}

// catchUp reads the page after pos from the store, encoded. complete says
// the store had nothing more after it when it was read. The page is cut to
// the stream's budget (keeping at least one event); the rest is read again
// next time.
func (st *feedStream) catchUp(ctx context.Context) (page []frame, complete bool, err error) {
	s := st.s
	rctx, cancel := context.WithTimeout(ctx, s.readTimeout())
	defer cancel()
	sem := s.catchUpSem()
	if err := sem.Acquire(rctx, 1); err != nil {
		return nil, false, err
	}
	events, err := s.catchUpReader().Feed(rctx, st.pos, st.rows)
	sem.Release(1)
	s.Metrics.feedRead("catchup")
	if err != nil {
		return nil, false, err
	}
	complete = len(events) < st.rows
	size := 0
	for i, e := range events {
		f, err := encodeFrame(e)
		if err != nil {
			return nil, false, err
		}
		if i > 0 && size+len(f.data) > st.budget {
			st.rows = max(1, st.rows/2)
			return page, false, nil
		}
		size += len(f.data)
		page = append(page, f)
	}
	st.rows = min(st.maxRows, 2*st.rows)
	return page, complete, nil
}

// write sends frames as one batch under one write deadline.
func (st *feedStream) write(w http.ResponseWriter, rc *http.ResponseController, frames []frame) error {
	size := 0
	for _, f := range frames {
		size += len(f.data)
	}
	st.s.noteHeld(size)
	_ = rc.SetWriteDeadline(time.Now().Add(st.s.streamWriteTimeout()))
	for _, f := range frames {
		if _, err := w.Write(f.data); err != nil {
			return err
		}
	}
	return rc.Flush()
}

// jsonLine encodes v as one line of JSON without the trailing newline.
func jsonLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
