package api_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// freezeProxy forwards TCP connections to Postgres and can freeze: while
// frozen it keeps every connection open and accepts new ones, but passes no
// byte either way, as a Postgres that stopped answering (a hung host, a
// SIGSTOPped server, a black-holed network) looks to a client.
type freezeProxy struct {
	addr   string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	ln     net.Listener
	conns  []net.Conn
}

func startFreezeProxy(t *testing.T) *freezeProxy {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	target := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{addr: ln.Addr().String(), ln: ln}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.pump(up, c)
			go p.pump(c, up)
		}
	}()
	t.Cleanup(func() {
		p.thaw()
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

// pump copies src to dst, holding every chunk while the proxy is frozen.
func (p *freezeProxy) pump(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezeProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *freezeProxy) thaw() {
	p.mu.Lock()
	p.frozen = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// TestReadEndpointsAnswer503WhenPostgresFreezes: a server whose Postgres
// stops answering (connections open, no reply) answers every read endpoint,
// the event stream included, with 503 unavailable and Retry-After once
// ReadTimeout has passed, instead of hanging; when Postgres answers again, so
// does the server. The client's own timeout is only a hang guard.
func TestReadEndpointsAnswer503WhenPostgresFreezes(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	b.events(t, chatEvent("PA", 1, ""), chatEvent("PA", 2, ""))

	proxy := startFreezeProxy(t)
	cfg, err := pgxpool.ParseConfig(b.schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(proxy.addr)
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(p), nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := postgres.New(pool)
	server := &api.Server{Store: st, Summaries: st, Versions: st, Review: b.server.Review,
		Cursors: b.server.Cursors, Tokens: b.server.Tokens, ReadTimeout: time.Second}
	srv := httptest.NewServer(server.Handler())
	t.Cleanup(func() { server.CloseStreams(); srv.CloseClientConnections(); srv.Close() })
	client := &http.Client{Timeout: time.Minute} // a hang guard

	get := func(path string, stream bool) (int, http.Header, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		if stream {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		if stream && resp.StatusCode == 200 {
			return 200, resp.Header, nil // a stream never ends by itself
		}
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body
	}
	paths := []string{"/v1/feed", "/v1/incidents", "/v1/incidents/PA", "/v1/incidents/PA/timeline", "/v1/incidents/PA/timeline?format=jsonl"}
	allOK := func() bool {
		for _, path := range paths {
			if status, _, _ := get(path, false); status != 200 {
				return false
			}
		}
		return true
	}
	waitUntil(t, "every read endpoint to answer 200 before the freeze", allOK)

	proxy.freeze()
	for _, path := range paths {
		status, h, body := get(path, false)
		if status != http.StatusServiceUnavailable || errorCode(decode[map[string]any](t, body)) != "unavailable" || h.Get("Retry-After") == "" {
			t.Errorf("GET %s with Postgres frozen: %d %s (Retry-After %q), want 503 unavailable with Retry-After", path, status, body, h.Get("Retry-After"))
		}
	}
	if status, _, body := get("/v1/feed", true); status != http.StatusServiceUnavailable {
		t.Errorf("an event stream with Postgres frozen: %d %s, want 503 before the stream starts", status, body)
	}

	proxy.thaw()
	waitUntil(t, "every read endpoint to answer 200 after the thaw", allOK)
}

// TestReadyzCachesItsAnswerForASecond: /readyz needs no token, so it asks
// the database at most once a second, whatever the number of callers; a
// failure is cached like a success. The cache's clock is the test's.
func TestReadyzCachesItsAnswerForASecond(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		now   = t0
		fail  atomic.Bool
		calls atomic.Int64
	)
	b := setupReview(t, func(s *api.Server) {
		s.ReadyFunc = func(ctx context.Context) error {
			calls.Add(1)
			if fail.Load() {
				return errors.New("database unreachable")
			}
			return nil
		}
		api.SetReadyClock(s, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	})
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ready := func() int {
		status, _, _ := b.fetch(t, "/readyz")
		return status
	}

	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status := ready(); status != 200 {
				t.Errorf("readyz: %d, want 200", status)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("20 calls of /readyz asked the database %d times, want once", n)
	}
	fail.Store(true)
	advance(999 * time.Millisecond)
	if status := ready(); status != 200 || calls.Load() != 1 {
		t.Errorf("within the second: %d after %d checks, want the cached 200 after 1", status, calls.Load())
	}
	advance(time.Millisecond)
	if status := ready(); status != 503 || calls.Load() != 2 {
		t.Errorf("after the second: %d after %d checks, want 503 after 2", status, calls.Load())
	}
	fail.Store(false)
	advance(500 * time.Millisecond)
	if status := ready(); status != 503 || calls.Load() != 2 {
		t.Errorf("a failure within its second: %d after %d checks, want the cached 503 after 2", status, calls.Load())
	}
	advance(500 * time.Millisecond)
	if status := ready(); status != 200 || calls.Load() != 3 {
		t.Errorf("after recovery: %d after %d checks, want 200 after 3", status, calls.Load())
	}
}
