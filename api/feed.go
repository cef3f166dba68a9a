package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// FeedNotifier wakes event streams after events were stored. A wake-up
// carries no data: streams read the feed by seq after it, so a missed or
// merged wake-up loses nothing.
type FeedNotifier interface {
	// Subscribe returns a channel that receives a value after events were
	// committed (several commits may share one), and cancel, which ends
	// the subscription. Fan-out never blocks on a subscriber.
	Subscribe() (wake <-chan struct{}, cancel func())
}

// Feed limits and timings.
const (
	feedDefaultLimit         = 500
	feedMaxLimit             = 5000
	defaultHeartbeatInterval = 15 * time.Second
	defaultWriteTimeout      = 30 * time.Second
	// sseRetryMillis tells EventSource clients how soon to reconnect.
	sseRetryMillis = 2000
)

func (s *Server) heartbeatInterval() time.Duration {
	if s.HeartbeatInterval > 0 {
		return s.HeartbeatInterval
	}
	return defaultHeartbeatInterval
}

func (s *Server) streamWriteTimeout() time.Duration {
	if s.writeTimeout > 0 {
		return s.writeTimeout
	}
	return defaultWriteTimeout
}

// CloseStreams ends every event stream being served, and any opened later
// after its first page. Register it with http.Server.RegisterOnShutdown:
// streams never finish by themselves, so without it a graceful shutdown
// waits for them until its deadline. Clients reconnect (to another replica)
// with Last-Event-ID and lose nothing.
func (s *Server) CloseStreams() {
	ch := s.closingCh()
	s.closeOnce.Do(func() { close(ch) })
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
		return s.streamFeed(w, r, p)
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
// LISTEN/NOTIFY is only a wake-up: after each one (and on every heartbeat, in
// case one was lost) the stream reads the feed by seq from the last id it
// sent. Writers make seqs visible in the order they were drawn, so reading
// "seq > last" neither skips nor repeats an event.
//
// Each stream is its own handler goroutine with its own reads and writes; the
// notifier's fan-out never blocks, and every write has its own deadline, so a
// client that stops reading is dropped without holding up anyone else.
func (s *Server) streamFeed(w http.ResponseWriter, r *http.Request, p feedParams) error {
	ctx := r.Context()
	s.streams.Add(1)
	defer s.streams.Add(-1)

	// Subscribe before the first read: a commit between the read and the
	// subscription would otherwise go unnoticed until the next heartbeat.
	var wake <-chan struct{}
	if s.Feed != nil {
		var cancel func()
		wake, cancel = s.Feed.Subscribe()
		defer cancel()
	}
	// The first page is read before the headers, so that a database
	// failure is still a clean error response.
	events, err := s.Store.Feed(ctx, p.After, p.Limit)
	if err != nil {
		return err
	}

	rc := http.NewResponseController(w)
	// The server's ReadTimeout and WriteTimeout are meant for ordinary
	// requests; a stream lives as long as its client. Its writes get
	// deadlines of their own below.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	bw := bufio.NewWriterSize(w, 16<<10)
	after := p.After
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	_ = rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
	fmt.Fprintf(bw, "retry: %d\n\n", sseRetryMillis)
	if err := flush(); err != nil {
		return nil
	}

	closing := s.closingCh()
	heartbeat := time.NewTicker(s.heartbeatInterval())
	defer heartbeat.Stop()
	for {
		if len(events) > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
			for _, e := range events {
				if err := writeSSEEvent(bw, e); err != nil {
					return nil // client gone or too slow
				}
				after = e.Seq
			}
			if err := flush(); err != nil {
				return nil
			}
		}
		if len(events) < p.Limit {
			// Caught up: wait for news.
			select {
			case <-ctx.Done():
				return nil
			case <-closing:
				return nil
			case <-wake:
			case <-heartbeat.C:
				_ = rc.SetWriteDeadline(time.Now().Add(s.streamWriteTimeout()))
				if _, err := bw.WriteString(": heartbeat\n\n"); err != nil {
					return nil
				}
				if err := flush(); err != nil {
					return nil
				}
			}
		} else if ctx.Err() != nil || isClosed(closing) {
			return nil
		}
		if events, err = s.Store.Feed(ctx, after, p.Limit); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The headers are sent: end the stream. The client
			// reconnects with Last-Event-ID and loses nothing.
			s.logger().Warn("feed stream: reading the feed failed", zap.Int64("after", after), zap.Error(err))
			return nil
		}
	}
}

// writeSSEEvent writes one event (or annotation change). The data is one
// line of JSON (encoding/json escapes line breaks inside strings), so no
// data: line needs splitting.
func writeSSEEvent(bw *bufio.Writer, e timeline.Event) error {
	b, err := jsonLine(feedEntryJSON(e))
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "id: %d\ndata: ", e.Seq)
	bw.Write(b)
	_, err = bw.WriteString("\n\n")
	return err
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
