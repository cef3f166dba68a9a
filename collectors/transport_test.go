package collectors_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/internal/faults"
)

// hangGuard bounds a test that would otherwise hang on a regression; it is
// never what ends a passing test.
const hangGuard = time.Minute

func client(t *collectors.Transport) *http.Client { return collectors.NewHTTPClient(t, 0) }

// A redirect to another scheme, host or port is refused, and the other
// server receives nothing: not the token header, not the replayed body.
func TestRedirectToAnotherOriginIsRefused(t *testing.T) {
	rec := faults.NewRecorder(t)
	recTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the TLS server received %s %s", r.Method, r.URL)
	}))
	t.Cleanup(recTLS.Close)
	recPort := rec.URL[strings.LastIndex(rec.URL, ":"):]
	for _, tc := range []struct {
		name, target string
		status       int
	}{
		{"port change, 307 replays the body", rec.URL, http.StatusTemporaryRedirect},
		{"port change, 308", rec.URL, http.StatusPermanentRedirect},
		{"port change, 302", rec.URL, http.StatusFound},
		{"host change", "http://localhost" + recPort, http.StatusMovedPermanently},
		{"scheme change", recTLS.URL, http.StatusTemporaryRedirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := httptest.NewServer(faults.Redirect(tc.target, tc.status))
			t.Cleanup(up.Close)
			req, _ := http.NewRequest(http.MethodPost, up.URL+"/api/conversations.history?x=1", strings.NewReader("token=xoxb-secret"))
			req.Header.Set("Authorization", "Bearer secret")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client(&collectors.Transport{Source: "slack"}).Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("followed a redirect to %s (status %d)", tc.target, resp.StatusCode)
			}
			if !errors.Is(err, collectors.ErrRedirectRefused) || !strings.Contains(err.Error(), "POST /api/conversations.history") {
				t.Errorf("err = %v, want ErrRedirectRefused naming the call", err)
			}
			if got := rec.Received(); len(got) != 0 {
				t.Errorf("the other server received %+v", got)
			}
		})
	}
}

// Redirects within the origin (GitHub's 301 for a renamed repository) are
// still followed.
func TestRedirectWithinTheOriginIsFollowed(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	resp, err := client(&collectors.Transport{Source: "github"}).Get(up.URL + "/old")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Errorf("body %q, want the target's", b)
	}
}

// A body that sends its headers and a few bytes and then nothing fails
// after the idle timeout with an error naming the call (never its query),
// instead of holding the source until the job's timeout.
func TestStalledBodyFailsNamingTheCall(t *testing.T) {
	up := httptest.NewServer(faults.Stall(`{"log_entries": [`))
	t.Cleanup(up.Close)
	tr := &collectors.Transport{Source: "pagerduty", IdleTimeout: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL+"/incidents/Q1/log_entries?token=secret&offset=0", nil)
	resp, err := client(tr).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, collectors.ErrBodyStalled) {
		t.Fatalf("read %q, err = %v; want ErrBodyStalled", b, err)
	}
	if string(b) != `{"log_entries": [` {
		t.Errorf("read %q before the stall", b)
	}
	msg := err.Error()
	if !strings.Contains(msg, "GET /incidents/Q1/log_entries") || !strings.Contains(msg, "no data for 20ms") || strings.Contains(msg, "secret") {
		t.Errorf("error %q should name the call without its query", msg)
	}
	if ctx.Err() != nil {
		t.Error("the hang guard ended the read, not the idle timeout")
	}
}

// A body that drips (every read gets a byte, so the idle timeout never
// fires) fails once the whole body has taken BodyTimeout.
func TestDrippingBodyFails(t *testing.T) {
	up := httptest.NewServer(faults.Drip(`{"ok":true,`, time.Millisecond))
	t.Cleanup(up.Close)
	tr := &collectors.Transport{Source: "slack", IdleTimeout: time.Hour, BodyTimeout: 30 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, up.URL+"/api/conversations.history", strings.NewReader("token=x"))
	resp, err := client(tr).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	if !errors.Is(err, collectors.ErrBodyStalled) || !strings.Contains(err.Error(), "POST /api/conversations.history") ||
		!strings.Contains(err.Error(), "not complete 30ms after its headers") {
		t.Fatalf("err = %v; want ErrBodyStalled naming the call", err)
	}
	if ctx.Err() != nil {
		t.Error("the hang guard ended the read, not the body timeout")
	}
}

// A body that arrives slowly but completely, each read well inside the idle
// timeout, is read in full: the timeouts bound waiting, not work.
func TestSlowReaderIsNotAStall(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	t.Cleanup(up.Close)
	resp, err := client(&collectors.Transport{Source: "github"}).Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 1<<20 {
		t.Errorf("read %d bytes, %v", n, err)
	}
}

// retryAfter429 answers 429 with one header, then 200.
func retryAfter429(name, value string) http.Handler {
	var mu sync.Mutex
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set(name, value)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "{}")
	})
}

// An absurd Retry-After (too large to convert, infinite, NaN) is capped at
// MaxRetryAfter and returned as a *RateLimitError for the job to snooze on;
// before, it overflowed into a negative wait that became a retry a second.
func TestHugeRetryAfterIsCappedAndReturned(t *testing.T) {
	for _, v := range []string{"99999999999", "1e400", "Inf", "+Infinity", "NaN", "3601"} {
		t.Run(v, func(t *testing.T) {
			up := httptest.NewServer(retryAfter429("Retry-After", v))
			t.Cleanup(up.Close)
			var slept []time.Duration
			tr := &collectors.Transport{
				Source: "slack",
				RetryAfter: func(resp *http.Response, _ time.Time) (time.Duration, bool) {
					d, ok := collectors.SecondsHeader(resp.Header, "Retry-After")
					return max(d, time.Second), resp.StatusCode == http.StatusTooManyRequests && ok
				},
				SleepFunc: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil },
			}
			resp, err := client(tr).Get(up.URL)
			if err == nil {
				resp.Body.Close()
			}
			var rl *collectors.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter != collectors.MaxRetryAfter {
				t.Fatalf("err = %v (waits %v), want a *RateLimitError of %v", err, slept, collectors.MaxRetryAfter)
			}
			if len(slept) != 0 {
				t.Errorf("slept %v before giving up", slept)
			}
		})
	}
}

func TestSecondsHeader(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 2.5 ", 2500 * time.Millisecond, true},
		{"3600", time.Hour, true},
		{"3601", collectors.MaxRetryAfter, true},
		{"99999999999", collectors.MaxRetryAfter, true},
		{"9223372036854775807", collectors.MaxRetryAfter, true},
		{"1e400", collectors.MaxRetryAfter, true},
		{"Inf", collectors.MaxRetryAfter, true},
		{"NaN", collectors.MaxRetryAfter, true},
		{"1e-400", 0, true},
		{"-1", 0, false},
		{"-Inf", 0, false},
		{"soon", 0, false},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, false},
	} {
		got, ok := collectors.SecondsHeader(http.Header{"Retry-After": {tc.v}}, "Retry-After")
		if got != tc.want || ok != tc.ok {
			t.Errorf("SecondsHeader(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
	if collectors.MaxRetryAfter <= collectors.DefaultMaxRateLimitWait || math.IsInf(collectors.MaxRetryAfter.Seconds(), 0) {
		t.Error("MaxRetryAfter must be longer than the longest wait sat out, so that it is snoozed on")
	}
}

// The transport caps whatever a vendor's RetryAfter returns, even the
// longest duration there is.
func TestTransportCapsEveryRateLimitWait(t *testing.T) {
	up := httptest.NewServer(retryAfter429("X-Anything", "1"))
	t.Cleanup(up.Close)
	tr := &collectors.Transport{
		Source: "github",
		RetryAfter: func(resp *http.Response, _ time.Time) (time.Duration, bool) {
			return math.MaxInt64, resp.StatusCode == 429
		},
		SleepFunc: func(ctx context.Context, d time.Duration) error { return nil },
	}
	_, err := client(tr).Get(up.URL)
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != collectors.MaxRetryAfter {
		t.Fatalf("err = %v, want a *RateLimitError of %v", err, collectors.MaxRetryAfter)
	}
}
