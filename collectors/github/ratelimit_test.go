package github

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	reset := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	const secondary = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`
	const abuse = `{"message":"slow down","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#abuse-rate-limits"}`
	const denied = `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}`
	cases := []struct {
		name    string
		status  int
		headers map[string]string
		body    string
		want    time.Duration
		limited bool
	}{
		{"200", 200, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(time.Hour)}, "[]", 0, false},
		{"429 retry-after", 429, map[string]string{"Retry-After": "17"}, secondary, 17 * time.Second, true},
		{"403 retry-after", 403, map[string]string{"Retry-After": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(time.Hour)}, secondary, 5 * time.Second, true},
		{"403 remaining 0", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(42 * time.Minute)}, "{}", 42 * time.Minute, true},
		{"429 remaining 0", 429, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(90 * time.Second)}, "{}", 90 * time.Second, true},
		{"reset already past", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset(-time.Minute)}, "{}", time.Second, true},
		{"remaining 0 without reset", 403, map[string]string{"X-RateLimit-Remaining": "0"}, "{}", time.Minute, true},
		{"429 bare", 429, nil, "", time.Minute, true},
		{"secondary 403", 403, map[string]string{"X-RateLimit-Remaining": "4000"}, secondary, time.Minute, true},
		{"abuse 403", 403, nil, abuse, time.Minute, true},
		{"plain 403", 403, map[string]string{"X-RateLimit-Remaining": "4000", "X-RateLimit-Reset": reset(time.Hour)}, denied, 0, false},
		{"404", 404, map[string]string{"Retry-After": "5"}, "{}", 0, false},
		{"500", 500, map[string]string{"Retry-After": "5"}, "{}", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: c.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(c.body))}
			for k, v := range c.headers {
				resp.Header.Set(k, v)
			}
			got, limited := RetryAfter(resp, now)
			if got != c.want || limited != c.limited {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", got, limited, c.want, c.limited)
			}
			// The body is still whole for whoever reads it next.
			b, _ := io.ReadAll(resp.Body)
			if string(b) != c.body {
				t.Errorf("body after RetryAfter = %q, want %q", b, c.body)
			}
		})
	}
}

type fixedResponses struct {
	header http.Header
	calls  int
}

func (f *fixedResponses) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls++
	return &http.Response{StatusCode: 200, Header: f.header.Clone(), Body: http.NoBody, Request: req}, nil
}

func TestRateGate(t *testing.T) {
	now := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	sl := &sleeps{advance: clk.Advance}
	next := &fixedResponses{header: http.Header{}}
	next.header.Set("X-RateLimit-Remaining", "0")
	next.header.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10))
	next.header.Set("X-RateLimit-Limit", "5000")
	g := &rateGate{next: next, source: "github", sleep: sl.sleep, now: clk.Now, maxWait: 15 * time.Minute}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://x/", nil)

	resp, err := g.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-RateLimit-Remaining") != "" || resp.Header.Get("X-RateLimit-Reset") != "" || resp.Header.Get("X-RateLimit-Limit") != "5000" {
		t.Errorf("headers handed up = %v, want remaining/reset removed", resp.Header)
	}
	if w := sl.all(); len(w) != 0 {
		t.Fatalf("waited %v before the first request", w)
	}
	// The next request waits for the reset first.
	next.header.Set("X-RateLimit-Remaining", "4999")
	if _, err := g.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if w := sl.all(); len(w) != 1 || w[0] != 5*time.Minute {
		t.Errorf("waits = %v, want [5m]", w)
	}
	// And the one after does not wait again.
	if _, err := g.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if w := sl.all(); len(w) != 1 || next.calls != 3 {
		t.Errorf("waits = %v, calls = %d; want one wait, three calls", w, next.calls)
	}
}
