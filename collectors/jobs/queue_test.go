package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// A collection job of an incident that no longer exists (deleted while it
// was on its way to a worker) is cancelled on its first attempt, not
// retried, and recreates nothing.
func TestAJobOfAGoneIncidentIsCancelled(t *testing.T) {
	t.Parallel()
	var ran atomic.Bool
	b := setup(t, 3, &fakeSource{name: "slack", collect: func(context.Context, timeline.Window, func(timeline.Event) error) error {
		ran.Store(true)
		return nil
	}})
	if _, err := b.inserter.Insert(context.Background(), jobs.CollectArgs{CollectRequest: timeline.CollectRequest{IncidentID: "GONE"}}, nil); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	js := b.waitJobs(t)
	if len(js) != 1 || js[0].State != "cancelled" || js[0].Attempt != 1 {
		t.Errorf("jobs = %+v, want the one cancelled on its first attempt", js)
	}
	if ran.Load() {
		t.Error("the source collected for a gone incident")
	}
	if _, err := b.store.Incident(context.Background(), "GONE"); err == nil {
		t.Error("the gone incident was recreated")
	}
}

// Queue reports River's states as the delivery store needs them, and a job
// River does not know as finished.
func TestQueueStates(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	q := jobs.Queue{Client: b.inserter}
	ctx := context.Background()
	req := timeline.CollectRequest{IncidentID: "INC1", Repos: []string{"acme/api"}}
	var due, parked int64
	err := pgx.BeginFunc(ctx, b.schema.Pool, func(tx pgx.Tx) error {
		var err error
		if due, err = q.EnqueueTx(ctx, tx, req, postgres.EnqueueOpts{}); err != nil {
			return err
		}
		parked, err = q.EnqueueTx(ctx, tx, req, postgres.EnqueueOpts{At: time.Now().Add(time.Hour), MaxAttempts: 2, RescuedFrom: due})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(id int64, want postgres.JobState, maxAttempts int) {
		t.Helper()
		err := pgx.BeginFunc(ctx, b.schema.Pool, func(tx pgx.Tx) error {
			j, err := q.JobTx(ctx, tx, id)
			if err != nil {
				return err
			}
			if j.State != want || (maxAttempts > 0 && j.MaxAttempts != maxAttempts) || (want != postgres.JobFinished && j.Request.IncidentID != "INC1") {
				t.Errorf("job %d = %+v, want %s with %d attempts", id, j, want, maxAttempts)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(due, postgres.JobWaiting, 3)
	check(parked, postgres.JobWaiting, 2)
	check(987654, postgres.JobFinished, 0)
	err = pgx.BeginFunc(ctx, b.schema.Pool, func(tx pgx.Tx) error {
		js, err := q.UnfinishedTx(ctx, tx, "INC1")
		if err != nil {
			return err
		}
		if len(js) != 2 {
			t.Errorf("unfinished jobs of INC1 = %+v, want both", js)
		}
		if js, err := q.UnfinishedTx(ctx, tx, "INC2"); err != nil || len(js) != 0 {
			t.Errorf("unfinished jobs of INC2 = %+v, %v; want none", js, err)
		}
		if err := q.MakeDueTx(ctx, tx, parked); err != nil {
			return err
		}
		return q.CancelTx(ctx, tx, due)
	})
	if err != nil {
		t.Fatal(err)
	}
	check(due, postgres.JobFinished, 0)
	js := b.jobs(t)
	if len(js) != 2 || js[1].State != "available" {
		t.Errorf("jobs after MakeDueTx = %+v, want the parked one available", js)
	}
}
