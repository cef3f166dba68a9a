// Package pagerdutyfake is an in-memory PagerDuty REST API (v2) for tests,
// benchmarks and the demo. It is an http.Handler that speaks the vendor's
// wire format for the endpoints Groundwork reads: offset pagination with
// limit, offset, more and total (and the 400 past offset+limit 10,000),
// "Authorization: Token token=..." checked on every request (401 otherwise),
// PagerDuty's error bodies, and 429s with ratelimit-* headers. Its knobs
// and counters (FailNext, SetLatency, Inject, Requests, RequestsTo,
// RequestsMatching by route pattern, Log, ResetCounters) are the ones every
// fake shares.
//
// Routes: GET /incidents/{id}, /incidents/{id}/log_entries,
// /incidents/{id}/notes, /incidents/{id}/alerts, /users/{id} and the
// account-wide /log_entries?since=&until=. Lists are in ascending created_at
// order; since is inclusive and until exclusive.
package pagerdutyfake

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
)

// MaxOffset is PagerDuty's bound: offset+limit over it is a 400.
const MaxOffset = 10000

// Fake is the fake PagerDuty API. Seed it with the Add methods (safe while it
// serves); set the exported fields before serving.
type Fake struct {
	*fakeapi.Core
	// Token is the API token every request must carry.
	Token string
	// APIBase is the base of the "self" links (default
	// https://api.pagerduty.com); WebBase of the "html_url" links (default
	// https://acme.pagerduty.com).
	APIBase string
	WebBase string

	mu        sync.RWMutex
	incidents map[string]*incidentData
	users     map[string]User
	global    []*LogEntry // every log entry, by created_at
}

type incidentData struct {
	inc    *Incident // nil until AddIncident: the incident answers 404
	logs   []*LogEntry
	notes  []*Note
	alerts []*Alert
}

// New returns an empty fake that accepts token.
func New(token string) *Fake {
	f := &Fake{Token: token, incidents: map[string]*incidentData{}, users: map[string]User{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /incidents/{id}", f.getIncident)
	mux.HandleFunc("GET /incidents/{id}/log_entries", f.listIncidentLogEntries)
	mux.HandleFunc("GET /incidents/{id}/notes", f.listNotes)
	mux.HandleFunc("GET /incidents/{id}/alerts", f.listAlerts)
	mux.HandleFunc("GET /users/{id}", f.getUser)
	mux.HandleFunc("GET /log_entries", f.listLogEntries)
	f.Core = fakeapi.New(fakeapi.Options{
		Handler:  mux,
		GateFunc: f.authorized,
		FailFunc: func(w http.ResponseWriter, _ *http.Request, status int) {
			writeError(w, status, 2010, http.StatusText(status))
		},
	})
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

func logBefore(a, b *LogEntry) bool { return a.CreatedAt.Before(b.CreatedAt) }

// AddLogEntry adds a log entry to its incident (which may be added later).
func (f *Fake) AddLogEntry(le LogEntry) {
	if !strings.HasSuffix(le.Type, "_log_entry") {
		le.Type += "_log_entry"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.data(le.IncidentID)
	d.logs = fakeapi.InsertSorted(d.logs, &le, logBefore)
	f.global = fakeapi.InsertSorted(f.global, &le, logBefore)
}

// AddNote adds a note to its incident.
func (f *Fake) AddNote(n Note) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.data(n.IncidentID)
	d.notes = fakeapi.InsertSorted(d.notes, &n, func(a, b *Note) bool { return a.CreatedAt.Before(b.CreatedAt) })
}

// AddAlert adds an alert to its incident.
func (f *Fake) AddAlert(a Alert) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.data(a.IncidentID)
	d.alerts = fakeapi.InsertSorted(d.alerts, &a, func(x, y *Alert) bool { return x.CreatedAt.Before(y.CreatedAt) })
}

// AddUser adds or replaces a user.
func (f *Fake) AddUser(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.ID] = u
}

// RateLimitNext makes the next n requests answer 429 with
// ratelimit-remaining: 0 and ratelimit-reset: resetSeconds.
func (f *Fake) RateLimitNext(n, resetSeconds int) {
	f.Inject(n, nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fakeapi.Limited(w)
		w.Header().Set("ratelimit-limit", "960")
		w.Header().Set("ratelimit-remaining", "0")
		w.Header().Set("ratelimit-reset", strconv.Itoa(resetSeconds))
		writeError(w, http.StatusTooManyRequests, 2020, "Rate Limit Exceeded")
	}))
}

// --- serving ---

func (f *Fake) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Token token=")
	if !ok {
		tok, ok = strings.CutPrefix(h, "Bearer ")
	}
	if !ok || f.Token == "" || tok != f.Token {
		writeError(w, http.StatusUnauthorized, 2006, "Unauthorized")
		return false
	}
	return true
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
	count := func(key, name string) (int, bool) {
		n, err := strconv.Atoi(q.Get(key))
		if q.Get(key) != "" && (err != nil || n < 0) {
			writeError(w, http.StatusBadRequest, 2001, "Invalid Input Provided", name+" must be a non-negative integer.")
			return 0, false
		}
		return n, true
	}
	limit, ok := count("limit", "Limit")
	if !ok {
		return p, false
	}
	offset, ok := count("offset", "Offset")
	if !ok {
		return p, false
	}
	if limit > 0 {
		p.limit = min(limit, 100)
	}
	p.offset = offset
	if p.offset+p.limit > MaxOffset {
		writeError(w, http.StatusBadRequest, 2001, "Invalid Input Provided",
			"Offset + limit must be less than or equal to "+strconv.Itoa(MaxOffset)+".")
		return p, false
	}
	return p, true
}

// slice applies p to n items: the index range of the page and the envelope.
func (p page) slice(n int) (lo, hi int, env listEnvelope) {
	lo, hi, more := fakeapi.Offset(n, p.offset, p.limit)
	env = listEnvelope{Limit: p.limit, Offset: p.offset, More: more}
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
	at := func(t *time.Time, def int) int {
		if t == nil {
			return def
		}
		return sort.Search(len(entries), func(i int) bool { return !entries[i].CreatedAt.Before(*t) })
	}
	lo := at(since, 0)
	return lo, max(lo, at(until, len(entries)))
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
	if d, ok := f.incident(w, r); ok {
		fakeapi.WriteJSON(w, http.StatusOK, map[string]any{"incident": f.renderIncident(d)})
	}
}

func (f *Fake) listIncidentLogEntries(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if d, ok := f.incident(w, r); ok {
		f.writeLogEntries(w, r, d.logs)
	}
}

func (f *Fake) listLogEntries(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.writeLogEntries(w, r, f.global)
}

func (f *Fake) writeLogEntries(w http.ResponseWriter, r *http.Request, all []*LogEntry) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	since, until, ok := timeRange(w, r)
	if !ok {
		return
	}
	from, to := window(all, since, until)
	lo, hi, env := p.slice(to - from)
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, le := range all[from+lo : from+hi] {
		out = append(out, f.renderLogEntry(le))
	}
	fakeapi.WriteJSON(w, http.StatusOK, struct {
		LogEntries []fakeapi.Object `json:"log_entries"`
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
	out := make([]fakeapi.Object, 0, len(d.notes))
	for _, n := range d.notes {
		out = append(out, f.renderNote(n))
	}
	fakeapi.WriteJSON(w, http.StatusOK, map[string]any{"notes": out})
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
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, a := range d.alerts[lo:hi] {
		out = append(out, f.renderAlert(a))
	}
	fakeapi.WriteJSON(w, http.StatusOK, struct {
		Alerts []fakeapi.Object `json:"alerts"`
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
	fakeapi.WriteJSON(w, http.StatusOK, map[string]any{"user": f.renderUser(u)})
}

// writeError writes PagerDuty's error body {"error": {"message", "code",
// "errors"}}.
func writeError(w http.ResponseWriter, status, code int, message string, errs ...string) {
	body := map[string]any{"message": message, "code": code}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	fakeapi.WriteJSON(w, status, map[string]any{"error": body})
}
