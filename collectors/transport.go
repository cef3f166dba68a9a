package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
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

// Transport is an http.RoundTripper shared by every collector. It paces
// requests to the source's budget, waits out rate limits, retries 5xx and
// network errors with capped, jittered backoff, and caps response bodies, so
// that the client libraries above it (which have no retries of their own)
// see only final answers.
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
	// Observer hears about requests and rate-limit waits; may be nil.
	Observer Observer
	// SleepFunc waits for d or until ctx ends; tests may shorten it.
	SleepFunc func(ctx context.Context, d time.Duration) error
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
}

// ErrResponseTooLarge is returned while reading a body over Transport.MaxBody.
var ErrResponseTooLarge = errors.New("upstream response body exceeds the size cap")

// NewHTTPClient returns a client over t whose attempts each time out after
// timeout without response headers. It sets no overall timeout, which would
// also cut rate-limit waits short: the caller's context bounds a request.
func NewHTTPClient(t *Transport, timeout time.Duration) *http.Client {
	if timeout > 0 {
		t.AttemptTimeout = timeout
	}
	return &http.Client{Transport: t}
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
		resp.Body = &cappedBody{r: resp.Body, left: t.maxBody()}
		return resp, nil
	}
}

// attempt does one round trip, cancelled if its headers take longer than
// AttemptTimeout; the body stays readable until it is closed.
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
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
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
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrResponseTooLarge
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
// ratelimit-reset). It reports false when the header is absent or not a
// number.
func SecondsHeader(h http.Header, name string) (time.Duration, bool) {
	v := h.Get(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n * float64(time.Second)), true
}
