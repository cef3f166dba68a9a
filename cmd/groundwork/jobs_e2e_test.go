package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// buildGroundwork compiles this command into a temporary directory.
func buildGroundwork(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "groundwork")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is `groundwork serve` running as a child process.
type serveProcess struct {
	cmd  *exec.Cmd
	base string
	logs *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs the binary with cfg (listening on a free port) and waits
// until it is ready.
func startServe(t testing.TB, bin string, cfg Config) *serveProcess {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	path := writeServeConfig(t, cfg)
	p := &serveProcess{logs: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "-config", path)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "GROUNDWORK_") {
			env = append(env, kv)
		}
	}
	p.cmd.Env = env
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "serving" {
				addr <- entry.Addr
			}
		}
	}()
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("serve logs:\n%s", p.logs.String())
		}
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.done:
		p.done <- err
		t.Fatalf("serve exited before serving: %v\n%s", err, p.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start\n%s", p.logs.String())
	}
	waitFor(t, "serve to be ready", 30*time.Second, func() bool {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// writeServeConfig writes cfg as the YAML file an operator would.
func writeServeConfig(t testing.TB, cfg Config) string {
	t.Helper()
	b, err := operatorYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "groundwork.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kill ends the process at once, as a crash or an OOM kill would.
func (p *serveProcess) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop asks the process to shut down gracefully and checks it exits 0.
func (p *serveProcess) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("serve did not exit after SIGTERM")
	}
}

func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// resolvedDelivery is PagerDuty's incident.resolved webhook for the fake
// world's incident, signed with the demo configuration's secret.
func resolvedDelivery(id string) (body []byte, headers http.Header) {
	body, _ = json.Marshal(map[string]any{"event": map[string]any{
		"id": id, "event_type": "incident.resolved", "resource_type": "incident",
		"occurred_at": "2025-11-20T11:10:35.000Z",
		"agent":       map[string]any{"id": "POKASAM", "type": "user_reference", "summary": "Sam Okafor"},
		"data": map[string]any{"id": fakeworld.IncidentID, "type": "incident", "number": 4242, "status": "resolved",
			"title": "Checkout API error rate above 5%", "created_at": "2025-11-20T09:58:02Z", "urgency": "high",
			"service": map[string]any{"id": fakeworld.ServiceID, "type": "service_reference", "summary": "checkout-api"}},
	}})
	mac := hmac.New(sha256.New, []byte(demoPagerDutyHook))
	mac.Write(body)
	headers = http.Header{}
	headers.Set("Content-Type", "application/json")
	headers.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
	headers.Set("X-Webhook-Id", id)
	return body, headers
}

func deliver(t testing.TB, base string, body []byte, headers http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/pagerduty", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = headers.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

type e2eJob struct {
	ID      int64
	State   string
	Attempt int
}

// collectKind is the kind of collection jobs; other jobs (the journal's
// pruning) share the queue.
const collectKind = jobs.Kind

func collectionJobs(t testing.TB, s *pgtest.Schema) []e2eJob {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT id, state::text, attempt FROM river_job WHERE kind = $1 ORDER BY id`, collectKind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []e2eJob
	for rows.Next() {
		var j e2eJob
		if err := rows.Scan(&j.ID, &j.State, &j.Attempt); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func allCompleted(js []e2eJob) bool {
	for _, j := range js {
		if j.State != "completed" {
			return false
		}
	}
	return len(js) > 0
}

func storedTimeline(t testing.TB, pool *pgtest.Schema) []timeline.Event {
	t.Helper()
	evs, err := postgres.New(pool.Pool).Timeline(context.Background(), timeline.TimelineQuery{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// referenceTimeline collects the incident in-process, uninterrupted, into
// a schema of its own; configure adjusts the demo configuration.
func referenceTimeline(t *testing.T, w *fakeworld.World, configure ...func(*Config)) []timeline.Event {
	t.Helper()
	ref := pgtest.NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := demoConfig(w, ref.URL, "127.0.0.1:0")
	for _, c := range configure {
		c(&cfg)
	}
	a, err := newApp(ctx, cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	_, win, err := a.planner.Plan(ctx, timeline.CollectRequest{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.runner.Run(ctx, win).Err(); err != nil {
		t.Fatal(err)
	}
	return storedTimeline(t, ref)
}

var ignoreSeq = cmpopts.IgnoreFields(timeline.Event{}, "Seq")

// TestServeCollectsOnWebhook: a signed incident.resolved delivery to a
// running serve, pointed at fakes of the three APIs, gives the complete
// timeline with no other action; five more copies, some at once, change
// nothing.
func TestServeCollectsOnWebhook(t *testing.T) {
	t.Parallel()
	bin := buildGroundwork(t)
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := pgtest.NewEmpty(t)
	srv := startServe(t, bin, demoConfig(w, s.URL, ""))
	body, headers := resolvedDelivery("01E2EDELIVERY0000000000001")
	if code, ack := deliver(t, srv.base, body, headers); code != 200 || ack["status"] != "accepted" {
		t.Fatalf("delivery: %d %v", code, ack)
	}
	waitFor(t, "the collection", 60*time.Second, func() bool { return allCompleted(collectionJobs(t, s)) })
	got := storedTimeline(t, s)
	kinds := map[string]int{}
	for _, e := range got {
		kinds[e.Kind]++
	}
	if diff := cmp.Diff(fakeworld.Expected, kinds); diff != "" {
		t.Errorf("timeline kinds (-want +got):\n%s", diff)
	}

	var wg sync.WaitGroup
	for i := range 5 {
		send := func() {
			if code, ack := deliver(t, srv.base, body, headers); code != 200 || ack["status"] != "duplicate" {
				t.Errorf("copy %d: %d %v, want 200 duplicate", i, code, ack)
			}
		}
		if i < 2 {
			send()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); send() }()
	}
	wg.Wait()
	if js := collectionJobs(t, s); len(js) != 1 {
		t.Errorf("jobs after the copies = %+v, want the one", js)
	}
	if diff := cmp.Diff(got, storedTimeline(t, s)); diff != "" {
		t.Errorf("the copies changed the timeline (-before +after):\n%s", diff)
	}
	srv.stop(t)
}

// slackGate serves the fake Slack and counts the conversations.history
// requests it answers. Armed with holdAt, it holds the holdAt-th history
// request until its client goes away: the collection is then stuck at a
// known page, for as long as the test needs.
type slackGate struct {
	next http.Handler

	mu       sync.Mutex
	received int
	served   int
	holdAt   int
	held     chan struct{}
}

func (g *slackGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/conversations.history") {
		g.next.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	g.received++
	hold := g.holdAt > 0 && g.received == g.holdAt
	g.mu.Unlock()
	if hold {
		// With the body read, the server notices the client going away
		// and ends the request.
		_, _ = io.Copy(io.Discard, r.Body)
		close(g.held)
		<-r.Context().Done()
		return
	}
	g.next.ServeHTTP(w, r)
	g.mu.Lock()
	g.served++
	g.mu.Unlock()
}

// arm resets the counts and holds the n-th history request from now on.
func (g *slackGate) arm(n int) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.received, g.served, g.holdAt, g.held = 0, 0, n, make(chan struct{})
	return g.held
}

func (g *slackGate) historyServed() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.served
}

type crashJob struct {
	ID          int64
	State       string
	Attempt     int
	Cancelling  bool
	RescuedFrom int64
}

func crashJobs(t testing.TB, s *pgtest.Schema) []crashJob {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT id, state::text, attempt, metadata ? 'cancel_attempted_at',
		COALESCE((metadata->>'rescued_from')::bigint, 0) FROM river_job WHERE kind = $1 ORDER BY id`, collectKind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []crashJob
	for rows.Next() {
		var j crashJob
		if err := rows.Scan(&j.ID, &j.State, &j.Attempt, &j.Cancelling, &j.RescuedFrom); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// collectionDone: some job completed and none is left to run (a job being
// cancelled is the dead process's, left for River's rescuer to finalise).
func collectionDone(js []crashJob) bool {
	done := false
	for _, j := range js {
		switch {
		case j.State == "completed":
			done = true
		case j.State == "cancelled", j.Cancelling:
		default:
			return false
		}
	}
	return done
}

// TestCrashMidCollectionLosesNothing: serve is killed with SIGKILL in the
// middle of a collection, with the default jobs.timeout (10m) and
// jobs.rescue_after (15m). The collection is handed over within seconds,
// to a replica that survived or to a serve started after the kill, which
// resumes Slack's history from the page it was on; the timeline equals that
// of an uninterrupted run: nothing missing, nothing twice. How long the
// hand-over took is logged (the figure, not an assertion):
//
//	go test ./cmd/groundwork -run CrashMidCollection -v
func TestCrashMidCollectionLosesNothing(t *testing.T) {
	t.Parallel()
	bin := buildGroundwork(t)
	for _, tc := range []struct {
		name string
		// survivor: a second replica runs beside the one killed; else a
		// serve is started after the kill.
		survivor bool
	}{{"restarted", false}, {"surviving replica", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, err := fakeworld.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			gate := &slackGate{next: w.Slack}
			gsrv := httptest.NewServer(gate)
			defer gsrv.Close()
			// Small pages, so that the channel's history takes several.
			slackPaged := func(cfg *Config) {
				sc := cfg.Sources.Plugins[slack.Name].(*slack.Config)
				sc.APIURL = gsrv.URL + "/api/"
				sc.HistoryPageSize = 3
			}
			want := referenceTimeline(t, w, slackPaged)
			minHistory := gate.historyServed()

			s := pgtest.NewEmpty(t)
			cfg := demoConfig(w, s.URL, "")
			slackPaged(&cfg)
			if def := DefaultConfig().Jobs; cfg.Jobs != def {
				t.Fatalf("jobs config %+v, want the defaults %+v", cfg.Jobs, def)
			}
			held := gate.arm(4) // three pages read, the fourth asked for
			first := startServe(t, bin, cfg)
			body, headers := resolvedDelivery("01E2ECRASH0000000000000001")
			if code, ack := deliver(t, first.base, body, headers); code != 200 || ack["status"] != "accepted" {
				t.Fatalf("delivery: %d %v", code, ack)
			}
			select {
			case <-held:
			case <-time.After(60 * time.Second):
				t.Fatal("the collection never reached Slack's fourth page")
			}
			var survivor *serveProcess
			if tc.survivor {
				survivor = startServe(t, bin, cfg)
			}
			first.kill(t)
			killed := time.Now()
			partial := storedTimeline(t, s)
			js := crashJobs(t, s)
			if len(partial) == 0 || len(partial) >= len(want) || len(js) != 1 || js[0].State != "running" {
				t.Fatalf("after the kill: %d of %d events and jobs %+v; want a collection cut short", len(partial), len(want), js)
			}
			if survivor == nil {
				survivor = startServe(t, bin, cfg)
			}
			waitFor(t, "the collection to be handed over and finished", 60*time.Second, func() bool { return collectionDone(crashJobs(t, s)) })
			t.Logf("crash recovery (%s): %s from SIGKILL to a complete timeline, with jobs.timeout %s and jobs.rescue_after %s "+
				"(River's rescuer alone: %s); killed with %d of %d events stored",
				tc.name, time.Since(killed).Round(100*time.Millisecond), cfg.Jobs.Timeout.Duration, cfg.Jobs.RescueAfter.Duration,
				max(cfg.Jobs.Timeout.Duration, cfg.Jobs.RescueAfter.Duration), len(partial), len(want))

			if diff := cmp.Diff(want, storedTimeline(t, s), ignoreSeq); diff != "" {
				t.Errorf("timeline after the crash (-uninterrupted +recovered):\n%s", diff)
			}
			js = crashJobs(t, s)
			if len(js) != 2 || !js[0].Cancelling || js[1].State != "completed" || js[1].Attempt != 1 || js[1].RescuedFrom != js[0].ID {
				t.Errorf("jobs = %+v, want the dead one being cancelled and its successor completed in one attempt", js)
			}
			// Slack resumed from its fourth page: both runs together read
			// each page once.
			if got := gate.historyServed(); got != minHistory {
				t.Errorf("Slack history pages served over both runs: %d, want %d (those of one uninterrupted run)", got, minHistory)
			}
			survivor.stop(t)
		})
	}
}

// BenchmarkWebhooks sends 2,000 signed PagerDuty deliveries to one serve
// process at 200 per second: 400 distinct incidents, the rest duplicates
// (half redeliveries with the same X-Webhook-Id, half new deliveries about
// an incident already announced), a tenth of them arriving at the same
// instant as another. The fakes answer slowly, so the incidents' jobs
// mostly wait in the queue while the duplicates arrive. It reports the
// deliveries answered 2xx, the p50 and p99 latency seen by the sender, and
// the jobs per distinct incident.
//
//	go test ./cmd/groundwork -run '^$' -bench Webhooks -benchtime 1x
func BenchmarkWebhooks(b *testing.B) {
	const (
		total    = 2000
		distinct = 400
		rate     = 200 // per second
	)
	bin := buildGroundwork(b)
	w, err := fakeworld.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	created := time.Date(2025, 11, 21, 9, 0, 0, 0, time.UTC)
	for i := range distinct {
		resolved := created.Add(time.Duration(i)*time.Minute + 30*time.Minute)
		w.PD.AddIncident(pagerdutyfake.Incident{ID: benchIncident(i), Number: 5000 + i, Title: fmt.Sprintf("Bench incident %d", i),
			CreatedAt: created.Add(time.Duration(i) * time.Minute), ResolvedAt: &resolved,
			Service: pagerdutyfake.ServiceRef(fakeworld.ServiceID, "checkout-api")})
	}
	for _, l := range []interface{ SetLatency(time.Duration) }{w.PD, w.GH, w.Slack} {
		l.SetLatency(time.Second)
	}
	for range b.N {
		s := pgtest.NewEmpty(b)
		cfg := demoConfig(w, s.URL, "")
		srv := startServe(b, bin, cfg)

		// The schedule: each incident's first delivery, then duplicates
		// of incidents already announced, shuffled with a fixed seed.
		rng := mathrand.New(mathrand.NewPCG(1, 2))
		type delivery struct {
			incident int
			id       string
			withPrev bool
		}
		var plan []delivery
		announced := 0
		for len(plan) < total {
			left := total - len(plan)
			if announced < distinct && (announced == 0 || rng.IntN(left) < distinct-announced) {
				plan = append(plan, delivery{incident: announced, id: fmt.Sprintf("first-%d", announced)})
				announced++
				continue
			}
			inc := rng.IntN(announced)
			id := fmt.Sprintf("first-%d", inc) // a redelivery
			if rng.IntN(2) == 0 {
				id = fmt.Sprintf("again-%d-%d", inc, len(plan)) // a new delivery about it
			}
			plan = append(plan, delivery{incident: inc, id: id, withPrev: rng.IntN(10) == 0})
		}

		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
		latencies := make([]time.Duration, total)
		sentAt := make([]time.Time, total)
		codes := make([]int, total)
		var wg sync.WaitGroup
		start := time.Now()
		b.ResetTimer()
		for i, d := range plan {
			at := start.Add(time.Duration(i) * time.Second / rate)
			if d.withPrev && i > 0 {
				at = start.Add(time.Duration(i-1) * time.Second / rate) // same instant as the one before
			}
			time.Sleep(time.Until(at))
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, headers := benchDelivery(d.incident, d.id, created)
				req, _ := http.NewRequest(http.MethodPost, srv.base+"/webhooks/pagerduty", bytes.NewReader(body))
				req.Header = headers
				t0 := time.Now()
				sentAt[i] = t0
				resp, err := client.Do(req)
				latencies[i] = time.Since(t0)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()

		ok := 0
		for _, c := range codes {
			if c/100 == 2 {
				ok++
			}
		}
		sorted := append([]time.Duration(nil), latencies...)
		slices.Sort(sorted)
		p50, p99 := sorted[len(sorted)/2], sorted[len(sorted)*99/100]
		// Per incident: its jobs, and when its first job started running.
		lastRepeat := map[string]time.Time{}
		seen := map[int]bool{}
		for i, d := range plan {
			id := benchIncident(d.incident)
			if seen[d.incident] && sentAt[i].After(lastRepeat[id]) {
				lastRepeat[id] = sentAt[i]
			}
			seen[d.incident] = true
		}
		var jobs, incidents, queuedIncidents, queuedJobs int
		perIncident := map[int]int{}
		rows, err := s.Pool.Query(context.Background(), `SELECT args->>'incident_id', count(*),
			(array_agg(attempted_at ORDER BY id))[1] FROM river_job WHERE kind = $1 GROUP BY 1`, collectKind)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var id string
			var n int
			var firstStarted *time.Time
			if err := rows.Scan(&id, &n, &firstStarted); err != nil {
				b.Fatal(err)
			}
			jobs += n
			incidents++
			perIncident[n]++
			if firstStarted == nil || lastRepeat[id].Before(*firstStarted) {
				// Every duplicate arrived while the first job was queued.
				queuedIncidents++
				queuedJobs += n
			}
		}
		rows.Close()
		b.ReportMetric(float64(ok), "2xx")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(jobs)/float64(incidents), "jobs/incident")
		b.ReportMetric(float64(queuedJobs)/float64(queuedIncidents), "jobs/incident-while-queued")
		b.Logf("%d deliveries in %s: %d answered 2xx; latency p50 %s, p99 %s, max %s; %d jobs for %d distinct incidents "+
			"(incidents by number of jobs: %v; a second job is the one follow-up of a delivery that arrived while the first ran); "+
			"%d jobs for the %d incidents whose duplicates all arrived while their first job was queued",
			total, elapsed.Round(time.Millisecond), ok, p50, p99, sorted[len(sorted)-1], jobs, incidents, perIncident,
			queuedJobs, queuedIncidents)
		srv.stop(b)
	}
}

func benchIncident(i int) string { return fmt.Sprintf("PBENCH%04d", i) }

// benchDelivery is incident i's incident.resolved delivery with the given
// X-Webhook-Id.
func benchDelivery(i int, id string, created time.Time) ([]byte, http.Header) {
	start := created.Add(time.Duration(i) * time.Minute)
	body, _ := json.Marshal(map[string]any{"event": map[string]any{
		"id": id, "event_type": "incident.resolved", "resource_type": "incident",
		"occurred_at": start.Add(30 * time.Minute).Format(time.RFC3339),
		"data": map[string]any{"id": benchIncident(i), "type": "incident", "status": "resolved",
			"title": fmt.Sprintf("Bench incident %d", i), "created_at": start.Format(time.RFC3339), "urgency": "high",
			"service": map[string]any{"id": fakeworld.ServiceID, "type": "service_reference"}},
	}})
	mac := hmac.New(sha256.New, []byte(demoPagerDutyHook))
	mac.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("X-Webhook-Id", id)
	return body, h
}
