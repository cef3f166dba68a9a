package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Queue is the durable job queue that runs collections, as Deliveries uses
// it: every method works inside the caller's transaction, so that what it
// queues, cancels or makes due commits or rolls back with the delivery.
// collectors/jobs.Queue implements it on River, through River's client.
//
// Deliveries keeps the request each job is to run in collection_jobs, not
// in the queue: a trigger that joins a waiting job merges into that row,
// and the job's run reads it when it starts (StartRun). The queue only has
// to run the job.
type Queue interface {
	// EnqueueTx queues a collection of req.
	EnqueueTx(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest, opts EnqueueOpts) (jobID int64, err error)
	// JobTx returns job id; a job the queue does not know is JobFinished.
	JobTx(ctx context.Context, tx pgx.Tx, id int64) (QueuedJob, error)
	// MakeDueTx makes a job that waits (parked, or to retry after a
	// failure) due now. It leaves a running job alone.
	MakeDueTx(ctx context.Context, tx pgx.Tx, id int64) error
	// CancelTx cancels job id: at once when it waits; a running job is
	// told to stop.
	CancelTx(ctx context.Context, tx pgx.Tx, id int64) error
	// UnfinishedTx lists the collection jobs of incidentID that have not
	// finished, including any Deliveries no longer tracks.
	UnfinishedTx(ctx context.Context, tx pgx.Tx, incidentID string) ([]QueuedJob, error)
}

// EnqueueOpts are the options of Queue.EnqueueTx.
type EnqueueOpts struct {
	// At is when the job is due; now when zero.
	At time.Time
	// MaxAttempts overrides the queue's default when positive.
	MaxAttempts int
	// RescuedFrom names the abandoned job this one takes over from, for
	// the operator reading the queue.
	RescuedFrom int64
}

// JobState is where a queued job stands, as Deliveries needs to know it.
type JobState string

// The job states.
const (
	// JobWaiting: not started (due, or scheduled for later).
	JobWaiting JobState = "waiting"
	// JobRetryable: waiting to run again after an attempt failed.
	JobRetryable JobState = "retryable"
	// JobRunning: fetched by a worker.
	JobRunning JobState = "running"
	// JobFinished: completed, cancelled, discarded or gone; it will not
	// run again.
	JobFinished JobState = "finished"
)

// QueuedJob is a collection job as the queue reports it.
type QueuedJob struct {
	ID    int64
	State JobState
	// Attempt is the number of the job's latest attempt (0 before the
	// first), of MaxAttempts.
	Attempt, MaxAttempts int
	// AttemptedAt is when the latest attempt started; zero before one.
	AttemptedAt time.Time
	// Cancelling is set when the job was told to stop while running.
	Cancelling bool
	// Request is the request the job was queued with.
	Request timeline.CollectRequest
}
