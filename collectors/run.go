package collectors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Runner collects an incident's window from every registered source at once
// and writes the events to the store in batches, recording each source's
// status as it goes. One source's failure leaves the others' events stored.
// For a collector that is a Sweeper, the events it stored before that it
// no longer finds in the parts it read completely are deleted afterwards
// (they were deleted upstream); nothing is deleted when writing failed.
type Runner struct {
	Registry *Registry
	Store    timeline.Store
	Logger   *zap.Logger
	// Progress, when set, counts each source's events and hears its
	// requests; the collectors' transports should share it.
	Progress *Progress
	// BatchSize is the number of events per store write (default 500).
	BatchSize int
	// DoneFunc, when set, hears each source's outcome (succeeded, failed,
	// rate_limited or skipped) when its collection ends, for metrics.
	DoneFunc func(source, outcome string)
	// Secrets are scrubbed from every error text before it is stored.
	Secrets []string
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
	// AfterRunFunc, when set, is called once every source of a Run has
	// ended, whatever their outcome: Groundwork's detectors
	// (timeline.Suggest) look at what is stored then. Its error is logged
	// and does not fail the collection.
	AfterRunFunc func(ctx context.Context, incidentID string) error
}

// SourceResult is what one source's collection gave.
type SourceResult struct {
	Source string
	Events int
	Kinds  map[string]int
	// Unstorable counts the events the store could not keep (reported in the
	// log, each with its reason); Events and Kinds leave them out.
	Unstorable int
	// Deleted counts the stored events the source's sweeps removed as
	// deleted upstream (tombstones the source sent itself are stored like
	// its other events, and counted in neither).
	Deleted int
	// Err is nil when the source succeeded or was skipped.
	Err error
	// Skipped, when set, says why the source was not asked (Skipper).
	Skipped string
}

// Result is the outcome of a Run, one entry per source in registry order.
type Result struct {
	Sources []SourceResult
}

// Err joins the errors of the sources that failed, each naming its source,
// or returns nil when all succeeded.
func (r Result) Err() error {
	var errs []error
	for _, s := range r.Sources {
		if s.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Source, s.Err))
		}
	}
	return errors.Join(errs...)
}

// Run collects w from every registered collector concurrently. It returns the
// per-source result; a non-nil error is returned only when the store itself
// failed in a way that makes the result meaningless.
func (r *Runner) Run(ctx context.Context, w timeline.Window) Result {
	cols := r.Registry.All()
	res := Result{Sources: make([]SourceResult, len(cols))}
	var wg sync.WaitGroup
	for i, c := range cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res.Sources[i] = r.runOne(ctx, c, w)
		}()
	}
	wg.Wait()
	if r.AfterRunFunc != nil && ctx.Err() == nil {
		if err := r.AfterRunFunc(ctx, w.IncidentID); err != nil {
			r.logger().Warn("after the collection", zap.String("incident_id", w.IncidentID), zap.Error(err))
		}
	}
	return res
}

func (r *Runner) now() time.Time {
	if r.NowFunc != nil {
		return r.NowFunc()
	}
	return time.Now()
}

func (r *Runner) logger() *zap.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return zap.NewNop()
}

func (r *Runner) runOne(ctx context.Context, c Collector, w timeline.Window) SourceResult {
	name := c.Name()
	log := r.logger().With(zap.String("source", name), zap.String("incident_id", w.IncidentID))
	started := r.now().UTC()
	out := SourceResult{Source: name, Kinds: map[string]int{}}
	if sk, ok := c.(Skipper); ok {
		if reason, skip := sk.Skip(w); skip {
			out.Skipped = reason
			log.Info("collection skipped", zap.String("reason", reason))
			if r.DoneFunc != nil {
				r.DoneFunc(name, timeline.StateSkipped)
			}
			if err := r.Store.SetSourceStatus(ctx, timeline.SourceStatus{IncidentID: w.IncidentID, Source: name,
				State: timeline.StateSkipped, Reason: reason, FinishedAt: &started}); err != nil {
				out.Err = fmt.Errorf("recording status: %w", err)
			}
			return out
		}
	}
	if err := r.Store.SetSourceStatus(ctx, timeline.SourceStatus{
		IncidentID: w.IncidentID, Source: name, State: timeline.StateRunning, StartedAt: &started,
	}); err != nil {
		out.Err = fmt.Errorf("recording status: %w", err)
		return out
	}
	size := r.BatchSize
	if size <= 0 {
		size = 500
	}
	batch := make([]timeline.Event, 0, size)
	seen := make(map[string]struct{})
	skipped := make(map[string]struct{})
	storeFailed := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := r.Store.UpsertEvents(ctx, batch)
		if err != nil {
			storeFailed = true
			return fmt.Errorf("storing events: %w", err)
		}
		for _, sk := range res.Skipped {
			// Reported and left out; the rest of the batch is stored.
			log.Warn("event cannot be stored; skipped", zap.String("event_id", sk.ID), zap.Error(sk.Err))
			if _, again := skipped[sk.ID]; again {
				continue
			}
			skipped[sk.ID] = struct{}{}
			if i := slices.IndexFunc(batch, func(e timeline.Event) bool { return e.ID == sk.ID }); i >= 0 {
				k := batch[i].Kind
				out.Events--
				if out.Kinds[k]--; out.Kinds[k] <= 0 {
					delete(out.Kinds, k)
				}
			}
		}
		out.Unstorable = len(skipped)
		batch = batch[:0]
		return nil
	}
	emit := func(e timeline.Event) error {
		e.IncidentID = w.IncidentID
		if e.Source == "" {
			e.Source = name
		}
		e.OccurredAt = e.OccurredAt.UTC()
		if err := e.Validate(); err != nil {
			return err
		}
		if _, dup := seen[e.ID]; !dup {
			seen[e.ID] = struct{}{}
			if !e.Deleted {
				out.Events++
				out.Kinds[e.Kind]++
				if r.Progress != nil {
					r.Progress.AddEvents(name, 1)
				}
			}
		}
		batch = append(batch, e)
		if len(batch) >= size {
			return flush()
		}
		return nil
	}
	var sweeps []timeline.Sweep
	var err error
	if sw, ok := c.(Sweeper); ok {
		err = sw.CollectSweeping(ctx, w, emit, func(s timeline.Sweep) { sweeps = append(sweeps, s) })
	} else {
		err = c.Collect(ctx, w, emit)
	}
	if ferr := flush(); err == nil {
		err = ferr
	}
	if !storeFailed && ctx.Err() == nil {
		for _, s := range sweeps {
			n, serr := r.sweep(ctx, w.IncidentID, name, s, seen)
			out.Deleted += n
			if serr != nil {
				err = errors.Join(err, fmt.Errorf("removing events deleted upstream: %w", serr))
				break
			}
		}
	}
	finished := r.now().UTC()
	st := timeline.SourceStatus{
		IncidentID: w.IncidentID, Source: name, State: timeline.StateSucceeded,
		EventCount: out.Events, StartedAt: &started, FinishedAt: &finished,
	}
	if err != nil {
		out.Err = err
		st.State = timeline.StateFailed
		st.Error = RedactError(err, r.Secrets...)
		log.Warn("collection failed", zap.Error(err), zap.Int("events", out.Events))
	} else {
		log.Info("collection succeeded", zap.Int("events", out.Events), zap.Int("deleted", out.Deleted))
	}
	if r.DoneFunc != nil {
		outcome := timeline.StateSucceeded
		var rl *RateLimitError
		switch {
		case errors.As(err, &rl):
			outcome = "rate_limited"
		case err != nil:
			outcome = timeline.StateFailed
		}
		r.DoneFunc(name, outcome)
	}
	// The status must be written even when ctx was cancelled mid-way.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := r.Store.SetSourceStatus(sctx, st); serr != nil && out.Err == nil {
		out.Err = fmt.Errorf("recording status: %w", serr)
	}
	return out
}

// sweep deletes what s says the upstream no longer has, keeping every event
// the run emitted.
func (r *Runner) sweep(ctx context.Context, incidentID, source string, s timeline.Sweep, seen map[string]struct{}) (int, error) {
	s.IncidentID, s.Source = incidentID, source
	keep := s.KeepFunc
	s.KeepFunc = func(e timeline.Event) bool {
		if _, ok := seen[e.ID]; ok {
			return true
		}
		return keep != nil && keep(e)
	}
	return r.Store.SweepEvents(ctx, s)
}

// Progress counts each source's requests, events and rate-limit waits while
// a collection runs. It implements Observer. The zero value is ready to use.
type Progress struct {
	mu sync.Mutex
	m  map[string]*SourceProgress
}

// SourceProgress is a snapshot of one source's progress.
type SourceProgress struct {
	Source         string
	Requests       int
	Events         int
	RateLimitWaits int
	// WaitingUntil is when the current rate-limit wait ends, zero if none.
	WaitingUntil time.Time
}

func (p *Progress) get(source string) *SourceProgress {
	if p.m == nil {
		p.m = map[string]*SourceProgress{}
	}
	sp, ok := p.m[source]
	if !ok {
		sp = &SourceProgress{Source: source}
		p.m[source] = sp
	}
	return sp
}

// Request implements Observer.
func (p *Progress) Request(source string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := p.get(source)
	sp.Requests++
	sp.WaitingUntil = time.Time{}
}

// RateLimited implements Observer.
func (p *Progress) RateLimited(source string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := p.get(source)
	sp.RateLimitWaits++
	sp.WaitingUntil = time.Now().Add(d)
}

// AddEvents counts n more events of source.
func (p *Progress) AddEvents(source string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.get(source).Events += n
}

// Snapshot returns every source's progress, sorted by source.
func (p *Progress) Snapshot() []SourceProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]SourceProgress, 0, len(p.m))
	for _, sp := range p.m {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// Observers fans one Observer call out to several.
type Observers []Observer

// Request implements Observer.
func (o Observers) Request(source string) {
	for _, x := range o {
		if x != nil {
			x.Request(source)
		}
	}
}

// RateLimited implements Observer.
func (o Observers) RateLimited(source string, d time.Duration) {
	for _, x := range o {
		if x != nil {
			x.RateLimited(source, d)
		}
	}
}

// RedactError removes every occurrence of the given secrets from an error's
// text, so that a failure can be stored and shown safely.
func RedactError(err error, secrets ...string) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}
