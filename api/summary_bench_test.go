package api_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// BenchmarkSummary10k serves GET /v1/incidents/{id} (with its prepared
// summary) of a 10,000-event incident and, in the same run, fetches the same
// incident's whole timeline (two pages of 5,000); it reports the p99 of
// each, their ratio, and how long the first, uncached derivation took. The
// summary is derived once per incident version, so warm requests read no
// events.
//
//	go test ./api -run '^$' -bench Summary10k -benchtime 200x
func BenchmarkSummary10k(b *testing.B) {
	rb := setupReview(b)
	resolved := t0.Add(3 * time.Hour)
	rb.incident(b, timeline.Incident{ID: "PBENCH", Title: "Checkout 5xx", StartedAt: t0, ResolvedAt: &resolved,
		WindowStart: t0.Add(-2 * time.Hour), WindowEnd: resolved.Add(30 * time.Minute)})
	evs := benchTimeline("PBENCH", 10_000-3)
	evs = append(evs,
		timeline.Event{ID: "pagerduty:log_entry:RTRIG", IncidentID: "PBENCH", Source: "pagerduty", Kind: timeline.KindPageTriggered,
			OccurredAt: t0, Title: "Triggered", Actor: &timeline.Actor{ID: "PSVC", Name: "checkout", Bot: true}},
		timeline.Event{ID: "pagerduty:log_entry:RNOT", IncidentID: "PBENCH", Source: "pagerduty", Kind: timeline.KindPageNotified,
			OccurredAt: t0.Add(2 * time.Second), Title: "Notified", Details: map[string]any{"user": map[string]any{"id": "PANA", "name": "Ana Lima", "email": "ana@acme.test"}, "notification_type": "push"}},
		timeline.Event{ID: "pagerduty:log_entry:RRES", IncidentID: "PBENCH", Source: "pagerduty", Kind: timeline.KindPageResolved,
			OccurredAt: resolved, Title: "Resolved", Actor: &timeline.Actor{ID: "PANA", Name: "Ana Lima"}})
	rb.events(b, evs...)
	client := rb.srv.Client()
	get := func(path string) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, rb.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	timelineFetch := func() time.Duration {
		d := get("/v1/incidents/PBENCH/timeline?limit=5000")
		return d + get("/v1/incidents/PBENCH/timeline?limit=5000&since="+t0.Add(5000/3*time.Second).Format(time.RFC3339))
	}
	cold := get("/v1/incidents/PBENCH")
	var sums, tls []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sums = append(sums, get("/v1/incidents/PBENCH"))
		if i%10 == 0 {
			tls = append(tls, timelineFetch())
		}
	}
	b.StopTimer()
	p99 := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[min(len(ds)-1, len(ds)*99/100)].Microseconds()) / 1000
	}
	ps, pt := p99(sums), p99(tls)
	b.ReportMetric(ps, "summary_p99_ms")
	b.ReportMetric(pt, "timeline_p99_ms")
	b.ReportMetric(ps/pt, "summary/timeline")
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold_summary_ms")
	b.Log(fmt.Sprintf("summary p99 %.1f ms, timeline fetch p99 %.1f ms, first (uncached) summary %s", ps, pt, cold))
}
