package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

var _ timeline.IncidentDeleter = (*Deliveries)(nil)

// pruneBatch is how many rows one statement of a pruning deletes, so that
// no statement holds locks or builds WAL for long however much is due.
const pruneBatch = 5000

// PruneDeliveries forgets the webhook deliveries received before cutoff and
// returns how many it forgot. A delivery forgotten is no longer recognised
// as a duplicate: cutoff must be older than any vendor's redelivery window.
func (s *Store) PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE (receiver, id) IN (
			SELECT receiver, id FROM webhook_deliveries WHERE received_at < $1 LIMIT $2)`, cutoff.UTC(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("pruning webhook deliveries: %w", classify(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

// DeleteIncident implements timeline.IncidentDeleter, in one transaction.
// It takes the incident's row, the feed's write lock and the incident's
// queuing lock in the order every other writer does (so it waits for
// them, never deadlocks with them), then the run lock without waiting: a
// running collection, or one River has fetched and not started, is a
// conflict. Queued collections are cancelled through Queue.
func (d *Deliveries) DeleteIncident(ctx context.Context, id, by string) (timeline.IncidentRemoval, error) {
	var rm timeline.IncidentRemoval
	err := pgx.BeginFunc(ctx, d.Store.pool, func(tx pgx.Tx) error {
		var one int
		// FOR NO KEY UPDATE, as writeIncidentTx takes it: writers of the
		// incident's events (which hold writeLockID, then check their
		// foreign key) are not blocked by it.
		err := tx.QueryRow(ctx, `SELECT 1 FROM incidents WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, journalLockID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, collectLockSQL, id); err != nil {
			return err
		}
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(`+runLockKey+`)`, id).Scan(&free); err != nil {
			return err
		}
		if !free {
			return fmt.Errorf("%w: a collection of incident %s is running", timeline.ErrConflict, id)
		}
		if d.Queue != nil {
			if err := d.cancelQueuedTx(ctx, tx, id); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE incident_id = $1`, id)
		if err != nil {
			return err
		}
		rm.Events = int(tag.RowsAffected())
		for _, q := range []string{
			`DELETE FROM annotations WHERE incident_id = $1`,
			`DELETE FROM collection_status WHERE incident_id = $1`,
			`DELETE FROM collection_jobs WHERE incident_id = $1`,
			`DELETE FROM incidents WHERE id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO incident_removals (incident_id, seq, removed_by, events)
			VALUES ($1, nextval('event_seq'), $2, $3) RETURNING seq, removed_at`, id, by, rm.Events).Scan(&rm.Seq, &rm.RemovedAt); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FeedChannel, fmt.Sprint(rm.Seq))
		return err
	})
	if err != nil {
		return timeline.IncidentRemoval{}, fmt.Errorf("deleting incident %s: %w", id, classify(err))
	}
	rm.IncidentID, rm.By, rm.RemovedAt = id, by, rm.RemovedAt.UTC()
	return rm, nil
}

// cancelQueuedTx cancels the incident's collections that have not started,
// or returns ErrConflict when a worker has fetched one.
func (d *Deliveries) cancelQueuedTx(ctx context.Context, tx pgx.Tx, id string) error {
	jobs, err := d.Queue.UnfinishedTx(ctx, tx, id)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.State == JobRunning {
			return fmt.Errorf("%w: a collection of incident %s is running (job %d)", timeline.ErrConflict, id, j.ID)
		}
	}
	for _, j := range jobs {
		if err := d.Queue.CancelTx(ctx, tx, j.ID); err != nil {
			return fmt.Errorf("cancelling collection job %d: %w", j.ID, err)
		}
	}
	return nil
}

// DeleteIncidentsResolvedBefore deletes, with DeleteIncident, the incidents
// resolved before cutoff (open ones are kept whatever their age), oldest
// first, at most limit of them (all when limit <= 0). An incident whose
// collection is running is passed over until the next call. It returns the
// removals, and the first error after which it stopped.
func (d *Deliveries) DeleteIncidentsResolvedBefore(ctx context.Context, cutoff time.Time, by string, limit int) ([]timeline.IncidentRemoval, error) {
	var out []timeline.IncidentRemoval
	skipped := []string{}
	for limit <= 0 || len(out) < limit {
		// Oldest first through incidents_newest: resolved_at < cutoff
		// holds mostly for incidents that started before it.
		rows, err := d.Store.pool.Query(ctx, `SELECT id FROM incidents
			WHERE started_at < $1 AND resolved_at < $1 AND id <> ALL($2)
			ORDER BY started_at, id LIMIT 100`, cutoff.UTC(), skipped)
		if err != nil {
			return out, fmt.Errorf("incidents resolved before %s: %w", cutoff.UTC().Format(time.RFC3339), classify(err))
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return out, fmt.Errorf("incidents resolved before %s: %w", cutoff.UTC().Format(time.RFC3339), classify(err))
		}
		if len(ids) == 0 {
			return out, nil
		}
		for _, id := range ids {
			rm, err := d.DeleteIncident(ctx, id, by)
			switch {
			case errors.Is(err, timeline.ErrConflict), errors.Is(err, timeline.ErrNotFound):
				skipped = append(skipped, id) // running, or deleted meanwhile
				continue
			case err != nil:
				return out, err
			}
			out = append(out, rm)
			if limit > 0 && len(out) >= limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// feedRemovalsTx reads the removals of deleted incidents with seq in
// (after, upTo], at most limit, as feed entries (Event.Removal).
func feedRemovalsTx(ctx context.Context, tx pgx.Tx, after int64, limit int, upTo int64) ([]timeline.Event, error) {
	rows, err := tx.Query(ctx, `SELECT incident_id, seq, removed_at, removed_by, events FROM incident_removals
		WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2`, after, limit, upTo)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Event, error) {
		var rm timeline.IncidentRemoval
		if err := r.Scan(&rm.IncidentID, &rm.Seq, &rm.RemovedAt, &rm.By, &rm.Events); err != nil {
			return timeline.Event{}, err
		}
		rm.RemovedAt = rm.RemovedAt.UTC()
		return timeline.Event{IncidentID: rm.IncidentID, Seq: rm.Seq, Removal: &rm}, nil
	})
}
