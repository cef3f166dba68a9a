package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// Config is what New builds a process's job queue from.
type Config struct {
	// Deliveries is the delivery store: New gives it the Queue, and the
	// collection worker starts its runs, and the Sweeper rescues them,
	// through it. Required.
	Deliveries *postgres.Deliveries
	// Workers is how many collections run at once in this process.
	Workers int
	// MaxAttempts is how many times a collection is tried (River's default
	// when zero).
	MaxAttempts int
	// RescueAfter is how long River's rescuer leaves a running job alone
	// (past its timeout too), the backstop of the Sweeper.
	RescueAfter time.Duration
	// Collect works collection jobs (its StartRunFunc defaults to
	// Deliveries.StartRun). Required.
	Collect *Worker
	// Sweeper hands over the collections of processes that died (its
	// RunningFunc and RescueFunc are set by New).
	Sweeper Sweeper
	// Prune, when set, prunes the live journal every DefaultPruneEvery.
	Prune *PruneWorker
	// Retention, when set, applies the retention settings every
	// DefaultRetentionEvery.
	Retention *RetentionWorker
	// Logger receives River's logs, through zap's slog bridge.
	Logger *zap.Logger
}

// Service is the job queue of one process, on River: River's client, which
// inserts at once and works jobs once started, and the Sweeper.
type Service struct {
	client *river.Client[pgx.Tx]
	// sweeper runs while the workers do.
	sweeper     *Sweeper
	log         *zap.Logger
	workers     int
	stopSweeper func()
}

// New builds the job queue of one process and gives cfg.Deliveries its
// Queue. Periodic jobs run on River's elected leader, so once among all
// processes.
func New(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	if cfg.Deliveries == nil || cfg.Collect == nil {
		return nil, errors.New("job queue: Deliveries and Collect are required")
	}
	if cfg.Collect.StartRunFunc == nil {
		cfg.Collect.StartRunFunc = cfg.Deliveries.StartRun
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, cfg.Collect); err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	var periodic []*river.PeriodicJob
	if cfg.Prune != nil {
		if err := river.AddWorkerSafely(workers, cfg.Prune); err != nil {
			return nil, fmt.Errorf("job queue: %w", err)
		}
		periodic = append(periodic, PeriodicPrune(DefaultPruneEvery))
	}
	if cfg.Retention != nil {
		if err := river.AddWorkerSafely(workers, cfg.Retention); err != nil {
			return nil, fmt.Errorf("job queue: %w", err)
		}
		periodic = append(periodic, PeriodicRetention(DefaultRetentionEvery))
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(cfg.Workers, 1)}},
		Workers:      workers,
		PeriodicJobs: periodic,
		MaxAttempts:  cfg.MaxAttempts,
		// Each job's timeout is its worker's (Worker.JobTimeout); none at
		// the client, which would otherwise have to stay under RescueAfter.
		JobTimeout:           -1,
		RescueStuckJobsAfter: cfg.RescueAfter,
		Logger:               slog.New(zapslog.NewHandler(log.Core(), zapslog.WithName("river"))),
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	queue := Queue{Client: client}
	cfg.Deliveries.Queue = queue
	sweeper := cfg.Sweeper
	sweeper.RunningFunc = queue.Running
	sweeper.RescueFunc = func(ctx context.Context, incidentID string, jobID int64, staleAfter time.Duration) (bool, int64, error) {
		r, err := cfg.Deliveries.RescueAbandoned(ctx, incidentID, jobID, staleAfter)
		if r.Exhausted {
			sweeper.logger().Warn("a collection's process stopped during its last attempt: the collection failed",
				zap.String("incident_id", incidentID), zap.Int64("job_id", jobID))
		}
		return r.Rescued, r.Next, err
	}
	return &Service{client: client, sweeper: &sweeper, log: log, workers: max(cfg.Workers, 1)}, nil
}

// Start starts the workers and the sweeper. They work until Stop, whatever
// becomes of ctx.
func (s *Service) Start(ctx context.Context) error {
	if err := s.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the job workers: %w", err)
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); s.sweeper.Run(sctx) }()
	s.stopSweeper = func() { stop(); <-done }
	s.log.Info("job workers started", zap.Int("workers", s.workers))
	return nil
}

// Stop lets running collections finish for up to grace, then cancels them;
// River puts a cancelled job back in the queue without using up an
// attempt, so another process (or this one, restarted) finishes it.
func (s *Service) Stop(grace time.Duration) {
	if s.stopSweeper != nil {
		s.stopSweeper()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.client.Stop(ctx); err == nil {
		return
	}
	s.log.Warn("collections still running at shutdown: cancelling them; they will run again")
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	if err := s.client.StopAndCancel(hctx); err != nil {
		s.log.Error("stopping the job workers", zap.Error(err))
	}
}
