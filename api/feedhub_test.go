package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// metricValue returns the value of a counter or gauge of m, the series with
// label=value (any series when label is empty); 0 when there is none.
func metricValue(t testing.TB, m *api.Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.GetMetric() {
			match := label == ""
			for _, l := range metric.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := metric.GetCounter(); c != nil {
				return c.GetValue()
			}
			return metric.GetGauge().GetValue()
		}
	}
	return 0
}

// openFeed sends a stream request with token and returns the response as
// soon as its headers arrive; the caller closes the body.
func (b *reviewBundle) openFeed(t testing.TB, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/v1/feed", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// refused checks that resp is the 503 of a stream over a cap.
func refused(t testing.TB, resp *http.Response, want string) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 past the cap (%s)", resp.StatusCode, want)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := decode[map[string]any](t, raw)
	if errorCode(body) != "too_many_streams" || !strings.Contains(errorMessage(body), want) {
		t.Errorf("body %s, want code too_many_streams and a message saying %q", raw, want)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Errorf("Retry-After %q, want a number of seconds", resp.Header.Get("Retry-After"))
	}
}

// TestFeedStreamCaps: past the cap per token, and past the cap in total, a
// new stream gets 503 with Retry-After; the JSON feed still answers; a
// stream that ends frees its place.
func TestFeedStreamCaps(t *testing.T) {
	t.Parallel()
	const wallToken = "wall-display-read-token"
	b := setupReview(t, func(s *api.Server) {
		s.Streams.MaxStreams, s.Streams.MaxPerToken = 3, 2
		s.Tokens = append(s.Tokens, api.Token{Name: "wall", Token: wallToken, Scopes: []string{"read"}})
	})
	first := b.openFeed(t, readToken)
	second := b.openFeed(t, readToken)
	if first.StatusCode != 200 || second.StatusCode != 200 {
		t.Fatalf("streams under the caps: %d, %d", first.StatusCode, second.StatusCode)
	}
	refused(t, b.openFeed(t, readToken), "this token already holds its limit of 2")
	if resp := b.openFeed(t, wallToken); resp.StatusCode != 200 {
		t.Fatalf("another token's first stream: %d, want 200", resp.StatusCode)
	}
	refused(t, b.openFeed(t, wallToken), "limit of 3 event streams")
	if status, _, body := b.fetch(t, "/v1/feed"); status != 200 {
		t.Errorf("the JSON feed while streams are capped: %d %s", status, body)
	}
	if n := api.ActiveStreams(b.server); n != 3 {
		t.Errorf("%d streams open, want 3", n)
	}
	first.Body.Close()
	waitUntil(t, "the closed stream to free its place", func() bool { return api.ActiveStreams(b.server) == 2 })
	if resp := b.openFeed(t, readToken); resp.StatusCode != 200 {
		t.Errorf("a stream after one closed: %d, want 200", resp.StatusCode)
	}
	m := b.server.Metrics
	if got := metricValue(t, m, "groundwork_feed_streams_refused_total", "limit", "max_streams_per_token"); got != 1 {
		t.Errorf("refused per token = %v, want 1", got)
	}
	if got := metricValue(t, m, "groundwork_feed_streams_refused_total", "limit", "max_streams"); got != 1 {
		t.Errorf("refused in total = %v, want 1", got)
	}
	if got := metricValue(t, m, "groundwork_feed_streams", "", ""); got != 3 {
		t.Errorf("groundwork_feed_streams = %v, want 3", got)
	}
}

// streamUntil reads c until it delivered seq last and returns the ids it
// got.
func streamUntil(t *testing.T, c *sseClient, last int64) []int64 {
	t.Helper()
	var ids []int64
	for len(ids) == 0 || ids[len(ids)-1] < last {
		ids = append(ids, c.next(t).id)
	}
	return ids
}

func seqsAfter(all []timeline.Event, after int64) []int64 {
	var out []int64
	for _, e := range all {
		if e.Seq > after {
			out = append(out, e.Seq)
		}
	}
	return out
}

// TestFeedHubFanOutHasNoGapNorDuplicate: three writers commit concurrently
// while streams join at different positions: from the start, resuming from
// a Last-Event-ID mid-way, and after the hub's ring (kept tiny here) has
// long dropped the oldest events, so that they read the store first and then
// follow the ring. Every stream gets exactly the stored events after its
// position, in seq order.
func TestFeedHubFanOutHasNoGapNorDuplicate(t *testing.T) {
	t.Parallel()
	const history = 16 << 10
	b := setupReview(t, func(s *api.Server) { s.Streams.History = history })
	incs := []string{"PA", "PB", "PC"}
	for _, id := range incs {
		b.incident(t, timeline.Incident{ID: id, StartedAt: t0})
	}
	type joined struct {
		c     *sseClient
		after int64
		got   []int64 // read before the end
	}
	var streams []joined
	streams = append(streams, joined{c: b.stream(t, "/v1/feed")})

	const perWriter = 60
	var wg sync.WaitGroup
	errs := make(chan error, len(incs))
	started := make(chan struct{})
	for w, inc := range incs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				var batch []timeline.Event
				for j := 0; j <= i%5; j++ {
					batch = append(batch, chatEvent(inc, 1000*w+10*i+j, strings.Repeat("fan-out ", 40)))
				}
				if _, err := b.store.UpsertEvents(context.Background(), batch); err != nil {
					errs <- err
					return
				}
				if w == 0 && i == 0 {
					close(started)
				}
			}
		}()
	}
	<-started
	// Joining while the writers write: from the start, with a small
	// limit, and from what the first stream has seen so far.
	streams = append(streams, joined{c: b.stream(t, "/v1/feed?limit=7")})
	seen := streams[0].c.next(t).id
	streams[0].got = []int64{seen}
	streams = append(streams, joined{c: b.stream(t, "/v1/feed", "Last-Event-ID", strconv.FormatInt(seen, 10)), after: seen})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	stored, err := b.store.Feed(context.Background(), 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the hub to read every commit", func() bool {
		_, head, _, _ := api.HubRing(b.server)
		return head == stored[len(stored)-1].Seq
	})
	lo, _, _, size := api.HubRing(b.server)
	if lo == 0 || size > history {
		t.Fatalf("ring from seq %d holding %d bytes; want it to have dropped old events and kept within %d bytes", lo, size, history)
	}
	// Joining after the ring dropped the start: it reads the store first.
	catchUps := metricValue(t, b.server.Metrics, "groundwork_feed_reads_total", "reader", "catchup")
	streams = append(streams, joined{c: b.stream(t, "/v1/feed?after=0&limit=50")})
	streams = append(streams, joined{c: b.stream(t, "/v1/feed", "Last-Event-ID", strconv.FormatInt(lo-3, 10)), after: lo - 3})
	b.events(t, chatEvent("PA", 99_999, "after everyone joined"))
	if stored, err = b.store.Feed(context.Background(), 0, 10_000); err != nil {
		t.Fatal(err)
	}
	last := stored[len(stored)-1].Seq
	for i, s := range streams {
		got := append(s.got, streamUntil(t, s.c, last)...)
		if want := seqsAfter(stored, s.after); !slices.Equal(got, want) {
			t.Errorf("stream %d (after %d) got %d events %v, want the %d stored %v", i, s.after, len(got), brief(got), len(want), brief(want))
		}
	}
	if got := metricValue(t, b.server.Metrics, "groundwork_feed_reads_total", "reader", "catchup"); got <= catchUps {
		t.Error("the streams that joined behind the ring did not read the store")
	}
}

func brief(ids []int64) string {
	if len(ids) <= 8 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprint(ids[:4], "…", ids[len(ids)-4:])
}

// TestFeedStreamsLeaveTheMainPoolAlone: with the hub on a pool of its own and
// catch-up reads on another, 30 streams following new commits take no
// connection from the server's main pool (the one webhooks use), and only
// the streams that started behind read the catch-up pool: the hub reads each
// new page once for all of them.
func TestFeedStreamsLeaveTheMainPoolAlone(t *testing.T) {
	t.Parallel()
	schema := pgtest.New(t)
	pool := func(n int32) *postgres.Store {
		p, err := postgres.NewPoolLike(schema.Pool, n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return postgres.New(p)
	}
	hubStore, catchUpStore, writer := pool(1), pool(2), pool(2)
	b := setupReviewOn(t, schema, func(s *api.Server) {
		s.FeedSource, s.FeedCatchUp = hubStore, catchUpStore
	})
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	for i := 0; i < 40; i++ {
		b.events(t, chatEvent("PA", i, "before the streams"))
	}
	head, err := b.store.FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mainBefore := schema.Pool.Stat().AcquireCount()
	const live, commits, limit = 30, 20, 10
	var streams []*sseClient
	for i := 0; i < live; i++ {
		streams = append(streams, b.stream(t, "/v1/feed", "Last-Event-ID", strconv.FormatInt(head, 10)))
	}
	behind := []*sseClient{b.stream(t, fmt.Sprintf("/v1/feed?after=0&limit=%d", limit)), b.stream(t, fmt.Sprintf("/v1/feed?after=0&limit=%d", limit))}
	for i := 0; i < commits; i++ {
		if _, err := writer.UpsertEvents(context.Background(), []timeline.Event{chatEvent("PA", 100+i, "while they stream")}); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := writer.Feed(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := stored[len(stored)-1].Seq
	for i, c := range streams {
		if got, want := streamUntil(t, c, last), seqsAfter(stored, head); !slices.Equal(got, want) {
			t.Fatalf("live stream %d got %v, want %v", i, brief(got), brief(want))
		}
	}
	for i, c := range behind {
		if got, want := streamUntil(t, c, last), seqsAfter(stored, 0); !slices.Equal(got, want) {
			t.Fatalf("stream %d from the start got %v, want %v", i, brief(got), brief(want))
		}
	}
	if n := schema.Pool.Stat().AcquireCount() - mainBefore; n != 0 {
		t.Errorf("the streams took %d connections from the main pool, want 0", n)
	}
	// Each behind stream reads the 40 old events in pages of 10, and at
	// most every new event once more before it reaches the ring.
	catchUps := metricValue(t, b.server.Metrics, "groundwork_feed_reads_total", "reader", "catchup")
	if bound := float64(len(behind) * (40/limit + commits + 2)); catchUps == 0 || catchUps > bound {
		t.Errorf("%v catch-up reads, want some, and at most %v: only the 2 streams behind read the store", catchUps, bound)
	}
	t.Logf("hub reads: %v for %d commits and %d streams (wake-ups from other tests' commits count too); catch-up reads: %v",
		metricValue(t, b.server.Metrics, "groundwork_feed_reads_total", "reader", "hub"), commits, live+len(behind), catchUps)
}
