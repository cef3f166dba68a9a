package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Deliveries is the Postgres timeline.DeliveryStore. It writes events through
// Store and queues collection jobs through EnqueueTxFunc, all inside one
// transaction per delivery.
//
// The queue is River's, on the same database. Deliveries does not use
// River's client (EnqueueTxFunc does), but it reads and amends collection
// jobs in River's river_job table to keep one job per incident waiting:
// River's unique jobs must count running jobs as duplicates, which would drop
// the one follow-up that a trigger arriving mid-run has to leave.
//
// The rules, applied under a per-incident transaction lock:
//   - a request joins the incident's job that has not started yet (available,
//     scheduled or retryable), merging its overrides into the job's args;
//   - else, when the incident's job is running (collection_jobs names it),
//     the request queues a follow-up parked until that run ends (StartRun's
//     finish hands the incident over to it), so it is never fetched, and
//     never seen as running, beside the run it follows;
//   - else it queues a job due now, which becomes the incident's job.
type Deliveries struct {
	Store *Store
	// EnqueueTxFunc inserts a collection job for req inside tx, due at at
	// (now when at is zero), and returns its id. The job's args must be
	// req's JSON encoding, so that a later request can be merged into the job
	// while it waits. cmd sets it to the River client's InsertTx.
	EnqueueTxFunc func(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest, at time.Time) (jobID int64, err error)
	// JobKind is the River kind of collection jobs.
	JobKind string
	// CancelJobTxFunc cancels the queued job jobID inside tx, for
	// DeleteIncident (retention.go). cmd sets it to the River client's
	// JobCancelTx.
	CancelJobTxFunc func(ctx context.Context, tx pgx.Tx, jobID int64) error
	// Sources are the enabled sources: queuing a collection for an incident
	// that has no collection status yet records them as pending.
	Sources []string
	// ParkFor bounds how long a follow-up waits for the run it follows
	// (default 1h), in case that run ends without handing over (its job
	// was discarded by River's rescuer after a crash on its last attempt).
	// Set it above jobs.rescue_after + jobs.timeout.
	ParkFor time.Duration
	// HeartbeatInterval is how often a run touches its heartbeat over its
	// lock's connection (DefaultHeartbeatInterval when zero). A run whose
	// heartbeat fails has lost its lock and is cancelled.
	HeartbeatInterval time.Duration
	// CancelTxFunc cancels job jobID inside tx: River marks a running job
	// for cancellation (its rescuer finalises it later) and cancels a
	// waiting one at once. Required by RescueAbandoned; cmd sets it to the
	// River client's JobCancelTx.
	CancelTxFunc func(ctx context.Context, tx pgx.Tx, jobID int64) error
	// RequeueTxFunc inserts, inside tx, a collection job for req due now,
	// with maxAttempts attempts, taking over from the abandoned job
	// rescuedFrom. Required by RescueAbandoned; cmd sets it to the River
	// client's InsertTx.
	RequeueTxFunc func(ctx context.Context, tx pgx.Tx, req timeline.CollectRequest, maxAttempts int, rescuedFrom int64) (jobID int64, err error)
}

// DefaultHeartbeatInterval is how often a run touches its heartbeat.
const DefaultHeartbeatInterval = 2 * time.Second

var _ timeline.DeliveryStore = (*Deliveries)(nil)

// errDuplicate rolls back the transaction of a delivery seen before.
var errDuplicate = errors.New("duplicate delivery")

// RecordDelivery implements timeline.DeliveryStore. The delivery id is
// inserted first, so a concurrent copy of the same delivery waits on its
// unique key until the first commits, then finds it and changes nothing.
// Journal entries are written to the live journal and join the incidents
// that cover them; every incident of the delivery is then joined with the
// journal's events inside its window and scope (see Store.JoinJournal).
func (d *Deliveries) RecordDelivery(ctx context.Context, dl timeline.Delivery) (timeline.DeliveryResult, error) {
	var res timeline.DeliveryResult
	for _, inc := range dl.Incidents {
		if inc.ID == "" {
			return res, fmt.Errorf("%w: incident id is empty", timeline.ErrInvalid)
		}
		if inc.WindowEnd.Before(inc.WindowStart) {
			return res, fmt.Errorf("%w: incident %s: window ends before it starts", timeline.ErrInvalid, inc.ID)
		}
	}
	for _, req := range dl.Collect {
		if err := req.Validate(); err != nil {
			return res, err
		}
	}
	if len(dl.Collect) > 0 && (d.EnqueueTxFunc == nil || d.JobKind == "") {
		return res, errors.New("recording delivery: no job queue is configured")
	}
	err := pgx.BeginFunc(ctx, d.Store.pool, func(tx pgx.Tx) error {
		res = timeline.DeliveryResult{}
		if dl.ID != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (receiver, id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				dl.Receiver, dl.ID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return errDuplicate
			}
		}
		// A stable order of row and advisory locks keeps two deliveries
		// touching the same incidents from deadlocking.
		incs := append([]timeline.Incident(nil), dl.Incidents...)
		sort.Slice(incs, func(i, j int) bool { return incs[i].ID < incs[j].ID })
		for _, inc := range incs {
			if err := writeIncidentTx(ctx, tx, inc, timeline.Incident.Merge); err != nil {
				return fmt.Errorf("incident %s: %w", inc.ID, err)
			}
		}
		events := dl.Events
		if len(dl.Journal) > 0 {
			joined, err := writeJournalTx(ctx, tx, dl.Journal)
			if err != nil {
				return fmt.Errorf("live journal: %w", err)
			}
			events = append(append([]timeline.Event(nil), events...), joined...)
		}
		// The journal's events inside each incident's window and scope
		// join it at once, whether it is new or its window grew.
		for _, inc := range incs {
			if _, err := joinJournalTx(ctx, tx, inc.ID); err != nil {
				return fmt.Errorf("incident %s: live journal: %w", inc.ID, err)
			}
		}
		if len(events) > 0 {
			var err error
			if res.Events, err = d.Store.UpsertEventsTx(ctx, tx, events); err != nil {
				return err
			}
		}
		order := make([]int, len(dl.Collect))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return dl.Collect[order[a]].IncidentID < dl.Collect[order[b]].IncidentID })
		res.JobIDs = make([]int64, len(dl.Collect))
		for _, i := range order {
			id, err := d.enqueueTx(ctx, tx, dl.Collect[i])
			if err != nil {
				return fmt.Errorf("queuing collection of %s: %w", dl.Collect[i].IncidentID, err)
			}
			res.JobIDs[i] = id
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		return timeline.DeliveryResult{Duplicate: true}, nil
	}
	if err != nil {
		return timeline.DeliveryResult{}, fmt.Errorf("recording %s delivery %s: %w", dl.Receiver, dl.ID, classify(err))
	}
	return res, nil
}

// insertIncidentSQL creates an incident that does not exist yet.
const insertIncidentSQL = `
INSERT INTO incidents (id, title, service_id, urgency, source, url, started_at, resolved_at,
                       window_start, window_end, repos, channels, status_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (id) DO NOTHING`

// updateIncidentSQL writes a merged incident, moving updated_at only when a
// column really changed.
const updateIncidentSQL = `
UPDATE incidents SET title = $2, service_id = $3, urgency = $4, source = $5, url = $6, started_at = $7,
    resolved_at = $8, window_start = $9, window_end = $10, repos = $11, channels = $12, status_at = $13,
    updated_at = now()
WHERE id = $1 AND (title, service_id, urgency, source, url, started_at, resolved_at, window_start,
                   window_end, repos, channels, status_at)
    IS DISTINCT FROM ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

// writeIncidentTx creates inc, or combines it with the stored incident under
// the row's lock (FOR NO KEY UPDATE: the key never changes, and a stronger
// lock would block the foreign-key checks of writers of the incident's
// events, who hold writeLockID, while this transaction waits for it in
// joinJournalTx: a deadlock): timeline.Incident.Merge for a delivery's view,
// timeline.Incident.Refresh for a collection's (both keep the lifecycle
// rule). An incident created by a concurrent writer between the lookup and
// the insert is combined with on the second pass.
func writeIncidentTx(ctx context.Context, tx pgx.Tx, inc timeline.Incident, combine func(stored, later timeline.Incident) timeline.Incident) error {
	for range 2 {
		stored, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 FOR NO KEY UPDATE`, inc.ID))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			tag, err := tx.Exec(ctx, insertIncidentSQL, incidentRowArgs(inc)...)
			if err != nil || tag.RowsAffected() == 1 {
				return err
			}
			continue // created meanwhile: merge into it
		case err != nil:
			return err
		}
		_, err = tx.Exec(ctx, updateIncidentSQL, incidentRowArgs(combine(stored, inc))...)
		return err
	}
	return fmt.Errorf("incident %s could be neither created nor found", inc.ID)
}

func incidentRowArgs(inc timeline.Incident) []any {
	var statusAt *time.Time
	if !inc.StatusAt.IsZero() {
		t := inc.StatusAt.UTC()
		statusAt = &t
	}
	return append(incidentArgs(inc), statusAt)
}

// collectLockSQL serialises the queuing of one incident's collections for
// the rest of the transaction. Advisory locks are database-wide, so the key
// names the schema too.
const collectLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('groundwork:collect:' || current_schema() || ':' || $1::text, 0))`

// findQueuedSQL finds the incident's job that has not started (available,
// pending, scheduled or retryable), the oldest first. FOR UPDATE makes
// River's fetch (FOR UPDATE SKIP LOCKED) pass it by until the transaction
// ends; if River got to it first, the row no longer matches once its lock is
// released and it is not returned.
const findQueuedSQL = `SELECT id, args, state::text FROM river_job
WHERE kind = $1 AND state IN ('available', 'pending', 'scheduled', 'retryable')
  AND args @> jsonb_build_object('incident_id', $2::text) AND id <> $3
ORDER BY id LIMIT 1 FOR UPDATE`

// joinQueuedSQL rewrites a queued job's args with the merged request. A job
// waiting to retry after a failure is made due now: a new trigger brings news
// worth acting on at once.
const joinQueuedSQL = `UPDATE river_job SET args = $2,
    scheduled_at = CASE WHEN state = 'retryable' THEN LEAST(scheduled_at, now()) ELSE scheduled_at END
WHERE id = $1`

// activeSQL returns the incident's current job when it has not finished.
const activeSQL = `SELECT c.job_id FROM collection_jobs c JOIN river_job j ON j.id = c.job_id
WHERE c.incident_id = $1 AND j.state NOT IN ('completed', 'cancelled', 'discarded')`

const setActiveSQL = `INSERT INTO collection_jobs (incident_id, job_id) VALUES ($1, $2)
ON CONFLICT (incident_id) DO UPDATE SET job_id = excluded.job_id, updated_at = now()`

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

// enqueueTx queues req's collection by the rules of Deliveries.
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
	var id int64
	var raw []byte
	var state string
	err := tx.QueryRow(ctx, findQueuedSQL, d.JobKind, req.IncidentID, 0).Scan(&id, &raw, &state)
	switch {
	case err == nil:
		return id, d.join(ctx, tx, id, raw, req)
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, err
	}
	var active int64
	err = tx.QueryRow(ctx, activeSQL, req.IncidentID).Scan(&active)
	switch {
	case err == nil:
		park := d.ParkFor
		if park <= 0 {
			park = time.Hour
		}
		return d.EnqueueTxFunc(ctx, tx, req, time.Now().Add(park))
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, err
	}
	if id, err = d.EnqueueTxFunc(ctx, tx, req, time.Time{}); err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, setActiveSQL, req.IncidentID, id)
	return id, err
}

// join merges req into the queued job id whose args are raw.
func (d *Deliveries) join(ctx context.Context, tx pgx.Tx, id int64, raw []byte, req timeline.CollectRequest) error {
	var queued timeline.CollectRequest
	if err := json.Unmarshal(raw, &queued); err != nil {
		return fmt.Errorf("reading queued job %d: %w", id, err)
	}
	before, err := json.Marshal(queued)
	if err != nil {
		return err
	}
	args, err := json.Marshal(queued.Merge(req))
	if err != nil {
		return err
	}
	if string(before) == string(args) {
		return nil
	}
	_, err = tx.Exec(ctx, joinQueuedSQL, id, args)
	return err
}

// StartRun is called by the worker of job jobID, in its attempt attempt,
// before it collects incidentID. It takes the incident's run lock without
// waiting (ok is false when another run holds it), records the job as the
// incident's current one and the run as started. The lock lives on a
// connection of its own and dies with it, so a crashed process never leaves
// it behind. Over that connection the run touches its heartbeat every
// HeartbeatInterval; should the connection fail (the lock is then lost),
// runCtx, which is derived from ctx, is cancelled, so that the run stops
// before another takes the incident over.
//
// finish must be called once, when the run ends: it releases the lock and, when a
// follow-up was queued meanwhile, makes it due now and returns its id (the
// follow-up takes over: a failed run need not be retried). Otherwise the
// incident is left to this job when willRetry is set, or to nobody. The
// hand-over, the run's end and the unlock commit together, so
// RescueAbandoned never mistakes a run that ended for one that died.
func (d *Deliveries) StartRun(ctx context.Context, incidentID string, jobID int64, attempt int) (runCtx context.Context, finish func(ctx context.Context, willRetry bool) (followUp int64, err error), ok bool, err error) {
	conn, err := d.Store.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, false, fmt.Errorf("run lock of %s: %w", incidentID, classify(err))
	}
	// The server frees the lock when the connection dies; keepalives let
	// it notice within seconds a host that vanished without closing it.
	if _, err := conn.Exec(ctx, `SELECT set_config('tcp_keepalives_idle', '10', false),
		set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)`); err != nil {
		conn.Release()
		return nil, nil, false, fmt.Errorf("run lock of %s: %w", incidentID, classify(err))
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+runLockKey+`)`, incidentID).Scan(&ok); err != nil {
		conn.Release()
		return nil, nil, false, fmt.Errorf("run lock of %s: %w", incidentID, classify(err))
	}
	if !ok {
		conn.Release()
		return nil, nil, false, nil
	}
	err = pgx.BeginFunc(ctx, d.Store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, collectLockSQL, incidentID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, setActiveSQL, incidentID, jobID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, startRunSQL, incidentID, jobID, attempt)
		return err
	})
	if err != nil {
		releaseLock(conn, incidentID)
		return nil, nil, false, fmt.Errorf("starting the run of %s: %w", incidentID, classify(err))
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
	return runCtx, finish, true, nil
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
	var current int64
	err := tx.QueryRow(ctx, `SELECT job_id FROM collection_jobs WHERE incident_id = $1`, incidentID).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && current != jobID) {
		return 0, nil // another job took the incident over
	}
	if err != nil {
		return 0, err
	}
	followUp, err := d.promoteFollowUpTx(ctx, tx, incidentID, jobID)
	if err != nil || followUp != 0 || willRetry {
		return followUp, err
	}
	_, err = tx.Exec(ctx, `DELETE FROM collection_jobs WHERE incident_id = $1 AND job_id = $2`, incidentID, jobID)
	return 0, err
}

// promoteFollowUpTx makes the incident's waiting follow-up (a job other than
// jobID that has not started) due now and the incident's current job, and
// returns its id; 0 when there is none.
func (d *Deliveries) promoteFollowUpTx(ctx context.Context, tx pgx.Tx, incidentID string, jobID int64) (int64, error) {
	var followUp int64
	var raw []byte
	var state string
	err := tx.QueryRow(ctx, findQueuedSQL, d.JobKind, incidentID, jobID).Scan(&followUp, &raw, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = LEAST(scheduled_at, now())
		WHERE id = $1`, followUp); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, setActiveSQL, incidentID, followUp); err != nil {
		return 0, err
	}
	return followUp, nil
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

// rescueCheckSQL reads what decides whether a running job's run was
// abandoned: the job's state, attempts and args; whether it is already being
// cancelled; whether the incident's run lock is held by anyone (pg_locks
// sees every session's locks); and the run it recorded, if this attempt got
// that far. With FOR UPDATE OF j appended, River cannot finish the job while
// the decision is taken.
const rescueCheckSQL = `WITH k AS (SELECT ` + runLockKey + ` AS k)
SELECT j.state::text, j.attempt, j.max_attempts, j.args, j.metadata ? 'cancel_attempted_at',
       COALESCE(j.attempted_at < now() - $3::bigint * interval '1 microsecond', false),
       EXISTS (SELECT 1 FROM pg_locks, k WHERE locktype = 'advisory' AND granted AND objsubid = 1
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = ((k.k >> 32) & 4294967295)::oid AND objid = (k.k & 4294967295)::oid),
       r.job_id IS NOT NULL AND r.job_id = j.id AND r.attempt = j.attempt,
       COALESCE(COALESCE(r.finished_at, r.heartbeat_at) < now() - $3::bigint * interval '1 microsecond', false)
FROM river_job j LEFT JOIN collection_runs r ON r.incident_id = $1
WHERE j.id = $2`

// RescueAbandoned hands the collection of incidentID over from job jobID,
// which River reports as running, when the job's run was abandoned by a
// process that died: the incident's run lock is free (its session ended
// with the process) and the run's heartbeat (or its end, were River never
// told of it) is older than staleAfter; or the job never took the lock and
// was fetched longer than staleAfter ago. A live run is never rescued: it
// holds the lock, and it stops by itself (StartRun's runCtx) if it loses
// it, within a heartbeat, well before staleAfter.
//
// The job is cancelled through CancelTxFunc (River leaves a running job in
// its state, marked so that its rescuer cancels it later); the collection
// goes on in the incident's waiting follow-up, made due now, or in a new job
// from RequeueTxFunc with the attempts the dead one had left. When it had
// none left, the collection has failed: the sources still pending or
// running say so.
func (d *Deliveries) RescueAbandoned(ctx context.Context, incidentID string, jobID int64, staleAfter time.Duration) (Rescue, error) {
	if d.CancelTxFunc == nil || d.RequeueTxFunc == nil {
		return Rescue{}, errors.New("rescuing a collection: CancelTxFunc and RequeueTxFunc are required")
	}
	// abandoned reads the facts, without locks first (the sweeps of live
	// runs stay cheap), then again under the incident's lock and the job's
	// row lock, where the decision is taken.
	var (
		attempt, maxAttempts int
		args                 []byte
	)
	abandoned := func(q interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}, suffix string) (bool, error) {
		var (
			state                                string
			cancelling, fetchedLongAgo, lockHeld bool
			thisAttemptsRun, runStale            bool
		)
		err := q.QueryRow(ctx, rescueCheckSQL+suffix, incidentID, jobID, staleAfter.Microseconds()).Scan(&state, &attempt, &maxAttempts, &args,
			&cancelling, &fetchedLongAgo, &lockHeld, &thisAttemptsRun, &runStale)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if state != "running" || cancelling || lockHeld {
			return false, nil
		}
		return thisAttemptsRun && runStale || !thisAttemptsRun && fetchedLongAgo, nil
	}
	if ok, err := abandoned(d.Store.pool, ""); err != nil || !ok {
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
		if ok, err := abandoned(tx, " FOR UPDATE OF j"); err != nil || !ok {
			return err
		}
		if err := d.CancelTxFunc(ctx, tx, jobID); err != nil {
			return fmt.Errorf("cancelling job %d: %w", jobID, err)
		}
		res.Rescued = true
		var current int64
		err := tx.QueryRow(ctx, `SELECT job_id FROM collection_jobs WHERE incident_id = $1`, incidentID).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && current != jobID) {
			return nil // the incident had moved on from this job
		}
		if err != nil {
			return err
		}
		if res.Next, err = d.promoteFollowUpTx(ctx, tx, incidentID, jobID); err != nil || res.Next != 0 {
			return err
		}
		if attempt >= maxAttempts {
			res.Exhausted = true
			if _, err := tx.Exec(ctx, `DELETE FROM collection_jobs WHERE incident_id = $1`, incidentID); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE collection_status SET state = 'failed', finished_at = now(), updated_at = now(),
				error = 'the process collecting it stopped during its last attempt'
				WHERE incident_id = $1 AND state IN ('pending', 'running')`, incidentID)
			return err
		}
		var req timeline.CollectRequest
		if err := json.Unmarshal(args, &req); err != nil {
			return fmt.Errorf("reading job %d: %w", jobID, err)
		}
		if res.Next, err = d.RequeueTxFunc(ctx, tx, req, maxAttempts-attempt, jobID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, setActiveSQL, incidentID, res.Next)
		return err
	})
	if err != nil {
		return Rescue{}, fmt.Errorf("rescuing the collection of %s from job %d: %w", incidentID, jobID, classify(err))
	}
	return res, nil
}

// LiveIncidents implements timeline.DeliveryStore.
func (d *Deliveries) LiveIncidents(ctx context.Context, q timeline.LiveScope) ([]timeline.Incident, error) {
	if q.Repo == "" && q.Channel == "" && !q.AnyPlace {
		return nil, fmt.Errorf("%w: live scope names neither a repository nor a channel, nor any place", timeline.ErrInvalid)
	}
	if q.To.Before(q.From) {
		return nil, fmt.Errorf("%w: live scope ends before it starts", timeline.ErrInvalid)
	}
	var b queryBuilder
	if q.Repo != "" {
		// Repository names are case-insensitive (timeline.ScopeRepo):
		// match them so, through the incidents_repos_lower index.
		b.where("groundwork_lower_all(repos) @> ARRAY[lower(%s::text)]", q.Repo)
	}
	if q.Channel != "" {
		b.where("channels @> ARRAY[%s::text]", q.Channel)
	}
	b.where(windowMeetsSQL("", "%[1]s", "%[2]s"), q.From.UTC(), q.To.UTC())
	// The same, in the form of the incidents_open and incidents_window
	// indexes: a channel or repository in every incident's scope must not
	// make this read them all.
	b.where("((resolved_at IS NULL AND window_start <= %[1]s) OR "+windowOverlaps("", "%[2]s", "%[1]s")+")", q.To.UTC(), q.From.UTC())
	rows, err := d.Store.pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE `+b.clause()+
		` ORDER BY started_at, id LIMIT 1000`, b.args...)
	if err != nil {
		return nil, fmt.Errorf("incidents in live scope: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Incident, error) { return scanIncident(r) })
	if err != nil {
		return nil, fmt.Errorf("incidents in live scope: %w", classify(err))
	}
	return out, nil
}

// runLockKey is the session advisory lock that keeps two runs of one
// incident's collection apart, in any process sharing the database.
const runLockKey = `hashtextextended('groundwork:run:' || current_schema() || ':' || $1::text, 0)`

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
