// Package faults is for tests: it serves the misbehaviour of an upstream
// that the vendor fakes do not model themselves — redirects to another
// server, bodies that stall or drip, 200 answers of the wrong shape — for
// every request a test selects, by wrapping a fake's handler with
// Intercept, or for the next few, by queueing the answer in the fake
// (Inject, which every fake has from collectors/internal/fakeapi). It also
// records what a second server receives (Recorder), where a refused
// redirect must send nothing.
package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Intercept returns a handler that answers with h every request for which
// match is true and passes all others to next.
func Intercept(next http.Handler, match func(*http.Request) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match(r) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// PathSuffix matches the requests whose path ends with suffix.
func PathSuffix(suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, suffix) }
}

// Redirect answers with status (301, 302, 307, 308) and a Location at base
// followed by the request's own path and query.
func Redirect(base string, status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", strings.TrimSuffix(base, "/")+r.URL.RequestURI())
		w.WriteHeader(status)
	})
}

// JSON answers 200 with body as application/json.
func JSON(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, body)
	})
}

// Stall answers 200 with a JSON content type, writes prefix and then sends
// nothing more until the request ends (the client gives up).
func Stall(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, prefix)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
}

// Drip answers 200 with a JSON content type, writes prefix and then one
// space (valid JSON whitespace) every interval, for as long as the client
// keeps reading: each read gets data, the body never ends.
func Drip(prefix string, every time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		rc := http.NewResponseController(w)
		_, _ = io.WriteString(w, prefix)
		_ = rc.Flush()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := io.WriteString(w, " "); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		}
	})
}

// Received is one request a Recorder got.
type Received struct {
	Method string
	URL    string
	Header http.Header
	Body   string
}

// Recorder is a server that records every request it receives and answers
// 200 {}.
type Recorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []Received
}

// NewRecorder starts a Recorder, closed when the test ends.
func NewRecorder(t testing.TB) *Recorder {
	rec := &Recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.got = append(rec.got, Received{Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Body: string(b)})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(rec.Close)
	return rec
}

// Received returns the requests received so far, oldest first.
func (rec *Recorder) Received() []Received {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Received(nil), rec.got...)
}

// IdleTimeouts is a ClientOptions.IdleTimeoutFunc that gives the requests
// match selects a short idle timeout and every other request an hour: the
// call a test stalls times out at once, and a healthy one never does,
// however loaded the machine.
func IdleTimeouts(match func(*http.Request) bool) func(*http.Request) time.Duration {
	return func(r *http.Request) time.Duration {
		if match(r) {
			return 10 * time.Millisecond
		}
		return time.Hour
	}
}
