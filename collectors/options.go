package collectors

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// DefaultMaxRateLimitWait is the longest single rate-limit wait a Transport
// sits out when its MaxRateLimitWait is zero.
const DefaultMaxRateLimitWait = 15 * time.Minute

// ClientOptions are the runtime dependencies every source's HTTP client
// shares, set by cmd and by tests. Each source embeds it in its own Options
// next to the options only it has. The zero value is ready to use: every nil
// or zero field stands for the default named on it.
type ClientOptions struct {
	// Observer hears about requests and rate-limit waits; may be nil.
	Observer Observer
	// Logger is zap.NewNop() when nil.
	Logger *zap.Logger
	// Base does the HTTP requests; http.DefaultTransport when nil, unless
	// the source documents a default of its own.
	Base http.RoundTripper
	// SleepFunc waits for d or until ctx ends (rate-limit waits, backoff);
	// Sleep when nil. Tests make it instant.
	SleepFunc func(ctx context.Context, d time.Duration) error
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
	// MaxRateLimitWait is the longest rate-limit wait sat out; a longer one
	// is returned as *RateLimitError (DefaultMaxRateLimitWait when zero).
	MaxRateLimitWait time.Duration
	// Timeout bounds each attempt of a request until its response headers
	// arrive (default 60s); it is applied by NewHTTPClient.
	Timeout time.Duration
	// Coverage, when set, tells a source whose vendor's delivery guarantee
	// allows it which stretches live capture vouches for, so that it reads
	// upstream only the rest; nil reads everything.
	Coverage Coverage
	// IdleTimeout bounds each read of a response body
	// (DefaultIdleTimeout when zero); see Transport.IdleTimeout.
	IdleTimeout time.Duration
	// IdleTimeoutFunc, when set, gives each request its idle timeout; see
	// Transport.IdleTimeoutFunc. For tests.
	IdleTimeoutFunc func(req *http.Request) time.Duration
	// BodyTimeout bounds a whole response body from its headers
	// (DefaultBodyTimeout when zero); see Transport.BodyTimeout.
	BodyTimeout time.Duration
}

// Log returns o.Logger, or a no-op logger when it is nil.
func (o ClientOptions) Log() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger
}

// Now returns the time by o.NowFunc, or time.Now when it is nil.
func (o ClientOptions) Now() time.Time {
	if o.NowFunc == nil {
		return time.Now()
	}
	return o.NowFunc()
}

// Sleep waits for d or until ctx ends through o.SleepFunc, or through the
// package's Sleep when it is nil. Under a context of WithWaitDeadline, a
// wait that would end after the deadline is not started: Sleep returns a
// *RateLimitError asking to come back after d.
func (o ClientOptions) Sleep(ctx context.Context, d time.Duration) error {
	return o.sleep("", ctx, d)
}

func (o ClientOptions) sleep(source string, ctx context.Context, d time.Duration) error {
	if deadline, ok := WaitDeadline(ctx); ok && time.Until(deadline) < d {
		return &RateLimitError{Source: source, RetryAfter: d}
	}
	if o.SleepFunc == nil {
		return Sleep(ctx, d)
	}
	return o.SleepFunc(ctx, d)
}

type waitDeadlineKey struct{}

// WithWaitDeadline returns ctx marked with the instant by which the work
// under it must end (a job's timeout). A rate-limit wait or retry backoff
// that would end after it is not sat out: the sleep returns a
// *RateLimitError at once, so that a job can snooze and come back after the
// wait instead of being cut off in the middle of it, which would count as a
// failed attempt. Either way the request could not have been answered
// before the deadline.
func WithWaitDeadline(ctx context.Context, deadline time.Time) context.Context {
	return context.WithValue(ctx, waitDeadlineKey{}, deadline)
}

// WaitDeadline returns the deadline set by WithWaitDeadline, if any.
func WaitDeadline(ctx context.Context) (time.Time, bool) {
	d, ok := ctx.Value(waitDeadlineKey{}).(time.Time)
	return d, ok
}

// RateLimitWait returns o.MaxRateLimitWait, or DefaultMaxRateLimitWait when
// it is not positive.
func (o ClientOptions) RateLimitWait() time.Duration {
	if o.MaxRateLimitWait <= 0 {
		return DefaultMaxRateLimitWait
	}
	return o.MaxRateLimitWait
}

// Transport returns the shared Transport of source built from o: its base,
// observer, clock, sleep, rate-limit wait cap and body timeouts, with the source's
// rate-limit recogniser retry and pacing limiter (nil means unpaced). Fields
// o leaves unset keep the Transport's own defaults. Pass it with o.Timeout
// to NewHTTPClient.
func (o ClientOptions) Transport(source string, retry RetryAfterFunc, limiter *rate.Limiter) *Transport {
	return &Transport{
		Source:           source,
		Base:             o.Base,
		Limiter:          limiter,
		RetryAfter:       retry,
		MaxRateLimitWait: o.MaxRateLimitWait,
		Observer:         o.Observer,
		SleepFunc: func(ctx context.Context, d time.Duration) error {
			return o.sleep(source, ctx, d)
		},
		NowFunc:         o.NowFunc,
		IdleTimeout:     o.IdleTimeout,
		IdleTimeoutFunc: o.IdleTimeoutFunc,
		BodyTimeout:     o.BodyTimeout,
	}
}
