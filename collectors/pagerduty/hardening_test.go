package pagerduty_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/internal/faults"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// hangGuard only bounds a regression that would hang; a passing test never
// comes near it.
const hangGuard = time.Minute

// setupFaulty serves the checkout incident through wrap and builds a
// collector with instant sleeps and no pacing; the requests stalled selects
// (none when nil) get a short idle timeout, all others an hour.
func setupFaulty(t *testing.T, wrap func(http.Handler) http.Handler, stalled ...func(*http.Request) bool) (*bundle, string) {
	t.Helper()
	b := &bundle{fake: pagerdutyfake.New(token), sleeps: &sleeps{}}
	id := pagerdutyfake.SeedCheckoutIncident(b.fake)
	b.srv = httptest.NewServer(wrap(b.fake))
	t.Cleanup(b.srv.Close)
	col, err := pagerduty.New(pagerduty.Config{Token: token, APIURL: b.srv.URL, WebhookSecret: "whsec"}, pagerduty.Options{
		ClientOptions: collectors.ClientOptions{
			IdleTimeoutFunc: idleTimeouts(stalled),
			SleepFunc:       b.sleeps.sleep,
			NowFunc:         func() time.Time { return testNow },
		},
		Limiter: rate.NewLimiter(rate.Inf, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.col = col
	return b, id
}

func idleTimeouts(stalled []func(*http.Request) bool) func(*http.Request) time.Duration {
	if len(stalled) == 0 {
		return nil
	}
	return faults.IdleTimeouts(stalled[0])
}

func collectGuarded(t *testing.T, b *bundle, id string) ([]timeline.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	events, err := b.collect(ctx, id)
	if ctx.Err() != nil {
		t.Fatalf("the hang guard ended the collection: %v", err)
	}
	return events, err
}

func endpoint(id, list string) string { return "/incidents/" + id + "/" + list }

// A redirect to another host (a port counts) is refused and reported as the
// list's error; the other server receives nothing, not the token header Go
// would keep across a change of port.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	for _, list := range []string{"log_entries", "notes", "alerts"} {
		rec := faults.NewRecorder(t)
		b, id := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, faults.PathSuffix("/"+list), faults.Redirect(rec.URL, http.StatusTemporaryRedirect))
		})
		events, err := collectGuarded(t, b, id)
		if !errors.Is(err, collectors.ErrRedirectRefused) || !strings.Contains(err.Error(), endpoint(id, list)) {
			t.Errorf("%s: err = %v, want ErrRedirectRefused naming %s", list, err, endpoint(id, list))
		}
		if len(events) == 0 {
			t.Errorf("%s: the other lists' events were lost", list)
		}
		if got := rec.Received(); len(got) != 0 {
			t.Errorf("%s: the other host received %+v", list, got)
		}
	}
	rec := faults.NewRecorder(t)
	b, id := setupFaulty(t, func(h http.Handler) http.Handler {
		return faults.Intercept(h, func(r *http.Request) bool { return strings.Count(r.URL.Path, "/") == 2 },
			faults.Redirect(rec.URL, http.StatusMovedPermanently))
	})
	if _, err := b.col.DescribeIncident(context.Background(), id); !errors.Is(err, collectors.ErrRedirectRefused) {
		t.Errorf("describe: err = %v, want ErrRedirectRefused", err)
	}
	if got := rec.Received(); len(got) != 0 {
		t.Errorf("describe: the other host received %+v", got)
	}
}

// A 200 answer without its list (or object) fails that list with an error
// naming the endpoint, instead of counting as zero events; the other lists
// are still collected.
func TestWrongShapedAnswersFail(t *testing.T) {
	for _, tc := range []struct{ list, body string }{
		{"log_entries", `{"limit":100,"offset":0,"more":false,"total":0}`},
		{"log_entries", `{"log_entries":null,"more":false}`},
		{"notes", `{}`},
		{"notes", `{"notes":null}`},
		{"alerts", `{"limit":100,"offset":0,"more":false}`},
	} {
		b, id := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, faults.PathSuffix("/"+tc.list), faults.JSON(tc.body))
		})
		events, err := collectGuarded(t, b, id)
		if !errors.Is(err, collectors.ErrWrongShape) || !strings.Contains(err.Error(), "GET "+endpoint(id, tc.list)) {
			t.Errorf("%s answering %s: err = %v, want ErrWrongShape naming the endpoint", tc.list, tc.body, err)
		}
		if len(events) == 0 {
			t.Errorf("%s: the other lists' events were lost", tc.list)
		}
	}
	for _, body := range []string{`{}`, `{"incident":{}}`} {
		b, id := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, func(r *http.Request) bool { return strings.Count(r.URL.Path, "/") == 2 }, faults.JSON(body))
		})
		_, err := b.col.DescribeIncident(context.Background(), id)
		if !errors.Is(err, collectors.ErrWrongShape) || !strings.Contains(err.Error(), "GET /incidents/"+id) {
			t.Errorf("incident answering %s: err = %v, want ErrWrongShape naming the endpoint", body, err)
		}
	}
}

// A body that stops after a few bytes fails after the idle timeout with an
// error naming the call (no query string), instead of holding the source
// until jobs.timeout.
func TestStalledAnswerFailsNamingTheCall(t *testing.T) {
	for _, list := range []string{"log_entries", "notes", "alerts"} {
		stalled := faults.PathSuffix("/" + list)
		b, id := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, stalled, faults.Stall(`{"`+list+`": [{"id": "R`))
		}, stalled)
		_, err := collectGuarded(t, b, id)
		if !errors.Is(err, collectors.ErrBodyStalled) || !strings.Contains(err.Error(), "GET "+endpoint(id, list)+":") {
			t.Errorf("%s: err = %v, want ErrBodyStalled naming GET %s", list, err, endpoint(id, list))
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("%s: error leaks the token: %v", list, err)
		}
	}
}

// ratelimit-reset: 99999999999 used to overflow into a negative wait, waited
// as one second, again and again. It is capped and snoozed on.
func TestHugeRateLimitResetIsCapped(t *testing.T) {
	b, id := setupFaulty(t, func(h http.Handler) http.Handler { return h })
	b.fake.RateLimitNext(1, 99999999999)
	_, err := collectGuarded(t, b, id)
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != collectors.MaxRetryAfter {
		t.Fatalf("err = %v (waits %v), want a *collectors.RateLimitError of %v", err, b.sleeps.all(), collectors.MaxRetryAfter)
	}
	for _, h := range []http.Header{{"Ratelimit-Reset": {"Inf"}}, {"Ratelimit-Reset": {"NaN"}}, {"Retry-After": {"1e400"}}} {
		if d, ok := pagerduty.RetryAfter(&http.Response{StatusCode: 429, Header: h}, time.Time{}); !ok || d != collectors.MaxRetryAfter {
			t.Errorf("%v: %v, %v; want %v", h, d, ok, collectors.MaxRetryAfter)
		}
	}
}
