package jobs

import (
	"context"
	"encoding/json"
	"time"

	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"
)

// Defaults of Sweeper.
const (
	DefaultSweepInterval = 5 * time.Second
	DefaultStaleAfter    = 10 * time.Second
)

// Sweeper hands the collections of processes that died over to live ones
// within seconds. River cannot tell a dead worker from a slow one, so its
// rescuer waits for a job's timeout (jobs.timeout, jobs.rescue_after:
// minutes) before it runs a job again. A collection's run holds its
// incident's run lock on a connection of its own, which Postgres frees the
// moment the process dies; every Interval the sweeper looks at the running
// collection jobs and asks RescueFunc to take over each whose lock is free
// and whose run has shown no sign of life for StaleAfter. Every serve
// process runs one; they may sweep at once, since RescueFunc decides under
// the incident's lock.
type Sweeper struct {
	// RunningFunc lists the collection jobs River reports as running.
	RunningFunc func(ctx context.Context) ([]*rivertype.JobRow, error)
	// RescueFunc hands the collection of incidentID over from job jobID
	// when the job's run was abandoned (see
	// timeline/postgres.Deliveries.RescueAbandoned), and reports whether
	// it did, and the job that carries on (0 when none does).
	RescueFunc func(ctx context.Context, incidentID string, jobID int64, staleAfter time.Duration) (rescued bool, next int64, err error)
	// Interval is the time between sweeps (DefaultSweepInterval when 0).
	Interval time.Duration
	// StaleAfter is how long an abandoned run must have been silent
	// (DefaultStaleAfter when 0). It must exceed the runs' heartbeat
	// interval, so that a live run that lost its lock has stopped first.
	StaleAfter time.Duration
	// Logger; a no-op logger when nil.
	Logger *zap.Logger
}

// Run sweeps at once and then every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	every := s.Interval
	if every <= 0 {
		every = DefaultSweepInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.logger().Warn("looking for abandoned collections", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep looks once for abandoned collections, rescues them and returns how
// many it rescued. A failure to rescue one is logged and the others are
// still tried; the error is that of listing the jobs.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	rows, err := s.RunningFunc(ctx)
	if err != nil {
		return 0, err
	}
	stale := s.StaleAfter
	if stale <= 0 {
		stale = DefaultStaleAfter
	}
	rescued := 0
	for _, row := range rows {
		if row.Kind != Kind {
			continue
		}
		var meta struct {
			CancelAttemptedAt *time.Time `json:"cancel_attempted_at"`
		}
		_ = json.Unmarshal(row.Metadata, &meta)
		if meta.CancelAttemptedAt != nil {
			continue // being cancelled: rescued before, or by hand
		}
		var args CollectArgs
		if err := json.Unmarshal(row.EncodedArgs, &args); err != nil || args.IncidentID == "" {
			continue
		}
		ok, next, err := s.RescueFunc(ctx, args.IncidentID, row.ID, stale)
		if err != nil {
			if ctx.Err() != nil {
				return rescued, ctx.Err()
			}
			s.logger().Warn("rescuing an abandoned collection", zap.String("incident_id", args.IncidentID),
				zap.Int64("job_id", row.ID), zap.Error(err))
			continue
		}
		if ok {
			rescued++
			s.logger().Warn("collection abandoned by a process that stopped; handed over",
				zap.String("incident_id", args.IncidentID), zap.Int64("job_id", row.ID), zap.Int64("next_job_id", next))
		}
	}
	return rescued, nil
}

func (s *Sweeper) logger() *zap.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return zap.NewNop()
}
