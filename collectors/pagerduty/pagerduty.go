// Package pagerduty collects an incident's PagerDuty log entries, notes and
// alerts through go-pagerduty, and describes the incident so that its window
// can be computed.
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Name is the source name, its config key and the Source of its events.
const Name = timeline.SourcePagerDuty

// DefaultAPIURL is PagerDuty's REST API (the EU service is
// https://api.eu.pagerduty.com).
const DefaultAPIURL = "https://api.pagerduty.com"

// PageLimit is the page size of every list call (PagerDuty's maximum).
const PageLimit = 100

// MaxOffset is PagerDuty's bound on offset pagination: a request whose
// offset+limit is over it is refused with a 400.
const MaxOffset = 10000

// maxOffset is MaxOffset; tests lower it to reach the fallbacks cheaply.
var maxOffset = MaxOffset

// Source is the PagerDuty source, for cmd's list: the collector, which
// describes incidents, and the V3 webhook receiver, which opens, reopens
// and resolves them.
var Source = collectors.Source{
	Name: Name,
	NewConfig: func() collectors.Config {
		c := DefaultConfig()
		return &c
	},
	New: func(cfg collectors.Config, opts collectors.ClientOptions) (collectors.Collector, error) {
		// The people of a review need each notified person's recent load.
		return New(*cfg.(*Config), Options{ClientOptions: opts, RecentLoad: true})
	},
	Receivers: func(cfg collectors.Config, _ collectors.Collector, _ collectors.ClientOptions) []collectors.WebhookReceiver {
		return []collectors.WebhookReceiver{NewReceiver(cfg.(*Config))}
	},
}

// Config is the sources.pagerduty section of the configuration.
type Config struct {
	// Token is a REST API key; without it the source is disabled.
	Token collectors.Secret `yaml:"token"`
	// APIURL is the REST API (DefaultAPIURL; the EU service's is
	// https://api.eu.pagerduty.com).
	APIURL string `yaml:"api_url"`
	// WebhookSecret verifies X-PagerDuty-Signature on V3 webhook
	// deliveries.
	WebhookSecret collectors.Secret `yaml:"webhook_secret"`
}

// DefaultConfig is the configuration before the file is read: the public
// API and no token (disabled).
func DefaultConfig() Config { return Config{APIURL: DefaultAPIURL} }

// Enabled reports whether the source is configured (it has a token).
func (c Config) Enabled() bool { return c.Token != "" }

// WithDefaults returns c with an empty api_url set to DefaultAPIURL.
func (c Config) WithDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	return c
}

// Validate reports the first thing wrong with c, naming its key. A disabled
// source needs nothing; an enabled one needs its webhook secret, since
// PagerDuty's incident.resolved webhook is what triggers collection.
func (c Config) Validate() error {
	if c.APIURL != "" {
		if _, err := collectors.ParseHTTPURL(c.APIURL); err != nil {
			return fmt.Errorf("sources.pagerduty.api_url: %w", err)
		}
	}
	if !c.Enabled() {
		return nil
	}
	if c.WebhookSecret == "" {
		return errors.New("sources.pagerduty.webhook_secret: required when sources.pagerduty.token is set")
	}
	return nil
}

// Options are the collector's runtime dependencies.
type Options struct {
	collectors.ClientOptions
	// Limiter paces requests; nil means PagerDuty's budget of 960 requests
	// a minute (16/s) with a burst of 4. Benchmarks against the fake may
	// pass rate.NewLimiter(rate.Inf, 0).
	Limiter *rate.Limiter
	// RecentLoad, when set, counts each notified person's incidents and
	// interruptions over the 7 days before the incident (one account-wide
	// log entries listing per collection) and puts them on the person's
	// notify events (timeline.DetailRecentLoad).
	RecentLoad bool
}

// Collector collects one source, PagerDuty. It implements
// collectors.Collector and collectors.IncidentDescriber, and is safe for
// concurrent use.
type Collector struct {
	cfg        Config
	client     *pd.Client
	log        *zap.Logger
	now        func() time.Time
	recentLoad bool
}

var (
	_ collectors.Collector         = (*Collector)(nil)
	_ collectors.IncidentDescriber = (*Collector)(nil)
	_ collectors.Skipper           = (*Collector)(nil)
)

// New returns a collector for an enabled, valid configuration.
func New(cfg Config, opts Options) (*Collector, error) {
	cfg = cfg.WithDefaults()
	if !cfg.Enabled() {
		return nil, errors.New("sources.pagerduty.token: not set; the source is disabled")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limiter := opts.Limiter
	if limiter == nil {
		limiter = rate.NewLimiter(rate.Limit(960.0/60.0), 4)
	}
	t := opts.Transport(Name, RetryAfter, limiter)
	client := pd.NewClient(cfg.Token.Value(), pd.WithAPIEndpoint(strings.TrimRight(cfg.APIURL, "/")))
	client.HTTPClient = errDoer{c: collectors.NewHTTPClient(t, opts.Timeout)}
	return &Collector{cfg: cfg, client: client, log: opts.Log().With(zap.String("source", Name)), now: opts.Now,
		recentLoad: opts.RecentLoad}, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Skip implements collectors.Skipper: PagerDuty knows only its own
// incidents, so one declared by the generic hook (or any other source) is
// skipped rather than failed on PagerDuty's 404. An incident of unknown
// source is collected.
func (c *Collector) Skip(w timeline.Window) (string, bool) {
	if w.IncidentSource == "" || w.IncidentSource == Name {
		return "", false
	}
	return "the incident was declared by the " + w.IncidentSource + " hook, not by PagerDuty, which does not know it", true
}

// DescribeIncident implements collectors.IncidentDescriber with
// GET /incidents/{id}. The incident keeps the id it was asked for.
func (c *Collector) DescribeIncident(ctx context.Context, id string) (timeline.Incident, error) {
	inc, err := c.describe(ctx, id)
	return inc, c.redact(err)
}

func (c *Collector) describe(ctx context.Context, id string) (timeline.Incident, error) {
	var raw *pd.Incident
	err := c.call(ctx, "pagerduty: getting incident "+id, "GET /incidents/"+id, func(ctx context.Context) (err error) {
		raw, err = c.client.GetIncidentWithContext(ctx, url.PathEscape(id))
		return err
	})
	if err != nil {
		return timeline.Incident{}, err
	}
	if raw.ID == "" {
		return timeline.Incident{}, fmt.Errorf("pagerduty: getting incident %s: %w", id, wrongShape("GET /incidents/"+id, `no "id" in "incident"`))
	}
	inc, err := NormalizeIncident(*raw)
	if err != nil {
		return timeline.Incident{}, fmt.Errorf("pagerduty: %w", err)
	}
	inc.ID = id
	return inc, nil
}

// Collect implements collectors.Collector. It sends every log entry (except
// annotate entries), note and alert of incident w.IncidentID to emit,
// whatever their time: an incident's own PagerDuty objects always belong to
// it (PRODUCT.md §4). The three lists are read concurrently within the one
// rate budget; a failure of one leaves the others going and the returned
// error names each list that failed. An error from emit stops everything and
// is returned unchanged.
func (c *Collector) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	if w.IncidentID == "" {
		return fmt.Errorf("pagerduty: %w: the window has no incident id", timeline.ErrInvalid)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	r := &run{
		c:          c,
		incidentID: w.IncidentID,
		seen:       map[string]struct{}{},
	}
	r.users = newUserCache(r.fetchUser, c.log)
	r.emit = func(e timeline.Event) error {
		r.emitMu.Lock()
		defer r.emitMu.Unlock()
		if r.emitErr != nil {
			return r.emitErr
		}
		if err := emit(e); err != nil {
			r.emitErr = err
			cancel()
			return err
		}
		return nil
	}

	// The recent load is read first: the notify events carry it. A failure
	// leaves it out (null in the review) and is reported with the rest.
	var loadErr error
	if c.recentLoad {
		loads, err := r.recentLoad(ctx)
		if err != nil {
			if parent.Err() != nil {
				return parent.Err()
			}
			loadErr = fmt.Errorf("pagerduty: incident %s: recent load: %w", w.IncidentID, err)
		} else {
			r.loads = loads
			c.log.Debug("recent load counted", zap.String("users", sortedUsers(loads)))
		}
	}

	parts := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"log entries", r.logEntries},
		{"notes", r.notes},
		{"alerts", r.alerts},
	}
	errs := make([]error, len(parts))
	var g errgroup.Group
	for i, p := range parts {
		g.Go(func() error {
			if err := p.fn(ctx); err != nil {
				errs[i] = fmt.Errorf("pagerduty: incident %s: %s: %w", w.IncidentID, p.name, err)
			}
			return nil
		})
	}
	_ = g.Wait()

	r.emitMu.Lock()
	emitErr := r.emitErr
	r.emitMu.Unlock()
	if emitErr != nil {
		return emitErr
	}
	if err := parent.Err(); err != nil {
		return err
	}
	return c.redact(errors.Join(append(errs, loadErr)...))
}

// run is the state of one Collect call.
type run struct {
	c          *Collector
	incidentID string
	users      *userCache
	// loads is each user's recent load, nil when not counted.
	loads                map[string]*userLoad
	loadSince, loadUntil time.Time

	emitMu  sync.Mutex
	emit    func(timeline.Event) error
	emitErr error

	// seen holds the log entry ids already emitted: offset pages shift
	// while an incident is live, and split ranges may overlap.
	seenMu sync.Mutex
	seen   map[string]struct{}
}

func (r *run) fetchUser(ctx context.Context, id string) (User, error) {
	var u *pd.User
	err := r.c.call(ctx, "getting user "+id, "GET /users/"+id, func(ctx context.Context) (err error) {
		u, err = r.c.client.GetUserWithContext(ctx, url.PathEscape(id), pd.GetUserOptions{})
		return err
	})
	if err != nil {
		return User{}, r.c.redact(err)
	}
	if u.ID == "" {
		return User{}, fmt.Errorf("getting user %s: %w", id, wrongShape("GET /users/"+id, `no "id" in "user"`))
	}
	return User{ID: u.ID, Name: u.Name, Email: u.Email, TimeZone: u.Timezone}, nil
}

// logRange is a time range [since, until) of log entries; nil ends are open.
type logRange struct {
	since, until *time.Time
}

func (lr logRange) contains(t time.Time) bool {
	return (lr.since == nil || !t.Before(*lr.since)) && (lr.until == nil || t.Before(*lr.until))
}

func (lr logRange) String() string {
	f := func(t *time.Time) string {
		if t == nil {
			return "…"
		}
		return t.Format(time.RFC3339)
	}
	return "[" + f(lr.since) + ", " + f(lr.until) + ")"
}

// logEntries pages through the incident's log entries. Offset paging cannot
// go past MaxOffset, so when a range holds more entries than that (its first
// page says how many), the range is split in two by time and each half is
// read on its own.
func (r *run) logEntries(ctx context.Context) error {
	return r.logRange(ctx, logRange{})
}

func (r *run) logRange(ctx context.Context, lr logRange) error {
	for offset := 0; ; {
		opts := pd.ListIncidentLogEntriesOptions{
			Limit:    PageLimit,
			Offset:   uint(offset),
			Total:    offset == 0,
			Includes: []string{"channels"},
		}
		if lr.since != nil {
			opts.Since = lr.since.UTC().Format(time.RFC3339)
		}
		if lr.until != nil {
			opts.Until = lr.until.UTC().Format(time.RFC3339)
		}
		var page *pd.ListIncidentLogEntriesResponse
		endpoint := "GET /incidents/" + r.incidentID + "/log_entries"
		err := r.c.call(ctx, "listing log entries "+lr.String(), endpoint, func(ctx context.Context) (err error) {
			page, err = r.c.client.ListIncidentLogEntriesWithContext(ctx, url.PathEscape(r.incidentID), opts)
			return err
		})
		if err != nil {
			return err
		}
		if page.LogEntries == nil { // absent or null; an empty page is []
			return fmt.Errorf("listing log entries %s: %w", lr, wrongShape(endpoint, `no "log_entries" list`))
		}
		if offset == 0 && int(page.Total) > maxOffset {
			if halves, ok, err := r.split(ctx, lr); err != nil {
				return err
			} else if ok {
				return r.ranges(ctx, halves)
			}
		}
		if err := r.emitLogEntries(ctx, lr, page.LogEntries); err != nil {
			return err
		}
		if !page.More || len(page.LogEntries) == 0 {
			return nil
		}
		step := int(page.Limit)
		if step <= 0 {
			step = PageLimit
		}
		offset += step
		if offset+PageLimit > maxOffset {
			// More than a page-able range although the first page said
			// otherwise (entries were added meanwhile, or no total came):
			// read the range again in halves; seen drops the repeats.
			halves, ok, err := r.split(ctx, lr)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("more than %d log entries in %s, which cannot be split further; the rest were not collected", maxOffset, lr)
			}
			return r.ranges(ctx, halves)
		}
	}
}

func (r *run) ranges(ctx context.Context, lrs []logRange) error {
	for _, lr := range lrs {
		if err := r.logRange(ctx, lr); err != nil {
			return err
		}
	}
	return nil
}

// split cuts lr in two by time. The open range is first closed: the cut
// falls a day before the incident began (earlier entries are rare, from
// merges) and it ends a day after now. It reports false for a range of a
// second or less, which PagerDuty's second-precision times cannot split.
func (r *run) split(ctx context.Context, lr logRange) ([]logRange, bool, error) {
	if lr.since == nil || lr.until == nil {
		inc, err := r.c.describe(ctx, r.incidentID)
		if err != nil {
			return nil, false, err
		}
		start := time.Unix(0, 0).UTC()
		cut := inc.StartedAt.Add(-24 * time.Hour).Truncate(time.Second)
		end := r.c.now().UTC().Add(24 * time.Hour).Truncate(time.Second)
		if !end.After(cut) {
			end = cut.Add(48 * time.Hour)
		}
		return []logRange{{&start, &cut}, {&cut, &end}}, true, nil
	}
	d := lr.until.Sub(*lr.since)
	if d <= time.Second {
		return nil, false, nil
	}
	mid := lr.since.Add(d / 2).Truncate(time.Second)
	if !mid.After(*lr.since) {
		mid = lr.since.Add(time.Second)
	}
	return []logRange{{lr.since, &mid}, {&mid, lr.until}}, true, nil
}

func (r *run) emitLogEntries(ctx context.Context, lr logRange, entries []pd.LogEntry) error {
	var refs []pd.APIObject
	keep := entries[:0:0]
	for _, le := range entries {
		if SkipLogEntry(le) {
			continue
		}
		if lr.since != nil || lr.until != nil {
			if t, err := parseTime(le.CreatedAt); err == nil && !lr.contains(t) {
				continue
			}
		}
		r.seenMu.Lock()
		_, dup := r.seen[le.ID]
		r.seen[le.ID] = struct{}{}
		r.seenMu.Unlock()
		if dup {
			continue
		}
		keep = append(keep, le)
		refs = logEntryUsers(refs, le)
	}
	if err := r.users.resolve(ctx, refs); err != nil {
		return err
	}
	for _, le := range keep {
		ev, err := NormalizeLogEntry(r.incidentID, le, r.users)
		if err != nil {
			return err
		}
		ev = withLoad(ev, r.loads, r.loadSince, r.loadUntil)
		if err := r.emit(ev); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) notes(ctx context.Context) error {
	var notes []pd.IncidentNote
	endpoint := "GET /incidents/" + r.incidentID + "/notes"
	err := r.c.call(ctx, "listing notes", endpoint, func(ctx context.Context) (err error) {
		notes, err = r.c.client.ListIncidentNotesWithContext(ctx, url.PathEscape(r.incidentID))
		return err
	})
	if err != nil {
		return err
	}
	if notes == nil { // "notes": null
		return fmt.Errorf("listing notes: %w", wrongShape(endpoint, `no "notes" list`))
	}
	refs := make([]pd.APIObject, 0, len(notes))
	for _, n := range notes {
		refs = append(refs, n.User)
	}
	if err := r.users.resolve(ctx, refs); err != nil {
		return err
	}
	for _, n := range notes {
		ev, err := NormalizeNote(r.incidentID, n, r.users)
		if err != nil {
			return err
		}
		if err := r.emit(ev); err != nil {
			return err
		}
	}
	return nil
}

// alerts pages through the incident's alerts. The alerts endpoint has no
// time filter, so past MaxOffset alerts the rest cannot be reached.
func (r *run) alerts(ctx context.Context) error {
	for offset := 0; ; {
		opts := pd.ListIncidentAlertsOptions{Limit: PageLimit, Offset: uint(offset)}
		var page *pd.ListAlertsResponse
		op, endpoint := fmt.Sprintf("listing alerts at offset %d", offset), "GET /incidents/"+r.incidentID+"/alerts"
		err := r.c.call(ctx, op, endpoint, func(ctx context.Context) (err error) {
			page, err = r.c.client.ListIncidentAlertsWithContext(ctx, url.PathEscape(r.incidentID), opts)
			return err
		})
		if err != nil {
			return err
		}
		if page.Alerts == nil {
			return fmt.Errorf("%s: %w", op, wrongShape(endpoint, `no "alerts" list`))
		}
		for _, a := range page.Alerts {
			ev, err := NormalizeAlert(r.incidentID, a)
			if err != nil {
				return err
			}
			if err := r.emit(ev); err != nil {
				return err
			}
		}
		if !page.More || len(page.Alerts) == 0 {
			return nil
		}
		step := int(page.Limit)
		if step <= 0 {
			step = PageLimit
		}
		offset += step
		if offset+PageLimit > maxOffset {
			return fmt.Errorf("more than %d alerts; PagerDuty's offset paging cannot reach the rest", maxOffset)
		}
	}
}
