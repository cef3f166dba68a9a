// Package jobs runs collections as durable River jobs: one job collects one
// incident, so a collection queued by a webhook survives restarts and
// crashes and runs once however many serve processes share the database.
//
// Uniqueness is kept by the queue's writer (timeline/postgres.Deliveries):
// at most one job per incident waits to run, and a trigger that arrives while
// the incident's job runs queues exactly one follow-up, parked until the run
// ends. River's own unique jobs cannot express that (their states must
// include running). The worker does the other half: it starts each run
// through StartRunFunc, which keeps two runs of one incident from overlapping
// (a job that finds its incident busy snoozes), and ends it through the
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

// Worker collects one incident per job: it plans the incident's window, then
// runs every source.
//
// A run where every failing source failed on an upstream rate limit snoozes
// for the longest wait they asked for; a snooze does not use up an attempt.
// Any other failure is returned, so River retries with backoff until
// jobs.max_attempts; the per-source status (recorded by the Runner) shows the
// error of the last attempt. A request that can never succeed (an incident
// nobody knows, an impossible window) is cancelled at once.
type Worker struct {
	river.WorkerDefaults[CollectArgs]

	Planner *collectors.Planner
	Runner  *collectors.Runner
	// StartRunFunc begins job jobID's run of incidentID: ok is false when
	// another run of the incident holds it. finish ends the run and returns
	// the follow-up job that takes the incident over, if one was queued
	// meanwhile; willRetry says whether this job will run again otherwise.
	// Required; timeline/postgres.Deliveries.StartRun implements it.
	StartRunFunc func(ctx context.Context, incidentID string, jobID int64) (finish func(ctx context.Context, willRetry bool) (followUp int64, err error), ok bool, err error)
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
	req := job.Args.CollectRequest
	log := w.logger().With(zap.String("incident_id", req.IncidentID), zap.Int64("job_id", job.ID), zap.Int("attempt", job.Attempt))
	if w.StartRunFunc == nil {
		return errors.New("jobs: Worker.StartRunFunc is not set")
	}
	finish, ok, err := w.StartRunFunc(ctx, req.IncidentID, job.ID)
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
	err = w.collect(ctx, log, req)
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
	return err
}

// collect plans and runs one collection. Its error is a snooze, a cancel or
// an error to retry.
func (w *Worker) collect(ctx context.Context, log *zap.Logger, req timeline.CollectRequest) error {
	_, win, err := w.Planner.Plan(ctx, req)
	if err != nil {
		var rl *collectors.RateLimitError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &rl):
			log.Info("rate limited while planning; snoozing", zap.Duration("snooze", snooze(rl.RetryAfter)))
			return river.JobSnooze(snooze(rl.RetryAfter))
		case errors.Is(err, collectors.ErrUnknownIncident), errors.Is(err, timeline.ErrInvalid):
			log.Warn("collection cannot succeed; cancelled", zap.Error(err))
			return river.JobCancel(w.scrub(err))
		}
		return fmt.Errorf("planning: %w", w.scrub(err))
	}
	log.Info("collecting", zap.Time("window_start", win.Start), zap.Time("window_end", win.End))
	res := w.Runner.Run(ctx, win)
	if err := res.Err(); err != nil {
		if ctx.Err() != nil {
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
