package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/zap"
)

// RetentionKind is the River kind of the retention job.
const RetentionKind = "groundwork_retention"

// RetentionArgs are the retention job's arguments: none, it applies the
// retention of the process that works it.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return RetentionKind }

// DefaultRetentionEvery is how often retention runs.
const DefaultRetentionEvery = time.Hour

// DefaultRetentionBatch is how many incidents one run deletes at most; a
// backlog (retention.incidents just turned on over years of history) is
// worked off run by run.
const DefaultRetentionBatch = 1000

// RetentionWorker forgets the webhook deliveries older than Deliveries and,
// when Incidents is set, deletes the incidents resolved longer ago than
// that, with everything stored of them.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]

	// PruneDeliveriesFunc forgets the deliveries received before cutoff
	// and returns how many; timeline/postgres.Store.PruneDeliveries
	// implements it. Required.
	PruneDeliveriesFunc func(ctx context.Context, cutoff time.Time) (int64, error)
	// Deliveries is retention.webhook_deliveries: how long a delivery's id
	// is kept to recognise its redeliveries. Required (more than 0).
	Deliveries time.Duration
	// DeleteIncidentsFunc deletes at most limit incidents resolved before
	// cutoff and returns how many it deleted; required when Incidents is
	// set (timeline/postgres.Deliveries.DeleteIncidentsResolvedBefore).
	DeleteIncidentsFunc func(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// Incidents is retention.incidents; 0 keeps incidents forever.
	Incidents time.Duration
	// Batch bounds the incidents one run deletes (DefaultRetentionBatch
	// when zero).
	Batch int
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
	// Logger; a no-op logger when nil.
	Logger *zap.Logger
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	now := time.Now()
	if w.NowFunc != nil {
		now = w.NowFunc()
	}
	log := w.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if w.Deliveries <= 0 {
		return fmt.Errorf("retention: no retention of webhook deliveries is set")
	}
	cutoff := now.Add(-w.Deliveries)
	n, err := w.PruneDeliveriesFunc(ctx, cutoff)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("webhook deliveries forgotten", zap.Int64("deliveries", n), zap.Time("before", cutoff))
	}
	if w.Incidents <= 0 {
		return nil
	}
	batch := w.Batch
	if batch <= 0 {
		batch = DefaultRetentionBatch
	}
	cutoff = now.Add(-w.Incidents)
	deleted, err := w.DeleteIncidentsFunc(ctx, cutoff, batch)
	if deleted > 0 {
		log.Info("incidents deleted by retention", zap.Int("incidents", deleted), zap.Time("resolved_before", cutoff))
	}
	return err
}

// PeriodicRetention is the River periodic job that queues retention every
// interval (DefaultRetentionEvery when zero), and once when the client
// starts. River's leader queues it, so one process applies it however many
// share the database.
func PeriodicRetention(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
		&river.PeriodicJobOpts{ID: RetentionKind, RunOnStart: true})
}
