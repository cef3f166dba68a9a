package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// Queue is the queue of collection jobs on River, through River's client
// alone: it implements postgres.Queue for the delivery store, and lists the
// running jobs for the Sweeper. Client needs no workers to insert, so the
// same value serves a process that only queues.
type Queue struct {
	Client *river.Client[pgx.Tx]
}

var _ postgres.Queue = Queue{}

// EnqueueTx implements postgres.Queue. A job rescued from another notes it
// in its metadata (rescued_from), for the operator reading the queue.
func (q Queue) EnqueueTx(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest, opts postgres.EnqueueOpts) (int64, error) {
	io := &river.InsertOpts{ScheduledAt: opts.At, MaxAttempts: opts.MaxAttempts}
	if opts.RescuedFrom != 0 {
		meta, err := json.Marshal(map[string]int64{"rescued_from": opts.RescuedFrom})
		if err != nil {
			return 0, err
		}
		io.Metadata = meta
	}
	res, err := q.Client.InsertTx(ctx, tx, CollectArgs{CollectRequest: req}, io)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// JobTx implements postgres.Queue.
func (q Queue) JobTx(ctx context.Context, tx pgx.Tx, id int64) (postgres.QueuedJob, error) {
	row, err := q.Client.JobGetTx(ctx, tx, id)
	if errors.Is(err, river.ErrNotFound) {
		return postgres.QueuedJob{ID: id, State: postgres.JobFinished}, nil
	}
	if err != nil {
		return postgres.QueuedJob{}, err
	}
	return queuedJob(row)
}

// MakeDueTx implements postgres.Queue with JobRetryTx, which makes a job
// that is not running available now (and leaves a running one alone).
func (q Queue) MakeDueTx(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := q.Client.JobRetryTx(ctx, tx, id)
	return err
}

// CancelTx implements postgres.Queue. River cancels a waiting job at once
// and marks a running one, whose worker it tells to stop.
func (q Queue) CancelTx(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := q.Client.JobCancelTx(ctx, tx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil
	}
	return err
}

// unfinished are the states of a job that may still run.
var unfinished = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning}

// UnfinishedTx implements postgres.Queue: the incident's collection jobs by
// their args, so that none is missed that the delivery store does not track.
func (q Queue) UnfinishedTx(ctx context.Context, tx pgx.Tx, incidentID string) ([]postgres.QueuedJob, error) {
	params := river.NewJobListParams().Kinds(Kind).States(unfinished...).First(1000).
		Where("args @> jsonb_build_object('incident_id', @incident_id::text)", river.NamedArgs{"incident_id": incidentID})
	res, err := q.Client.JobListTx(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	out := make([]postgres.QueuedJob, 0, len(res.Jobs))
	for _, row := range res.Jobs {
		j, err := queuedJob(row)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// Running lists the collection jobs River reports as running, for the
// Sweeper.
func (q Queue) Running(ctx context.Context) ([]*rivertype.JobRow, error) {
	res, err := q.Client.JobList(ctx, river.NewJobListParams().Kinds(Kind).States(rivertype.JobStateRunning).First(10000))
	if err != nil {
		return nil, err
	}
	return res.Jobs, nil
}

// queuedJob is River's job row as the delivery store reads it.
func queuedJob(row *rivertype.JobRow) (postgres.QueuedJob, error) {
	j := postgres.QueuedJob{ID: row.ID, Attempt: row.Attempt, MaxAttempts: row.MaxAttempts}
	switch row.State {
	case rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled:
		j.State = postgres.JobWaiting
	case rivertype.JobStateRetryable:
		j.State = postgres.JobRetryable
	case rivertype.JobStateRunning:
		j.State = postgres.JobRunning
	default:
		j.State = postgres.JobFinished
	}
	if row.AttemptedAt != nil {
		j.AttemptedAt = *row.AttemptedAt
	}
	if len(row.Metadata) > 0 {
		var meta map[string]json.RawMessage
		if err := json.Unmarshal(row.Metadata, &meta); err != nil {
			return j, fmt.Errorf("job %d: metadata: %w", row.ID, err)
		}
		_, j.Cancelling = meta["cancel_attempted_at"]
	}
	if row.Kind == Kind {
		if err := json.Unmarshal(row.EncodedArgs, &j.Request); err != nil {
			return j, fmt.Errorf("job %d: args: %w", row.ID, err)
		}
	}
	return j, nil
}
