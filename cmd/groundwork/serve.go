package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// app is one wired Groundwork process: store, collectors, API and workers.
type app struct {
	cfg      Config
	log      *zap.Logger
	pool     *pgxpool.Pool
	store    *postgres.Store
	registry *collectors.Registry
	planner  *collectors.Planner
	runner   *collectors.Runner
	api      *api.Server
	// metrics is shared by the API, the collectors' transports and the
	// runner.
	metrics *api.Metrics
	// jobs queues and works collections, and hands over those of dead
	// processes; deliveries records webhook deliveries and queues through
	// it.
	jobs       *jobs.Service
	deliveries *postgres.Deliveries
	// feed wakes /v1/feed event streams when events are stored.
	feed *postgres.FeedListener
	// hubPool and catchUpPool are the event streams' own: the feed hub
	// reads new events on one connection, streams behind it on
	// feed.catchup_connections, none on pool.
	hubPool, catchUpPool *pgxpool.Pool
}

// newApp connects to the database, brings the schema up to date (under the
// migration lock, so replicas may start together) and wires every part.
func newApp(ctx context.Context, cfg Config, log *zap.Logger, obs collectors.Observer) (*app, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	pool, err := postgres.Open(ctx, withPoolSize(cfg.DatabaseURL, poolSize(cfg)))
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, pool: pool, store: postgres.New(pool), metrics: api.NewMetrics()}
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	review, err := reviewConfig(cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	key, err := a.store.CursorKey(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	shareKey, err := a.store.ShareKey(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	progress := &collectors.Progress{}
	var coverage collectors.Coverage
	if cfg.Journal.Enabled() {
		coverage = a.store
	}
	a.registry, err = buildRegistry(cfg, collectors.Observers{progress, obs, a.metrics}, log, coverage)
	if err != nil {
		pool.Close()
		return nil, err
	}
	a.planner = &collectors.Planner{
		Registry: a.registry, Store: a.store,
		Before: cfg.Window.Before.Duration, After: cfg.Window.After.Duration,
		ScopeFunc: func(serviceID string) ([]string, []string) {
			s := cfg.ScopeFor(serviceID)
			return s.GitHubRepos, s.SlackChannels
		},
	}
	a.runner = &collectors.Runner{Registry: a.registry, Store: a.store, Logger: log, Progress: progress,
		DoneFunc: a.metrics.CollectionDone, Secrets: cfg.secrets(),
		// Groundwork's own detections become suggested annotations.
		AfterRunFunc: func(ctx context.Context, incidentID string) error {
			_, err := timeline.Suggest(ctx, a.store, incidentID)
			return err
		}}
	a.api = &api.Server{
		Store: a.store, Logger: log, Tokens: cfg.APITokens,
		Cursors:   timeline.CursorCodec{Key: key},
		ReadyFunc: a.ready,
		Metrics:   a.metrics,
		Summaries: a.store, Versions: a.store, Review: review,
		ReadTimeout: cfg.API.ReadTimeout.Duration,
		PublicURL:   cfg.API.PublicURL,
		Streams: api.StreamLimits{
			MaxStreams: cfg.Feed.MaxStreams, MaxPerToken: cfg.Feed.MaxStreamsPerToken,
			WriteTimeout: cfg.Feed.WriteTimeout.Duration, Buffer: int(cfg.Feed.StreamBuffer.N),
			History: cfg.Feed.History.N, CatchUpConcurrency: cfg.Feed.CatchUpConnections,
		},
		Annotations: a.store,
		Story:       cfg.Review.Story.timeline(),
		Shares:      a.store, ShareCodec: timeline.ShareCodec{Key: shareKey},
	}
	if err := a.wireJobs(); err != nil {
		pool.Close()
		return nil, err
	}
	if a.hubPool, err = postgres.NewPoolLike(pool, 1); err != nil {
		pool.Close()
		return nil, err
	}
	if a.catchUpPool, err = postgres.NewPoolLike(pool, int32(cfg.Feed.CatchUpConnections)); err != nil {
		a.hubPool.Close()
		pool.Close()
		return nil, err
	}
	a.api.FeedSource, a.api.FeedCatchUp = postgres.New(a.hubPool), postgres.New(a.catchUpPool)
	return a, nil
}

func (a *app) close() {
	if a.hubPool != nil {
		a.hubPool.Close()
		a.catchUpPool.Close()
	}
	a.pool.Close()
}

// ready: the database answers and the schema is current.
func (a *app) ready(ctx context.Context) error {
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	return postgres.SchemaCurrent(ctx, a.pool)
}

// serve answers HTTP on ln until ctx ends, then shuts down gracefully,
// letting in-flight requests finish.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(a.log.Named("http")),
	}
	if err := a.startJobs(ctx); err != nil {
		return err
	}
	a.feed = postgres.NewFeedListener(a.pool)
	a.feed.ErrorFunc = func(err error) { a.log.Warn("feed listener: reconnecting", zap.Error(err)) }
	a.api.Feed = a.feed
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); _ = a.feed.Run(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()
	// Workers stop last: a delivery accepted during shutdown is queued,
	// and a collection cut short goes back to the queue.
	defer a.stopJobs(20 * time.Second)
	errc := make(chan error, 1)
	// The server's own answers (431 for oversized headers, 400 for a request
	// that is not HTTP) get the JSON error shape too.
	go func() { errc <- srv.Serve(api.ProtocolErrorsAsJSON(ln, srv.MaxHeaderBytes)) }()
	// While the receivers are up, the live coverage of their scopes grows.
	beatCtx, stopBeats := context.WithCancel(ctx)
	beatsDone := make(chan struct{})
	go func() { defer close(beatsDone); a.runHeartbeats(beatCtx) }()
	defer func() { stopBeats(); <-beatsDone }()
	a.log.Info("serving", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: letting in-flight requests finish")
	a.api.CloseStreams()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (e *env) serveCmd(ctx context.Context, args []string) error {
	fs := e.flags("serve")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, e.logger, nil)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return a.serve(ctx, ln)
}

func (e *env) migrateCmd(ctx context.Context, args []string) error {
	fs := e.flags("migrate")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(e.stdout, "schema is up to date")
	} else {
		fmt.Fprintf(e.stdout, "applied migrations %v\n", applied)
	}
	return nil
}
