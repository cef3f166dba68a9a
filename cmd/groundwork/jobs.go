package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

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

// wireJobs builds the job queue (collectors/jobs, on River) with the
// collection worker, the delivery store that queues through it, and the
// webhook receivers' configuration. The queue inserts at once; serve starts
// its workers.
func (a *app) wireJobs() error {
	cfg := a.cfg
	a.deliveries = &postgres.Deliveries{
		Store: a.store,
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
	q, err := jobs.New(a.pool, jobs.Config{
		Workers: cfg.Jobs.Workers, MaxAttempts: cfg.Jobs.MaxAttempts, RescueAfter: cfg.Jobs.RescueAfter.Duration,
		Deliveries: a.deliveries,
		Collect: &jobs.Worker{
			Planner: a.planner, Runner: &runner,
			JobTimeout: timeout,
			Logger:     a.log.Named("jobs"),
		},
		Sweeper: jobs.Sweeper{Logger: a.log.Named("jobs")},
		// The live journal is pruned past journal.retention by River's
		// leader; so are webhook deliveries and, when asked, old incidents
		// (retention.go).
		Prune:     &jobs.PruneWorker{PruneFunc: a.store.PruneJournal, Retention: cfg.Journal.Retention.Duration, Logger: a.log.Named("journal")},
		Retention: a.retentionWorker(),
		Logger:    a.log,
	})
	if err != nil {
		return err
	}
	a.jobs = q
	a.api.Deleter = a.deliveries
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
func (a *app) startJobs(ctx context.Context) error { return a.jobs.Start(ctx) }

// stopJobs lets running collections finish for up to grace, then cancels
// them (they run again).
func (a *app) stopJobs(grace time.Duration) { a.jobs.Stop(grace) }
