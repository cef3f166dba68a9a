package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// sweepCandidatesSQL reads the live events a sweep may delete, through the
// (incident_id, occurred_at, occurred_ns, id) index.
const sweepCandidatesSQL = `SELECT ` + eventColumns + ` FROM events
WHERE incident_id = $1 AND source = $2 AND starts_with(id, $3) AND NOT deleted
  AND (occurred_at, occurred_ns) >= ($4, $5) AND (occurred_at, occurred_ns) <= ($6, $7)`

// tombstoneSQL turns rows into tombstones: their content goes, their keys,
// kind, time and version stay, and each draws a new seq for the feed.
const tombstoneSQL = `WITH gone AS (
UPDATE events SET deleted = true, actor = NULL, title = '', text = '', url = '', details = '{}',
    content_hash = $3, seq = nextval('event_seq'), updated_at = now()
WHERE incident_id = $1 AND id = ANY($2) AND NOT deleted
RETURNING seq)
SELECT count(*), COALESCE(max(seq), 0) FROM gone`

// SweepEvents implements timeline.Store. It holds the events write lock
// from reading the candidates to commit, so an event stored meanwhile (a
// live delivery) is either among the candidates or stored after the sweep.
func (s *Store) SweepEvents(ctx context.Context, sw timeline.Sweep) (int, error) {
	switch {
	case sw.IncidentID == "" || sw.Source == "":
		return 0, fmt.Errorf("%w: sweep: incident and source are required", timeline.ErrInvalid)
	case sw.IDPrefix == "":
		return 0, fmt.Errorf("%w: sweep of %s: an id prefix is required", timeline.ErrInvalid, sw.Source)
	case sw.End.Before(sw.Start):
		return 0, fmt.Errorf("%w: sweep of %s: the range ends before it starts", timeline.ErrInvalid, sw.IDPrefix)
	}
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockID); err != nil {
			return err
		}
		startUS, startNS := splitTime(sw.Start)
		endUS, endNS := splitTime(sw.End)
		rows, err := tx.Query(ctx, sweepCandidatesSQL, sw.IncidentID, sw.Source, sw.IDPrefix, startUS, startNS, endUS, endNS)
		if err != nil {
			return err
		}
		candidates, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Event, error) { return scanEvent(r) })
		if err != nil {
			return err
		}
		var gone []string
		for _, e := range candidates {
			if sw.KeepFunc == nil || !sw.KeepFunc(e) {
				gone = append(gone, e.ID)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		var count, maxSeq int64
		if err := tx.QueryRow(ctx, tombstoneSQL, sw.IncidentID, gone, tombstoneHash).Scan(&count, &maxSeq); err != nil {
			return err
		}
		n = int(count)
		if count == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FeedChannel, strconv.FormatInt(maxSeq, 10))
		return err
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, err
		}
		return 0, fmt.Errorf("sweeping %s of %s: %w", sw.IDPrefix, sw.IncidentID, classify(err))
	}
	return n, nil
}
