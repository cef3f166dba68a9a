package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// RetryAfterFunc inspects a response and reports whether it is a rate-limit
// refusal and, if so, how long to wait before trying again. Each source knows
// its vendor's headers (GitHub retry-after / x-ratelimit-reset, PagerDuty
// ratelimit-reset, Slack Retry-After).
type RetryAfterFunc func(resp *http.Response, now time.Time) (wait time.Duration, limited bool)

// Observer hears about a source's upstream traffic, for progress and metrics.
// Every method may be called from several goroutines.
type Observer interface {
	// Request is called before each attempt of an upstream request.
	Request(source string)
	// RateLimited is called when a request was refused for the rate limit
	// and the transport will wait d before trying again.
	RateLimited(source string, d time.Duration)
}

// Defaults of Transport.
const (
	// DefaultIdleTimeout is the longest a read of a response body waits for
	// data when Transport.IdleTimeout is zero.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultBodyTimeout is the longest a response body may take to arrive
	// in full when Transport.BodyTimeout is zero.
	DefaultBodyTimeout = 5 * time.Minute
)

// MaxRetryAfter caps every rate-limit wait an upstream asks for
// (Retry-After, ratelimit-reset, x-ratelimit-reset): a larger, infinite or
// NaN value, or an epoch past the end of time, is taken as this. No vendor's
// limit lasts longer (GitHub's primary limit resets hourly), and it is
// longer than DefaultMaxRateLimitWait, so such a wait comes back as
// *RateLimitError and the job snoozes instead of spinning.
const MaxRetryAfter = time.Hour

// Transport is an http.RoundTripper shared by every collector. It paces
// requests to the source's budget, waits out rate limits, retries 5xx and
// network errors with capped, jittered backoff, and caps response bodies in
// size and in time, so that the client libraries above it (which have no
// retries of their own) see only final answers.
type Transport struct {
	Source string
	// Base does the actual requests; http.DefaultTransport when nil.
	Base http.RoundTripper
	// Limiter paces requests; nil means unpaced.
	Limiter *rate.Limiter
	// RetryAfter recognises the vendor's rate-limit responses.
	RetryAfter RetryAfterFunc
	// MaxRetries bounds retries of 5xx and network errors (default 5).
	MaxRetries int
	// BaseDelay and MaxDelay shape the backoff (defaults 500ms and 30s).
	BaseDelay, MaxDelay time.Duration
	// MaxRateLimitWait is the longest single rate-limit wait the transport
	// sits out; a longer one is returned as *RateLimitError
	// (DefaultMaxRateLimitWait when zero).
	MaxRateLimitWait time.Duration
	// MaxBody caps every response body (default 32 MiB).
	MaxBody int64
	// AttemptTimeout bounds each attempt until its response headers arrive
	// (default 60s). Waits for the limiter and rate limits are not part of
	// an attempt; the caller's context bounds the whole request.
	AttemptTimeout time.Duration
	// IdleTimeout bounds each read of a response body: a read that gets no
	// data for this long fails with an error wrapping ErrBodyStalled that
	// names the call (DefaultIdleTimeout when zero).
	IdleTimeout time.Duration
	// IdleTimeoutFunc, when set, gives the idle timeout of each request
	// instead (IdleTimeout when it returns zero), so that a test can give
	// the one call it stalls a short timeout and every healthy call a long
	// one.
	IdleTimeoutFunc func(req *http.Request) time.Duration
	// BodyTimeout bounds a whole response body from its headers, so that a
	// body that drips a byte now and then cannot hold a source either; it
	// fails the same way (DefaultBodyTimeout when zero).
	BodyTimeout time.Duration
	// Observer hears about requests and rate-limit waits; may be nil.
	Observer Observer
	// SleepFunc waits for d or until ctx ends; tests may shorten it.
	SleepFunc func(ctx context.Context, d time.Duration) error
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
}

// ErrResponseTooLarge is wrapped by the error of reading a body over
// Transport.MaxBody.
var ErrResponseTooLarge = errors.New("upstream response body exceeds the size cap")

// ErrBodyStalled is wrapped by the error of reading a response body that
// stopped arriving (Transport.IdleTimeout) or was not complete in time
// (Transport.BodyTimeout).
var ErrBodyStalled = errors.New("upstream response body stalled")

// ErrWrongShape is wrapped by a collector's error when an upstream answered
// 200 without what was asked for (a list page without its list, a user
// without its id): counting that as an empty success would lose events
// silently. The error names the endpoint.
var ErrWrongShape = errors.New("upstream answer lacks what was asked for")

// ErrRedirectRefused is wrapped by the error of a request that the upstream
// answered with a redirect to another scheme, host or port. The client
// libraries put the token on every request they send (go-github sets
// Authorization in its transport, slack-go sends it in a form body that a
// 307 or 308 replays, and Go keeps headers across a change of port), so
// following it would hand the token to whoever the Location names.
var ErrRedirectRefused = errors.New("redirect to another origin refused")

// NewHTTPClient returns a client over t whose attempts each time out after
// timeout without response headers, and which follows redirects only within
// the same origin (CheckRedirect). It sets no overall timeout, which would
// also cut rate-limit waits short: the caller's context bounds a request.
func NewHTTPClient(t *Transport, timeout time.Duration) *http.Client {
	if timeout > 0 {
		t.AttemptTimeout = timeout
	}
	return &http.Client{Transport: t, CheckRedirect: CheckRedirect}
}

// CheckRedirect is the redirect policy of NewHTTPClient's clients: a
// redirect to the same scheme, host and port as the original request is
// followed (at most 10 in a row); any other is refused with an error
// wrapping ErrRedirectRefused, and nothing is sent to the new location.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	if !sameOrigin(first.URL, req.URL) {
		return fmt.Errorf("%w: %s %s was redirected to %s://%s", ErrRedirectRefused,
			first.Method, first.URL.Path, req.URL.Scheme, req.URL.Host)
	}
	if len(via) >= 10 {
		return fmt.Errorf("%s %s: stopped after 10 redirects", first.Method, first.URL.Path)
	}
	return nil
}

// sameOrigin reports whether a and b have the same scheme, host and port,
// a missing port standing for the scheme's default.
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
			return "443"
		case "http":
			return "80"
		}
		return ""
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	maxRetries := t.MaxRetries
	if maxRetries == 0 {
		maxRetries = 5
	}
	failures := 0
	for attempt := 0; ; attempt++ {
		if t.Limiter != nil {
			if err := t.Limiter.Wait(ctx); err != nil {
				return nil, err
			}
		}
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		if t.Observer != nil {
			t.Observer.Request(t.Source)
		}
		resp, err := t.attempt(base, r)
		if err != nil {
			if ctx.Err() != nil || !retryableNetErr(err) || failures >= maxRetries {
				return nil, err
			}
			failures++
			if err := t.sleep(ctx, t.backoff(failures)); err != nil {
				return nil, err
			}
			continue
		}
		if t.RetryAfter != nil {
			if wait, limited := t.RetryAfter(resp, t.now()); limited {
				drain(resp)
				if wait <= 0 {
					wait = time.Second
				}
				wait = min(wait, MaxRetryAfter)
				if wait > t.maxRateLimitWait() {
					return nil, &RateLimitError{Source: t.Source, RetryAfter: wait}
				}
				if t.Observer != nil {
					t.Observer.RateLimited(t.Source, wait)
				}
				if err := t.sleep(ctx, wait); err != nil {
					return nil, err
				}
				continue
			}
		}
		if resp.StatusCode >= 500 && failures < maxRetries {
			drain(resp)
			failures++
			if err := t.sleep(ctx, t.backoff(failures)); err != nil {
				return nil, err
			}
			continue
		}
		resp.Body = &cappedBody{r: resp.Body, left: t.maxBody(), call: call(r)}
		return resp, nil
	}
}

// call names a request in errors: its method and path, never the query,
// which may carry secrets.
func call(r *http.Request) string { return r.Method + " " + r.URL.Path }

// attempt does one round trip, cancelled if its headers take longer than
// AttemptTimeout; the body stays readable until it is closed, each read
// bounded by IdleTimeout and the whole body by BodyTimeout.
func (t *Transport) attempt(base http.RoundTripper, r *http.Request) (*http.Response, error) {
	d := t.AttemptTimeout
	if d <= 0 {
		d = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(r.Context())
	timer := time.AfterFunc(d, cancel)
	resp, err := base.RoundTrip(r.WithContext(ctx))
	timer.Stop()
	if err != nil {
		cancel()
		if r.Context().Err() == nil && ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: no response within %s: %w", r.Method, r.URL.Redacted(), d, context.DeadlineExceeded)
		}
		return nil, err
	}
	resp.Body = t.watch(resp.Body, cancel, r)
	return resp, nil
}

// Why a watchedBody stalled.
const (
	stallIdle int32 = 1 + iota
	stallWhole
)

// watchedBody is a response body whose reads are bounded in time: each read
// by idle, the whole body by whole (from the headers). When either runs out
// it cancels the attempt's context, which ends the read in progress, and
// every read from then on fails with ErrBodyStalled naming the call.
type watchedBody struct {
	rc          io.ReadCloser
	cancel      context.CancelFunc
	call        string
	idle, whole time.Duration
	idleTimer   *time.Timer
	wholeTimer  *time.Timer
	why         atomic.Int32
}

func (t *Transport) watch(rc io.ReadCloser, cancel context.CancelFunc, r *http.Request) *watchedBody {
	b := &watchedBody{rc: rc, cancel: cancel, call: call(r), idle: t.IdleTimeout, whole: t.BodyTimeout}
	if t.IdleTimeoutFunc != nil {
		if d := t.IdleTimeoutFunc(r); d > 0 {
			b.idle = d
		}
	}
	if b.idle <= 0 {
		b.idle = DefaultIdleTimeout
	}
	if b.whole <= 0 {
		b.whole = DefaultBodyTimeout
	}
	b.wholeTimer = time.AfterFunc(b.whole, func() { b.stall(stallWhole) })
	b.idleTimer = time.AfterFunc(b.idle, func() { b.stall(stallIdle) })
	b.idleTimer.Stop() // it runs only while a read waits
	return b
}

func (b *watchedBody) stall(why int32) {
	if b.why.CompareAndSwap(0, why) {
		b.cancel()
	}
}

func (b *watchedBody) stalled() error {
	switch b.why.Load() {
	case stallIdle:
		return fmt.Errorf("%s: %w: no data for %s", b.call, ErrBodyStalled, b.idle)
	case stallWhole:
		return fmt.Errorf("%s: %w: not complete %s after its headers", b.call, ErrBodyStalled, b.whole)
	}
	return nil
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if err := b.stalled(); err != nil {
		return 0, err
	}
	b.idleTimer.Reset(b.idle)
	n, err := b.rc.Read(p)
	b.idleTimer.Stop()
	if serr := b.stalled(); serr != nil {
		return n, serr
	}
	if err == io.EOF {
		b.wholeTimer.Stop()
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.idleTimer.Stop()
	b.wholeTimer.Stop()
	err := b.rc.Close()
	b.cancel()
	return err
}

func (t *Transport) now() time.Time {
	if t.NowFunc != nil {
		return t.NowFunc()
	}
	return time.Now()
}

func (t *Transport) sleep(ctx context.Context, d time.Duration) error {
	if t.SleepFunc != nil {
		return t.SleepFunc(ctx, d)
	}
	return Sleep(ctx, d)
}

func (t *Transport) maxRateLimitWait() time.Duration {
	if t.MaxRateLimitWait > 0 {
		return t.MaxRateLimitWait
	}
	return DefaultMaxRateLimitWait
}

func (t *Transport) maxBody() int64 {
	if t.MaxBody > 0 {
		return t.MaxBody
	}
	return 32 << 20
}

// backoff is "full jitter" exponential backoff, capped.
func (t *Transport) backoff(failures int) time.Duration {
	base, maxD := t.BaseDelay, t.MaxDelay
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 30 * time.Second
	}
	d := base << min(failures-1, 20)
	if d > maxD || d <= 0 {
		d = maxD
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits for d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, fmt.Errorf("%s %s: cannot retry a request whose body cannot be replayed", req.Method, req.URL.Redacted())
		}
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	}
	return r, nil
}

func retryableNetErr(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

type cappedBody struct {
	r    io.ReadCloser
	left int64
	call string
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("%s: %w", c.call, ErrResponseTooLarge)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cappedBody) Close() error { return c.r.Close() }

// SecondsHeader parses a header holding a number of seconds (Retry-After,
// ratelimit-reset). It reports false when the header is absent, negative or
// not a number. A value over MaxRetryAfter, infinite or NaN gives
// MaxRetryAfter: converting it would overflow into a negative wait, which
// the vendors' rules turn into a retry every second.
func SecondsHeader(h http.Header, name string) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange): // ErrRange: ±Inf or ±0
		return 0, false
	case math.IsNaN(n) || n > MaxRetryAfter.Seconds():
		return MaxRetryAfter, true
	case n < 0:
		return 0, false
	}
	return time.Duration(n * float64(time.Second)), true
}
