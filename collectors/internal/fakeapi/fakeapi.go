// Package fakeapi is the core the fakes of the vendors' APIs
// (pagerdutyfake, githubfake, slackfake, promfake) are built on. A Core
// counts and logs every request a fake receives, delays it (SetLatency),
// answers it with the faults a test queued (FailNext with the vendor's error
// body, rate limits with the vendor's headers, stalls: any http.Handler, see
// Inject) before the fake's own handler sees it, and keeps the fake's clock.
// The package also writes JSON and pages (offset, page number with a Link
// header, opaque cursor) as the vendors do.
//
// A fake embeds *Core, so that every fake has the same knobs and counters,
// and serves through it. The package is internal to collectors: tests and
// the demo import the vendors' fakes, never this package, and it imports
// neither testing nor httptest, since the demo's binary holds it.
package fakeapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Options are what a vendor's fake gives its Core.
type Options struct {
	// Handler answers the requests no fault takes.
	Handler http.Handler
	// GateFunc, when set, sees every request after the latency and before
	// any fault, and answers those the vendor refuses whatever the faults
	// (a missing or wrong token, a method it does not serve). It reports
	// whether the request may go on; when false, it has answered.
	GateFunc func(w http.ResponseWriter, r *http.Request) bool
	// FailFunc writes the vendor's answer with status, for FailNext. When
	// nil, FailNext answers with the status and its text.
	FailFunc func(w http.ResponseWriter, r *http.Request, status int)
	// EndpointFunc names the endpoint a request counts under
	// (RequestsMatching). By default it is the pattern of Handler when that
	// is an *http.ServeMux ("GET /users/{id}"), else the method and path.
	EndpointFunc func(*http.Request) string
	// Secrets are form fields the log leaves out (Slack's token).
	Secrets []string
}

// Request is one request a fake received, as its log keeps it.
type Request struct {
	Method string
	Path   string
	// Endpoint is what the request counts under (Options.EndpointFunc).
	Endpoint string
	Query    url.Values
	// Form is the request's parsed form once answered, if the fake parsed
	// it (query and body), without Options.Secrets.
	Form url.Values
	// Status is the status of the answer; 0 while it is being answered, or
	// when the client gave up before one was written.
	Status int
	// Note is what the fake noted about its answer (Note): Slack's error
	// code.
	Note string
	// RateLimited reports that the answer refused the request for a rate
	// limit (Limited).
	RateLimited bool
}

// MaxLog is how many requests the log keeps: past it, the oldest half is
// dropped.
const MaxLog = 10000

// maxBody bounds the request body a Core reads before its latency.
const maxBody = 8 << 20

// Core is the shared part of a fake. Create it with New; all its methods
// are safe for concurrent use.
type Core struct {
	opts Options

	mu      sync.Mutex
	now     func() time.Time
	latency time.Duration
	faults  []fault
	total   int
	byPath  map[string]int
	byEnd   map[string]int
	limited int
	log     []*Request
	noLog   bool
}

type fault struct {
	match  func(*http.Request) bool
	answer http.Handler
}

// New returns a Core that serves with opts.
func New(opts Options) *Core {
	return &Core{opts: opts, byPath: map[string]int{}, byEnd: map[string]int{}}
}

// --- knobs ---

// SetNow sets the fake's clock (time.Now when nil), so that a test can move
// time instead of waiting: GitHub's rate-limit resets and Slack's
// per-minute limits follow it.
func (c *Core) SetNow(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Now is the fake's present.
func (c *Core) Now() time.Time {
	c.mu.Lock()
	now := c.now
	c.mu.Unlock()
	if now == nil {
		return time.Now()
	}
	return now()
}

// SetLatency delays every answer by d, or until the request is cancelled;
// 0 removes the delay.
func (c *Core) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = d
}

// Inject queues answer for the next n requests that match selects (every
// request when match is nil): each such request gets answer instead of the
// fake's own. Faults are used in the order they were queued, after the
// fake's gate (so a request with a wrong token is refused, not faulted).
// An answer may be anything a server can do wrong: a vendor's rate limit, a
// 5xx, a body that stalls.
func (c *Core) Inject(n int, match func(*http.Request) bool, answer http.Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		c.faults = append(c.faults, fault{match, answer})
	}
}

// ClearFaults drops every fault still queued: the fake answers as itself
// again.
func (c *Core) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// FailNext answers the next n requests with status (500, 502, 503, or a
// 4xx) and the vendor's error body.
func (c *Core) FailNext(n, status int) {
	c.Inject(n, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.opts.FailFunc != nil {
			c.opts.FailFunc(w, r, status)
			return
		}
		http.Error(w, http.StatusText(status), status)
	}))
}

// --- counters ---

// Requests is the number of requests received, whatever their answer.
func (c *Core) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// RequestsTo is the number of requests for one method and exact path
// (without the query), such as ("GET", "/users/PXPGF42").
func (c *Core) RequestsTo(method, path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath[method+" "+path]
}

// RequestsMatching is the number of requests of one endpoint: a route's
// pattern, such as "GET /users/{id}", or the name the fake gives its
// endpoints (Slack: the method, "conversations.history").
func (c *Core) RequestsMatching(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byEnd[endpoint]
}

// RateLimited is the number of requests refused for a rate limit.
func (c *Core) RateLimited() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limited
}

// Log returns the requests received (the latest MaxLog), oldest first.
func (c *Core) Log() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Request, len(c.log))
	for i, r := range c.log {
		out[i] = *r
	}
	return out
}

// DisableLog stops recording requests for Log (the counters go on), for
// large benchmarks.
func (c *Core) DisableLog() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noLog, c.log = true, nil
}

// ResetCounters zeroes the counters and empties the log.
func (c *Core) ResetCounters() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total, c.limited, c.log = 0, 0, nil
	clear(c.byPath)
	clear(c.byEnd)
}

// --- serving ---

// ServeHTTP counts and logs r, waits out the latency, passes it through the
// gate, then answers it with the next queued fault it matches, or with the
// fake's handler.
func (c *Core) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint := c.endpoint(r)
	entry := &Request{Method: r.Method, Path: r.URL.Path, Endpoint: endpoint, Query: r.URL.Query()}
	c.mu.Lock()
	c.total++
	c.byPath[r.Method+" "+r.URL.Path]++
	c.byEnd[endpoint]++
	if !c.noLog {
		if len(c.log) >= MaxLog {
			c.log = slices.Delete(c.log, 0, MaxLog/2)
		}
		c.log = append(c.log, entry)
	}
	latency := c.latency
	c.mu.Unlock()

	rec := &recorder{ResponseWriter: w}
	defer c.finish(entry, rec, r)
	if latency > 0 && r.Body != nil {
		// Read the body first: the server notices a client that gives up
		// during the latency only once the body has been read.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(rec, "fake: reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if latency > 0 && sleep(r.Context(), latency) != nil {
		return
	}
	if c.opts.GateFunc != nil && !c.opts.GateFunc(rec, r) {
		return
	}
	if f, ok := c.nextFault(r); ok {
		f.ServeHTTP(rec, r)
		return
	}
	c.opts.Handler.ServeHTTP(rec, r)
}

func (c *Core) endpoint(r *http.Request) string {
	if c.opts.EndpointFunc != nil {
		return c.opts.EndpointFunc(r)
	}
	if mux, ok := c.opts.Handler.(*http.ServeMux); ok {
		if _, pattern := mux.Handler(r); pattern != "" {
			return pattern
		}
	}
	return r.Method + " " + r.URL.Path
}

func (c *Core) nextFault(r *http.Request) (http.Handler, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faults {
		if f.match == nil || f.match(r) {
			c.faults = slices.Delete(c.faults, i, i+1)
			return f.answer, true
		}
	}
	return nil, false
}

func (c *Core) finish(entry *Request, rec *recorder, r *http.Request) {
	var form url.Values
	if r.Form != nil {
		form = make(url.Values, len(r.Form))
		for k, v := range r.Form {
			if !slices.Contains(c.opts.Secrets, k) {
				form[k] = slices.Clone(v)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	entry.Status, entry.Note, entry.RateLimited, entry.Form = rec.status, rec.note, rec.limited, form
	if rec.limited {
		c.limited++
	}
}

// recorder notes the status of an answer, and what the fake said of it.
type recorder struct {
	http.ResponseWriter
	status  int
	note    string
	limited bool
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

func recorderOf(w http.ResponseWriter) *recorder {
	for {
		switch v := w.(type) {
		case *recorder:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
}

// Note records note (such as an API error code) in the log entry of the
// request w answers; outside a Core it does nothing.
func Note(w http.ResponseWriter, note string) {
	if rec := recorderOf(w); rec != nil {
		rec.note = note
	}
}

// Limited marks the answer w writes as a rate-limit refusal (RateLimited
// counts it); outside a Core it does nothing.
func Limited(w http.ResponseWriter) {
	if rec := recorderOf(w); rec != nil {
		rec.limited = true
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
