package github

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/collectors"
)

// GitHub's rate-limit headers.
const (
	headerRetryAfter    = "Retry-After"
	headerRateRemaining = "X-RateLimit-Remaining"
	headerRateReset     = "X-RateLimit-Reset"
	headerRateLimit     = "X-RateLimit-Limit"
	headerRateUsed      = "X-RateLimit-Used"
)

// SecondaryLimitWait is how long RetryAfter waits after a rate-limit
// refusal that names no time: GitHub documents "at least one minute".
const SecondaryLimitWait = time.Minute

// maxSniff bounds how much of a 403 body RetryAfter reads to tell a
// secondary rate limit from a permission error.
const maxSniff = 64 << 10

// RetryAfter is the collectors.RetryAfterFunc for GitHub. It applies the
// rules GitHub documents for REST clients, in this order, to 403 and 429
// responses only (every wait at most collectors.MaxRetryAfter):
//
//  1. a retry-after header: wait that many seconds;
//  2. x-ratelimit-remaining: 0 (primary limit): wait until x-ratelimit-reset
//     (epoch seconds), at least one second; a minute when reset is missing;
//  3. a 429, or a 403 whose body speaks of a secondary rate limit (message
//     "secondary rate limit", documentation_url ending in
//     "secondary-rate-limits" or "#abuse-rate-limits"): wait a minute.
//
// Any other 403 is a permission error, not a rate limit: it is reported as
// not limited so that it fails at once. When it reads the body of a 403 it
// puts the bytes back, so the caller still sees the whole response.
func RetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if d, ok := collectors.SecondsHeader(resp.Header, headerRetryAfter); ok {
		return d, true
	}
	if resp.Header.Get(headerRateRemaining) == "0" {
		if reset, ok := resetTime(resp.Header, now); ok {
			return max(reset.Sub(now), time.Second), true
		}
		return SecondaryLimitWait, true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return SecondaryLimitWait, true
	}
	if mentionsSecondaryLimit(resp) {
		return SecondaryLimitWait, true
	}
	return 0, false
}

// resetTime parses x-ratelimit-reset (epoch seconds), at most
// collectors.MaxRetryAfter after now: a later one (or one too large to be a
// time at all, which would wrap around into the past) is taken as that.
func resetTime(h http.Header, now time.Time) (time.Time, bool) {
	v := h.Get(headerRateReset)
	if v == "" {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil && errors.Is(err, strconv.ErrRange) && n > 0 {
		err = nil // too many digits: later than any cap
	}
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	latest := now.Add(collectors.MaxRetryAfter)
	if n > latest.Unix() {
		return latest, true
	}
	return time.Unix(n, 0), true
}

// mentionsSecondaryLimit reads (at most maxSniff bytes of) the body and puts
// it back in place.
func mentionsSecondaryLimit(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSniff))
	resp.Body = &rereadBody{Reader: io.MultiReader(bytes.NewReader(b), resp.Body), Closer: resp.Body}
	if err != nil {
		return false
	}
	s := strings.ToLower(string(b))
	return strings.Contains(s, "secondary rate limit") ||
		strings.Contains(s, "secondary-rate-limits") ||
		strings.Contains(s, "#abuse-rate-limits")
}

type rereadBody struct {
	io.Reader
	io.Closer
}

// rateGate sits between go-github and the shared Transport. go-github
// remembers the x-ratelimit-* headers of the last response and, when they
// say "0 remaining until T", fails every later call at once with a
// *github.RateLimitError without sending it (checkRateLimitBeforeDo, using
// the real clock), until T. The Transport already waits out refused
// requests, so that fail-fast would only turn a wait into an error. The gate
// therefore takes the exhausted budget out of go-github's hands: it notes
// the reset time, removes x-ratelimit-remaining/-reset from the response
// handed up (so go-github records no exhausted budget), and before the next
// request waits until the reset itself, through the same SleepFunc,
// Observer and MaxRateLimitWait as the Transport.
type rateGate struct {
	next     http.RoundTripper
	source   string
	observer collectors.Observer
	sleep    func(ctx context.Context, d time.Duration) error
	now      func() time.Time
	maxWait  time.Duration

	mu    sync.Mutex
	until time.Time
}

func (g *rateGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.wait(req.Context()); err != nil {
		return nil, err
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get(headerRateRemaining) == "0" {
		if reset, ok := resetTime(resp.Header, g.now()); ok {
			g.mu.Lock()
			if reset.After(g.until) {
				g.until = reset
			}
			g.mu.Unlock()
		}
		resp.Header.Del(headerRateRemaining)
		resp.Header.Del(headerRateReset)
	}
	return resp, nil
}

func (g *rateGate) wait(ctx context.Context) error {
	g.mu.Lock()
	until := g.until
	g.mu.Unlock()
	if until.IsZero() {
		return nil
	}
	d := until.Sub(g.now())
	if d <= 0 {
		g.mu.Lock()
		if g.until.Equal(until) {
			g.until = time.Time{}
		}
		g.mu.Unlock()
		return nil
	}
	d = min(max(d, time.Second), collectors.MaxRetryAfter)
	if d > g.maxWait {
		return &collectors.RateLimitError{Source: g.source, RetryAfter: d}
	}
	if g.observer != nil {
		g.observer.RateLimited(g.source, d)
	}
	if err := g.sleep(ctx, d); err != nil {
		return err
	}
	g.mu.Lock()
	if g.until.Equal(until) {
		g.until = time.Time{}
	}
	g.mu.Unlock()
	return nil
}
