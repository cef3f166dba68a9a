package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// riverMigrate creates or upgrades River's tables. postgres.Migrate runs it
// as a hook, under the same advisory lock as the timeline schema.
func riverMigrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// riverSchemaCurrent reports an error when River's migrations are pending.
func riverSchemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("job queue schema: %w", err)
	}
	if !res.OK {
		return fmt.Errorf("job queue schema is not current (%s): run `groundwork migrate`", strings.Join(res.Messages, "; "))
	}
	return nil
}

// poolSize is how many connections a process needs: each running
// collection holds one for its run lock and writes with up to one per
// source, River keeps one listening and fetches with others, and webhooks
// and the API need some at any moment.
func poolSize(cfg Config) int32 { return int32(4*cfg.Jobs.Workers + 12) }

// withPoolSize sets pool_max_conns on a connection string unless the
// operator set it.
func withPoolSize(dsn string, n int32) string {
	if strings.Contains(dsn, "pool_max_conns") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(int(n)))
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " pool_max_conns=" + strconv.Itoa(int(n))
}

// wireJobs builds the River client with the collection worker, the
// delivery store that queues through it, and the webhook receivers'
// configuration. The client inserts at once; serve starts its workers.
func (a *app) wireJobs() error {
	cfg := a.cfg
	a.deliveries = &postgres.Deliveries{
		Store: a.store, JobKind: jobs.Kind,
		// A follow-up waits for the run it follows at most this long, in
		// case that run dies on its last attempt and never hands over.
		ParkFor: 2*max(cfg.Jobs.RescueAfter.Duration, cfg.Jobs.Timeout.Duration) + time.Minute,
	}
	for _, c := range a.registry.All() {
		a.deliveries.Sources = append(a.deliveries.Sources, c.Name())
	}
	// A collection whose process died is handed over within seconds by
	// the sweeper (startJobs), which sees that its run lock is free.
	// River's own rescuer stays as the backstop: it leaves a running job
	// alone until its timeout has passed, and forever when it has none, so
	// a job always gets one, and it picks up what the sweeper missed after
	// the longer of jobs.rescue_after and jobs.timeout.
	timeout := cfg.Jobs.Timeout.Duration
	if timeout <= 0 {
		timeout = max(cfg.Jobs.RescueAfter.Duration, time.Minute)
		a.log.Warn("jobs.timeout is zero: collections time out after jobs.rescue_after instead", zap.Duration("timeout", timeout))
	}
	// The worker's runs keep their progress, so that a retried or rescued
	// collection resumes; they hold the run lock, which `collect` does not.
	runner := *a.runner
	runner.Checkpoints = a.store
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &jobs.Worker{
		Planner: a.planner, Runner: &runner,
		StartRunFunc: a.deliveries.StartRun,
		JobTimeout:   timeout,
		Logger:       a.log.Named("jobs"),
	}); err != nil {
		return err
	}
	// The live journal is pruned past journal.retention by River's leader.
	if err := river.AddWorkerSafely(workers, &jobs.PruneWorker{
		PruneFunc: a.store.PruneJournal, Retention: cfg.Journal.Retention.Duration, Logger: a.log.Named("journal"),
	}); err != nil {
		return err
	}
	// So are webhook deliveries and, when asked, old incidents (retention.go).
	retention := a.addRetentionWorker(workers)
	client, err := river.NewClient(riverpgxv5.New(a.pool), &river.Config{
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Jobs.Workers}},
		Workers:      workers,
		PeriodicJobs: []*river.PeriodicJob{jobs.PeriodicPrune(jobs.DefaultPruneEvery), retention},
		MaxAttempts:  cfg.Jobs.MaxAttempts,
		// Each job's timeout is the worker's (jobs.timeout); none at the
		// client, which would otherwise have to stay under rescue_after.
		JobTimeout:           -1,
		RescueStuckJobsAfter: cfg.Jobs.RescueAfter.Duration,
		Logger:               slog.New(zapslog.NewHandler(a.log.Core(), zapslog.WithName("river"))),
	})
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	a.river = client
	a.wireDeletion(client)
	a.deliveries.EnqueueTxFunc = func(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest, at time.Time) (int64, error) {
		res, err := client.InsertTx(ctx, tx, jobs.CollectArgs{CollectRequest: req}, &river.InsertOpts{ScheduledAt: at})
		if err != nil {
			return 0, err
		}
		return res.Job.ID, nil
	}
	a.deliveries.CancelTxFunc = func(ctx context.Context, tx pgx.Tx, jobID int64) error {
		_, err := client.JobCancelTx(ctx, tx, jobID)
		return err
	}
	a.deliveries.RequeueTxFunc = func(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest, maxAttempts int, rescuedFrom int64) (int64, error) {
		meta, _ := json.Marshal(map[string]int64{"rescued_from": rescuedFrom})
		res, err := client.InsertTx(ctx, tx, jobs.CollectArgs{CollectRequest: req}, &river.InsertOpts{MaxAttempts: maxAttempts, Metadata: meta})
		if err != nil {
			return 0, err
		}
		return res.Job.ID, nil
	}
	a.sweeper = &jobs.Sweeper{
		RunningFunc: func(ctx context.Context) ([]*rivertype.JobRow, error) {
			res, err := client.JobList(ctx, river.NewJobListParams().Kinds(jobs.Kind).States(rivertype.JobStateRunning).First(10000))
			if err != nil {
				return nil, err
			}
			return res.Jobs, nil
		},
		RescueFunc: func(ctx context.Context, incidentID string, jobID int64, staleAfter time.Duration) (bool, int64, error) {
			r, err := a.deliveries.RescueAbandoned(ctx, incidentID, jobID, staleAfter)
			if r.Exhausted {
				a.log.Warn("a collection's process stopped during its last attempt: the collection failed",
					zap.String("incident_id", incidentID), zap.Int64("job_id", jobID))
			}
			return r.Rescued, r.Next, err
		},
		Logger: a.log.Named("jobs"),
	}
	a.api.Deliveries = a.deliveries
	a.api.Webhooks = a.webhookConfig()
	a.api.Receivers = pluginReceivers(cfg, a.registry, a.log)
	a.api.Sources = pluginNames()
	return nil
}

// webhookConfig is the receivers' share of the configuration.
func (a *app) webhookConfig() api.WebhookConfig {
	cfg := a.cfg
	wc := api.WebhookConfig{
		MaxBody:          cfg.Webhooks.MaxBody.N,
		Before:           cfg.Window.Before.Duration,
		After:            cfg.Window.After.Duration,
		ScopeFunc:        a.planner.ScopeFunc,
		JournalScopeFunc: a.journalScopeFunc(),
	}
	if cfg.Journal.Enabled() {
		wc.BreakCoverageFunc = a.store.BreakCoverage
	}
	return wc
}

// startJobs starts the workers and the sweeper of abandoned collections.
func (a *app) startJobs(ctx context.Context) error {
	if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the job workers: %w", err)
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); a.sweeper.Run(sctx) }()
	a.stopSweeper = func() { stop(); <-done }
	a.log.Info("job workers started", zap.Int("workers", a.cfg.Jobs.Workers))
	return nil
}

// stopJobs lets running collections finish for up to grace, then cancels
// them; River puts a cancelled job back in the queue without using up an
// attempt, so another process (or this one, restarted) finishes it.
func (a *app) stopJobs(grace time.Duration) {
	if a.stopSweeper != nil {
		a.stopSweeper()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := a.river.Stop(ctx); err == nil {
		return
	}
	a.log.Warn("collections still running at shutdown: cancelling them; they will run again")
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	if err := a.river.StopAndCancel(hctx); err != nil {
		a.log.Error("stopping the job workers", zap.Error(err))
	}
}
