package collectors_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// The benchmark's incident: 5,000 Slack messages of which 3,000 are replies
// in 300 threads, 600 commits over 2 repos, 150 PagerDuty log entries.
const (
	benchTopLevel  = 2000
	benchThreads   = 300
	benchReplies   = 10 // per thread: 300 × 10 = 3,000 replies
	benchCommits   = 300
	benchLogs      = 150
	benchUsers     = 20
	benchPageSize  = 100
	benchLatency   = 20 * time.Millisecond
	benchRepoCount = 2
)

var benchStart = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)

type benchWorld struct {
	pd  *pagerdutyfake.Fake
	gh  *githubfake.Server
	sl  *slackfake.Server
	min map[string]int // minimum requests per source the page sizes allow
	reg *collectors.Registry
	w   timeline.Window
}

func ceilDiv(a, b int) int { return max(1, (a+b-1)/b) }

func newBenchWorld(b *testing.B) *benchWorld {
	bw := &benchWorld{pd: pagerdutyfake.New("pd"), gh: githubfake.New("gh"), sl: slackfake.New("xoxb-sl"), min: map[string]int{}}
	at := func(i int) time.Time { return benchStart.Add(time.Duration(i) * time.Second) }

	// PagerDuty: one incident, 150 log entries by 5 users.
	svc := pagerdutyfake.ServiceRef("PSVCBENCH", "bench")
	resolved := at(4 * 3600)
	bw.pd.AddIncident(pagerdutyfake.Incident{ID: "PBENCH", Title: "bench", Urgency: "high", CreatedAt: at(0), ResolvedAt: &resolved, Service: svc})
	for u := 0; u < 5; u++ {
		bw.pd.AddUser(pagerdutyfake.User{ID: fmt.Sprintf("PUSER%02d", u), Name: fmt.Sprintf("User %d", u), Email: fmt.Sprintf("u%d@acme.example", u)})
	}
	types := []string{"notify", "acknowledge", "escalate", "assign", "resolve"}
	for i := 0; i < benchLogs; i++ {
		agent := pagerdutyfake.UserRef(fmt.Sprintf("PUSER%02d", i%5), fmt.Sprintf("User %d", i%5))
		bw.pd.AddLogEntry(pagerdutyfake.LogEntry{ID: fmt.Sprintf("RBENCH%06d", i), IncidentID: "PBENCH", Type: types[i%len(types)],
			Summary: "entry", CreatedAt: at(i * 60), Agent: &agent, Channel: map[string]any{"type": "website"}})
	}
	bw.min["pagerduty"] = ceilDiv(benchLogs, 100) + 1 + 1 + 5 // log pages, notes, alerts, one lookup per user

	// GitHub: 300 commits in each of 2 repos, nothing else.
	gh := 0
	for r := 0; r < benchRepoCount; r++ {
		repo := fmt.Sprintf("acme/bench-%d", r)
		bw.gh.AddRepo(repo)
		for i := 0; i < benchCommits; i++ {
			bw.gh.AddCommit(repo, githubfake.Commit{Message: fmt.Sprintf("change %d", i), AuthorName: "Dev", AuthorEmail: "dev@acme.example",
				AuthorDate: at(i * 30), CommitterName: "Dev", CommitterEmail: "dev@acme.example", CommitterDate: at(i * 30)})
		}
		gh += 1 + ceilDiv(benchCommits, 100) + 4 // the repository's spelling; commit pages; pulls, deployments, releases, runs: one page each
	}
	bw.min["github"] = gh

	// Slack: 2,000 top-level messages, 300 of them threads of 10 replies.
	for u := 0; u < benchUsers; u++ {
		bw.sl.AddUser(fmt.Sprintf("U%08d", u), fmt.Sprintf("user%d", u), fmt.Sprintf("User %d", u), fmt.Sprintf("s%d@acme.example", u))
	}
	ts := func(t time.Time, n int) string { return fmt.Sprintf("%d.%06d", t.Unix(), n) }
	for i := 0; i < benchTopLevel; i++ {
		parent := ts(at(i*6), 0)
		if err := bw.sl.AddMessage("C0BENCH", slackfake.Message{TS: parent, User: fmt.Sprintf("U%08d", i%benchUsers), Text: "status update " + parent}); err != nil {
			b.Fatal(err)
		}
		if i%(benchTopLevel/benchThreads) == 0 && i/(benchTopLevel/benchThreads) < benchThreads {
			for r := 1; r <= benchReplies; r++ {
				if err := bw.sl.AddMessage("C0BENCH", slackfake.Message{TS: ts(at(i*6), r), ThreadTS: parent, User: fmt.Sprintf("U%08d", r%benchUsers), Text: "reply"}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	// auth.test; history pages in the window; one (empty) page looking back
	// for older thread parents; one replies page per thread; one users.info
	// per user.
	bw.min["slack"] = 1 + ceilDiv(benchTopLevel, benchPageSize) + 1 + benchThreads*ceilDiv(benchReplies+1, benchPageSize) + benchUsers

	bw.w = timeline.Window{IncidentID: "PBENCH", Start: benchStart.Add(-time.Minute), End: at(4 * 3600),
		Repos: []string{"acme/bench-0", "acme/bench-1"}, Channels: []string{"C0BENCH"}}
	return bw
}

func (bw *benchWorld) registry(b *testing.B) *collectors.Registry {
	pdSrv, ghSrv, slSrv := httptest.NewServer(bw.pd), httptest.NewServer(bw.gh), httptest.NewServer(bw.sl)
	b.Cleanup(func() { pdSrv.Close(); ghSrv.Close(); slSrv.Close() })
	bw.gh.SetBaseURLs(ghSrv.URL, "https://github.com")
	reg := &collectors.Registry{}
	pd, err := pagerduty.New(pagerduty.Config{Token: "pd", APIURL: pdSrv.URL, WebhookSecret: "x"}, pagerduty.Options{Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		b.Fatal(err)
	}
	gh, err := github.New(github.Config{Token: "gh", APIURL: ghSrv.URL + "/", WebhookSecret: "x"}, github.Options{RequestsPerSecond: -1})
	if err != nil {
		b.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: "xoxb-sl", APIURL: slSrv.URL + "/api/", SigningSecret: "x", HistoryPageSize: benchPageSize}.WithDefaults(),
		slack.Options{Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		b.Fatal(err)
	}
	reg.Register(pd)
	reg.Register(gh)
	reg.Register(sl)
	return reg
}

func (bw *benchWorld) requests() map[string]int {
	return map[string]int{"pagerduty": bw.pd.Requests(), "github": bw.gh.Requests(), "slack": bw.sl.Requests()}
}

func (bw *benchWorld) setLatency(d time.Duration) {
	bw.pd.SetLatency(d)
	bw.gh.SetLatency(d)
	bw.sl.SetLatency(d)
}

// heapPeak samples the live heap until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// BenchmarkCollect collects the benchmark incident from fakes that count
// requests and, in the same run, reports:
//
//   - requests/minimum: requests made against the minimum the page sizes
//     allow (target 1.00);
//
//   - wall/slowest_sequential: with 20 ms injected per request, wall time
//     against the slowest source's sequential minimum (its minimum requests
//     × 20 ms) (target ≤ 1.3);
//
//   - peak_heap_MiB: the peak live heap during the run above the heap before
//     it, fakes and store included (target < 100).
//
//     ./.ci/with-postgres go test ./collectors -run '^$' -bench Collect -benchtime 1x
func BenchmarkCollect(b *testing.B) {
	st := postgres.New(pgtest.New(b).Pool)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		bw := newBenchWorld(b)
		reg := bw.registry(b)
		if err := st.UpsertIncident(ctx, timeline.Incident{ID: "PBENCH", StartedAt: benchStart, WindowStart: bw.w.Start, WindowEnd: bw.w.End}); err != nil {
			b.Fatal(err)
		}
		r := &collectors.Runner{Registry: reg, Store: st}

		// Requests against the minimum, no latency.
		res := r.Run(ctx, bw.w)
		if err := res.Err(); err != nil {
			b.Fatal(err)
		}
		got, total, minTotal := bw.requests(), 0, 0
		for src, n := range got {
			total += n
			minTotal += bw.min[src]
			b.ReportMetric(float64(n)/float64(bw.min[src]), src+"_requests/minimum")
		}
		b.ReportMetric(float64(total)/float64(minTotal), "requests/minimum")
		events := 0
		for _, s := range res.Sources {
			events += s.Events
		}
		b.ReportMetric(float64(events), "events")

		// Wall time with 20 ms per request, and peak heap.
		slowest := 0
		for _, n := range bw.min {
			slowest = max(slowest, n)
		}
		bw.setLatency(benchLatency)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := make(chan struct{})
		peak := heapPeak(stop)
		start := time.Now()
		res = r.Run(ctx, bw.w)
		wall := time.Since(start)
		close(stop)
		if err := res.Err(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(wall.Seconds()/(time.Duration(slowest)*benchLatency).Seconds(), "wall/slowest_sequential")
		p := <-peak
		b.ReportMetric(float64(p-min(p, before.HeapAlloc))/(1<<20), "peak_heap_MiB")
	}
}
