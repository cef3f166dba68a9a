// Package githubfake is an in-memory GitHub REST API for tests, the demo and
// benchmarks. It is an http.Handler (serve it with httptest.NewServer or any
// http.Server) that speaks GitHub's wire format for the endpoints Groundwork
// reads: the repository itself (owner and name match in any case, as on
// GitHub, and objects carry the seeded spelling), commits (since/until), pulls (state/sort/direction), deployments and
// their statuses, releases, Actions workflow runs (created range, status,
// total_count, the 1,000-result search cap) and users. Pages follow GitHub:
// per_page (default 30, max 100), page, and a Link header with rel="prev",
// "next", "last" and "first".
//
// It checks "Authorization: Bearer <token>" (or "token <token>"), sends
// x-ratelimit-* headers on every answer and can be told to refuse requests
// the ways GitHub does (RateLimitNext, SetBudget), to fail (FailNext,
// FailRepo) and to be slow (SetLatency). It counts requests, in total and per
// method and path. Seed it with the typed Add... methods; it is built to hold
// tens of thousands of objects. All methods are safe for concurrent use.
package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimitMode is a way GitHub refuses a request for its rate limits.
type RateLimitMode int

const (
	// Limit429RetryAfter answers 429 with a retry-after header (seconds).
	Limit429RetryAfter RateLimitMode = iota
	// LimitPrimary403 answers 403 with x-ratelimit-remaining: 0 and
	// x-ratelimit-reset (epoch seconds): the primary (hourly) limit.
	LimitPrimary403
	// LimitPrimary429 is the primary limit answered with 429.
	LimitPrimary429
	// LimitSecondary403 answers 403 with GitHub's "secondary rate limit"
	// message and no retry-after header.
	LimitSecondary403
)

// Documentation URLs GitHub puts in error bodies.
const (
	docsRoot          = "https://docs.github.com/rest"
	docsPrimaryLimit  = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
	docsSecondaryLimt = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

// maxSearch is the most results a filtered workflow-run listing reaches.
const maxSearch = 1000

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
}

// Server is the fake GitHub API. Create it with New.
type Server struct {
	mu    sync.Mutex
	token string
	mux   *http.ServeMux
	now   func() time.Time

	apiBase, htmlBase string

	users  map[string]*User
	repos  map[string]*repo
	nextID int64

	latency    time.Duration
	limitQueue []RateLimitMode
	failQueue  []int
	failRepos  map[string]int
	retryAfter time.Duration
	resetAfter time.Duration

	budgetLimit   int
	budgetPeriod  time.Duration
	budgetEnforce bool
	budgetUsed    int
	budgetReset   time.Time

	total       int
	perPath     map[string]int
	limited     int
	log         []Request
	logDisabled bool
}

type repo struct {
	id                int64
	full, owner, name string
	defaultBranch     string
	commits           []*commit
	commitsSorted     bool
	commitBySHA       map[string]*commit
	pulls             []*pull
	pullViews         map[string][]*pull
	pullNumbers       map[int]bool
	lastPull          int
	deployments       []*deployment
	deploymentsSorted bool
	deploymentByID    map[int64]*deployment
	releases          []*release
	releasesSorted    bool
	runs              []*workflowRun
	runsSorted        bool
	lastRunNumber     int
}

// New returns an empty fake that accepts token.
func New(token string) *Server {
	s := &Server{
		token:        token,
		now:          time.Now,
		apiBase:      "https://api.github.com",
		htmlBase:     "https://github.com",
		users:        map[string]*User{},
		repos:        map[string]*repo{},
		nextID:       1000,
		failRepos:    map[string]int{},
		retryAfter:   30 * time.Second,
		resetAfter:   2 * time.Minute,
		budgetLimit:  5000,
		budgetPeriod: time.Hour,
		perPath:      map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}", s.withRepo(s.getRepo))
	mux.HandleFunc("GET /repos/{owner}/{repo}/commits", s.withRepo(s.listCommits))
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", s.withRepo(s.listPulls))
	mux.HandleFunc("GET /repos/{owner}/{repo}/deployments", s.withRepo(s.listDeployments))
	mux.HandleFunc("GET /repos/{owner}/{repo}/deployments/{id}/statuses", s.withRepo(s.listStatuses))
	mux.HandleFunc("GET /repos/{owner}/{repo}/releases", s.withRepo(s.listReleases))
	mux.HandleFunc("GET /repos/{owner}/{repo}/actions/runs", s.withRepo(s.listRuns))
	mux.HandleFunc("GET /repos/{owner}/{repo}/compare/{basehead}", s.withRepo(s.compareCommits))
	mux.HandleFunc("GET /users/{login}", s.getUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot)
	})
	s.mux = mux
	return s
}

// SetNow sets the clock used for x-ratelimit-reset and the budget.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetBaseURLs sets the API and web bases written into payload URLs
// (defaults https://api.github.com and https://github.com). Link headers
// always point at the host the request came to.
func (s *Server) SetBaseURLs(api, html string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiBase, s.htmlBase = strings.TrimSuffix(api, "/"), strings.TrimSuffix(html, "/")
}

// SetLatency delays every answer by d (or until the request is cancelled).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// RateLimitNext refuses the next n requests the given way.
func (s *Server) RateLimitNext(n int, mode RateLimitMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.limitQueue = append(s.limitQueue, mode)
	}
}

// SetRateLimitWaits sets the retry-after of Limit429RetryAfter (default 30s)
// and how far ahead x-ratelimit-reset lies for the primary modes (default
// 2m).
func (s *Server) SetRateLimitWaits(retryAfter, resetAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter, s.resetAfter = retryAfter, resetAfter
}

// SetBudget enforces a primary rate limit: limit requests per period, the
// window starting now. The answer that spends the last request carries
// x-ratelimit-remaining: 0; later requests get 403 with remaining 0 until
// the reset. Without SetBudget the headers report a limit of 5,000 that is
// never exhausted.
func (s *Server) SetBudget(limit int, period time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.budgetLimit, s.budgetPeriod, s.budgetEnforce = limit, period, true
	s.budgetUsed = 0
	s.budgetReset = s.now().Add(period)
}

// FailNext answers the next n requests with status and a GitHub error body.
// A 403 here is a plain permission error, not a rate limit.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failQueue = append(s.failQueue, status)
	}
}

// FailRepo answers every request about repo ("owner/name") with status;
// status 0 stops it.
func (s *Server) FailRepo(repo string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.failRepos, strings.ToLower(repo))
		return
	}
	s.failRepos[strings.ToLower(repo)] = status
}

// Requests returns the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestsTo returns the number of requests received for method and path
// (without the query), e.g. RequestsTo("GET", "/repos/acme/api/pulls").
func (s *Server) RequestsTo(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perPath[method+" "+path]
}

// RateLimited returns the number of requests refused for a rate limit.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Log returns the requests received, oldest first.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// DisableLog stops recording requests for Log (counters go on); for large
// benchmarks.
func (s *Server) DisableLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logDisabled = true
	s.log = nil
}

// ResetCounters zeroes the request counters and the log.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total, s.limited, s.log = 0, 0, nil
	s.perPath = map[string]int{}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	s.perPath[r.Method+" "+r.URL.Path]++
	if !s.logDisabled {
		s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()})
	}
	latency := s.latency
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%08X", s.Requests()))

	if !s.authorized(r.Header.Get("Authorization")) {
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsRoot)
		return
	}
	if s.refuse(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authorized(h string) bool {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return false
	}
	return s.token != "" && tok == s.token
}

// refuse applies the injected faults and the budget, and sets the
// x-ratelimit-* headers. It reports whether it answered.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	h := w.Header()
	if !now.Before(s.budgetReset) {
		s.budgetUsed = 0
		s.budgetReset = now.Add(s.budgetPeriod)
	}
	setRate := func(remaining int, reset time.Time) {
		h.Set("X-RateLimit-Limit", strconv.Itoa(s.budgetLimit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("X-RateLimit-Used", strconv.Itoa(s.budgetLimit-remaining))
		h.Set("X-RateLimit-Resource", "core")
	}
	normalRemaining := max(s.budgetLimit-s.budgetUsed, 1)
	if s.budgetEnforce {
		normalRemaining = max(s.budgetLimit-s.budgetUsed, 0)
	}

	if len(s.limitQueue) > 0 {
		mode := s.limitQueue[0]
		s.limitQueue = s.limitQueue[1:]
		s.limited++
		switch mode {
		case Limit429RetryAfter:
			setRate(normalRemaining, s.budgetReset)
			h.Set("Retry-After", strconv.Itoa(int(s.retryAfter/time.Second)))
			writeError(w, http.StatusTooManyRequests,
				"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", docsSecondaryLimt)
		case LimitPrimary403, LimitPrimary429:
			setRate(0, now.Add(s.resetAfter))
			status := http.StatusForbidden
			if mode == LimitPrimary429 {
				status = http.StatusTooManyRequests
			}
			writeError(w, status, "API rate limit exceeded for user ID 1.", docsPrimaryLimit)
		default:
			setRate(normalRemaining, s.budgetReset)
			writeError(w, http.StatusForbidden,
				"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE.", docsSecondaryLimt)
		}
		return true
	}
	if len(s.failQueue) > 0 {
		status := s.failQueue[0]
		s.failQueue = s.failQueue[1:]
		setRate(normalRemaining, s.budgetReset)
		writeFailure(w, status)
		return true
	}
	if status, ok := s.failRepos[strings.ToLower(repoOfPath(r.URL.Path))]; ok {
		setRate(normalRemaining, s.budgetReset)
		writeFailure(w, status)
		return true
	}
	if s.budgetEnforce && s.budgetUsed >= s.budgetLimit {
		s.limited++
		setRate(0, s.budgetReset)
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.", docsPrimaryLimit)
		return true
	}
	s.budgetUsed++
	remaining := s.budgetLimit - s.budgetUsed
	if !s.budgetEnforce {
		remaining = max(remaining, 1)
	}
	setRate(remaining, s.budgetReset)
	return false
}

// repoOfPath returns "owner/name" of a /repos/{owner}/{name}/... path.
func repoOfPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/repos/")
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

func writeFailure(w http.ResponseWriter, status int) {
	msg := http.StatusText(status)
	switch {
	case status == http.StatusForbidden:
		msg = "Resource not accessible by integration"
	case status == http.StatusNotFound:
		msg = "Not Found"
	case status >= 500:
		msg = "Server Error"
	}
	writeError(w, status, msg, docsRoot)
}

func writeError(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, map[string]string{
		"message":           message,
		"documentation_url": doc,
		"status":            strconv.Itoa(status),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// withRepo resolves {owner}/{repo}, answering 404 like GitHub when the
// repository does not exist. The handler runs with s.mu held and returns
// the value to encode (after the lock is released).
func (s *Server) withRepo(h func(w http.ResponseWriter, r *http.Request, rp *repo) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		full := r.PathValue("owner") + "/" + r.PathValue("repo")
		s.mu.Lock()
		rp, ok := s.repos[strings.ToLower(full)]
		var status int
		var v any
		if ok {
			status, v = h(w, r, rp)
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "Not Found", docsRoot)
			return
		}
		writeJSON(w, status, v)
	}
}

type apiError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

func errBody(status int, msg string) (int, any) {
	return status, apiError{Message: msg, DocumentationURL: docsRoot, Status: strconv.Itoa(status)}
}

// paginate reads per_page and page, writes the Link header for n items and
// returns the bounds of the requested page.
func paginate(w http.ResponseWriter, r *http.Request, n int) (lo, hi int) {
	q := r.URL.Query()
	per := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, 100)
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	last := (n + per - 1) / per
	if l := link(r, page, last); l != "" {
		w.Header().Set("Link", l)
	}
	lo = min((page-1)*per, n)
	hi = min(lo+per, n)
	return lo, hi
}

// link builds GitHub's Link header: prev, next, last, first, each only
// where it applies.
func link(r *http.Request, page, last int) string {
	if last <= 1 && page <= 1 {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	at := func(p int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s://%s%s?%s>", scheme, r.Host, r.URL.Path, q.Encode())
	}
	var parts []string
	if page > 1 {
		parts = append(parts, at(min(page-1, max(last, 1)))+`; rel="prev"`)
	}
	if page < last {
		parts = append(parts, at(page+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if page > 1 {
		parts = append(parts, at(1)+`; rel="first"`)
	}
	return strings.Join(parts, ", ")
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

// getRepo answers GET /repos/{owner}/{repo} with the repository under
// its own spelling: GitHub matches the path's owner and name in any case.
func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	return http.StatusOK, s.renderRepo(rp)
}

func (s *Server) listCommits(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	if len(rp.commits) == 0 {
		return http.StatusConflict, apiError{Message: "Git Repository is empty.", DocumentationURL: docsRoot, Status: "409"}
	}
	if !rp.commitsSorted {
		sort.SliceStable(rp.commits, func(i, j int) bool {
			a, b := rp.commits[i], rp.commits[j]
			if !a.CommitterDate.Equal(b.CommitterDate) {
				return a.CommitterDate.After(b.CommitterDate)
			}
			return a.SHA < b.SHA
		})
		rp.commitsSorted = true
	}
	q := r.URL.Query()
	from, to := 0, len(rp.commits)
	if v := q.Get("until"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return errBody(http.StatusUnprocessableEntity, "Invalid value for parameter 'until': "+v)
		}
		// Newest first: skip those after until.
		from = sort.Search(len(rp.commits), func(i int) bool { return !rp.commits[i].CommitterDate.After(t) })
	}
	if v := q.Get("since"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return errBody(http.StatusUnprocessableEntity, "Invalid value for parameter 'since': "+v)
		}
		to = sort.Search(len(rp.commits), func(i int) bool { return rp.commits[i].CommitterDate.Before(t) })
	}
	if to < from {
		to = from
	}
	sel := rp.commits[from:to]
	lo, hi := paginate(w, r, len(sel))
	out := make([]wireCommit, 0, hi-lo)
	for _, c := range sel[lo:hi] {
		out = append(out, s.renderCommit(rp, c))
	}
	return http.StatusOK, out
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		return errBody(http.StatusUnprocessableEntity, "Validation Failed")
	}
	sortBy := q.Get("sort")
	switch sortBy {
	case "", "created", "popularity", "long-running":
		sortBy = "created"
	case "updated":
	default:
		return errBody(http.StatusUnprocessableEntity, "Validation Failed")
	}
	dir := q.Get("direction")
	if dir == "" {
		// GitHub: desc when sort is created or not given, else asc.
		dir = "asc"
		if s := q.Get("sort"); s == "" || s == "created" {
			dir = "desc"
		}
	}
	if dir != "asc" && dir != "desc" {
		return errBody(http.StatusUnprocessableEntity, "Validation Failed")
	}
	key := state + "|" + sortBy + "|" + dir
	if rp.pullViews == nil {
		rp.pullViews = map[string][]*pull{}
	}
	view, ok := rp.pullViews[key]
	if !ok {
		for _, p := range rp.pulls {
			if state == "all" || p.State == state {
				view = append(view, p)
			}
		}
		at := func(p *pull) time.Time {
			if sortBy == "updated" {
				return p.UpdatedAt
			}
			return p.CreatedAt
		}
		sort.SliceStable(view, func(i, j int) bool {
			a, b := view[i], view[j]
			ta, tb := at(a), at(b)
			if !ta.Equal(tb) {
				if dir == "desc" {
					return ta.After(tb)
				}
				return ta.Before(tb)
			}
			if dir == "desc" {
				return a.Number > b.Number
			}
			return a.Number < b.Number
		})
		rp.pullViews[key] = view
	}
	lo, hi := paginate(w, r, len(view))
	out := make([]wirePull, 0, hi-lo)
	for _, p := range view[lo:hi] {
		out = append(out, s.renderPull(rp, p))
	}
	return http.StatusOK, out
}

func (s *Server) sortedDeployments(rp *repo) []*deployment {
	if !rp.deploymentsSorted {
		sort.Slice(rp.deployments, func(i, j int) bool {
			a, b := rp.deployments[i], rp.deployments[j]
			if !a.CreatedAt.Equal(b.CreatedAt) {
				return a.CreatedAt.After(b.CreatedAt)
			}
			return a.ID > b.ID
		})
		rp.deploymentsSorted = true
	}
	return rp.deployments
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	q := r.URL.Query()
	all := s.sortedDeployments(rp)
	sel := all
	if q.Get("sha") != "" || q.Get("ref") != "" || q.Get("task") != "" || q.Get("environment") != "" {
		sel = nil
		for _, d := range all {
			if (q.Get("sha") == "" || d.SHA == q.Get("sha")) &&
				(q.Get("ref") == "" || d.Ref == q.Get("ref")) &&
				(q.Get("task") == "" || d.Task == q.Get("task")) &&
				(q.Get("environment") == "" || d.Environment == q.Get("environment")) {
				sel = append(sel, d)
			}
		}
	}
	lo, hi := paginate(w, r, len(sel))
	out := make([]wireDeployment, 0, hi-lo)
	for _, d := range sel[lo:hi] {
		out = append(out, s.renderDeployment(rp, d))
	}
	return http.StatusOK, out
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	d, ok := rp.deploymentByID[id]
	if err != nil || !ok {
		return errBody(http.StatusNotFound, "Not Found")
	}
	lo, hi := paginate(w, r, len(d.statuses))
	out := make([]wireDeploymentStatus, 0, hi-lo)
	for _, st := range d.statuses[lo:hi] {
		out = append(out, s.renderStatus(rp, d, st))
	}
	return http.StatusOK, out
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	if !rp.releasesSorted {
		sort.Slice(rp.releases, func(i, j int) bool {
			a, b := rp.releases[i], rp.releases[j]
			if !a.CreatedAt.Equal(b.CreatedAt) {
				return a.CreatedAt.After(b.CreatedAt)
			}
			return a.ID > b.ID
		})
		rp.releasesSorted = true
	}
	lo, hi := paginate(w, r, len(rp.releases))
	out := make([]wireRelease, 0, hi-lo)
	for _, rel := range rp.releases[lo:hi] {
		out = append(out, s.renderRelease(rp, rel))
	}
	return http.StatusOK, out
}

// createdFilter parses GitHub's search syntax for dates as used by the
// created parameter: A..B, >=A, >A, <=B, <B, or a single date/time.
func createdFilter(v string) (func(time.Time) bool, error) {
	switch {
	case strings.Contains(v, ".."):
		a, b, _ := strings.Cut(v, "..")
		var lo, hi time.Time
		var err error
		if a != "*" {
			if lo, err = parseTime(a); err != nil {
				return nil, err
			}
		}
		if b != "*" {
			if hi, err = parseTime(b); err != nil {
				return nil, err
			}
			if len(b) == len("2006-01-02") {
				hi = hi.Add(24*time.Hour - time.Second)
			}
		}
		return func(t time.Time) bool {
			return (lo.IsZero() || !t.Before(lo)) && (hi.IsZero() || !t.After(hi))
		}, nil
	case strings.HasPrefix(v, ">="):
		lo, err := parseTime(v[2:])
		return func(t time.Time) bool { return !t.Before(lo) }, err
	case strings.HasPrefix(v, "<="):
		hi, err := parseTime(v[2:])
		return func(t time.Time) bool { return !t.After(hi) }, err
	case strings.HasPrefix(v, ">"):
		lo, err := parseTime(v[1:])
		return func(t time.Time) bool { return t.After(lo) }, err
	case strings.HasPrefix(v, "<"):
		hi, err := parseTime(v[1:])
		return func(t time.Time) bool { return t.Before(hi) }, err
	default:
		d, err := parseTime(v)
		if len(v) == len("2006-01-02") {
			return func(t time.Time) bool { return !t.Before(d) && t.Before(d.Add(24*time.Hour)) }, err
		}
		return func(t time.Time) bool { return t.Equal(d) }, err
	}
}

var runConclusions = map[string]bool{
	"action_required": true, "cancelled": true, "failure": true, "neutral": true, "success": true,
	"skipped": true, "stale": true, "timed_out": true, "startup_failure": true,
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	if !rp.runsSorted {
		sort.Slice(rp.runs, func(i, j int) bool {
			a, b := rp.runs[i], rp.runs[j]
			if !a.CreatedAt.Equal(b.CreatedAt) {
				return a.CreatedAt.After(b.CreatedAt)
			}
			return a.ID > b.ID
		})
		rp.runsSorted = true
	}
	q := r.URL.Query()
	keep := func(*workflowRun) bool { return true }
	searched := false
	if v := q.Get("created"); v != "" {
		f, err := createdFilter(v)
		if err != nil {
			return errBody(http.StatusUnprocessableEntity, "Invalid created filter: "+v)
		}
		prev := keep
		keep = func(x *workflowRun) bool { return prev(x) && f(x.CreatedAt) }
		searched = true
	}
	if v := q.Get("status"); v != "" {
		prev := keep
		if runConclusions[v] {
			keep = func(x *workflowRun) bool { return prev(x) && x.Conclusion == v }
		} else {
			keep = func(x *workflowRun) bool { return prev(x) && x.Status == v }
		}
		searched = true
	}
	for _, p := range []struct{ param string }{{"branch"}, {"event"}, {"actor"}, {"head_sha"}} {
		v := q.Get(p.param)
		if v == "" {
			continue
		}
		prev, param := keep, p.param
		keep = func(x *workflowRun) bool {
			var got string
			switch param {
			case "branch":
				got = x.HeadBranch
			case "event":
				got = x.Event
			case "actor":
				got = x.Actor
			default:
				got = x.HeadSHA
			}
			return prev(x) && got == v
		}
		searched = true
	}
	var sel []*workflowRun
	for _, x := range rp.runs {
		if keep(x) {
			sel = append(sel, x)
		}
	}
	total := len(sel)
	if searched && len(sel) > maxSearch {
		sel = sel[:maxSearch]
	}
	lo, hi := paginate(w, r, len(sel))
	out := make([]wireRun, 0, hi-lo)
	for _, x := range sel[lo:hi] {
		out = append(out, s.renderRun(rp, x))
	}
	return http.StatusOK, struct {
		TotalCount   int       `json:"total_count"`
		WorkflowRuns []wireRun `json:"workflow_runs"`
	}{total, out}
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	login := r.PathValue("login")
	s.mu.Lock()
	u, ok := s.users[login]
	var out wireFullUser
	if ok {
		out = wireFullUser{
			wireUser: *s.renderUser(login),
			Name:     optString(u.Name), Email: optString(u.Email),
			CreatedAt: stamp(time.Date(2011, 1, 25, 18, 44, 36, 0, time.UTC)),
			UpdatedAt: stamp(time.Date(2011, 1, 25, 18, 44, 36, 0, time.UTC)),
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found", docsRoot)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
