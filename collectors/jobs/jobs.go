// Package jobs runs collections as durable River jobs, and is River's one
// home in Groundwork: the jobs' args and workers, the client that runs them
// (Service), the queue the delivery store queues through (Queue, which uses
// River's client alone, never its tables) and the Sweeper. River's tables
// are created by timeline/postgres.Migrate. One job collects one incident,
// so a collection queued by a webhook survives restarts and crashes and
// runs once however many serve processes share the database.
//
// Uniqueness is kept by the delivery store (timeline/postgres.Deliveries):
// at most one job per incident waits to run, and a trigger that arrives while
// the incident's job runs queues exactly one follow-up, parked until the run
// ends. River's own unique jobs cannot express that (their states must
// include running). The store keeps the request each job is to run, so that
// a trigger joins a waiting job by merging into it. The worker does the
// other half: it starts each run through StartRunFunc, which keeps two runs
// of one incident from overlapping (a job that finds its incident busy
// snoozes) and gives it the request to run, and ends it through the
// returned finish, which hands the incident over to the follow-up.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Kind is the River kind of collection jobs.
const Kind = "groundwork_collect"

// CollectArgs are a collection job's arguments: the request itself, so the
// job's JSON args are the request's JSON encoding (which lets a later
// trigger be merged into a job that still waits).
type CollectArgs struct {
	timeline.CollectRequest
}

// Kind implements river.JobArgs.
func (CollectArgs) Kind() string { return Kind }

// DefaultBusySnooze is how long a job waits when its incident is being
// collected by another worker.
const DefaultBusySnooze = 5 * time.Second

// PlanSource is the pseudo-source under which the incident's collection
// status shows a failure to plan the collection (to read the incident from
// PagerDuty, say): state failed with the error while the job retries, and
// succeeded once a later attempt planned it.
const PlanSource = "plan"

// Worker collects one incident per job: it plans the incident's window, then
// runs every source.
//
// A run where every failing source failed on an upstream rate limit snoozes
// for the longest wait they asked for; a snooze does not use up an attempt.
// So does a run whose rate-limit wait would outlast the job's timeout (the
// wait is not started: see collectors.WithWaitDeadline), and a run that
// timed out while a resumable source was still saving progress (the next
// run continues from it). Any other failure is returned, so River retries
// with backoff until jobs.max_attempts; the per-source status (recorded by
// the Runner) shows the error of the last attempt, and a failure to plan
// shows under PlanSource. A request that can never succeed (an incident
// nobody knows, an impossible window) is cancelled at once.
type Worker struct {
	river.WorkerDefaults[CollectArgs]

	Planner *collectors.Planner
	Runner  *collectors.Runner
	// StartRunFunc begins job jobID's run (its attempt attempt) of
	// queued.IncidentID, queued being the request the job was queued with,
	// and returns the request to run: queued with the triggers that joined
	// the job since. ok is false when another run of the incident holds
	// it; an error wrapping timeline.ErrNotFound means the incident was
	// deleted (the job is cancelled). The run works under runCtx, which is
	// cancelled should the run lose its hold on the incident. finish ends
	// the run and returns the follow-up job that takes the incident over,
	// if one was queued meanwhile; willRetry says whether this job will run
	// again otherwise. Required; timeline/postgres.Deliveries.StartRun
	// implements it.
	StartRunFunc func(ctx context.Context, queued timeline.CollectRequest, jobID int64, attempt int) (runCtx context.Context, req timeline.CollectRequest, finish func(ctx context.Context, willRetry bool) (followUp int64, err error), ok bool, err error)
	// JobTimeout cancels a run that takes longer (jobs.timeout); it is then
	// retried. Zero leaves River's client default; negative means none.
	JobTimeout time.Duration
	// BusySnooze is how long a job waits when its incident is busy
	// (DefaultBusySnooze when zero).
	BusySnooze time.Duration
	// Logger; a no-op logger when nil.
	Logger *zap.Logger
}

// Timeout implements river.Worker.
func (w *Worker) Timeout(*river.Job[CollectArgs]) time.Duration { return w.JobTimeout }

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[CollectArgs]) error {
	log := w.logger().With(zap.String("incident_id", job.Args.IncidentID), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
	if w.StartRunFunc == nil {
		return errors.New("jobs: Worker.StartRunFunc is not set")
	}
	runCtx, req, finish, ok, err := w.StartRunFunc(ctx, job.Args.CollectRequest, job.ID, job.Attempt)
	if errors.Is(err, timeline.ErrNotFound) {
		log.Info("the incident was deleted; cancelled", zap.Error(err))
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if !ok {
		d := w.BusySnooze
		if d <= 0 {
			d = DefaultBusySnooze
		}
		log.Debug("incident is being collected by another run; snoozing", zap.Duration("snooze", d))
		return river.JobSnooze(d)
	}
	if deadline, ok := ctx.Deadline(); ok {
		runCtx = collectors.WithWaitDeadline(runCtx, deadline)
	}
	err = w.collect(runCtx, log, req)
	if err != nil && ctx.Err() == nil && runCtx.Err() != nil {
		// The run lost its hold on the incident (its lock's connection
		// failed): it stopped so that no other run overlaps it. Not a
		// failure of the collection.
		log.Warn("the run lost its lock; it will run again", zap.Error(context.Cause(runCtx)))
		err = river.JobSnooze(time.Second)
	}
	var snoozeErr *river.JobSnoozeError
	var cancelErr *rivertype.JobCancelError
	willRetry := err != nil && !errors.As(err, &cancelErr) &&
		(errors.As(err, &snoozeErr) || ctx.Err() != nil || job.Attempt < job.MaxAttempts)
	followUp, ferr := finish(ctx, willRetry)
	if ferr != nil {
		log.Error("handing the incident over", zap.Error(ferr))
	}
	if followUp != 0 {
		if err != nil {
			log.Info("run ended early; the follow-up job takes over", zap.Int64("follow_up_job_id", followUp), zap.Error(err))
		}
		return nil
	}
	if err != nil && !willRetry && w.Runner != nil {
		// The collection is over for good: a later one starts afresh.
		if ferr := w.Runner.ForgetProgress(ctx, req.IncidentID); ferr != nil {
			log.Warn("clearing the collection's progress", zap.Error(ferr))
		}
	}
	return err
}

// collect plans and runs one collection. Its error is a snooze, a cancel or
// an error to retry.
func (w *Worker) collect(ctx context.Context, log *zap.Logger, req timeline.CollectRequest) error {
	_, win, err := w.Planner.Plan(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.planDone(ctx, log, req.IncidentID, err)
		var rl *collectors.RateLimitError
		switch {
		case errors.As(err, &rl):
			log.Info("rate limited while planning; snoozing", zap.Duration("snooze", snooze(rl.RetryAfter)))
			return river.JobSnooze(snooze(rl.RetryAfter))
		case errors.Is(err, collectors.ErrUnknownIncident), errors.Is(err, timeline.ErrInvalid):
			log.Warn("collection cannot succeed; cancelled", zap.Error(err))
			return river.JobCancel(w.scrub(err))
		}
		return fmt.Errorf("planning: %w", w.scrub(err))
	}
	w.planDone(ctx, log, req.IncidentID, nil)
	log.Info("collecting", zap.Time("window_start", win.Start), zap.Time("window_end", win.End))
	res := w.Runner.Run(ctx, win)
	if err := res.Err(); err != nil {
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && resuming(res) {
				log.Info("timed out while saving progress; resuming at once")
				return river.JobSnooze(time.Second)
			}
			// Stopping or timed out: River tells the two apart by the
			// context's cause.
			return ctx.Err()
		}
		if d, ok := allRateLimited(res); ok {
			log.Info("rate limited upstream; snoozing", zap.Duration("snooze", d))
			return river.JobSnooze(d)
		}
		return w.scrub(err)
	}
	log.Info("collected")
	return nil
}

// planDone records the outcome of planning under PlanSource: a failure
// always, a success only over an earlier failure (an incident that never
// failed to plan shows no PlanSource status).
func (w *Worker) planDone(ctx context.Context, log *zap.Logger, incidentID string, planErr error) {
	store := w.Planner.Store
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := time.Now().UTC()
	st := timeline.SourceStatus{IncidentID: incidentID, Source: PlanSource, State: timeline.StateSucceeded, FinishedAt: &now}
	if planErr != nil {
		st.State, st.Error = timeline.StateFailed, w.scrub(planErr).Error()
	} else {
		sts, err := store.SourceStatuses(sctx, incidentID)
		if err != nil {
			log.Warn("reading the collection status", zap.Error(err))
			return
		}
		failed := false
		for _, s := range sts {
			failed = failed || s.Source == PlanSource && s.State != timeline.StateSucceeded
		}
		if !failed {
			return
		}
	}
	if err := store.SetSourceStatus(sctx, st); err != nil {
		log.Warn("recording the planning outcome", zap.Error(err))
	}
}

// resuming reports whether a source that did not finish saved progress in
// this run, so that the next run goes further.
func resuming(res collectors.Result) bool {
	for _, s := range res.Sources {
		if s.Err != nil && s.Saved > 0 {
			return true
		}
	}
	return false
}

// allRateLimited reports whether every failed source failed on a rate limit,
// and the longest wait they asked for.
func allRateLimited(res collectors.Result) (time.Duration, bool) {
	var longest time.Duration
	failed := 0
	for _, s := range res.Sources {
		if s.Err == nil {
			continue
		}
		failed++
		var rl *collectors.RateLimitError
		if !errors.As(s.Err, &rl) {
			return 0, false
		}
		longest = max(longest, rl.RetryAfter)
	}
	return snooze(longest), failed > 0
}

// snooze is at least a second, so a job never spins on a limit.
func snooze(d time.Duration) time.Duration { return max(d, time.Second) }

// scrub keeps secrets out of the error River stores with the job.
func (w *Worker) scrub(err error) error {
	if w.Runner == nil || len(w.Runner.Secrets) == 0 {
		return err
	}
	msg := collectors.RedactError(err, w.Runner.Secrets...)
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

func (w *Worker) logger() *zap.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return zap.NewNop()
}
