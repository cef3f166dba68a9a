package collectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
//
// With Checkpoints set, a collection keeps its progress until it ends: a
// source that finished is not collected again when the collection is
// retried or resumed after a crash (as long as the window is the same), and
// a collector that implements Resumer continues from its last saved state.
type Runner struct {
	Registry *Registry
	Store    timeline.Store
	Logger   *zap.Logger
	// Progress, when set, counts each source's events and hears its
	// requests; the collectors' transports should share it.
	Progress *Progress
	// Checkpoints, when set, keeps the progress of unfinished collections
	// (see Runner). Only runs that hold the incident's run lock may use it,
	// so that two runs never interleave their progress.
	Checkpoints CheckpointStore
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
	// Events is the number of distinct events stored for the source by
	// this collection, counting those stored by the interrupted runs it
	// resumed. An event emitted but not stored (the run was cut short) is
	// not counted.
	Events int
	// Kinds counts the events stored by this run, by kind.
	Kinds map[string]int
	// Unstorable counts the events the store could not keep (reported in the
	// log, each with its reason); Events and Kinds leave them out.
	Unstorable int
	// Deleted counts the stored events the source's sweeps removed as
	// deleted upstream (tombstones the source sent itself are stored like
	// its other events, and counted in neither).
	Deleted int
	// AlreadyCollected is set when the source had collected the window in
	// an earlier run of the same collection and was not collected again.
	AlreadyCollected bool
	// Saved is the number of checkpoints the source saved in this run.
	Saved int
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
// failed in a way that makes the result meaningless. When every source
// succeeded, the collection's saved progress is cleared.
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
	if r.Checkpoints != nil && res.Err() == nil {
		if err := r.ForgetProgress(ctx, w.IncidentID); err != nil {
			r.logger().Warn("clearing the collection's progress", zap.String("incident_id", w.IncidentID), zap.Error(err))
		}
	}
	if r.AfterRunFunc != nil && ctx.Err() == nil {
		if err := r.AfterRunFunc(ctx, w.IncidentID); err != nil {
			r.logger().Warn("after the collection", zap.String("incident_id", w.IncidentID), zap.Error(err))
		}
	}
	return res
}

// ForgetProgress drops the saved progress of the incident's collection, so
// that the next one starts from the beginning. It is a no-op without
// Checkpoints, and works even when ctx is already cancelled.
func (r *Runner) ForgetProgress(ctx context.Context, incidentID string) error {
	if r.Checkpoints == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return r.Checkpoints.ClearCheckpoints(cctx, incidentID)
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

// loadProgress returns the progress saved for the source in this window:
// the Runner's record and the collector's states. Progress saved for
// another window is dropped.
func (r *Runner) loadProgress(ctx context.Context, source string, w timeline.Window, fp string) (progressMeta, map[string][]byte, error) {
	var meta progressMeta
	if r.Checkpoints == nil {
		return meta, nil, nil
	}
	states, err := r.Checkpoints.Checkpoints(ctx, w.IncidentID, source)
	if err != nil {
		return meta, nil, fmt.Errorf("reading the collection's progress: %w", err)
	}
	if raw, ok := states[""]; ok {
		_ = json.Unmarshal(raw, &meta)
	}
	if meta.Window != fp {
		if len(states) > 0 {
			if err := r.Checkpoints.ClearCheckpoints(ctx, w.IncidentID, source); err != nil {
				return progressMeta{}, nil, fmt.Errorf("dropping the progress of another window: %w", err)
			}
		}
		return progressMeta{}, map[string][]byte{}, nil
	}
	delete(states, "")
	return meta, states, nil
}

func (r *Runner) runOne(ctx context.Context, c Collector, w timeline.Window) SourceResult {
	name := c.Name()
	log := r.logger().With(zap.String("source", name), zap.String("incident_id", w.IncidentID))
	out := SourceResult{Source: name, Kinds: map[string]int{}}
	if sk, ok := c.(Skipper); ok {
		if reason, skip := sk.Skip(w); skip {
			out.Skipped = reason
			log.Info("collection skipped", zap.String("reason", reason))
			if r.DoneFunc != nil {
				r.DoneFunc(name, timeline.StateSkipped)
			}
			at := r.now().UTC()
			if err := r.Store.SetSourceStatus(ctx, timeline.SourceStatus{IncidentID: w.IncidentID, Source: name,
				State: timeline.StateSkipped, Reason: reason, FinishedAt: &at}); err != nil {
				out.Err = fmt.Errorf("recording status: %w", err)
			}
			return out
		}
	}
	fp := windowFingerprint(w)
	meta, states, err := r.loadProgress(ctx, name, w, fp)
	if err != nil {
		out.Err = err
		return out
	}
	if meta.Done {
		// Collected by an earlier run of this collection; its status
		// already says so.
		log.Info("source already collected by an earlier run of this collection", zap.Int("events", meta.Events))
		out.Events, out.AlreadyCollected = meta.Events, true
		return out
	}
	started := r.now().UTC()
	if err := r.Store.SetSourceStatus(ctx, timeline.SourceStatus{
		IncidentID: w.IncidentID, Source: name, State: timeline.StateRunning, StartedAt: &started, EventCount: meta.Events,
	}); err != nil {
		out.Err = fmt.Errorf("recording status: %w", err)
		return out
	}
	size := r.BatchSize
	if size <= 0 {
		size = 500
	}
	// mu guards the batch, the sets and the counts: a Resumer may save a
	// checkpoint from one goroutine while another emits.
	var mu sync.Mutex
	batch := make([]timeline.Event, 0, size)
	// seen holds every id this run emitted (what a sweep keeps); stored
	// and unstorable what the store kept or refused.
	seen := make(map[string]struct{})
	stored := make(map[string]struct{})
	unstorable := make(map[string]struct{})
	storeFailed := false
	out.Events = meta.Events
	flush := func(ctx context.Context) (int, error) {
		if len(batch) == 0 {
			return out.Events, nil
		}
		res, err := r.Store.UpsertEvents(ctx, batch)
		if err != nil {
			storeFailed = true
			return out.Events, fmt.Errorf("storing events: %w", err)
		}
		refused := make(map[string]struct{}, len(res.Skipped))
		for _, sk := range res.Skipped {
			// Reported and left out; the rest of the batch is stored.
			log.Warn("event cannot be stored; skipped", zap.String("event_id", sk.ID), zap.Error(sk.Err))
			refused[sk.ID] = struct{}{}
			unstorable[sk.ID] = struct{}{}
		}
		for _, e := range batch {
			if _, no := refused[e.ID]; no {
				continue
			}
			if _, dup := stored[e.ID]; dup || e.Deleted {
				continue
			}
			stored[e.ID] = struct{}{}
			out.Events++
			out.Kinds[e.Kind]++
			if r.Progress != nil {
				r.Progress.AddEvents(name, 1)
			}
		}
		out.Unstorable = len(unstorable)
		batch = batch[:0]
		return out.Events, nil
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
		mu.Lock()
		defer mu.Unlock()
		seen[e.ID] = struct{}{}
		batch = append(batch, e)
		if len(batch) >= size {
			_, err := flush(ctx)
			return err
		}
		return nil
	}
	var sweeps []timeline.Sweep
	sweep := func(s timeline.Sweep) { sweeps = append(sweeps, s) }
	var cp *runCheckpoint
	res, resumes := c.(Resumer)
	sw, sweeper := c.(Sweeper)
	switch {
	case resumes && r.Checkpoints != nil:
		cp = &runCheckpoint{store: r.Checkpoints, incidentID: w.IncidentID, source: name, window: fp, states: states,
			flushLocked: flush, lock: mu.Lock, unlock: mu.Unlock}
		err = res.CollectResume(ctx, w, cp, emit, sweep)
	case sweeper:
		err = sw.CollectSweeping(ctx, w, emit, sweep)
	default:
		err = c.Collect(ctx, w, emit)
	}
	// What was fetched is stored even when the run was cut short by a
	// timeout or a shutdown: the last batch gets a context of its own.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer fcancel()
	mu.Lock()
	if _, ferr := flush(fctx); ferr != nil && err == nil {
		err = ferr
	}
	mu.Unlock()
	if cp != nil {
		out.Saved = cp.saved
	}
	// A sweep is reported only for a part read completely; it is applied
	// once every event emitted was stored (another part's failure does not
	// stop it).
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
	if err == nil && r.Checkpoints != nil {
		done, _ := json.Marshal(progressMeta{Window: fp, Done: true, Events: out.Events})
		if serr := r.Checkpoints.SaveCheckpoints(fctx, w.IncidentID, name, map[string][]byte{"": done}); serr != nil {
			log.Warn("recording the source's progress", zap.Error(serr))
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
	if serr := r.Store.SetSourceStatus(fctx, st); serr != nil && out.Err == nil {
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
