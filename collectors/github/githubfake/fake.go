// Package githubfake is an in-memory GitHub REST API for tests, the demo and
// benchmarks. It is an http.Handler (serve it with httptest.NewServer or any
// http.Server) that speaks GitHub's wire format for the endpoints Groundwork
// reads: the repository itself (owner and name match in any case, as on
// GitHub, and objects carry the seeded spelling), commits (since/until),
// pulls (state/sort/direction), deployments and their statuses, releases,
// Actions workflow runs (created range, status, total_count, the
// 1,000-result search cap) and users. Pages follow GitHub: per_page
// (default 30, max 100), page, and a Link header with rel="prev", "next",
// "last" and "first".
//
// It checks "Authorization: Bearer <token>" (or "token <token>"), sends
// x-ratelimit-* headers on every answer and can be told to refuse requests
// the ways GitHub does (RateLimitNext, SetBudget) and to fail (FailRepo);
// the knobs and counters every fake shares (FailNext, SetLatency, Inject,
// SetNow, Requests, RequestsTo, RateLimited, Log, ResetCounters) come with
// it. Seed it with the typed Add... methods; it is built to hold tens of
// thousands of objects. All methods are safe for concurrent use.
package githubfake

import (
	"cmp"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
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

// Documentation URLs and messages GitHub puts in error bodies.
const (
	docsRoot          = "https://docs.github.com/rest"
	docsPrimaryLimit  = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
	docsSecondaryLimt = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	msgPrimaryLimit   = "API rate limit exceeded for user ID 1."
	msgSecondaryLimit = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)

// maxSearch is the most results a filtered workflow-run listing reaches.
const maxSearch = 1000

// Server is the fake GitHub API. Create it with New.
type Server struct {
	*fakeapi.Core

	mu    sync.Mutex
	token string
	mux   *http.ServeMux

	apiBase, htmlBase string

	users  map[string]*User
	repos  map[string]*repo
	nextID int64

	failRepos  map[string]int
	retryAfter time.Duration
	resetAfter time.Duration

	budgetLimit   int
	budgetPeriod  time.Duration
	budgetEnforce bool
	budgetUsed    int
	budgetReset   time.Time
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
	s.Core = fakeapi.New(fakeapi.Options{
		Handler:  http.HandlerFunc(s.serve),
		GateFunc: s.gate,
		FailFunc: func(w http.ResponseWriter, _ *http.Request, status int) {
			s.setRate(w, s.rate(false))
			writeFailure(w, status)
		},
		EndpointFunc: func(r *http.Request) string {
			if _, pattern := mux.Handler(r); pattern != "/" {
				return pattern
			}
			return r.Method + " " + r.URL.Path
		},
	})
	s.budgetReset = s.Now().Add(s.budgetPeriod)
	return s
}

// SetBaseURLs sets the API and web bases written into payload URLs
// (defaults https://api.github.com and https://github.com). Link headers
// always point at the host the request came to.
func (s *Server) SetBaseURLs(api, html string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiBase, s.htmlBase = strings.TrimSuffix(api, "/"), strings.TrimSuffix(html, "/")
}

// RateLimitNext refuses the next n requests the given way.
func (s *Server) RateLimitNext(n int, mode RateLimitMode) {
	s.Inject(n, nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fakeapi.Limited(w)
		r := s.rate(false)
		s.mu.Lock()
		retryAfter, resetAfter := s.retryAfter, s.resetAfter
		s.mu.Unlock()
		switch mode {
		case Limit429RetryAfter:
			s.setRate(w, r)
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			writeError(w, http.StatusTooManyRequests, msgSecondaryLimit, docsSecondaryLimt)
		case LimitPrimary403, LimitPrimary429:
			r.remaining, r.reset = 0, s.Now().Add(resetAfter)
			s.setRate(w, r)
			status := http.StatusForbidden
			if mode == LimitPrimary429 {
				status = http.StatusTooManyRequests
			}
			writeError(w, status, msgPrimaryLimit, docsPrimaryLimit)
		default:
			s.setRate(w, r)
			writeError(w, http.StatusForbidden, msgSecondaryLimit+
				" If you reach out to GitHub Support for help, please include the request ID FAKE.", docsSecondaryLimt)
		}
	}))
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
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.budgetLimit, s.budgetPeriod, s.budgetEnforce = limit, period, true
	s.budgetUsed = 0
	s.budgetReset = now.Add(period)
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

// gate sets the headers of every answer and refuses a missing or wrong
// token.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%08X", s.Requests()))
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) || s.token == "" || tok != s.token {
		writeError(w, http.StatusUnauthorized, "Bad credentials", docsRoot)
		return false
	}
	return true
}

// rateState is what the x-ratelimit-* headers of one answer say.
type rateState struct {
	limit, remaining int
	reset            time.Time
	refused          bool
}

// rate rolls the budget's window over and, when spend is set, spends one
// request of it (refused when an enforced budget is exhausted).
func (s *Server) rate(spend bool) rateState {
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.budgetReset) {
		s.budgetUsed = 0
		s.budgetReset = now.Add(s.budgetPeriod)
	}
	if spend && s.budgetEnforce && s.budgetUsed >= s.budgetLimit {
		return rateState{limit: s.budgetLimit, reset: s.budgetReset, refused: true}
	}
	if spend {
		s.budgetUsed++
	}
	remaining := max(s.budgetLimit-s.budgetUsed, 0)
	if !s.budgetEnforce {
		remaining = max(remaining, 1)
	}
	return rateState{limit: s.budgetLimit, remaining: remaining, reset: s.budgetReset}
}

func (s *Server) setRate(w http.ResponseWriter, r rateState) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(r.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(r.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(r.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(r.limit-r.remaining))
	h.Set("X-RateLimit-Resource", "core")
}

// serve answers a request no injected fault took: a failing repository,
// the budget, then the routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	status, failing := s.failRepos[strings.ToLower(repoOfPath(r.URL.Path))]
	s.mu.Unlock()
	if failing {
		s.setRate(w, s.rate(false))
		writeFailure(w, status)
		return
	}
	rs := s.rate(true)
	s.setRate(w, rs)
	if rs.refused {
		fakeapi.Limited(w)
		writeError(w, http.StatusForbidden, msgPrimaryLimit, docsPrimaryLimit)
		return
	}
	s.mux.ServeHTTP(w, r)
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

type apiError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

func errBody(status int, msg string) (int, any) {
	return status, apiError{Message: msg, DocumentationURL: docsRoot, Status: strconv.Itoa(status)}
}

func writeError(w http.ResponseWriter, status int, message, doc string) {
	fakeapi.WriteJSON(w, status, apiError{Message: message, DocumentationURL: doc, Status: strconv.Itoa(status)})
}

// withRepo resolves {owner}/{repo}, answering 404 like GitHub when the
// repository does not exist. The handler runs with s.mu held and returns
// the value to encode (after the lock is released).
func (s *Server) withRepo(h func(w http.ResponseWriter, r *http.Request, rp *repo) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		full := r.PathValue("owner") + "/" + r.PathValue("repo")
		s.mu.Lock()
		rp, ok := s.repos[strings.ToLower(full)]
		status, v := errBody(http.StatusNotFound, "Not Found")
		if ok {
			status, v = h(w, r, rp)
		}
		s.mu.Unlock()
		fakeapi.WriteJSON(w, status, v)
	}
}

// newestFirst sorts s by time, newest first, ties by id, highest first,
// unless *sorted says it already is.
func newestFirst[T any](s []T, sorted *bool, at func(T) time.Time, id func(T) int64) []T {
	if !*sorted {
		sort.SliceStable(s, func(i, j int) bool {
			if a, b := at(s[i]), at(s[j]); !a.Equal(b) {
				return a.After(b)
			}
			return id(s[i]) > id(s[j])
		})
		*sorted = true
	}
	return s
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
	lo, hi := fakeapi.Pages(w, r, len(sel), 30, 100)
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, c := range sel[lo:hi] {
		out = append(out, s.renderCommit(rp, c))
	}
	return http.StatusOK, out
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	q := r.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
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
	lo, hi := fakeapi.Pages(w, r, len(view), 30, 100)
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, p := range view[lo:hi] {
		out = append(out, s.renderPull(rp, p))
	}
	return http.StatusOK, out
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	q := r.URL.Query()
	all := newestFirst(rp.deployments, &rp.deploymentsSorted,
		func(d *deployment) time.Time { return d.CreatedAt }, func(d *deployment) int64 { return d.ID })
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
	lo, hi := fakeapi.Pages(w, r, len(sel), 30, 100)
	out := make([]fakeapi.Object, 0, hi-lo)
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
	lo, hi := fakeapi.Pages(w, r, len(d.statuses), 30, 100)
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, st := range d.statuses[lo:hi] {
		out = append(out, s.renderStatus(rp, d, st))
	}
	return http.StatusOK, out
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request, rp *repo) (int, any) {
	rels := newestFirst(rp.releases, &rp.releasesSorted,
		func(r *release) time.Time { return r.CreatedAt }, func(r *release) int64 { return r.ID })
	lo, hi := fakeapi.Pages(w, r, len(rels), 30, 100)
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, rel := range rels[lo:hi] {
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
	runs := newestFirst(rp.runs, &rp.runsSorted,
		func(x *workflowRun) time.Time { return x.CreatedAt }, func(x *workflowRun) int64 { return x.ID })
	q := r.URL.Query()
	created := func(time.Time) bool { return true }
	if v := q.Get("created"); v != "" {
		f, err := createdFilter(v)
		if err != nil {
			return errBody(http.StatusUnprocessableEntity, "Invalid created filter: "+v)
		}
		created = f
	}
	status, branch, event, actor, sha := q.Get("status"), q.Get("branch"), q.Get("event"), q.Get("actor"), q.Get("head_sha")
	searched := q.Get("created")+status+branch+event+actor+sha != ""
	var sel []*workflowRun
	for _, x := range runs {
		st := x.Status
		if runConclusions[status] {
			st = x.Conclusion
		}
		if created(x.CreatedAt) && (status == "" || st == status) && (branch == "" || x.HeadBranch == branch) &&
			(event == "" || x.Event == event) && (actor == "" || x.Actor == actor) && (sha == "" || x.HeadSHA == sha) {
			sel = append(sel, x)
		}
	}
	total := len(sel)
	if searched && len(sel) > maxSearch {
		sel = sel[:maxSearch]
	}
	lo, hi := fakeapi.Pages(w, r, len(sel), 30, 100)
	out := make([]fakeapi.Object, 0, hi-lo)
	for _, x := range sel[lo:hi] {
		out = append(out, s.renderRun(rp, x))
	}
	return http.StatusOK, struct {
		TotalCount   int              `json:"total_count"`
		WorkflowRuns []fakeapi.Object `json:"workflow_runs"`
	}{total, out}
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	status, v := errBody(http.StatusNotFound, "Not Found")
	if u, ok := s.users[r.PathValue("login")]; ok {
		status, v = http.StatusOK, s.publicUser(u)
	}
	s.mu.Unlock()
	fakeapi.WriteJSON(w, status, v)
}
