package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Coverage spans (see migration 00084): per source and scope, the stretches
// over which live capture ran without a gap that the vendor's retries would
// not have filled.

// closeStaleSQL closes open spans whose last heartbeat is older than the
// tolerance: the silence was longer than the vendor's retries reach.
const closeStaleSQL = `UPDATE live_coverage SET open = false
WHERE open AND source = $1 AND scope = ANY($2) AND covered_to < $3::timestamptz - $4 * interval '1 microsecond'`

// extendSQL extends each scope's open span to $3, or opens one there.
const extendSQL = `INSERT INTO live_coverage (source, scope, covered_from, covered_to, open, tolerance)
SELECT $1, s, $3, $3, true, $4 * interval '1 microsecond' FROM unnest($2::text[]) AS s
ON CONFLICT (source, scope) WHERE open DO UPDATE SET
    covered_to = GREATEST(live_coverage.covered_to, excluded.covered_to), tolerance = excluded.tolerance`

// Heartbeat records that live capture of source was running at at for every
// scope, a place of kind: each scope's open span is extended to at, unless it was last
// extended more than tolerance before at (the vendor's retry window: a
// longer silence may have lost deliveries for good), in which case it is
// closed and a new span opens at at. Several processes may heartbeat at once.
func (s *Store) Heartbeat(ctx context.Context, source string, kind timeline.ScopeKind, scopes []string, at time.Time, tolerance time.Duration) error {
	keys := journalScopes(kind, scopes)
	if len(keys) == 0 {
		return nil
	}
	at = at.UTC()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, closeStaleSQL, source, keys, at, tolerance.Microseconds()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, extendSQL, source, keys, at, tolerance.Microseconds())
		return err
	})
	if err != nil {
		return fmt.Errorf("live coverage heartbeat of %s: %w", source, classify(err))
	}
	return nil
}

func journalScopes(kind timeline.ScopeKind, scopes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, sc := range scopes {
		k := kind.Key(sc)
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// BreakCoverage records that live capture of source in scope, a place of
// kind, cannot vouch for [from, to] (a delivery about that stretch was refused): the open span
// is closed, so the next heartbeat starts a new one, and the stretch is cut
// out of every span.
func (s *Store) BreakCoverage(ctx context.Context, source string, kind timeline.ScopeKind, scope string, from, to time.Time) error {
	key := kind.Key(scope)
	from, to = from.UTC(), to.UTC()
	if to.Before(from) {
		from, to = to, from
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE live_coverage SET open = false WHERE open AND source = $1 AND scope = $2`, []any{source, key}},
			{`DELETE FROM live_coverage WHERE source = $1 AND scope = $2 AND covered_from >= $3 AND covered_to <= $4`,
				[]any{source, key, from, to}},
			// A span holding the whole stretch is split in two.
			{`INSERT INTO live_coverage (source, scope, covered_from, covered_to, open, tolerance)
			  SELECT source, scope, $4, covered_to, false, tolerance FROM live_coverage
			  WHERE source = $1 AND scope = $2 AND covered_from < $3 AND covered_to > $4`, []any{source, key, from, to}},
			{`UPDATE live_coverage SET covered_to = $3 WHERE source = $1 AND scope = $2 AND covered_from < $3 AND covered_to > $3`,
				[]any{source, key, from}},
			{`UPDATE live_coverage SET covered_from = $3
			  WHERE source = $1 AND scope = $2 AND covered_from >= $4 AND covered_from < $3 AND covered_to > $3`,
				[]any{source, key, to, from}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("breaking live coverage of %s %s: %w", source, scope, classify(err))
	}
	return nil
}

// Covered returns the coverage spans of source in scope, a place of kind,
// that overlap [from, to], in time order, as of now: an open span whose last heartbeat is within
// its tolerance reaches up to now, since any delivery lost since then is
// still being retried by the vendor.
func (s *Store) Covered(ctx context.Context, source string, kind timeline.ScopeKind, scope string, from, to, now time.Time) ([]timeline.Span, error) {
	rows, err := s.pool.Query(ctx, `SELECT covered_from,
			CASE WHEN open AND covered_to >= $5::timestamptz - tolerance THEN GREATEST(covered_to, $5) ELSE covered_to END
		FROM live_coverage
		WHERE source = $1 AND scope = $2 AND covered_from <= $4 AND (covered_to >= $3 OR open)
		ORDER BY covered_from`, source, kind.Key(scope), from.UTC(), to.UTC(), now.UTC())
	if err != nil {
		return nil, fmt.Errorf("live coverage of %s %s: %w", source, scope, classify(err))
	}
	spans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Span, error) {
		var sp timeline.Span
		err := r.Scan(&sp.From, &sp.To)
		sp.From, sp.To = sp.From.UTC(), sp.To.UTC()
		return sp, err
	})
	if err != nil {
		return nil, fmt.Errorf("live coverage of %s %s: %w", source, scope, classify(err))
	}
	out := spans[:0]
	for _, sp := range spans {
		if !sp.To.Before(from) {
			out = append(out, sp)
		}
	}
	return out, nil
}
