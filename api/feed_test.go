package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
)

// sseEvent is one server-sent event as a client sees it.
type sseEvent struct {
	id   int64
	data string
	at   time.Time
}

// sseClient reads one event stream in a goroutine.
type sseClient struct {
	resp       *http.Response
	events     chan sseEvent
	heartbeats atomic.Int64
	retry      atomic.Int64
	done       chan error // the read loop's end
}

func (b *reviewBundle) stream(t testing.TB, path string, headers ...string) *sseClient {
	t.Helper()
	c, err := b.openStream(path, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openStream is stream for goroutines other than the test's.
func (b *reviewBundle) openStream(path string, headers ...string) (*sseClient, error) {
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s as a stream: %d", path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		resp.Body.Close()
		return nil, fmt.Errorf("stream content type %q", ct)
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 100000), done: make(chan error, 1)}
	go func() {
		r := bufio.NewReader(resp.Body)
		var ev sseEvent
		hasID := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(c.events)
				c.done <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev.data != "" {
					if !hasID {
						ev.id = -1
					}
					ev.at = time.Now()
					c.events <- ev
				}
				ev, hasID = sseEvent{}, false
			case strings.HasPrefix(line, ":"):
				c.heartbeats.Add(1)
			case strings.HasPrefix(line, "id: "):
				ev.id, _ = strconv.ParseInt(line[4:], 10, 64)
				hasID = true
			case strings.HasPrefix(line, "data: "):
				ev.data += line[6:]
			case strings.HasPrefix(line, "retry: "):
				n, _ := strconv.ParseInt(line[7:], 10, 64)
				c.retry.Store(n)
			}
		}
	}()
	return c, nil
}

func (c *sseClient) close() { c.resp.Body.Close() }

// next returns the next event; it fails the test when the stream ends or
// nothing comes within a bound that only guards against a hang.
func (c *sseClient) next(t testing.TB) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			t.Fatalf("stream ended: %v", <-c.done)
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event on the stream")
	}
	return sseEvent{}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func chatEvent(inc string, i int, text string) timeline.Event {
	return timeline.Event{ID: fmt.Sprintf("slack:message:C0CHECKOUT:%d.%06d", t0.Unix()+int64(i), i), IncidentID: inc,
		Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: t0.Add(time.Duration(i) * time.Second),
		Actor: &timeline.Actor{ID: "U1", Name: "Ana"}, Title: fmt.Sprintf("message %d", i), Text: text}
}

func TestFeedPagesAcrossIncidents(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	b.incident(t, timeline.Incident{ID: "PB", StartedAt: t0})
	for i := 0; i < 10; i++ {
		b.events(t, chatEvent("PA", i, ""), chatEvent("PB", 100+i, ""))
	}
	var got []api.EventJSON
	after := int64(0)
	for pages := 0; pages < 100; pages++ {
		status, _, body := b.fetch(t, fmt.Sprintf("/v1/feed?after=%d&limit=3", after))
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		page := decode[api.FeedJSON](t, body)
		got = append(got, page.Events...)
		if len(page.Events) == 0 {
			if page.NextAfter != after {
				t.Errorf("an empty page says next_after %d, want %d", page.NextAfter, after)
			}
			break
		}
		after = page.NextAfter
	}
	if len(got) != 20 {
		t.Fatalf("the feed gave %d events, want 20", len(got))
	}
	incidents := map[string]int{}
	for i, e := range got {
		if i > 0 && e.Seq <= got[i-1].Seq {
			t.Fatalf("seq %d after %d", e.Seq, got[i-1].Seq)
		}
		incidents[e.IncidentID]++
	}
	if incidents["PA"] != 10 || incidents["PB"] != 10 {
		t.Errorf("events by incident = %v", incidents)
	}
	for _, tc := range []struct{ path, header string }{
		{"/v1/feed?after=-1", ""}, {"/v1/feed?after=ten", ""}, {"/v1/feed?limit=0", ""}, {"/v1/feed?limit=5001", ""},
		{"/v1/feed", "x"},
	} {
		h := []string{}
		if tc.header != "" {
			h = []string{"Accept", "text/event-stream", "Last-Event-ID", tc.header}
		}
		if status, _, body := b.fetch(t, tc.path, h...); status != 400 {
			t.Errorf("%s (Last-Event-ID %q): %d %s, want 400", tc.path, tc.header, status, body)
		}
	}
}

// TestFeedStreamResumesWithoutLossOrRepetition inserts events while a client
// reads the stream, disconnects and resumes from Last-Event-ID, again and
// again: every event arrives exactly once, in seq order.
func TestFeedStreamResumesWithoutLossOrRepetition(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	b.incident(t, timeline.Incident{ID: "PB", StartedAt: t0})
	const total = 400
	writerDone := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for i := 0; i < total; {
			n := 1 + i%7
			var batch []timeline.Event
			for j := 0; j < n && i < total; j, i = j+1, i+1 {
				inc := "PA"
				if i%2 == 1 {
					inc = "PB"
				}
				batch = append(batch, chatEvent(inc, i, "concurrent"))
			}
			if _, err := b.store.UpsertEvents(ctx, batch); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()

	var last int64
	seen := map[string]bool{}
	for conn := 0; len(seen) < total; conn++ {
		if conn > 1000 {
			t.Fatal("too many reconnections")
		}
		// The URL keeps after=0, as an EventSource reconnecting to the
		// same URL does: Last-Event-ID must win.
		var c *sseClient
		if conn == 0 {
			c = b.stream(t, "/v1/feed?after=0&limit=5")
		} else {
			c = b.stream(t, "/v1/feed?after=0&limit=5", "Last-Event-ID", strconv.FormatInt(last, 10))
		}
		for k := 0; k < 37 && len(seen) < total; k++ {
			ev := c.next(t)
			e := decode[api.EventJSON](t, []byte(ev.data))
			if ev.id != e.Seq || e.Seq <= last {
				t.Fatalf("connection %d: id %d (seq %d) after %d", conn, ev.id, e.Seq, last)
			}
			if seen[e.ID] {
				t.Fatalf("event %s delivered twice", e.ID)
			}
			seen[e.ID], last = true, e.Seq
		}
		c.close()
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	feed, err := b.store.Feed(context.Background(), 0, 10*total)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != total || len(seen) != total {
		t.Errorf("stored %d, streamed %d, want %d", len(feed), len(seen), total)
	}
}

func TestFeedStreamFreesResourcesWhenTheClientLeaves(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	b.events(t, chatEvent("PA", 1, ""))
	c := b.stream(t, "/v1/feed")
	c.next(t)
	if n := api.ActiveStreams(b.server); n != 1 {
		t.Fatalf("%d streams while one client reads, want 1", n)
	}
	others := []*sseClient{b.stream(t, "/v1/feed"), b.stream(t, "/v1/feed")}
	// However many streams are open, the process's one feed hub is the
	// listener's only subscriber.
	if n := b.feed.Subscribers(); n != 1 {
		t.Errorf("the listener has %d subscribers with 3 streams open, want 1 (the feed hub)", n)
	}
	c.close()
	for _, o := range others {
		o.close()
	}
	waitUntil(t, "the streams' handlers to return", func() bool { return api.ActiveStreams(b.server) == 0 })
	waitUntil(t, "every database connection to return to the pool", func() bool { return b.schema.Pool.Stat().AcquiredConns() == 0 })
	b.events(t, chatEvent("PA", 2, "")) // a wake-up with nobody listening
	if status, _, _ := b.fetch(t, "/healthz"); status != 200 {
		t.Errorf("the server is unwell after a client left mid-stream: %d", status)
	}
	if n := b.feed.Subscribers(); n != 1 {
		t.Errorf("the listener has %d subscribers after the streams left, want the feed hub's 1", n)
	}
	b.server.CloseStreams()
	if n := b.feed.Subscribers(); n != 0 {
		t.Errorf("the listener has %d subscribers after CloseStreams stopped the hub, want 0", n)
	}
}

// stall opens a stream on a raw connection that sends its request and never
// reads a byte, with a small receive buffer, so that the server's writes
// soon block. The connection closes when the test ends.
func (b *reviewBundle) stall(t testing.TB, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n", path, readToken)
	return conn
}

// TestFeedStreamSlowClientDoesNotHoldUpOthers has one client that never
// reads while events pour in: another client gets every event while the
// slow one is stuck in a write. The write timeout is far longer than the
// test, so how fast the machine is changes nothing: the slow stream is
// still open (and stuck) when the fast client has everything.
func TestFeedStreamSlowClientDoesNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	b := setupReview(t, func(s *api.Server) { api.SetWriteTimeout(s, 10*time.Minute) })
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	slow := b.stall(t, "/v1/feed")
	waitUntil(t, "the slow client's stream", func() bool { return api.ActiveStreams(b.server) == 1 })

	fast := b.stream(t, "/v1/feed")
	defer fast.close()
	text := strings.Repeat("the slow client's socket fills up. ", 120) // ~4 KB
	const total = 3000                                                 // ~12 MB, more than socket buffers hold
	for i := 0; i < total; i += 100 {
		var batch []timeline.Event
		for j := i; j < i+100; j++ {
			batch = append(batch, chatEvent("PA", j, text))
		}
		b.events(t, batch...)
	}
	var last int64
	for i := 0; i < total; i++ {
		ev := fast.next(t)
		if ev.id <= last {
			t.Fatalf("event %d: id %d after %d", i, ev.id, last)
		}
		last = ev.id
	}
	if n := api.ActiveStreams(b.server); n != 2 {
		t.Errorf("%d streams open, want 2: the fast one and the stuck slow one", n)
	}
	slow.Close()
	waitUntil(t, "the slow client's stream to end once it hung up", func() bool { return api.ActiveStreams(b.server) == 1 })
}

// TestFeedStreamDropsAStalledReaderHoldingLittle: a client asks for pages of
// 5,000 events of a 16 MB feed and never reads. Its stream holds at most
// Streams.Buffer bytes of events (plus one event) at a time, however large
// the page it asked for, and is dropped once a write stalls past the write
// timeout. The timeout only sets when the drop happens, not whether.
func TestFeedStreamDropsAStalledReaderHoldingLittle(t *testing.T) {
	t.Parallel()
	const buffer = 32 << 10
	b := setupReview(t, func(s *api.Server) {
		api.SetWriteTimeout(s, 100*time.Millisecond)
		s.Streams.Buffer = buffer
	})
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	text := strings.Repeat("a stalled reader must not pin this. ", 220) // ~8 KB
	for i := 0; i < 2000; i += 200 {
		var batch []timeline.Event
		for j := i; j < i+200; j++ {
			batch = append(batch, chatEvent("PA", j, text))
		}
		b.events(t, batch...)
	}
	b.stall(t, "/v1/feed?limit=5000")
	waitUntil(t, "the stalled reader to be dropped", func() bool {
		return metricValue(t, b.server.Metrics, "groundwork_feed_streams_dropped_total", "reason", "slow_reader") == 1 &&
			api.ActiveStreams(b.server) == 0
	})
	held := api.HeldMax(b.server)
	if held <= 0 || held > int64(buffer+len(text)+1024) {
		t.Errorf("a stream held %d bytes of events at once, want at most the %d-byte buffer plus one event", held, buffer)
	}
	if n := metricValue(t, b.server.Metrics, "groundwork_feed_streams", "", ""); n != 0 {
		t.Errorf("groundwork_feed_streams = %v after the drop, want 0", n)
	}
}

// TestFeedStreamOutlivesServerTimeouts serves the stream from an http.Server
// whose ReadTimeout and WriteTimeout are far shorter than the stream's life:
// the stream clears them for itself and keeps delivering, with heartbeats.
// It waits by counting heartbeats (each at least 50ms after the last), not by
// sleeping.
func TestFeedStreamOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	srv := httptest.NewUnstartedServer(b.server.Handler())
	// The stream clears the deadlines before anything that may wait; the
	// timeouts only need to outlast the handler's first steps.
	srv.Config.ReadTimeout = time.Second
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	defer srv.Close()
	short := &reviewBundle{srv: srv, server: b.server}

	c := short.stream(t, "/v1/feed")
	defer c.close()
	// 60 heartbeats 50ms apart: at least 3s, well past both timeouts.
	waitUntil(t, "heartbeats", func() bool { return c.heartbeats.Load() >= 60 })
	b.events(t, chatEvent("PA", 1, "still here"))
	ev := c.next(t)
	if e := decode[api.EventJSON](t, []byte(ev.data)); e.Text != "still here" {
		t.Errorf("got %+v", e)
	}
	if c.retry.Load() <= 0 {
		t.Error("the stream did not tell the client how soon to reconnect (retry:)")
	}
}

// TestFeedStreamManyClients has 20 clients follow the stream while events are
// written: each receives every event once, in order.
func TestFeedStreamManyClients(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	const clients, total = 20, 100
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var ready sync.WaitGroup
	ready.Add(clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := b.openStream("/v1/feed")
			ready.Done()
			if err != nil {
				errs <- err
				return
			}
			defer c.close()
			var last int64
			for k := 0; k < total; k++ {
				select {
				case ev, ok := <-c.events:
					if !ok || ev.id <= last {
						errs <- fmt.Errorf("event %d: id %d after %d (open %t)", k, ev.id, last, ok)
						return
					}
					last = ev.id
				case <-time.After(30 * time.Second):
					errs <- fmt.Errorf("event %d never came", k)
					return
				}
			}
		}()
	}
	ready.Wait()
	for i := 0; i < total; i++ {
		b.events(t, chatEvent("PA", i, ""))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseStreamsEndsThemForShutdown(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	b.events(t, chatEvent("PA", 1, ""))
	c := b.stream(t, "/v1/feed")
	defer c.close()
	c.next(t)
	b.server.CloseStreams()
	b.server.CloseStreams() // idempotent
	select {
	case _, open := <-c.events:
		if open {
			t.Error("an event after CloseStreams")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not end")
	}
	waitUntil(t, "the stream's handler to return", func() bool { return api.ActiveStreams(b.server) == 0 })
	if status, _, _ := b.fetch(t, "/v1/feed"); status != 200 {
		t.Errorf("the JSON feed after CloseStreams: %d", status)
	}
}
