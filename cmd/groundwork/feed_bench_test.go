package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// BenchmarkFeedUnderLoad measures what open event streams cost the rest of
// one serve process.
//
// streams: signed PagerDuty deliveries (GW_BENCH_DELIVERIES, default 1,000,
// at 100/s, about 50 incidents) are sent twice while a writer commits one
// event every 100ms: first with no stream open, then with GW_BENCH_STREAMS
// (default 4,000) SSE streams of /v1/feed open, all on one token. It reports
// the deliveries' p50 and p99 latency in both runs, their ratio, the 503s
// and other non-2xx answers with the streams open, and the delay from each
// writer commit to its arrival on every stream (p50, p99).
//
// stalled: 200 clients ask for the stream with ?limit=5000 over a 6,000
// event (~8 MB) feed and never read. It reports the serve process's
// resident memory (RSS, and its peak) and Go heap before, while they are
// all stalled, and after the write timeout (the default 30s) dropped them.
//
//	go test ./cmd/groundwork -run '^$' -bench FeedUnderLoad -benchtime 1x
func BenchmarkFeedUnderLoad(b *testing.B) {
	streams := envInt("GW_BENCH_STREAMS", 4000)
	deliveries := envInt("GW_BENCH_DELIVERIES", 1000)
	// Both ends of every stream live on this machine: the benchmark's
	// and serve's (a child, which inherits the limit).
	raiseFileLimit(b, uint64(2*streams+4096))
	bin := buildGroundwork(b)
	clientBin := filepath.Join(b.TempDir(), "sseclients")
	if out, err := exec.Command("go", "build", "-o", clientBin, "./testdata/sseclients").CombinedOutput(); err != nil {
		b.Fatalf("go build ./testdata/sseclients: %v\n%s", err, out)
	}
	w, err := fakeworld.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()

	b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
		for range b.N {
			benchStreams(b, bin, clientBin, w, streams, deliveries)
		}
	})
	b.Run("stalled=200", func(b *testing.B) {
		for range b.N {
			benchStalled(b, bin, w, 200)
		}
	})
}

// feedBenchConfig lets one token hold every stream of the benchmark, and
// drops a stalled reader after writeTimeout.
func feedBenchConfig(cfg *Config, streams int, writeTimeout time.Duration) {
	cfg.Feed.MaxStreams = streams + 100
	cfg.Feed.MaxStreamsPerToken = streams + 100
	if writeTimeout > 0 {
		cfg.Feed.WriteTimeout = Duration{Duration: writeTimeout}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// raiseFileLimit raises this process's open-file limit to n, or as far as
// the hard limit allows.
func raiseFileLimit(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatalf("raising the open-file limit to %d: %v", lim.Cur, err)
	}
	if lim.Cur < n {
		b.Logf("open-file limit is %d (hard limit), below the %d the benchmark wants", lim.Cur, n)
	}
}

// benchWriter commits one event every period into incident inc until stop,
// recording when each commit returned.
type benchWriter struct {
	mu        sync.Mutex
	committed map[int64]time.Time
	last      atomic.Int64
}

func (bw *benchWriter) run(b *testing.B, schema *pgtest.Schema, inc string, period time.Duration, stop <-chan struct{}) <-chan struct{} {
	st := postgres.New(schema.Pool)
	done := make(chan struct{})
	bw.mu.Lock()
	if bw.committed == nil {
		bw.committed = map[int64]time.Time{}
	}
	bw.mu.Unlock()
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), i)
			e := timeline.Event{ID: timeline.EventID("slack", "message", "C0BENCH", ts), IncidentID: inc,
				Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: time.Now().UTC(),
				Actor: &timeline.Actor{ID: "U0BENCH", Name: "Bench"}, Title: "fan-out " + ts,
				Text: strings.Repeat("a message every reader of the feed receives. ", 10)}
			if _, err := st.UpsertEvents(context.Background(), []timeline.Event{e}); err != nil {
				b.Errorf("writer: %v", err)
				return
			}
			at := time.Now()
			var seq int64
			if err := schema.Pool.QueryRow(context.Background(), `SELECT seq FROM events WHERE id = $1`, e.ID).Scan(&seq); err != nil {
				b.Errorf("writer: %v", err)
				return
			}
			bw.mu.Lock()
			bw.committed[seq] = at
			bw.mu.Unlock()
			bw.last.Store(seq)
		}
	}()
	return done
}

// sendDeliveries sends total signed incident.resolved deliveries at rate per
// second about distinct incidents and returns each one's latency and status
// (0 when the request failed).
func sendDeliveries(base, phase string, total, distinct, rate int) ([]time.Duration, []int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	created := time.Date(2025, 11, 21, 9, 0, 0, 0, time.UTC)
	latencies := make([]time.Duration, total)
	codes := make([]int, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, headers := benchDelivery(i%distinct, fmt.Sprintf("%s-%d", phase, i), created)
			req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/pagerduty", bytes.NewReader(body))
			req.Header = headers
			t0 := time.Now()
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
	return latencies, codes
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[int(q*float64(len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// streamClients is testdata/sseclients running: a process of its own that
// holds the streams open, so that the webhook sender here does not share a
// Go scheduler with thousands of readers.
type streamClients struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startStreamClients(b *testing.B, bin, base string, n int, after int64) *streamClients {
	c := &streamClients{cmd: exec.Command(bin, "-base", base, "-token", demoReadToken,
		"-streams", strconv.Itoa(n), "-after", strconv.FormatInt(after, 10))}
	c.cmd.Stderr = os.Stderr
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	c.out = bufio.NewScanner(out)
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	c.expect(b, "open")
	return c
}

// expect reads the clients' next line, which must start with want, and
// returns its other fields.
func (c *streamClients) expect(b *testing.B, want string) []string {
	if !c.out.Scan() {
		b.Fatalf("stream clients ended: %v", c.out.Err())
	}
	f := strings.Fields(c.out.Text())
	if len(f) == 0 || f[0] != want {
		b.Fatalf("stream clients: %q, want %s", c.out.Text(), want)
	}
	return f[1:]
}

// serveMetric reads one sample from serve's /metrics: name is the series as
// the text format writes it, labels included.
func serveMetric(b *testing.B, base, name string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

func benchStreams(b *testing.B, bin, clientBin string, w *fakeworld.World, streams, deliveries int) {
	const distinct, rate = 50, 100
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
	s := pgtest.NewEmpty(b)
	cfg := demoConfig(w, s.URL, "")
	feedBenchConfig(&cfg, streams, 0)
	srv := startServe(b, bin, cfg)
	st := postgres.New(s.Pool)
	ctx := context.Background()
	if err := st.UpsertIncident(ctx, timeline.Incident{ID: "PFEEDBENCH", StartedAt: time.Now().Add(-time.Hour),
		WindowStart: time.Now().Add(-2 * time.Hour), WindowEnd: time.Now().Add(2 * time.Hour)}); err != nil {
		b.Fatal(err)
	}
	writer := &benchWriter{}
	pid := srv.cmd.Process.Pid
	var serveCPU, selfCPU time.Duration // of the last phase
	phase := func(name string) ([]time.Duration, []int) {
		stop := make(chan struct{})
		serve0, self0 := procCPU(b, pid), selfCPUTime()
		done := writer.run(b, s, "PFEEDBENCH", 100*time.Millisecond, stop)
		lat, codes := sendDeliveries(srv.base, name, deliveries, distinct, rate)
		close(stop)
		<-done
		serveCPU, selfCPU = procCPU(b, pid)-serve0, selfCPUTime()-self0
		return lat, codes
	}

	b.ResetTimer()
	idleLat, _ := phase("idle")
	idleServeCPU, idleSelfCPU := serveCPU, selfCPU

	// Open the streams, as dashboards that follow the feed from now on.
	var head int64
	if err := s.Pool.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM events`).Scan(&head); err != nil {
		b.Fatal(err)
	}
	clients := startStreamClients(b, clientBin, srv.base, streams, head)
	if n := serveMetric(b, srv.base, "groundwork_feed_streams"); int(n) != streams {
		b.Fatalf("serve reports %v streams, want %d", n, streams)
	}
	clients0 := procCPU(b, clients.cmd.Process.Pid)

	lat, codes := phase("streams")
	// Every stream gets every commit.
	fmt.Fprintf(clients.in, "last %d\n", writer.last.Load())
	clients.expect(b, "caught-up")
	clientsCPU := procCPU(b, clients.cmd.Process.Pid) - clients0
	b.StopTimer()

	var unavailable, other int
	for _, c := range codes {
		switch {
		case c == http.StatusServiceUnavailable:
			unavailable++
		case c/100 != 2:
			other++
		}
	}
	writer.mu.Lock()
	for seq, at := range writer.committed {
		fmt.Fprintf(clients.in, "commit %d %d\n", seq, at.UnixNano())
	}
	commits := len(writer.committed)
	writer.mu.Unlock()
	fmt.Fprintln(clients.in, "end")
	f := clients.expect(b, "fanout")
	fanouts, _ := strconv.Atoi(f[0])
	nanos := func(s string) time.Duration { n, _ := strconv.ParseInt(s, 10, 64); return time.Duration(n) }
	fanoutP50, fanoutP99 := nanos(f[1]), nanos(f[2])
	clients.expect(b, "cpu")
	_ = clients.cmd.Wait()
	idleP99, p99 := quantile(idleLat, 0.99), quantile(lat, 0.99)
	b.ReportMetric(float64(streams), "streams")
	b.ReportMetric(ms(quantile(idleLat, 0.5)), "idle-p50-ms")
	b.ReportMetric(ms(idleP99), "idle-p99-ms")
	b.ReportMetric(ms(quantile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(float64(p99)/float64(idleP99), "p99/idle-p99")
	b.ReportMetric(float64(unavailable), "503s")
	b.ReportMetric(float64(other), "other-non-2xx")
	b.ReportMetric(ms(fanoutP50), "fanout-p50-ms")
	b.ReportMetric(ms(fanoutP99), "fanout-p99-ms")
	b.Logf("%d deliveries each run at %d/s; %d writer commits fanned out %d times (%d streams); "+
		"webhook p99 %s with no stream, %s with %d open; %d answered 503, %d other non-2xx; feed reads: hub %v, catch-up %v; "+
		"CPU used by serve %s with no stream, %s with them; by the webhook sender %s and %s; by the stream clients %s",
		deliveries, rate, commits, fanouts, streams, idleP99, p99, streams, unavailable, other,
		serveMetric(b, srv.base, `groundwork_feed_reads_total{reader="hub"}`),
		serveMetric(b, srv.base, `groundwork_feed_reads_total{reader="catchup"}`),
		idleServeCPU.Round(time.Millisecond), serveCPU.Round(time.Millisecond), idleSelfCPU.Round(time.Millisecond), selfCPU.Round(time.Millisecond),
		clientsCPU.Round(time.Millisecond))
	b.ReportMetric(serveCPU.Seconds(), "serve-cpu-s")
	srv.stop(b)
}

// procCPU is the user and system CPU time process pid has used.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the line, in clock ticks (100 a second).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func selfCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads a kB field (VmRSS, VmHWM) of /proc/<pid>/status in MB.
func procStatus(b *testing.B, pid int, field string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func benchStalled(b *testing.B, bin string, w *fakeworld.World, readers int) {
	const events = 6000
	s := pgtest.NewEmpty(b)
	cfg := demoConfig(w, s.URL, "")
	feedBenchConfig(&cfg, readers, 0) // the default write timeout, 30s
	srv := startServe(b, bin, cfg)
	st := postgres.New(s.Pool)
	ctx := context.Background()
	at := time.Date(2025, 11, 22, 9, 0, 0, 0, time.UTC)
	if err := st.UpsertIncident(ctx, timeline.Incident{ID: "PSTALL", StartedAt: at, WindowStart: at, WindowEnd: at.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("a stalled reader of the feed must not pin this text. ", 20) // ~1 KB
	for i := 0; i < events; i += 500 {
		batch := make([]timeline.Event, 0, 500)
		for j := i; j < i+500; j++ {
			ts := fmt.Sprintf("%d.%06d", at.Unix()+int64(j), j)
			batch = append(batch, timeline.Event{ID: timeline.EventID("slack", "message", "C0STALL", ts), IncidentID: "PSTALL",
				Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: at.Add(time.Duration(j) * time.Second),
				Actor: &timeline.Actor{ID: "U0STALL", Name: "Stall"}, Title: "message " + ts, Text: text,
				Details: map[string]any{"channel": "C0STALL", "ts": ts}})
		}
		if _, err := st.UpsertEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	pid := srv.cmd.Process.Pid
	heap := func() float64 { return serveMetric(b, srv.base, "go_memstats_heap_inuse_bytes") / (1 << 20) }
	rssIdle, heapIdle := procStatus(b, pid, "VmRSS"), heap()

	b.ResetTimer()
	addr := strings.TrimPrefix(srv.base, "http://")
	conns := make([]net.Conn, 0, readers)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range readers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		fmt.Fprintf(c, "GET /v1/feed?limit=5000 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n", demoReadToken)
		conns = append(conns, c)
	}
	// Once every reader is stalled (its socket buffers full), the streams
	// stop reading the store; the write timeout drops them later.
	catchUps := func() float64 { return serveMetric(b, srv.base, `groundwork_feed_reads_total{reader="catchup"}`) }
	for prev := -1.0; ; {
		time.Sleep(2 * time.Second)
		n := catchUps()
		if n == prev {
			break
		}
		prev = n
	}
	open := serveMetric(b, srv.base, "groundwork_feed_streams")
	rssStalled, heapStalled := procStatus(b, pid, "VmRSS"), heap()
	waitFor(b, "the stalled readers to be dropped", 2*time.Minute, func() bool {
		return serveMetric(b, srv.base, "groundwork_feed_streams") == 0
	})
	rssAfter, heapAfter := procStatus(b, pid, "VmRSS"), heap()
	b.StopTimer()
	peak := procStatus(b, pid, "VmHWM")
	b.ReportMetric(open, "stalled-streams")
	b.ReportMetric(rssIdle, "rss-idle-MB")
	b.ReportMetric(rssStalled, "rss-stalled-MB")
	b.ReportMetric(peak, "rss-peak-MB")
	b.ReportMetric(rssAfter, "rss-after-MB")
	b.ReportMetric(heapIdle, "heap-idle-MB")
	b.ReportMetric(heapStalled, "heap-stalled-MB")
	b.ReportMetric(heapAfter, "heap-after-MB")
	b.Logf("%d readers of ?limit=5000 over %d events (~%d bytes of text each) that never read: %v streams open while stalled; "+
		"serve RSS %.0f MB idle, %.0f MB stalled (peak %.0f MB), %.0f MB once the write timeout dropped them; "+
		"heap in use %.0f → %.0f → %.0f MB (after: garbage not yet collected included)",
		readers, events, len(text), open, rssIdle, rssStalled, peak, rssAfter, heapIdle, heapStalled, heapAfter)
	srv.stop(b)
}
