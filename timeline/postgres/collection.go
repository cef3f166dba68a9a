package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/timeline"
)

// This file keeps one job per incident waiting, by the rules of
// Deliveries, over the incident's row of collection_jobs: the incident's
// current job and the request it is to run, and the follow-up parked while
// the current job runs. The queue (Deliveries.Queue) only runs jobs; which
// job collects an incident, and what it collects, is decided here, under
// the incident's queuing lock (collectLockSQL).

// collectLockSQL serialises the queuing of one incident's collections for
// the rest of the transaction. Advisory locks are database-wide, so the key
// names the schema too.
const collectLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('groundwork:collect:' || current_schema() || ':' || $1::text, 0))`

// runLockKey is the session advisory lock that keeps two runs of one
// incident's collection apart, in any process sharing the database.
const runLockKey = `hashtextextended('groundwork:run:' || current_schema() || ':' || $1::text, 0)`

// jobRow is an incident's row of collection_jobs.
type jobRow struct {
	// current is the incident's job: it waits, or it runs.
	current int64
	// request is what current is to run; nil for a row written before
	// rows held requests (the job runs its queued request).
	request *timeline.CollectRequest
	// followUp is the job parked until current's run ends (0: none), and
	// followUpReq what it is to run.
	followUp    int64
	followUpReq *timeline.CollectRequest
}

const readJobRowSQL = `SELECT job_id, request, COALESCE(follow_up_id, 0), follow_up_request
FROM collection_jobs WHERE incident_id = $1`

const writeJobRowSQL = `INSERT INTO collection_jobs (incident_id, job_id, request, follow_up_id, follow_up_request)
VALUES ($1, $2, $3, NULLIF($4, 0), $5)
ON CONFLICT (incident_id) DO UPDATE SET job_id = excluded.job_id, request = excluded.request,
    follow_up_id = excluded.follow_up_id, follow_up_request = excluded.follow_up_request, updated_at = now()`

// readJobRow returns the incident's row; ok is false when it has none.
func readJobRow(ctx context.Context, tx pgx.Tx, incidentID string) (row jobRow, ok bool, err error) {
	var req, followUpReq []byte
	err = tx.QueryRow(ctx, readJobRowSQL, incidentID).Scan(&row.current, &req, &row.followUp, &followUpReq)
	if errors.Is(err, pgx.ErrNoRows) {
		return jobRow{}, false, nil
	}
	if err != nil {
		return jobRow{}, false, err
	}
	if row.request, err = decodeRequest(req); err != nil {
		return jobRow{}, false, fmt.Errorf("collection of %s: %w", incidentID, err)
	}
	if row.followUpReq, err = decodeRequest(followUpReq); err != nil {
		return jobRow{}, false, fmt.Errorf("follow-up collection of %s: %w", incidentID, err)
	}
	return row, true, nil
}

func decodeRequest(raw []byte) (*timeline.CollectRequest, error) {
	if raw == nil {
		return nil, nil
	}
	var req timeline.CollectRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("reading the queued request: %w", err)
	}
	return &req, nil
}

func encodeRequest(req *timeline.CollectRequest) ([]byte, error) {
	if req == nil {
		return nil, nil
	}
	return json.Marshal(req)
}

func writeJobRow(ctx context.Context, tx pgx.Tx, incidentID string, row jobRow) error {
	req, err := encodeRequest(row.request)
	if err != nil {
		return err
	}
	followUpReq, err := encodeRequest(row.followUpReq)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, writeJobRowSQL, incidentID, row.current, req, row.followUp, followUpReq)
	return err
}

// requestOr returns *req, or queued when req is nil.
func requestOr(req *timeline.CollectRequest, queued timeline.CollectRequest) timeline.CollectRequest {
	if req != nil {
		return *req
	}
	return queued
}

// merge returns base with later merged in, and whether that changed it.
func merge(base, later timeline.CollectRequest) (timeline.CollectRequest, bool, error) {
	before, err := json.Marshal(base)
	if err != nil {
		return base, false, err
	}
	merged := base.Merge(later)
	after, err := json.Marshal(merged)
	if err != nil {
		return base, false, err
	}
	return merged, string(before) != string(after), nil
}

const pendingSQL = `INSERT INTO collection_status (incident_id, source, state)
SELECT $1, s, 'pending' FROM unnest($2::text[]) AS s
WHERE EXISTS (SELECT 1 FROM incidents WHERE id = $1)
ON CONFLICT (incident_id, source) DO NOTHING`

// placeholderSQL records an incident that a collection was queued for
// before anything about it is known (a collect request for an
// incident no source has reported yet), so that GET /v1/incidents/{id} shows its queued
// collection, and a failure to plan it, instead of 404. Its empty source
// marks it as a placeholder: the planner replaces it, live capture never
// joins it (it has no repositories or channels), and it overlaps nothing.
const placeholderSQL = `INSERT INTO incidents (id, title, started_at, window_start, window_end)
VALUES ($1, $2, COALESCE($3::timestamptz, now()), COALESCE($3::timestamptz, now()), COALESCE($3::timestamptz, now()))
ON CONFLICT (id) DO NOTHING`

// runInProgressSQL reports whether job $2 has started a run of incident $1
// that has not ended (StartRun recorded it, its finish did not).
const runInProgressSQL = `SELECT EXISTS (SELECT 1 FROM collection_runs
WHERE incident_id = $1 AND job_id = $2 AND finished_at IS NULL)`

// enqueueTx queues req's collection by the rules of Deliveries and returns
// the job that will run it.
func (d *Deliveries) enqueueTx(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest) (int64, error) {
	if _, err := tx.Exec(ctx, collectLockSQL, req.IncidentID); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, placeholderSQL, req.IncidentID, req.Title, req.StartedAt); err != nil {
		return 0, err
	}
	if len(d.Sources) > 0 {
		if _, err := tx.Exec(ctx, pendingSQL, req.IncidentID, d.Sources); err != nil {
			return 0, err
		}
	}
	row, ok, err := readJobRow(ctx, tx, req.IncidentID)
	if err != nil {
		return 0, err
	}
	if ok && row.followUp != 0 {
		// A follow-up is parked while the current job runs: join it.
		f, err := d.Queue.JobTx(ctx, tx, row.followUp)
		if err != nil {
			return 0, err
		}
		if f.State != JobFinished {
			merged, changed, err := merge(requestOr(row.followUpReq, f.Request), req)
			if err != nil || !changed {
				return row.followUp, err
			}
			row.followUpReq = &merged
			return row.followUp, writeJobRow(ctx, tx, req.IncidentID, row)
		}
		// It ended without running: forget it.
		row.followUp, row.followUpReq = 0, nil
		if err := writeJobRow(ctx, tx, req.IncidentID, row); err != nil {
			return 0, err
		}
	}
	if ok {
		j, err := d.Queue.JobTx(ctx, tx, row.current)
		if err != nil {
			return 0, err
		}
		var running bool
		if j.State == JobRunning {
			if err := tx.QueryRow(ctx, runInProgressSQL, req.IncidentID, row.current).Scan(&running); err != nil {
				return 0, err
			}
		}
		switch {
		case running:
			// Park a follow-up until the run ends (handOverTx makes it
			// due then), so that it is never fetched beside the run.
			park := d.ParkFor
			if park <= 0 {
				park = time.Hour
			}
			id, err := d.Queue.EnqueueTx(ctx, tx, req, EnqueueOpts{At: time.Now().Add(park)})
			if err != nil {
				return 0, err
			}
			row.followUp, row.followUpReq = id, &req
			return id, writeJobRow(ctx, tx, req.IncidentID, row)
		case j.State != JobFinished:
			// The current job has not started its run (it may have been
			// fetched: its run reads the row under this lock): join it.
			// One waiting to retry after a failure is made due now: a new
			// trigger brings news worth acting on at once.
			merged, changed, err := merge(requestOr(row.request, j.Request), req)
			if err != nil {
				return 0, err
			}
			if changed {
				row.request = &merged
				if err := writeJobRow(ctx, tx, req.IncidentID, row); err != nil {
					return 0, err
				}
			}
			if j.State == JobRetryable {
				return row.current, d.Queue.MakeDueTx(ctx, tx, row.current)
			}
			return row.current, nil
		}
	}
	id, err := d.Queue.EnqueueTx(ctx, tx, req, EnqueueOpts{})
	if err != nil {
		return 0, err
	}
	return id, writeJobRow(ctx, tx, req.IncidentID, jobRow{current: id, request: &req})
}

// StartRun is called by the worker of job jobID, in its attempt attempt,
// before it collects queued.IncidentID; queued is the request the job was
// queued with. It returns the request to run, which is queued with the
// triggers that joined the job since merged in. It takes the incident's run
// lock without waiting (ok is false when another run holds it), records the
// job as the incident's current one and the run as started. The lock lives
// on a connection of its own and dies with it, so a crashed process never
// leaves it behind. Over that connection the run touches its heartbeat every
// HeartbeatInterval; should the connection fail (the lock is then lost),
// runCtx, which is derived from ctx, is cancelled, so that the run stops
// before another takes the incident over. It returns an error wrapping
// timeline.ErrNotFound when the incident was deleted.
//
// finish must be called once, when the run ends: it releases the lock and, when a
// follow-up was queued meanwhile, makes it due now and returns its id (the
// follow-up takes over: a failed run need not be retried). Otherwise the
// incident is left to this job when willRetry is set, or to nobody. The
// hand-over, the run's end and the unlock commit together, so
// RescueAbandoned never mistakes a run that ended for one that died.
func (d *Deliveries) StartRun(ctx context.Context, queued timeline.CollectRequest, jobID int64, attempt int) (runCtx context.Context, req timeline.CollectRequest, finish func(ctx context.Context, willRetry bool) (followUp int64, err error), ok bool, err error) {
	incidentID := queued.IncidentID
	conn, err := d.Store.pool.Acquire(ctx)
	if err != nil {
		return nil, req, nil, false, fmt.Errorf("run lock of %s: %w", incidentID, classify(err))
	}
	// The server frees the lock when the connection dies; keepalives let
	// it notice within seconds a host that vanished without closing it.
	if _, err := conn.Exec(ctx, `SELECT set_config('tcp_keepalives_idle', '10', false),
		set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)`); err != nil {
		conn.Release()
		return nil, req, nil, false, fmt.Errorf("run lock of %s: %w", incidentID, classify(err))
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+runLockKey+`)`, incidentID).Scan(&ok); err != nil {
		conn.Release()
		return nil, req, nil, false, fmt.Errorf("run lock of %s: %w", incidentID, classify(err))
	}
	if !ok {
		conn.Release()
		return nil, req, nil, false, nil
	}
	err = pgx.BeginFunc(ctx, d.Store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, collectLockSQL, incidentID); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)`, incidentID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("%w: incident %s was deleted", timeline.ErrNotFound, incidentID)
		}
		row, found, err := readJobRow(ctx, tx, incidentID)
		if err != nil {
			return err
		}
		switch {
		case found && row.current == jobID:
			req = requestOr(row.request, queued)
		case found && row.followUp == jobID:
			// A follow-up whose park ran out: the run it followed never
			// handed over. It takes the incident over.
			req = requestOr(row.followUpReq, queued)
			row = jobRow{current: jobID, request: &req}
		default:
			// A job this row does not name (queued before rows held
			// requests): it becomes the incident's job.
			req = queued
			row.current, row.request = jobID, &req
		}
		if err := writeJobRow(ctx, tx, incidentID, row); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, startRunSQL, incidentID, jobID, attempt)
		return err
	})
	if err != nil {
		releaseLock(conn, incidentID)
		return nil, req, nil, false, fmt.Errorf("starting the run of %s: %w", incidentID, classify(err))
	}

	runCtx, cancelRun := context.WithCancelCause(ctx)
	stopBeat := make(chan struct{})
	beatDone := make(chan struct{})
	every := d.HeartbeatInterval
	if every <= 0 {
		every = DefaultHeartbeatInterval
	}
	lost := false // written by the heartbeat goroutine, read after beatDone
	go func() {
		defer close(beatDone)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
			bctx, cancel := context.WithTimeout(context.Background(), every+5*time.Second)
			_, err := conn.Exec(bctx, `UPDATE collection_runs SET heartbeat_at = now() WHERE incident_id = $1 AND job_id = $2`, incidentID, jobID)
			cancel()
			if err != nil {
				lost = true
				cancelRun(fmt.Errorf("%w: run lock of %s lost: %v", timeline.ErrUnavailable, incidentID, classify(err)))
				return
			}
		}
	}()

	finish = func(ctx context.Context, willRetry bool) (int64, error) {
		close(stopBeat)
		<-beatDone
		defer cancelRun(context.Canceled)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if !lost {
			// Hand over, end the run and unlock in one transaction on the
			// lock's connection: the lock is free only once the hand-over
			// is visible.
			var followUp int64
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				var err error
				if followUp, err = d.handOverTx(ctx, tx, incidentID, jobID, willRetry); err != nil {
					return err
				}
				_, err = tx.Exec(ctx, `SELECT pg_advisory_unlock(`+runLockKey+`)`, incidentID)
				return err
			})
			if err == nil {
				conn.Release()
				return followUp, nil
			}
		}
		// The lock's connection failed: closing it frees the lock; hand
		// over on another connection.
		_ = conn.Conn().Close(ctx)
		conn.Release()
		var followUp int64
		err := pgx.BeginFunc(ctx, d.Store.pool, func(tx pgx.Tx) error {
			var err error
			followUp, err = d.handOverTx(ctx, tx, incidentID, jobID, willRetry)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("ending the run of %s: %w", incidentID, classify(err))
		}
		return followUp, nil
	}
	return runCtx, req, finish, true, nil
}

// startRunSQL records the run that holds the incident's lock.
const startRunSQL = `INSERT INTO collection_runs (incident_id, job_id, attempt) VALUES ($1, $2, $3)
ON CONFLICT (incident_id) DO UPDATE SET job_id = excluded.job_id, attempt = excluded.attempt,
    started_at = now(), heartbeat_at = now(), finished_at = NULL`

// handOverTx ends job jobID's run and passes the incident from it to its
// follow-up, if any, inside tx.
func (d *Deliveries) handOverTx(ctx context.Context, tx pgx.Tx, incidentID string, jobID int64, willRetry bool) (int64, error) {
	if _, err := tx.Exec(ctx, collectLockSQL, incidentID); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE collection_runs SET finished_at = now() WHERE incident_id = $1 AND job_id = $2`,
		incidentID, jobID); err != nil {
		return 0, err
	}
	row, ok, err := readJobRow(ctx, tx, incidentID)
	if err != nil || !ok || row.current != jobID {
		return 0, err // another job took the incident over
	}
	followUp, err := d.promoteFollowUpTx(ctx, tx, incidentID, row)
	if err != nil || followUp != 0 || willRetry {
		return followUp, err
	}
	_, err = tx.Exec(ctx, `DELETE FROM collection_jobs WHERE incident_id = $1 AND job_id = $2`, incidentID, jobID)
	return 0, err
}

// promoteFollowUpTx makes the incident's parked follow-up, if row names
// one, due now and the incident's current job, and returns its id; 0 when
// there is none.
func (d *Deliveries) promoteFollowUpTx(ctx context.Context, tx pgx.Tx, incidentID string, row jobRow) (int64, error) {
	if row.followUp == 0 {
		return 0, nil
	}
	f, err := d.Queue.JobTx(ctx, tx, row.followUp)
	if err != nil {
		return 0, err
	}
	if f.State == JobFinished {
		row.followUp, row.followUpReq = 0, nil
		return 0, writeJobRow(ctx, tx, incidentID, row)
	}
	if err := d.Queue.MakeDueTx(ctx, tx, row.followUp); err != nil {
		return 0, err
	}
	req := requestOr(row.followUpReq, f.Request)
	return row.followUp, writeJobRow(ctx, tx, incidentID, jobRow{current: row.followUp, request: &req})
}

// Rescue is what RescueAbandoned did with a job.
type Rescue struct {
	// Rescued is set when the job's run was abandoned and the job was
	// cancelled.
	Rescued bool
	// Next is the job that takes the collection over: the incident's
	// waiting follow-up, made due now, or a new job; 0 when none does.
	Next int64
	// Exhausted is set when the abandoned run was the job's last attempt:
	// the collection has failed, as River's rescuer would have decided.
	Exhausted bool
}

// runLockHeldSQL reports whether anyone holds incident $1's run lock
// (pg_locks sees every session's locks).
const runLockHeldSQL = `WITH k AS (SELECT ` + runLockKey + ` AS k)
SELECT EXISTS (SELECT 1 FROM pg_locks, k WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = ((k.k >> 32) & 4294967295)::oid AND objid = (k.k & 4294967295)::oid)`

// rescueRunSQL reads, beside runLockHeldSQL's answer, the run that job $2
// recorded in its attempt $3, if it got that far, whether its heartbeat
// (or its end) is older than $4 microseconds, and the database's clock.
const rescueRunSQL = `SELECT (` + runLockHeldSQL + `),
       COALESCE(r.job_id = $2 AND r.attempt = $3, false),
       COALESCE(COALESCE(r.finished_at, r.heartbeat_at) < now() - $4::bigint * interval '1 microsecond', false),
       now()
FROM (SELECT 1) AS one LEFT JOIN collection_runs r ON r.incident_id = $1`

// RescueAbandoned hands the collection of incidentID over from job jobID,
// which the queue reports as running, when the job's run was abandoned by
// a process that died: the incident's run lock is free (its session ended
// with the process) and the run's heartbeat (or its end, were the queue
// never told of it) is older than staleAfter; or the job never took the
// lock and was fetched longer than staleAfter ago. A live run is never
// rescued: it holds the lock, and it stops by itself (StartRun's runCtx) if
// it loses it, within a heartbeat, well before staleAfter.
//
// The job is cancelled (the queue leaves a running job in its state, marked
// so that it is cancelled later); the collection goes on in the incident's
// parked follow-up, made due now, or in a new job with the attempts the
// dead one had left. When it had none left, the collection has failed: the
// sources still pending or running say so.
func (d *Deliveries) RescueAbandoned(ctx context.Context, incidentID string, jobID int64, staleAfter time.Duration) (Rescue, error) {
	if d.Queue == nil {
		return Rescue{}, errors.New("rescuing a collection: no job queue is configured")
	}
	// Without locks first, so that the sweeps of live runs stay cheap: a
	// live run holds the lock.
	var held bool
	if err := d.Store.pool.QueryRow(ctx, runLockHeldSQL, incidentID).Scan(&held); err != nil || held {
		if err != nil {
			return Rescue{}, fmt.Errorf("rescuing the collection of %s from job %d: %w", incidentID, jobID, classify(err))
		}
		return Rescue{}, nil
	}
	var res Rescue
	err := pgx.BeginFunc(ctx, d.Store.pool, func(tx pgx.Tx) error {
		res = Rescue{}
		if _, err := tx.Exec(ctx, collectLockSQL, incidentID); err != nil {
			return err
		}
		j, err := d.Queue.JobTx(ctx, tx, jobID)
		if err != nil || j.State != JobRunning || j.Cancelling {
			return err
		}
		var (
			lockHeld, thisAttemptsRun, runStale bool
			now                                 time.Time
		)
		if err := tx.QueryRow(ctx, rescueRunSQL, incidentID, jobID, j.Attempt, staleAfter.Microseconds()).
			Scan(&lockHeld, &thisAttemptsRun, &runStale, &now); err != nil {
			return err
		}
		fetchedLongAgo := !j.AttemptedAt.IsZero() && j.AttemptedAt.Before(now.Add(-staleAfter))
		if lockHeld || !(thisAttemptsRun && runStale || !thisAttemptsRun && fetchedLongAgo) {
			return nil
		}
		if err := d.Queue.CancelTx(ctx, tx, jobID); err != nil {
			return fmt.Errorf("cancelling job %d: %w", jobID, err)
		}
		res.Rescued = true
		row, ok, err := readJobRow(ctx, tx, incidentID)
		if err != nil || !ok || row.current != jobID {
			return err // the incident had moved on from this job
		}
		if res.Next, err = d.promoteFollowUpTx(ctx, tx, incidentID, row); err != nil || res.Next != 0 {
			return err
		}
		if j.Attempt >= j.MaxAttempts {
			res.Exhausted = true
			if _, err := tx.Exec(ctx, `DELETE FROM collection_jobs WHERE incident_id = $1`, incidentID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE collection_status SET state = 'failed', finished_at = now(), updated_at = now(),
				error = 'the process collecting it stopped during its last attempt'
				WHERE incident_id = $1 AND state IN ('pending', 'running')`, incidentID)
			return err
		}
		req := requestOr(row.request, j.Request)
		if res.Next, err = d.Queue.EnqueueTx(ctx, tx, req, EnqueueOpts{MaxAttempts: j.MaxAttempts - j.Attempt, RescuedFrom: jobID}); err != nil {
			return err
		}
		return writeJobRow(ctx, tx, incidentID, jobRow{current: res.Next, request: &req})
	})
	if err != nil {
		return Rescue{}, fmt.Errorf("rescuing the collection of %s from job %d: %w", incidentID, jobID, classify(err))
	}
	return res, nil
}

// releaseLock unlocks and returns the connection to the pool; a connection
// that cannot unlock is closed, which releases the lock too.
func releaseLock(conn *pgxpool.Conn, incidentID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+runLockKey+`)`, incidentID); err != nil {
		_ = conn.Conn().Close(ctx)
	}
	conn.Release()
}
