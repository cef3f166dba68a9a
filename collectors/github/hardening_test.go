package github

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/collectors/internal/faults"
	"github.com/groundwork-dev/groundwork/timeline"
)

// hangGuard only bounds a regression that would hang; a passing test never
// comes near it.
const hangGuard = time.Minute

// newFaultyHarness is newHarness with the realistic repository acme/api
// served through wrap; the requests stalled selects (none when nil) get a
// short idle timeout, all others an hour.
func newFaultyHarness(t *testing.T, wrap func(http.Handler) http.Handler, stalled ...func(*http.Request) bool) *harness {
	t.Helper()
	h := &harness{
		fake:     githubfake.New(testToken),
		sleeps:   &sleeps{},
		clock:    &clock{t: t0.Add(30 * 24 * time.Hour)},
		progress: &collectors.Progress{},
	}
	h.fake.SetNow(h.clock.Now)
	seedRealistic(h.fake, "acme/api")
	srv := httptest.NewServer(wrap(h.fake))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	co := collectors.ClientOptions{Observer: h.progress, SleepFunc: h.sleeps.sleep, NowFunc: h.clock.Now}
	if len(stalled) > 0 {
		co.IdleTimeoutFunc = faults.IdleTimeouts(stalled[0])
	}
	col, err := New(Config{Token: testToken, APIURL: srv.URL, WebhookSecret: "s"}, Options{
		ClientOptions:     co,
		Concurrency:       1,
		RequestsPerSecond: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.col = col
	return h
}

func (h *harness) collectGuarded(t *testing.T) ([]timeline.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	var got []timeline.Event
	err := h.col.Collect(ctx, testWindow("acme/api"), func(e timeline.Event) error { got = append(got, e); return nil })
	if ctx.Err() != nil {
		t.Fatalf("the hang guard ended the collection: %v", err)
	}
	return got, err
}

// The list endpoints of one repository, by the path suffix the fake serves.
var listEndpoints = []string{"/commits", "/pulls", "/deployments", "/statuses", "/releases", "/actions/runs"}

// A redirect to another host (a port counts; a GitHub Enterprise proxy may
// send one) is refused and reported; the other server receives nothing: not
// the Authorization header go-github sets in its own transport.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	for _, suffix := range listEndpoints {
		rec := faults.NewRecorder(t)
		h := newFaultyHarness(t, func(next http.Handler) http.Handler {
			return faults.Intercept(next, faults.PathSuffix(suffix), faults.Redirect(rec.URL, http.StatusTemporaryRedirect))
		})
		events, err := h.collectGuarded(t)
		if !errors.Is(err, collectors.ErrRedirectRefused) || !strings.Contains(err.Error(), suffix+" was redirected") {
			t.Errorf("%s: err = %v, want ErrRedirectRefused naming the endpoint", suffix, err)
		}
		if len(events) == 0 {
			t.Errorf("%s: the other listings' events were lost", suffix)
		}
		if got := rec.Received(); len(got) != 0 {
			t.Errorf("%s: the other host received %+v", suffix, got)
		}
	}
}

// A 200 answer that is not the list asked for fails that listing naming the
// endpoint. go-github already refuses an object where an array belongs, but
// decodes null or an empty body as an empty page, and a runs page without
// workflow_runs as no runs.
func TestWrongShapedAnswersFail(t *testing.T) {
	type tc struct{ suffix, body string }
	var cases []tc
	for _, s := range listEndpoints[:5] {
		cases = append(cases, tc{s, "null"}, tc{s, ""}, tc{s, `{"message":"ok"}`})
	}
	cases = append(cases, tc{"/actions/runs", `{"total_count":0}`}, tc{"/actions/runs", "null"}, tc{"/actions/runs", `[]`})
	for _, c := range cases {
		h := newFaultyHarness(t, func(next http.Handler) http.Handler {
			return faults.Intercept(next, faults.PathSuffix(c.suffix), faults.JSON(c.body))
		})
		events, err := h.collectGuarded(t)
		if !errors.Is(err, collectors.ErrWrongShape) || !strings.Contains(err.Error(), "GET /repos/acme/api") || !strings.Contains(err.Error(), c.suffix+":") {
			t.Errorf("%s answering %q: err = %v, want ErrWrongShape naming the endpoint", c.suffix, c.body, err)
		}
		if len(events) == 0 {
			t.Errorf("%s: the other listings' events were lost", c.suffix)
		}
	}
}

// A body that stops after a few bytes fails after the idle timeout with an
// error naming the call, instead of holding the source until jobs.timeout.
func TestStalledAnswerFailsNamingTheCall(t *testing.T) {
	for _, suffix := range listEndpoints {
		stalled := faults.PathSuffix(suffix)
		h := newFaultyHarness(t, func(next http.Handler) http.Handler {
			return faults.Intercept(next, stalled, faults.Stall(`[{"sha": "76384`))
		}, stalled)
		_, err := h.collectGuarded(t)
		if !errors.Is(err, collectors.ErrBodyStalled) || !strings.Contains(err.Error(), suffix+": "+collectors.ErrBodyStalled.Error()) {
			t.Errorf("%s: err = %v, want ErrBodyStalled naming the endpoint", suffix, err)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error leaks the token: %v", suffix, err)
		}
	}
}

// refuseOnce answers the first request with a primary rate-limit refusal
// whose x-ratelimit-reset is reset, and passes the rest to next.
func refuseOnce(next http.Handler, reset string) http.Handler {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", reset)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"API rate limit exceeded for user ID 1."}`))
	})
}

// An x-ratelimit-reset epoch far in the future, or too large to be a time
// (which wrapped around into the past: a retry every second), is capped
// at MaxRetryAfter and snoozed on.
func TestHugeRateLimitResetIsCapped(t *testing.T) {
	for _, reset := range []string{"99999999999", "9223372036854775807", "99999999999999999999"} {
		h := newFaultyHarness(t, func(next http.Handler) http.Handler { return refuseOnce(next, reset) })
		_, err := h.collectGuarded(t)
		var rl *collectors.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != collectors.MaxRetryAfter {
			t.Errorf("reset %s: err = %v (waits %v), want a *collectors.RateLimitError of %v", reset, err, h.sleeps.all(), collectors.MaxRetryAfter)
		}
	}
	for _, v := range []string{"99999999999", "Inf", "NaN"} {
		resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {v}}}
		if d, ok := RetryAfter(resp, t0); !ok || d != collectors.MaxRetryAfter {
			t.Errorf("retry-after %s: %v, %v; want %v", v, d, ok, collectors.MaxRetryAfter)
		}
	}
}

// The gate that remembers an exhausted budget from a 200 answer caps the
// reset too: one absurd header must not stop the long-lived collector from
// ever calling GitHub again.
func TestGateCapsAnAbsurdReset(t *testing.T) {
	var n atomic.Int32
	h := newFaultyHarness(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				// The first call (the repository's lookup) is answered as
				// usual, with an exhausted budget and an absurd reset.
				next.ServeHTTP(&exhaustedBudget{ResponseWriter: w}, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	_, err := h.collectGuarded(t)
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != collectors.MaxRetryAfter {
		t.Fatalf("err = %v, want a *collectors.RateLimitError of %v", err, collectors.MaxRetryAfter)
	}
	// Once the capped wait has passed, GitHub is called again.
	h.clock.Advance(collectors.MaxRetryAfter)
	if _, err := h.collectGuarded(t); err != nil {
		t.Errorf("after the capped wait: %v", err)
	}
}

// exhaustedBudget overrides an answer's rate-limit headers as it is written:
// nothing left, and a reset 3,000 years away.
type exhaustedBudget struct{ http.ResponseWriter }

func (w *exhaustedBudget) WriteHeader(code int) {
	w.Header().Set("X-RateLimit-Remaining", "0")
	w.Header().Set("X-RateLimit-Reset", "99999999999")
	w.ResponseWriter.WriteHeader(code)
}

func (w *exhaustedBudget) Write(b []byte) (int, error) {
	if w.Header().Get("X-RateLimit-Reset") != "99999999999" {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
