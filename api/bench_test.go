package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
)

// benchTimeline builds n realistic events of one incident: ~200-byte texts,
// details, a mix of sources and kinds, several sharing a timestamp.
func benchTimeline(inc string, n int) []timeline.Event {
	words := strings.Fields("checkout p99 latency climbing after deploy rolled back payments api errors 502 upstream timeout pool exhausted retry storm cache cold")
	out := make([]timeline.Event, n)
	for i := range out {
		var sb strings.Builder
		for sb.Len() < 200 {
			sb.WriteString(words[(i+sb.Len())%len(words)])
			sb.WriteByte(' ')
		}
		at := t0.Add(time.Duration(i/3) * time.Second)
		ts := fmt.Sprintf("%d.%06d", at.Unix(), i)
		out[i] = timeline.Event{
			ID: timeline.EventID("slack", "message", "C0CHECKOUT", ts), IncidentID: inc,
			Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: at,
			Actor: &timeline.Actor{ID: "U0761F5NSP5", Name: "Ana Lima", Email: "ana@acme.test"},
			Title: timeline.Truncate(sb.String(), 80), Text: sb.String(),
			URL:     "https://acme.slack.com/archives/C0CHECKOUT/p" + strings.ReplaceAll(ts, ".", ""),
			Details: map[string]any{"channel": "C0CHECKOUT", "ts": ts, "reply_count": i % 7},
		}
	}
	return out
}

// jsonAggSQL is the physical limit the API is measured against: Postgres
// rendering the same rows, in the same order, as one JSON array.
const jsonAggSQL = `SELECT json_agg(json_build_object('id', id, 'incident_id', incident_id, 'source', source, 'kind', kind,
	'occurred_at', occurred_at, 'actor', actor, 'title', title, 'text', text, 'url', url, 'details', details, 'seq', seq)
	ORDER BY occurred_at, occurred_ns, id)
FROM events WHERE incident_id = $1`

// BenchmarkTimelineAPI fetches every page of a 10,000-event incident's
// timeline through the API (over HTTP, with auth, cursors and JSON) and, in
// the same run, the same rows as one SELECT json_agg(...) from Postgres; it
// reports both and their ratio (target ≤ 2). GW_BENCH_EVENTS changes the size;
// GW_BENCH_ANNOTATIONS=n annotates n of the events, spread over the timeline,
// so that rows carry annotations.
//
//	go test ./api -run '^$' -bench TimelineAPI -benchtime 20x
func BenchmarkTimelineAPI(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("GW_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	rb := setupReview(b)
	rb.incident(b, timeline.Incident{ID: "PBENCH", StartedAt: t0})
	evs := benchTimeline("PBENCH", n)
	rb.events(b, evs...)
	ctx := context.Background()
	if k, err := strconv.Atoi(os.Getenv("GW_BENCH_ANNOTATIONS")); err == nil && k > 0 {
		for i := 0; i < k; i++ {
			e := evs[i*len(evs)/k]
			if _, err := rb.store.CreateAnnotation(ctx, timeline.Annotation{IncidentID: "PBENCH", EventIDs: []string{e.ID},
				Marker: timeline.MarkerStar, Title: "worth a look", Author: "bench", Status: timeline.AnnotationActive}); err != nil {
				b.Fatal(err)
			}
		}
	}
	client := rb.srv.Client()

	fetchAll := func(limit int) (events int, size int64) {
		path := "/v1/incidents/PBENCH/timeline?limit=" + strconv.Itoa(limit)
		for {
			req, _ := http.NewRequest(http.MethodGet, rb.srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+readToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%d %v", resp.StatusCode, err)
			}
			size += int64(len(body))
			events += bytes.Count(body, []byte(`"occurred_at":`)) // annotations carry a seq, not an occurred_at
			next := nextCursor(body)
			if next == "" {
				return events, size
			}
			path = "/v1/incidents/PBENCH/timeline?limit=" + strconv.Itoa(limit) + "&cursor=" + url.QueryEscape(next)
		}
	}
	jsonAgg := func() int64 {
		var out []byte
		if err := rb.schema.Pool.QueryRow(ctx, jsonAggSQL, "PBENCH").Scan(&out); err != nil {
			b.Fatal(err)
		}
		return int64(len(out))
	}
	for _, limit := range []int{500, 5000} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			if got, _ := fetchAll(limit); got != n { // warm up and check
				b.Fatalf("the API gave %d events, want %d", got, n)
			}
			jsonAgg()
			var apiTime, aggTime time.Duration
			var apiBytes, aggBytes int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				_, nb := fetchAll(limit)
				apiTime += time.Since(start)
				start = time.Now()
				ab := jsonAgg()
				aggTime += time.Since(start)
				apiBytes, aggBytes = nb, ab
			}
			b.StopTimer()
			b.ReportMetric(float64(apiTime.Microseconds())/1000/float64(b.N), "api-ms/op")
			b.ReportMetric(float64(aggTime.Microseconds())/1000/float64(b.N), "json_agg-ms/op")
			b.ReportMetric(float64(apiTime)/float64(aggTime), "api/json_agg")
			b.ReportMetric(float64(apiBytes)/float64(aggBytes), "bytes-api/json_agg")
		})
	}
}

// nextCursor finds next_cursor at the end of a timeline page without decoding
// the page (the benchmark measures the server, not the client's decoder).
func nextCursor(body []byte) string {
	i := bytes.LastIndex(body, []byte(`"next_cursor":`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimSpace(body[i+len(`"next_cursor":`):])
	if bytes.HasPrefix(rest, []byte("null")) {
		return ""
	}
	end := bytes.IndexByte(rest[1:], '"')
	return string(rest[1 : 1+end])
}

// BenchmarkFeedFanOut has 50 clients follow the SSE feed while events are
// committed one at a time (b.N of them, 5 ms apart), and reports the delay
// from each commit's return to each client's receipt of the event: p50, p99
// and max over all deliveries (target p99 < 1 s). GW_BENCH_CLIENTS changes
// the number of clients.
//
//	go test ./api -run '^$' -bench FeedFanOut -benchtime 200x
func BenchmarkFeedFanOut(b *testing.B) {
	clients := 50
	if v, err := strconv.Atoi(os.Getenv("GW_BENCH_CLIENTS")); err == nil && v > 0 {
		clients = v
	}
	rb := setupReview(b, func(s *api.Server) { s.HeartbeatInterval = 15 * time.Second })
	rb.incident(b, timeline.Incident{ID: "PFAN", StartedAt: t0})
	events := benchTimeline("PFAN", b.N)
	ctx := context.Background()

	type receipt struct {
		id string
		at time.Time
	}
	received := make([][]receipt, clients)
	var wg, ready sync.WaitGroup
	ready.Add(clients)
	streams := make([]*http.Response, clients)
	for c := 0; c < clients; c++ {
		req, _ := http.NewRequest(http.MethodGet, rb.srv.URL+"/v1/feed", nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("client %d: %v", c, err)
		}
		streams[c] = resp
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			r := bufio.NewReader(resp.Body)
			for len(received[c]) < b.N {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if d, ok := strings.CutPrefix(line, "data: "); ok {
					at := time.Now()
					var e struct{ ID string }
					_ = json.Unmarshal([]byte(d), &e)
					received[c] = append(received[c], receipt{e.ID, at})
				}
			}
		}()
	}
	ready.Wait()
	committed := make(map[string]time.Time, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rb.store.UpsertEvents(ctx, events[i:i+1]); err != nil {
			b.Fatal(err)
		}
		committed[events[i].ID] = time.Now()
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatal("clients did not receive every event within a minute")
	}
	b.StopTimer()
	for _, s := range streams {
		s.Body.Close()
	}
	var delays []time.Duration
	for c := range received {
		if len(received[c]) != b.N {
			b.Fatalf("client %d received %d events, want %d", c, len(received[c]), b.N)
		}
		for _, r := range received[c] {
			delays = append(delays, max(0, r.at.Sub(committed[r.id])))
		}
	}
	slices.Sort(delays)
	q := func(p float64) float64 {
		return float64(delays[int(p*float64(len(delays)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(clients), "clients")
}
