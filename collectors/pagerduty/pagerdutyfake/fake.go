// Package pagerdutyfake is an in-memory PagerDuty REST API (v2) for tests,
// benchmarks and the demo. It is an http.Handler that speaks the vendor's
// wire format for the endpoints Groundwork reads: offset pagination with
// limit, offset, more and total (and the 400 past offset+limit 10,000),
// "Authorization: Token token=..." checked on every request (401 otherwise),
// PagerDuty's error bodies, 429s with ratelimit-* headers, injectable 5xx and
// latency, and request counters.
//
// Routes: GET /incidents/{id}, /incidents/{id}/log_entries,
// /incidents/{id}/notes, /incidents/{id}/alerts, /users/{id} and the
// account-wide /log_entries?since=&until=. Lists are in ascending created_at
// order; since is inclusive and until exclusive.
package pagerdutyfake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxOffset is PagerDuty's bound: offset+limit over it is a 400.
const MaxOffset = 10000

// Fake is the fake PagerDuty API. Seed it with the Add methods (safe while it
// serves); set the exported fields before serving.
type Fake struct {
	// Token is the API token every request must carry.
	Token string
	// APIBase is the base of the "self" links (default
	// https://api.pagerduty.com); WebBase of the "html_url" links (default
	// https://acme.pagerduty.com).
	APIBase string
	WebBase string
	// OnRequestFunc, when set, sees every request before it is answered.
	OnRequestFunc func(r *http.Request)

	mux *http.ServeMux

	mu        sync.RWMutex
	incidents map[string]*incidentData
	users     map[string]User
	global    []*LogEntry // every log entry, by created_at

	knobMu     sync.Mutex
	failN      int
	failStatus int
	limitN     int
	limitReset int
	latency    time.Duration

	countMu   sync.Mutex
	total     int
	byPath    map[string]int
	byPattern map[string]int
}

type incidentData struct {
	inc    *Incident // nil until AddIncident: the incident answers 404
	logs   []*LogEntry
	notes  []*Note
	alerts []*Alert
}

// New returns an empty fake that accepts token.
func New(token string) *Fake {
	f := &Fake{
		Token:     token,
		incidents: map[string]*incidentData{},
		users:     map[string]User{},
		byPath:    map[string]int{},
		byPattern: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /incidents/{id}", f.getIncident)
	mux.HandleFunc("GET /incidents/{id}/log_entries", f.listIncidentLogEntries)
	mux.HandleFunc("GET /incidents/{id}/notes", f.listNotes)
	mux.HandleFunc("GET /incidents/{id}/alerts", f.listAlerts)
	mux.HandleFunc("GET /users/{id}", f.getUser)
	mux.HandleFunc("GET /log_entries", f.listLogEntries)
	f.mux = mux
	return f
}

// --- seeding ---

func (f *Fake) data(id string) *incidentData {
	d, ok := f.incidents[id]
	if !ok {
		d = &incidentData{}
		f.incidents[id] = d
	}
	return d
}

// AddIncident adds or replaces an incident.
func (f *Fake) AddIncident(inc Incident) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data(inc.ID).inc = &inc
}

// AddLogEntry adds a log entry to its incident (which may be added later).
func (f *Fake) AddLogEntry(le LogEntry) {
	if !strings.HasSuffix(le.Type, "_log_entry") {
		le.Type += "_log_entry"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.data(le.IncidentID)
	p := &le
	d.logs = insertSorted(d.logs, p, func(a, b *LogEntry) bool { return a.CreatedAt.Before(b.CreatedAt) })
	f.global = insertSorted(f.global, p, func(a, b *LogEntry) bool { return a.CreatedAt.Before(b.CreatedAt) })
}

// AddNote adds a note to its incident.
func (f *Fake) AddNote(n Note) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.data(n.IncidentID)
	d.notes = insertSorted(d.notes, &n, func(a, b *Note) bool { return a.CreatedAt.Before(b.CreatedAt) })
}

// AddAlert adds an alert to its incident.
func (f *Fake) AddAlert(a Alert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.data(a.IncidentID)
	d.alerts = insertSorted(d.alerts, &a, func(x, y *Alert) bool { return x.CreatedAt.Before(y.CreatedAt) })
}

// AddUser adds or replaces a user.
func (f *Fake) AddUser(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.ID] = u
}

// insertSorted inserts v after every element not greater than it, so that
// seeding in order is an append.
func insertSorted[T any](s []T, v T, less func(a, b T) bool) []T {
	i := sort.Search(len(s), func(i int) bool { return less(v, s[i]) })
	if i == len(s) {
		return append(s, v)
	}
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// --- knobs and counters ---

// FailNext makes the next n requests answer status (e.g. 500, 503) with a
// PagerDuty error body.
func (f *Fake) FailNext(n, status int) {
	f.knobMu.Lock()
	defer f.knobMu.Unlock()
	f.failN, f.failStatus = n, status
}

// RateLimitNext makes the next n requests answer 429 with
// ratelimit-remaining: 0 and ratelimit-reset: resetSeconds.
func (f *Fake) RateLimitNext(n, resetSeconds int) {
	f.knobMu.Lock()
	defer f.knobMu.Unlock()
	f.limitN, f.limitReset = n, resetSeconds
}

// SetLatency delays every answer by d (or until the request is cancelled).
func (f *Fake) SetLatency(d time.Duration) {
	f.knobMu.Lock()
	defer f.knobMu.Unlock()
	f.latency = d
}

// Requests is the number of requests served, whatever their answer.
func (f *Fake) Requests() int {
	f.countMu.Lock()
	defer f.countMu.Unlock()
	return f.total
}

// RequestsTo is the number of requests for one method and exact path, such
// as ("GET", "/users/PXPGF42").
func (f *Fake) RequestsTo(method, path string) int {
	f.countMu.Lock()
	defer f.countMu.Unlock()
	return f.byPath[method+" "+path]
}

// RequestsMatching is the number of requests of one route, named by its
// pattern, such as "GET /users/{id}" or "GET /incidents/{id}/log_entries".
func (f *Fake) RequestsMatching(pattern string) int {
	f.countMu.Lock()
	defer f.countMu.Unlock()
	return f.byPattern[pattern]
}

// ResetCounts sets every request counter to zero.
func (f *Fake) ResetCounts() {
	f.countMu.Lock()
	defer f.countMu.Unlock()
	f.total = 0
	clear(f.byPath)
	clear(f.byPattern)
}

// --- serving ---

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := f.mux.Handler(r)
	f.countMu.Lock()
	f.total++
	f.byPath[r.Method+" "+r.URL.Path]++
	if pattern != "" {
		f.byPattern[pattern]++
	}
	f.countMu.Unlock()
	if f.OnRequestFunc != nil {
		f.OnRequestFunc(r)
	}

	f.knobMu.Lock()
	latency := f.latency
	limited, reset := false, 0
	if f.limitN > 0 {
		f.limitN--
		limited, reset = true, f.limitReset
	}
	failStatus := 0
	if !limited && f.failN > 0 {
		f.failN--
		failStatus = f.failStatus
	}
	f.knobMu.Unlock()

	if latency > 0 {
		if err := sleep(r.Context(), latency); err != nil {
			return
		}
	}
	if !f.authorized(r) {
		writeError(w, http.StatusUnauthorized, 2006, "Unauthorized")
		return
	}
	if limited {
		w.Header().Set("ratelimit-limit", "960")
		w.Header().Set("ratelimit-remaining", "0")
		w.Header().Set("ratelimit-reset", strconv.Itoa(reset))
		writeError(w, http.StatusTooManyRequests, 2020, "Rate Limit Exceeded")
		return
	}
	if failStatus != 0 {
		writeError(w, failStatus, 2010, http.StatusText(failStatus))
		return
	}
	f.mux.ServeHTTP(w, r)
}

func (f *Fake) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Token token=")
	if !ok {
		tok, ok = strings.CutPrefix(h, "Bearer ")
	}
	return ok && f.Token != "" && tok == f.Token
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

// page is the offset-pagination request of a list call.
type page struct {
	limit, offset int
	total         bool
}

// parsePage reads limit (default 25, at most 100), offset and total, and
// refuses offset+limit over MaxOffset as PagerDuty does.
func parsePage(w http.ResponseWriter, r *http.Request) (page, bool) {
	q := r.URL.Query()
	p := page{limit: 25, total: q.Get("total") == "true"}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Limit must be a non-negative integer.")
			return p, false
		}
		if n > 0 {
			p.limit = min(n, 100)
		}
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", "Offset must be a non-negative integer.")
			return p, false
		}
		p.offset = n
	}
	if p.offset+p.limit > MaxOffset {
		writeError(w, http.StatusBadRequest, 2001, "Invalid Input Provided",
			"Offset + limit must be less than or equal to "+strconv.Itoa(MaxOffset)+".")
		return p, false
	}
	return p, true
}

// slice applies p to n items: the index range of the page and the envelope.
func (p page) slice(n int) (lo, hi int, env listEnvelope) {
	lo = min(p.offset, n)
	hi = min(lo+p.limit, n)
	env = listEnvelope{Limit: p.limit, Offset: p.offset, More: hi < n}
	if p.total {
		env.Total = &n
	}
	return lo, hi, env
}

// timeRange reads since (inclusive) and until (exclusive).
func timeRange(w http.ResponseWriter, r *http.Request) (since, until *time.Time, ok bool) {
	q := r.URL.Query()
	for _, k := range []string{"since", "until"} {
		s := q.Get(k)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", k+" must be an ISO 8601 date-time.")
			return nil, nil, false
		}
		if k == "since" {
			since = &t
		} else {
			until = &t
		}
	}
	return since, until, true
}

// window returns the index range of entries (sorted by created_at) in
// [since, until).
func window(entries []*LogEntry, since, until *time.Time) (int, int) {
	lo, hi := 0, len(entries)
	if since != nil {
		lo = sort.Search(len(entries), func(i int) bool { return !entries[i].CreatedAt.Before(*since) })
	}
	if until != nil {
		hi = sort.Search(len(entries), func(i int) bool { return !entries[i].CreatedAt.Before(*until) })
	}
	return lo, max(lo, hi)
}

func (f *Fake) incident(w http.ResponseWriter, r *http.Request) (*incidentData, bool) {
	d, ok := f.incidents[r.PathValue("id")]
	if !ok || d.inc == nil {
		writeError(w, http.StatusNotFound, 2100, "Not Found")
		return nil, false
	}
	return d, true
}

func (f *Fake) getIncident(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.incident(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": f.renderIncident(d)})
}

func (f *Fake) listIncidentLogEntries(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	since, until, ok := timeRange(w, r)
	if !ok {
		return
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.incident(w, r)
	if !ok {
		return
	}
	f.writeLogEntries(w, d.logs, since, until, p)
}

func (f *Fake) listLogEntries(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	since, until, ok := timeRange(w, r)
	if !ok {
		return
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.writeLogEntries(w, f.global, since, until, p)
}

func (f *Fake) writeLogEntries(w http.ResponseWriter, all []*LogEntry, since, until *time.Time, p page) {
	from, to := window(all, since, until)
	lo, hi, env := p.slice(to - from)
	out := make([]wireLogEntry, 0, hi-lo)
	for _, le := range all[from+lo : from+hi] {
		out = append(out, f.renderLogEntry(le))
	}
	writeJSON(w, http.StatusOK, struct {
		LogEntries []wireLogEntry `json:"log_entries"`
		listEnvelope
	}{out, env})
}

func (f *Fake) listNotes(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.incident(w, r)
	if !ok {
		return
	}
	out := make([]wireNote, 0, len(d.notes))
	for _, n := range d.notes {
		out = append(out, f.renderNote(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"notes": out})
}

func (f *Fake) listAlerts(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.incident(w, r)
	if !ok {
		return
	}
	lo, hi, env := p.slice(len(d.alerts))
	out := make([]wireAlert, 0, hi-lo)
	for _, a := range d.alerts[lo:hi] {
		out = append(out, f.renderAlert(a))
	}
	writeJSON(w, http.StatusOK, struct {
		Alerts []wireAlert `json:"alerts"`
		listEnvelope
	}{out, env})
}

func (f *Fake) getUser(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	u, ok := f.users[r.PathValue("id")]
	f.mu.RUnlock()
	if !ok {
		writeError(w, http.StatusNotFound, 2100, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": f.renderUser(u)})
}

// writeJSON encodes v before writing anything, so that a failure is a 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, 2000, "Internal Server Error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError writes PagerDuty's error body {"error": {"message", "code",
// "errors"}}.
func writeError(w http.ResponseWriter, status, code int, message string, errs ...string) {
	body := map[string]any{"message": message, "code": code}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	b, _ := json.Marshal(map[string]any{"error": body})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
