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
		Source: timeline.SourceSlack, Kind: timeline.KindChatMessage, OccurredAt: t0.Add(time.Duration(i) * time.Second),
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
	c.close()
	waitUntil(t, "the stream's handler to return", func() bool { return api.ActiveStreams(b.server) == 0 })
	waitUntil(t, "its wake-up subscription to end", func() bool { return b.feed.Subscribers() == 0 })
	waitUntil(t, "its database connection to return to the pool", func() bool { return b.schema.Pool.Stat().AcquiredConns() == 0 })
	b.events(t, chatEvent("PA", 2, "")) // a wake-up with nobody listening
	if status, _, _ := b.fetch(t, "/healthz"); status != 200 {
		t.Errorf("the server is unwell after a client left mid-stream: %d", status)
	}
}

// TestFeedStreamSlowClientDoesNotHoldUpOthers has one client that never
// reads while events pour in: another client gets every event, and the slow
// one is dropped once its writes stall past the write timeout.
func TestFeedStreamSlowClientDoesNotHoldUpOthers(t *testing.T) {
	t.Parallel()
	b := setupReview(t, func(s *api.Server) { api.SetWriteTimeout(s, 200*time.Millisecond) })
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})

	// The slow client: a raw connection that sends its request and never
	// reads a byte.
	slow, err := net.Dial("tcp", strings.TrimPrefix(b.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if tc, ok := slow.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(slow, "GET /v1/feed HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n", readToken)
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
	for i := 0; i < total; i++ {
		fast.next(t)
	}
	waitUntil(t, "the slow client to be dropped", func() bool { return api.ActiveStreams(b.server) == 1 })
}

// TestFeedStreamOutlivesServerTimeouts serves the stream from an http.Server
// whose ReadTimeout and WriteTimeout are far shorter than the stream's life:
// the stream clears them for itself and keeps delivering, with heartbeats.
func TestFeedStreamOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	srv := httptest.NewUnstartedServer(b.server.Handler())
	srv.Config.ReadTimeout = 50 * time.Millisecond
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()
	short := &reviewBundle{srv: srv, server: b.server}

	c := short.stream(t, "/v1/feed")
	defer c.close()
	waitUntil(t, "heartbeats", func() bool { return c.heartbeats.Load() >= 3 })
	time.Sleep(200 * time.Millisecond) // well past both server timeouts
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
