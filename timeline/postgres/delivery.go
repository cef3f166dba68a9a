package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Deliveries is the Postgres timeline.DeliveryStore. It writes events through
// Store and queues collection jobs through Queue, all inside one transaction
// per delivery.
//
// It keeps one job per incident waiting (collection.go), which the queue's
// own unique jobs cannot express: they must count running jobs as
// duplicates, which would drop the one follow-up that a trigger arriving
// mid-run has to leave. The rules, applied under a per-incident transaction
// lock:
//   - a request joins the incident's job that has not started its run yet
//     (it waits, is due, or waits to retry), merging its overrides into the
//     request the job will run;
//   - else, when the incident's job is running, the request queues a
//     follow-up parked until that run ends (StartRun's finish hands the
//     incident over to it), so it is never fetched, and never seen as
//     running, beside the run it follows;
//   - else it queues a job due now, which becomes the incident's job.
type Deliveries struct {
	Store *Store
	// Queue runs the collection jobs; cmd sets it to collectors/jobs.Queue,
	// on River. Required to record deliveries that queue collections, to
	// rescue them and to delete incidents whose collections are queued.
	Queue Queue
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
	if len(dl.Collect) > 0 && d.Queue == nil {
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
