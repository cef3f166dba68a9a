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
// else is stored. Two databases hold the same organisation's history, one
// GW_SCALE_SMALL events long (default 100,000), the other GW_SCALE_EVENTS
// (default 1,000,000), each served by a `groundwork serve` of its own over
// HTTP. scaleLoader writes the history: a steady stream of incidents of
// about 200 events each, over a year at the larger size (the smaller one
// is its first five weeks, the very same incidents). Incidents come at the
// same rate throughout, so the larger history is a longer one, not a
// denser one: what overlapped an incident and what paged its people in the
// week before are alike in both, and only what else is stored grows.
//
// Each database is asked about its GW_SCALE_SAMPLES (default 200) most
// recent incidents, those a facilitator reads (less the last day's, whose
// neighbours are still to come): the timeline (first page of 500), the
// incident with its summary, the same again (now cached), the people and
// the changes; and feed pages of 500 at as many positions over its whole
// seq range. The two are asked in turn, request by request, so that the
// machine's other load falls on both alike. One warm-up pass, then three
// measured passes; every endpoint's requests go through all incidents
// before the next endpoint's, so that with more incidents than the review
// cache holds (64) every summary, people and changes request derives the
// review afresh.
//
// It reports p50 and p99 of each at both sizes, the ratio of the larger
// size's p99 to the smaller's for each (target ≤ 1.5), and the incident
// with its summary against the timeline at the larger size (p99, target
// ≤ 3), derived afresh and cached.
//
//	go test ./cmd/groundwork -run '^$' -bench Scale -benchtime 1x -timeout 2h
//	GW_SCALE_EVENTS=10000000 GW_SCALE_SMALL=1000000 go test ./cmd/groundwork -run '^$' -bench Scale -benchtime 1x -timeout 4h
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
	type size struct {
		name   string
		events int
		schema *pgtest.Schema
		srv    *serveProcess
		loader *scaleLoader
		load   time.Duration
		reqs   scaleRequests
		got    map[string][]time.Duration
	}
	sizes := []*size{{name: "small", events: small}, {name: "large", events: large}}
	b.StopTimer()
	for _, sz := range sizes {
		sz.schema = pgtest.NewEmpty(b)
		sz.srv = startServe(b, bin, demoConfig(w, sz.schema.URL, ""))
		// The rate is the larger history's in both.
		sz.loader = newScaleLoader(sz.schema.Pool, large, 1)
		t0 := time.Now()
		if err := sz.loader.loadTo(ctx, sz.events); err != nil {
			b.Fatal(err)
		}
		sz.load = time.Since(t0)
		sz.reqs = scaleSample(b, sz.loader, sz.schema, samples)
	}
	b.StartTimer()
	got := measureScale(b, []string{sizes[0].srv.base, sizes[1].srv.base}, []scaleRequests{sizes[0].reqs, sizes[1].reqs})
	b.StopTimer()
	sizes[0].got, sizes[1].got = got[0], got[1]

	sm, lg := sizes[0], sizes[1]
	var table strings.Builder
	fmt.Fprintf(&table, "%d incidents, %d events (%s to load) beside %d incidents, %d events (%s); %d sample incidents each, %d requests per endpoint\n",
		len(sm.loader.incidents), sm.loader.events, sm.load.Round(time.Second), len(lg.loader.incidents), lg.loader.events,
		lg.load.Round(time.Second), samples, len(sm.got["timeline"]))
	fmt.Fprintf(&table, "%-16s %12s %12s %12s %12s %8s\n", "endpoint", "p50 small", "p99 small", "p50 large", "p99 large", "p99 ×")
	for _, ep := range scaleEndpoints {
		a, z := sm.got[ep], lg.got[ep]
		ratio := float64(quantile(z, 0.99)) / float64(quantile(a, 0.99))
		b.ReportMetric(ms(quantile(a, 0.5)), ep+"-p50-small-ms")
		b.ReportMetric(ms(quantile(a, 0.99)), ep+"-p99-small-ms")
		b.ReportMetric(ms(quantile(z, 0.5)), ep+"-p50-large-ms")
		b.ReportMetric(ms(quantile(z, 0.99)), ep+"-p99-large-ms")
		b.ReportMetric(ratio, ep+"-p99-large/small")
		fmt.Fprintf(&table, "%-16s %10.1fms %10.1fms %10.1fms %10.1fms %8.2f\n", ep, ms(quantile(a, 0.5)), ms(quantile(a, 0.99)),
			ms(quantile(z, 0.5)), ms(quantile(z, 0.99)), ratio)
	}
	tl := float64(quantile(lg.got["timeline"], 0.99))
	fresh, cached := float64(quantile(lg.got["incident"], 0.99))/tl, float64(quantile(lg.got["incident-cached"], 0.99))/tl
	b.ReportMetric(fresh, "incident/timeline-p99-large")
	b.ReportMetric(cached, "incident-cached/timeline-p99-large")
	fmt.Fprintf(&table, "incident with summary / timeline, p99 at the larger size: %.2f derived afresh, %.2f cached", fresh, cached)
	b.Log("\n" + table.String())
	for _, sz := range sizes {
		sz.srv.stop(b)
	}
}

// scaleSample picks the requests: the n most recent incidents of those
// loaded so far that started at least 8 days after the first and a day
// before the last (their summaries read the 7 days before them and what
// overlapped them, all of it loaded), and n feed positions among the seqs
// stored so far.
func scaleSample(b *testing.B, l *scaleLoader, s *pgtest.Schema, n int) scaleRequests {
	first, last := l.incidents[0].StartedAt, l.incidents[len(l.incidents)-1].StartedAt
	var pool []string
	for i := len(l.incidents) - 1; i >= 0 && len(pool) < n; i-- {
		inc := l.incidents[i]
		if inc.StartedAt.After(first.Add(8*24*time.Hour)) && inc.StartedAt.Before(last.Add(-24*time.Hour)) {
			pool = append(pool, inc.ID)
		}
	}
	if len(pool) < n {
		b.Fatalf("only %d incidents away from the edges of the smaller history, %d wanted: raise GW_SCALE_SMALL or lower GW_SCALE_SAMPLES",
			len(pool), n)
	}
	rng := rand.New(rand.NewPCG(2, uint64(len(l.incidents))))
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
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

// measureScale sends every request once to warm up, then three times
// measured, to each server in turn (request i of an endpoint to the first,
// then to the second), and returns each server's latencies by endpoint.
// incident-cached is the incident again, right after it was derived.
func measureScale(b *testing.B, bases []string, reqs []scaleRequests) []map[string][]time.Duration {
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()
	get := func(base, path string) time.Duration {
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
	out := make([]map[string][]time.Duration, len(bases))
	for i := range out {
		out[i] = map[string][]time.Duration{}
	}
	for pass := range 4 {
		for _, ep := range scaleEndpoints {
			if ep == "incident-cached" {
				continue // sent with incident
			}
			for i := range reqs[0][ep] {
				for k, base := range bases {
					path := reqs[k][ep][i]
					d := get(base, path)
					if pass == 0 {
						continue
					}
					out[k][ep] = append(out[k][ep], d)
					if ep == "incident" {
						out[k]["incident-cached"] = append(out[k]["incident-cached"], get(base, path))
					}
				}
			}
		}
	}
	for _, m := range out {
		for _, ds := range m {
			slices.Sort(ds)
		}
	}
	return out
}
