// Package github collects an incident window's changes from GitHub: commits,
// merged pull requests, deployment statuses, releases and completed workflow
// runs, through github.com/google/go-github over the shared
// collectors.Transport. normalize.go holds the pure functions that turn
// go-github's structs into timeline events; the webhook receiver uses the
// same functions so that live and collected events are identical.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v66/github"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Name is the source name, the config key and Event.Source.
const Name = timeline.SourceGitHub

// DefaultAPIURL is the base URL of GitHub's REST API.
const DefaultAPIURL = "https://api.github.com/"

// perPage is GitHub's largest page size.
const perPage = 100

// maxSearchResults is the most a workflow-run search returns; a range with
// more results is split.
const maxSearchResults = 1000

// DefaultWorkflowRunLookback is how long before the window a workflow run
// may have been created and still be found when it completes inside the
// window (sources.github.workflow_run_lookback). GitHub lists runs by
// creation time only; a day covers runs of several jobs at GitHub-hosted
// runners' 6-hour job limit, queueing, and same-day re-runs (which keep the
// run's created_at). Runs may last up to 35 days (self-hosted runners,
// approvals); a longer lookback finds those too, at the price of listing
// every run created in it.
const DefaultWorkflowRunLookback = 24 * time.Hour

// repoNameTTL is how long the collector trusts GitHub's spelling of a
// repository before asking again (a repository may be renamed).
const repoNameTTL = time.Hour

// Source is the GitHub source, for cmd's list: the collector, and the
// webhook receiver that captures the same events live, by repository.
var Source = collectors.Source{
	Name:      Name,
	NewConfig: func() collectors.Config { return &Config{APIURL: DefaultAPIURL} },
	New: func(cfg collectors.Config, opts collectors.ClientOptions) (collectors.Collector, error) {
		return New(*cfg.(*Config), Options{ClientOptions: opts})
	},
	Receivers: func(cfg collectors.Config, _ collectors.Collector, _ collectors.ClientOptions) []collectors.WebhookReceiver {
		return []collectors.WebhookReceiver{NewReceiver(cfg.(*Config))}
	},
	// GitHub never retries a failed delivery by itself: its coverage is
	// recorded, but no collection relies on it.
	Live: &collectors.LiveCapture{Place: collectors.PlaceRepo, ConfiguredFunc: func(cfg collectors.Config) bool {
		return cfg.(*Config).WebhookSecret != ""
	}},
}

// Config is the sources.github section of the configuration.
type Config struct {
	// Token is a personal access, app installation or fine-grained token.
	Token collectors.Secret `yaml:"token"`
	// APIURL is the base URL of the REST API (GitHub Enterprise:
	// https://HOST/api/v3/). Empty means DefaultAPIURL.
	APIURL string `yaml:"api_url"`
	// WebhookSecret verifies X-Hub-Signature-256 on webhook deliveries.
	WebhookSecret collectors.Secret `yaml:"webhook_secret"`
	// WorkflowRunLookback is a duration such as "24h": how long before the
	// window a workflow run may have been created and still be collected
	// when it completes inside the window. Empty means
	// DefaultWorkflowRunLookback.
	WorkflowRunLookback string `yaml:"workflow_run_lookback"`
}

// RunLookback parses workflow_run_lookback, naming the key when it is not a
// duration of zero or more.
func (c Config) RunLookback() (time.Duration, error) {
	v := strings.TrimSpace(c.WorkflowRunLookback)
	if v == "" {
		return DefaultWorkflowRunLookback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("sources.github.workflow_run_lookback: %q is not a duration (use a form like 6h or 72h)", c.WorkflowRunLookback)
	}
	return d, nil
}

// Enabled reports whether the source is configured (a token is set).
func (c Config) Enabled() bool { return c.Token != "" }

// Validate reports the first thing wrong with an enabled configuration,
// naming the key. A disabled source (no token) is always valid.
func (c Config) Validate() error {
	if _, err := c.RunLookback(); err != nil {
		return err
	}
	if !c.Enabled() {
		return nil
	}
	if _, err := c.BaseURL(); err != nil {
		return err
	}
	if c.WebhookSecret == "" {
		return errors.New("sources.github.webhook_secret: required when sources.github.token is set")
	}
	return nil
}

// BaseURL parses api_url (DefaultAPIURL when empty) and makes sure that it
// ends with a slash, as go-github requires.
func (c Config) BaseURL() (*url.URL, error) {
	raw := c.APIURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := collectors.ParseHTTPURL(raw)
	if err != nil {
		return nil, fmt.Errorf("sources.github.api_url: %w", err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// String prints the configuration with its secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("{token:%q api_url:%s webhook_secret:%q workflow_run_lookback:%s}", c.Token, c.APIURL,
		c.WebhookSecret, c.WorkflowRunLookback)
}

// Options are the collector's wiring, set by cmd and by tests.
type Options struct {
	collectors.ClientOptions
	// Concurrency is how many (repo, stream) listings run at once
	// (default 4).
	Concurrency int
	// RequestsPerSecond paces requests (default 10, burst as many); a
	// negative value turns pacing off. GitHub's budget is 5,000 requests an
	// hour per token, and it asks for no more than 900 points a minute.
	RequestsPerSecond float64
}

// Collector collects GitHub events. It is safe for concurrent use.
type Collector struct {
	client   *gh.Client
	token    collectors.Secret
	log      *zap.Logger
	conc     int
	lookback time.Duration
	now      func() time.Time

	// names caches GitHub's spelling of each repository, by the lower-case
	// name.
	namesMu sync.Mutex
	names   map[string]cachedName
}

type cachedName struct {
	ref repoRef
	at  time.Time
}

var (
	_ collectors.Collector = (*Collector)(nil)
	_ collectors.Skipper   = (*Collector)(nil)
)

// New builds a collector from a valid, enabled configuration.
func New(cfg Config, opts Options) (*Collector, error) {
	if !cfg.Enabled() {
		return nil, errors.New("sources.github.token: required")
	}
	base, err := cfg.BaseURL()
	if err != nil {
		return nil, err
	}
	lookback, err := cfg.RunLookback()
	if err != nil {
		return nil, err
	}
	var limiter *rate.Limiter
	switch rps := opts.RequestsPerSecond; {
	case rps == 0:
		limiter = rate.NewLimiter(10, 10)
	case rps > 0:
		limiter = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
	}
	tr := opts.Transport(Name, RetryAfter, limiter)
	hc := collectors.NewHTTPClient(tr, opts.Timeout)
	hc.Transport = &rateGate{
		next: tr, source: Name, observer: opts.Observer,
		sleep: opts.Sleep, now: opts.Now, maxWait: opts.RateLimitWait(),
	}
	client := gh.NewClient(hc).WithAuthToken(cfg.Token.Value())
	client.BaseURL = base
	client.UserAgent = "groundwork"
	conc := opts.Concurrency
	if conc <= 0 {
		conc = 4
	}
	return &Collector{client: client, token: cfg.Token, log: opts.Log(), conc: conc, lookback: lookback,
		now: opts.Now, names: map[string]cachedName{}}, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Skip implements collectors.Skipper: with no repository in the incident's
// scope there is nothing to read.
func (c *Collector) Skip(w timeline.Window) (string, bool) {
	if len(w.Repos) > 0 {
		return "", false
	}
	return "no GitHub repositories are in the incident's scope (services.<id>.github_repos, default.github_repos, or the request's github_repos)", true
}

// stream is one kind of listing of one repository.
type stream struct {
	name string
	run  func(ctx context.Context, r repoRef, w timeline.Window, emit func(timeline.Event) error) error
}

type repoRef struct {
	full, owner, name string
}

func parseRepo(s string) (repoRef, error) {
	owner, name, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return repoRef{}, fmt.Errorf("repository %q is not owner/name", s)
	}
	return repoRef{full: owner + "/" + name, owner: owner, name: name}, nil
}

// Collect implements collectors.Collector. Every repository of w is listed
// (commits, merged pull requests, deployment statuses, releases, completed
// workflow runs), several listings at once; events are emitted page by page,
// one at a time. A listing that fails does not stop the others: Collect
// returns their errors joined, each naming the repository and the listing.
// It returns the error of emit unchanged (and stops), and ctx.Err() when ctx
// ends. An error caused by GitHub's rate limit wraps
// *collectors.RateLimitError. No error contains the token.
func (c *Collector) Collect(parent context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var (
		mu      sync.Mutex
		emitErr error
		errs    []error
	)
	safeEmit := func(e timeline.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if emitErr != nil {
			return emitErr
		}
		if err := emit(e); err != nil {
			emitErr = err
			cancel()
			return err
		}
		return nil
	}
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}

	streams := []stream{
		{"commits", c.commits},
		{"pull requests", c.pulls},
		{"deployments", c.deployments},
		{"releases", c.releases},
		{"workflow runs", c.workflowRuns},
	}
	var g errgroup.Group
	g.SetLimit(c.conc)
	for _, r := range c.resolveRepos(ctx, w.Repos, fail) {
		for _, s := range streams {
			g.Go(func() error {
				if ctx.Err() != nil {
					return nil
				}
				n := 0
				counted := func(e timeline.Event) error {
					n++
					return safeEmit(e)
				}
				err := s.run(ctx, r, w, counted)
				if err != nil && ctx.Err() == nil {
					err = fmt.Errorf("%s: %s: %w", r.full, s.name, c.redact(err))
					fail(err)
					c.log.Warn("listing failed", zap.String("repo", r.full), zap.String("listing", s.name),
						zap.Int("events", n), zap.Error(err))
					return nil
				}
				c.log.Debug("listing done", zap.String("repo", r.full), zap.String("listing", s.name), zap.Int("events", n))
				return nil
			})
		}
	}
	_ = g.Wait()

	if emitErr != nil {
		return emitErr
	}
	if err := parent.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// resolveRepos parses the configured repositories and looks up how GitHub
// spells each (GET /repos/{owner}/{repo}: its full_name), so that every id
// is built from GitHub's own name however the configuration writes it, and
// one repository written twice in different cases is read once. A
// repository that cannot be looked up is reported through fail, once, with
// the reason.
func (c *Collector) resolveRepos(ctx context.Context, repos []string, fail func(error)) []repoRef {
	refs := make([]repoRef, len(repos))
	var g errgroup.Group
	g.SetLimit(c.conc)
	for i, raw := range repos {
		g.Go(func() error {
			r, err := parseRepo(raw)
			if err == nil {
				r, err = c.canonical(ctx, r)
			}
			if err != nil {
				if ctx.Err() == nil {
					fail(err)
				}
				return nil
			}
			refs[i] = r
			return nil
		})
	}
	_ = g.Wait()
	var out []repoRef
	seen := map[string]bool{}
	for _, r := range refs {
		if r.full == "" || seen[strings.ToLower(r.full)] {
			continue
		}
		seen[strings.ToLower(r.full)] = true
		out = append(out, r)
	}
	return out
}

// canonical returns r as GitHub spells it, from the cache when it was
// looked up within repoNameTTL.
func (c *Collector) canonical(ctx context.Context, r repoRef) (repoRef, error) {
	key := strings.ToLower(r.full)
	now := c.now()
	c.namesMu.Lock()
	cached, ok := c.names[key]
	c.namesMu.Unlock()
	if ok && now.Sub(cached.at) < repoNameTTL {
		return cached.ref, nil
	}
	repo, _, err := c.client.Repositories.Get(ctx, r.owner, r.name)
	if err != nil {
		var er *gh.ErrorResponse
		if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
			return r, fmt.Errorf("%s: the repository does not exist, or the token cannot read it (%w)", r.full, c.redact(err))
		}
		return r, fmt.Errorf("%s: looking the repository up: %w", r.full, c.redact(err))
	}
	got, err := parseRepo(repo.GetFullName())
	if err != nil {
		return r, fmt.Errorf("%s: GitHub answered with full_name %q", r.full, repo.GetFullName())
	}
	c.namesMu.Lock()
	c.names[key] = cachedName{ref: got, at: now}
	c.namesMu.Unlock()
	return got, nil
}

// redact makes sure that err's text does not contain the token. go-github
// never puts the Authorization header in an error, so this is a guard.
func (c *Collector) redact(err error) error { return collectors.HideSecret(err, c.token) }

// commits lists commits with since/until (which GitHub applies to the
// committer date), page by page.
func (c *Collector) commits(ctx context.Context, r repoRef, w timeline.Window, emit func(timeline.Event) error) error {
	opt := &gh.CommitsListOptions{
		// The API takes whole seconds: round outwards, filter exactly.
		Since:       w.Start.UTC().Truncate(time.Second),
		Until:       ceilSecond(w.End.UTC()),
		ListOptions: gh.ListOptions{PerPage: perPage},
	}
	for {
		page, resp, err := c.client.Repositories.ListCommits(ctx, r.owner, r.name, opt)
		if err != nil {
			var er *gh.ErrorResponse
			if opt.Page <= 1 && errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusConflict {
				return nil // "Git Repository is empty."
			}
			return answerErr(resp, err)
		}
		if page == nil {
			return notAList(resp)
		}
		for _, rc := range page {
			e := NormalizeCommit(r.full, rc)
			if !w.Contains(e.OccurredAt) {
				continue
			}
			if err := emit(e); err != nil {
				return err
			}
		}
		if resp.NextPage == 0 {
			return nil
		}
		opt.Page = resp.NextPage
	}
}

// pulls lists closed pull requests, most recently updated first, and stops
// at the first one updated before the window: a pull request merged inside
// the window was updated at or after its merge.
func (c *Collector) pulls(ctx context.Context, r repoRef, w timeline.Window, emit func(timeline.Event) error) error {
	opt := &gh.PullRequestListOptions{
		State: "closed", Sort: "updated", Direction: "desc",
		ListOptions: gh.ListOptions{PerPage: perPage},
	}
	for {
		page, resp, err := c.client.PullRequests.List(ctx, r.owner, r.name, opt)
		if err != nil {
			return answerErr(resp, err)
		}
		if page == nil {
			return notAList(resp)
		}
		for _, p := range page {
			if p.GetUpdatedAt().Time.Before(w.Start) {
				return nil
			}
			if p.MergedAt == nil || !w.Contains(p.GetMergedAt().Time) {
				continue
			}
			if err := emit(NormalizePull(r.full, p)); err != nil {
				return err
			}
		}
		if resp.NextPage == 0 {
			return nil
		}
		opt.Page = resp.NextPage
	}
}

// deployments lists deployments, newest first, and the statuses of those
// that can have one inside the window. A deployment's updated_at moves with
// its latest status, so one last updated before the window has no status in
// it, and one created after the window has none either. Paging stops at the
// first deployment created and last updated before the window: the ones
// after it are older still. (A status added much later to an old deployment
// that is listed behind such a one, as when GitHub marks it inactive, is
// therefore not seen.)
func (c *Collector) deployments(ctx context.Context, r repoRef, w timeline.Window, emit func(timeline.Event) error) error {
	opt := &gh.DeploymentsListOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
	var list []*listedDeployment
	inWindow := 0
list:
	for {
		page, resp, err := c.client.Repositories.ListDeployments(ctx, r.owner, r.name, opt)
		if err != nil {
			return answerErr(resp, err)
		}
		if page == nil {
			return notAList(resp)
		}
		for _, d := range page {
			created, updated := d.GetCreatedAt().Time, d.GetUpdatedAt().Time
			if created.Before(w.Start) && updated.Before(w.Start) {
				// Older ones have nothing in the window; this one is what
				// was live before the window's first deployment, unless it
				// failed (which its statuses would tell; taken as live).
				list = append(list, &listedDeployment{d: d})
				break list
			}
			if created.After(w.End) {
				continue
			}
			ld := &listedDeployment{d: d}
			if err := c.deploymentStatuses(ctx, r, d, w, ld); err != nil {
				return fmt.Errorf("deployment %d: %w", d.GetID(), err)
			}
			list = append(list, ld)
			inWindow++
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	for i, ld := range list[:inWindow] {
		extra, err := c.shipped(ctx, r, baseOf(list, i), ld.d.GetSHA())
		if err != nil {
			return fmt.Errorf("deployment %d: comparing with what was live before: %w", ld.d.GetID(), err)
		}
		for _, e := range ld.events {
			for k, v := range extra {
				e.Details[k] = v
			}
			if err := emit(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Collector) deploymentStatuses(ctx context.Context, r repoRef, d *gh.Deployment, w timeline.Window, ld *listedDeployment) error {
	opt := &gh.ListOptions{PerPage: perPage}
	terminal, succeeded := false, false
	for {
		page, resp, err := c.client.Repositories.ListDeploymentStatuses(ctx, r.owner, r.name, d.GetID(), opt)
		if err != nil {
			return answerErr(resp, err)
		}
		if page == nil {
			return notAList(resp)
		}
		for _, s := range page {
			switch s.GetState() {
			case "success", "inactive":
				terminal, succeeded = true, true
			case "failure", "error":
				terminal = true
			}
			if !w.Contains(s.GetCreatedAt().Time) {
				continue
			}
			e := NormalizeDeploymentStatus(r.full, d, s)
			if e.Kind == "" {
				c.log.Warn("skipping deployment status of unknown state",
					zap.String("repo", r.full), zap.Int64("status_id", s.GetID()), zap.String("state", s.GetState()))
				continue
			}
			ld.events = append(ld.events, e)
		}
		if resp.NextPage == 0 {
			ld.failed = terminal && !succeeded
			return nil
		}
		opt.Page = resp.NextPage
	}
}

// releases lists every release (the API has no time filter, and a draft
// created long ago may be published inside the window) and keeps those
// published inside it.
func (c *Collector) releases(ctx context.Context, r repoRef, w timeline.Window, emit func(timeline.Event) error) error {
	opt := &gh.ListOptions{PerPage: perPage}
	for {
		page, resp, err := c.client.Repositories.ListReleases(ctx, r.owner, r.name, opt)
		if err != nil {
			return answerErr(resp, err)
		}
		if page == nil {
			return notAList(resp)
		}
		for _, rel := range page {
			if rel.PublishedAt == nil || !w.Contains(rel.GetPublishedAt().Time) {
				continue
			}
			if err := emit(NormalizeRelease(r.full, rel)); err != nil {
				return err
			}
		}
		if resp.NextPage == 0 {
			return nil
		}
		opt.Page = resp.NextPage
	}
}

// workflowRuns lists completed runs created inside the window or up to the
// lookback before it (GitHub filters runs by creation only, and a run
// created before the window may complete inside it), and keeps those whose
// updated_at (completion) is inside the window.
func (c *Collector) workflowRuns(ctx context.Context, r repoRef, w timeline.Window, emit func(timeline.Event) error) error {
	from := w.Start.UTC().Add(-c.lookback).Truncate(time.Second)
	return c.workflowRunRange(ctx, r, from, ceilSecond(w.End.UTC()), w, emit)
}

// workflowRunRange lists the runs created in [from, to] (whole seconds, both
// included). GitHub answers at most 1,000 runs per search: when total_count
// says there are more, the range is split in halves, recursively, down to a
// single second (whose excess, if any, cannot be reached and is logged).
func (c *Collector) workflowRunRange(ctx context.Context, r repoRef, from, to time.Time, w timeline.Window, emit func(timeline.Event) error) error {
	opt := &gh.ListWorkflowRunsOptions{
		Created:     formatSearchTime(from) + ".." + formatSearchTime(to),
		Status:      "completed",
		ListOptions: gh.ListOptions{PerPage: perPage},
	}
	seen := 0
	for {
		runs, resp, err := c.client.Actions.ListRepositoryWorkflowRuns(ctx, r.owner, r.name, opt)
		if err != nil {
			return answerErr(resp, err)
		}
		if runs == nil || runs.WorkflowRuns == nil {
			return wrongShape(resp, `no "workflow_runs" list`)
		}
		total := runs.GetTotalCount()
		if opt.Page <= 1 && total > maxSearchResults {
			if to.Sub(from) >= time.Second {
				mid := from.Add(to.Sub(from) / 2).Truncate(time.Second)
				if err := c.workflowRunRange(ctx, r, from, mid, w, emit); err != nil {
					return err
				}
				return c.workflowRunRange(ctx, r, mid.Add(time.Second), to, w, emit)
			}
			c.log.Warn("more workflow runs created in one second than GitHub returns; some are skipped",
				zap.String("repo", r.full), zap.Time("created", from), zap.Int("total_count", total))
		}
		for _, run := range runs.WorkflowRuns {
			seen++
			if run.GetStatus() != "completed" || !w.Contains(run.GetUpdatedAt().Time) {
				continue
			}
			if err := emit(NormalizeWorkflowRun(r.full, run)); err != nil {
				return err
			}
		}
		if resp.NextPage == 0 || seen >= maxSearchResults {
			return nil
		}
		opt.Page = resp.NextPage
	}
}

// notAList is the error of a list call whose 200 answer held no list:
// go-github decodes null, or an empty body, as an empty page.
func notAList(resp *gh.Response) error { return wrongShape(resp, "the answer is not a list") }

// wrongShape names the endpoint of resp in an error wrapping
// collectors.ErrWrongShape.
func wrongShape(resp *gh.Response, what string) error {
	return fmt.Errorf("%s: %w: %s", endpoint(resp), collectors.ErrWrongShape, what)
}

// answerErr marks an error decoding an answer (an object where a list
// belongs, which go-github refuses) as collectors.ErrWrongShape, naming the
// endpoint; other errors pass unchanged.
func answerErr(resp *gh.Response, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	if errors.As(err, &typeErr) || errors.As(err, &syntaxErr) {
		return fmt.Errorf("%s: %w: %w", endpoint(resp), collectors.ErrWrongShape, err)
	}
	return err
}

// endpoint is "GET /repos/acme/api/commits": the method and path of the
// request resp answers, without the query.
func endpoint(resp *gh.Response) string {
	if resp == nil || resp.Response == nil || resp.Request == nil {
		return "GET"
	}
	return resp.Request.Method + " " + resp.Request.URL.Path
}

func formatSearchTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func ceilSecond(t time.Time) time.Time {
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}
