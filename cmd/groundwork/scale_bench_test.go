package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// BenchmarkScale measures whether the read API's cost depends on how much
// else is stored. One `groundwork serve` process answers over HTTP while
// scaleLoader fills its database with a steady stream of incidents of about
// 200 events each: first GW_SCALE_SMALL events (default 100,000), then on
// to GW_SCALE_EVENTS (default 1,000,000; the history spans a year at that
// size, so the small one is its first five weeks).
//
// At each size it serves the same requests: for GW_SCALE_SAMPLES incidents
// (default 200) of the small history, away from its edges so that what
// overlapped them and what paged their people before is the same at both
// sizes, the timeline (first page of 500), the incident with its summary,
// the same again (now cached), the people and the changes; and feed pages
// of 500 at as many positions in the small history's seq range. One
// warm-up pass, then two measured passes; every endpoint's requests go
// through all incidents before the next endpoint's, so that with more
// incidents than the review cache holds (64) every summary, people and
// changes request derives the review afresh.
//
// It reports p50 and p99 of each at both sizes, the ratio of the larger
// size's p99 to the smaller's for each (target ≤ 1.5), and the incident
// with its summary against the timeline at the larger size (p99, target
// ≤ 3).
//
//	go test ./cmd/groundwork -run '^$' -bench Scale -benchtime 1x -timeout 2h
//	GW_SCALE_EVENTS=10000000 go test ./cmd/groundwork -run '^$' -bench Scale -benchtime 1x -timeout 4h
func BenchmarkScale(b *testing.B) {
	large := envInt("GW_SCALE_EVENTS", 1_000_000)
	small := envInt("GW_SCALE_SMALL", 100_000)
	samples := envInt("GW_SCALE_SAMPLES", 200)
	if small >= large {
		b.Fatalf("GW_SCALE_SMALL (%d) must be below GW_SCALE_EVENTS (%d)", small, large)
	}
	bin := buildGroundwork(b)
	w, err := fakeworld.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	for range b.N {
		benchScale(b, bin, w, small, large, samples)
	}
}

// scaleEndpoints are the measured requests, in the order they are sent.
var scaleEndpoints = []string{"timeline", "incident", "incident-cached", "people", "changes", "feed"}

// scaleRequests are the requests of one measurement, by endpoint.
type scaleRequests map[string][]string

func benchScale(b *testing.B, bin string, w *fakeworld.World, small, large, samples int) {
	ctx := context.Background()
	s := pgtest.NewEmpty(b)
	srv := startServe(b, bin, demoConfig(w, s.URL, ""))
	l := newScaleLoader(s.Pool, large, 1)

	b.StopTimer()
	t0 := time.Now()
	if err := l.loadTo(ctx, small); err != nil {
		b.Fatal(err)
	}
	loadSmall := time.Since(t0)
	reqs := scaleSample(b, l, s, samples)
	b.StartTimer()
	at := map[string]map[string][]time.Duration{"small": measureScale(b, srv.base, reqs)}
	b.StopTimer()

	t0 = time.Now()
	if err := l.loadTo(ctx, large); err != nil {
		b.Fatal(err)
	}
	loadLarge := time.Since(t0)
	b.StartTimer()
	at["large"] = measureScale(b, srv.base, reqs)
	b.StopTimer()

	var table strings.Builder
	fmt.Fprintf(&table, "%d incidents, %d events (%s to load), then %d incidents, %d events (%s more); %d sample incidents\n",
		len(l.incidents[:scaleIncidentsUpTo(l, small)]), small, loadSmall.Round(time.Second), len(l.incidents), l.events,
		loadLarge.Round(time.Second), samples)
	fmt.Fprintf(&table, "%-16s %12s %12s %12s %12s %8s\n", "endpoint", "p50 small", "p99 small", "p50 large", "p99 large", "p99 ×")
	for _, ep := range scaleEndpoints {
		sm, lg := at["small"][ep], at["large"][ep]
		ratio := float64(quantile(lg, 0.99)) / float64(quantile(sm, 0.99))
		b.ReportMetric(ms(quantile(sm, 0.5)), ep+"-p50-small-ms")
		b.ReportMetric(ms(quantile(sm, 0.99)), ep+"-p99-small-ms")
		b.ReportMetric(ms(quantile(lg, 0.5)), ep+"-p50-large-ms")
		b.ReportMetric(ms(quantile(lg, 0.99)), ep+"-p99-large-ms")
		b.ReportMetric(ratio, ep+"-p99-large/small")
		fmt.Fprintf(&table, "%-16s %10.1fms %10.1fms %10.1fms %10.1fms %8.2f\n", ep, ms(quantile(sm, 0.5)), ms(quantile(sm, 0.99)),
			ms(quantile(lg, 0.5)), ms(quantile(lg, 0.99)), ratio)
	}
	vsTimeline := float64(quantile(at["large"]["incident"], 0.99)) / float64(quantile(at["large"]["timeline"], 0.99))
	b.ReportMetric(vsTimeline, "incident/timeline-p99-large")
	fmt.Fprintf(&table, "incident with summary / timeline, p99 at the larger size: %.2f", vsTimeline)
	b.Log("\n" + table.String())
	srv.stop(b)
}

func scaleIncidentsUpTo(l *scaleLoader, events int) int {
	n := 0
	for i, inc := range l.incidents {
		n += inc.Events
		if n >= events {
			return i + 1
		}
	}
	return len(l.incidents)
}

// scaleSample picks the requests: n incidents of those loaded so far that
// started at least 8 days after the first and 1 day before the last (their
// summaries read the 7 days before them and what overlapped them, all of it
// already loaded), and n feed positions among the seqs stored so far.
func scaleSample(b *testing.B, l *scaleLoader, s *pgtest.Schema, n int) scaleRequests {
	first, last := l.incidents[0].StartedAt, l.incidents[len(l.incidents)-1].StartedAt
	var pool []string
	for _, inc := range l.incidents {
		if inc.StartedAt.After(first.Add(8*24*time.Hour)) && inc.StartedAt.Before(last.Add(-24*time.Hour)) {
			pool = append(pool, inc.ID)
		}
	}
	if len(pool) < n {
		b.Fatalf("only %d incidents away from the edges of the smaller history, %d wanted: raise GW_SCALE_SMALL or lower GW_SCALE_SAMPLES",
			len(pool), n)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	pool = pool[:n]
	var head int64
	if err := s.Pool.QueryRow(context.Background(), `SELECT max(seq) FROM events`).Scan(&head); err != nil {
		b.Fatal(err)
	}
	reqs := scaleRequests{}
	for _, id := range pool {
		reqs["timeline"] = append(reqs["timeline"], "/v1/incidents/"+id+"/timeline")
		reqs["incident"] = append(reqs["incident"], "/v1/incidents/"+id)
		reqs["people"] = append(reqs["people"], "/v1/incidents/"+id+"/people")
		reqs["changes"] = append(reqs["changes"], "/v1/incidents/"+id+"/changes")
		reqs["feed"] = append(reqs["feed"], "/v1/feed?limit=500&after="+strconv.FormatInt(rng.Int64N(max(head-500, 1)), 10))
	}
	return reqs
}

// measureScale sends every request once to warm up, then twice measured,
// and returns the latencies by endpoint. incident-cached is the incident
// again, right after it was derived.
func measureScale(b *testing.B, base string, reqs scaleRequests) map[string][]time.Duration {
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	get := func(path string) time.Duration {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+demoReadToken)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return d
	}
	out := map[string][]time.Duration{}
	for pass := range 3 {
		for _, ep := range scaleEndpoints {
			if ep == "incident-cached" {
				continue // sent with incident
			}
			for _, path := range reqs[ep] {
				d := get(path)
				if pass == 0 {
					continue
				}
				out[ep] = append(out[ep], d)
				if ep == "incident" {
					out["incident-cached"] = append(out["incident-cached"], get(path))
				}
			}
		}
	}
	for _, ds := range out {
		slices.Sort(ds)
	}
	return out
}
