package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/zap"
)

// PruneKind is the River kind of the live journal's pruning job.
const PruneKind = "groundwork_journal_prune"

// PruneArgs are the pruning job's arguments: none, it prunes by the
// retention of the process that works it.
type PruneArgs struct{}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return PruneKind }

// DefaultPruneEvery is how often the live journal is pruned.
const DefaultPruneEvery = time.Hour

// PruneWorker forgets the live journal's events older than Retention (and
// the coverage that vouched for them) through PruneFunc. A Retention of zero
// keeps nothing: the journal is off and whatever it held is dropped.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]

	// PruneFunc deletes what occurred before cutoff and returns how many
	// events it deleted; timeline/postgres.Store.PruneJournal implements it.
	// Required.
	PruneFunc func(ctx context.Context, cutoff time.Time) (int64, error)
	// Retention is journal.retention.
	Retention time.Duration
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
	// Logger; a no-op logger when nil.
	Logger *zap.Logger
}

// Work implements river.Worker.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	now := time.Now()
	if w.NowFunc != nil {
		now = w.NowFunc()
	}
	cutoff := now.Add(-w.Retention)
	n, err := w.PruneFunc(ctx, cutoff)
	if err != nil {
		return err
	}
	if w.Logger != nil && n > 0 {
		w.Logger.Info("live journal pruned", zap.Int64("events", n), zap.Time("before", cutoff))
	}
	return nil
}

// PeriodicPrune is the River periodic job that queues a pruning every
// interval (DefaultPruneEvery when zero), and once when the client starts.
// River's leader queues it, so one process prunes however many share the
// database.
func PeriodicPrune(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultPruneEvery
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil },
		&river.PeriodicJobOpts{ID: PruneKind, RunOnStart: true})
}
