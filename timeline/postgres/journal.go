package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The live journal (see timeline.JournalEntry and migrations 00084 and
// 00376). An entry's scope_kind says which column of incidents its scope is
// matched against: timeline.ScopeChannel entries the channels,
// timeline.ScopeRepo entries the repos, in lower case (coveringSQL and
// joinJournalSQL).

// writeJournalSQL keeps the newest version of each entry by the same rule as
// the events' upsert (see upsertChangedSQL): an older edit delivered late
// never replaces a newer one, and a deletion (a tombstone, kept so that a
// late retry of the original cannot bring it back) is replaced only by a
// newer version.
const writeJournalSQL = `INSERT INTO live_journal (source, scope, id, kind, occurred_at, occurred_ns, actor, title, text, url, details, content_hash, version, deleted, scope_kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (source, scope, id) DO UPDATE SET
    kind = excluded.kind, occurred_at = excluded.occurred_at, occurred_ns = excluded.occurred_ns,
    actor = excluded.actor, title = excluded.title, text = excluded.text, url = excluded.url,
    details = excluded.details, content_hash = excluded.content_hash, version = excluded.version,
    deleted = excluded.deleted, received_at = now()
WHERE live_journal.content_hash IS DISTINCT FROM excluded.content_hash
  AND (live_journal.version IS NULL OR excluded.version >= live_journal.version
       OR (excluded.version IS NULL AND NOT live_journal.deleted))`

// forgetJournalSQL turns a journal entry into its tombstone and returns its
// kind and time.
const forgetJournalSQL = `UPDATE live_journal SET deleted = true, actor = NULL, title = '', text = '', url = '', details = '{}',
    content_hash = $4, received_at = now()
WHERE source = $1 AND scope = $2 AND id = $3
RETURNING kind, occurred_at, occurred_ns`

// coveringSQL finds the incidents whose scope holds a journal scope $2 of
// kind $1 and whose window may hold [$3, $4] (windowMeetsSQL); the caller
// checks each event with Incident.Covers. Repositories compare in lower case.
var coveringSQL = `SELECT ` + incidentColumns + ` FROM incidents
WHERE CASE WHEN $1 = 'repo' THEN EXISTS (SELECT 1 FROM unnest(repos) r WHERE lower(r) = $2)
           ELSE channels @> ARRAY[$2::text] END
  AND ` + windowMeetsSQL("", "$3", "$4") + `
  AND ((resolved_at IS NULL AND window_start <= $4) OR tstzrange(window_start, window_end, '[]') &&
       tstzrange(LEAST($3::timestamptz, $4::timestamptz), GREATEST($3::timestamptz, $4::timestamptz), '[]'))
ORDER BY started_at, id`

// writeJournalTx writes entries to the journal and returns the events they
// bring to the incidents that cover them now, for the caller to upsert in
// the same transaction. It holds writeLockID, like every writer of events,
// before it looks for incidents: an incident created at the same moment
// either commits first, and is found here, or joins the journal after this
// transaction commits (joinJournalTx takes the same lock), so a live event
// never falls between the two.
func writeJournalTx(ctx context.Context, tx pgx.Tx, entries []timeline.JournalEntry) ([]timeline.Event, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, journalLockID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockID); err != nil {
		return nil, err
	}
	type group struct {
		kind          timeline.ScopeKind
		source, scope string
		events        []timeline.Event
	}
	var groups []*group
	byKey := map[[3]string]*group{}
	addToGroup := func(kind timeline.ScopeKind, source, scope string, e timeline.Event) {
		k := [3]string{string(kind), source, scope}
		g := byKey[k]
		if g == nil {
			g = &group{kind: kind, source: source, scope: scope}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.events = append(g.events, e)
	}
	for _, en := range entries {
		if !en.ScopeKind.Valid() {
			return nil, fmt.Errorf("%w: journal entry %s: scope kind %q is neither %q nor %q", timeline.ErrInvalid, en.Event.ID,
				en.ScopeKind, timeline.ScopeChannel, timeline.ScopeRepo)
		}
		scope := en.ScopeKind.Key(en.Scope)
		if scope == "" {
			return nil, fmt.Errorf("%w: journal entry %s: scope is empty", timeline.ErrInvalid, en.Event.ID)
		}
		e := en.Event
		e.Source = en.Source
		e.OccurredAt = e.OccurredAt.UTC()
		if en.Deleted {
			// The journal forgets the message's content, keeping its
			// tombstone, and the incidents that cover it get the tombstone
			// too (timeline.Event.Deleted).
			e.Deleted = true
		}
		if e.Deleted && (e.Kind == "" || e.OccurredAt.IsZero()) {
			// A deletion that names only the id: the stored entry gives
			// its kind and time; one never journaled leaves nothing to do.
			var us time.Time
			var ns int32
			err := tx.QueryRow(ctx, forgetJournalSQL, en.Source, scope, e.ID, tombstoneHash).Scan(&e.Kind, &us, &ns)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return nil, err
			}
			e.OccurredAt = us.UTC().Add(time.Duration(ns))
			addToGroup(en.ScopeKind, en.Source, scope, e)
			continue
		}
		check := e
		check.IncidentID = "journal" // journal rows belong to no incident yet
		if err := check.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", timeline.ErrInvalid, err)
		}
		r := encoded{e: &e}
		if err := r.encode(); err != nil {
			return nil, err
		}
		v := r.values() // a tombstone's content is empty
		if _, err := tx.Exec(ctx, writeJournalSQL, en.Source, scope, e.ID, e.Kind, r.us, r.ns, v[6],
			v[7], v[8], v[9], r.details, r.hash, r.version, e.Deleted, string(en.ScopeKind)); err != nil {
			return nil, err
		}
		addToGroup(en.ScopeKind, en.Source, scope, e)
	}
	var out []timeline.Event
	for _, g := range groups {
		from, to := g.events[0].OccurredAt, g.events[0].OccurredAt
		for _, e := range g.events {
			from, to = minTime(from, e.OccurredAt), maxTime(to, e.OccurredAt)
		}
		rows, err := tx.Query(ctx, coveringSQL, string(g.kind), g.scope, from.Truncate(time.Microsecond), to.Add(time.Microsecond))
		if err != nil {
			return nil, err
		}
		incs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Incident, error) { return scanIncident(r) })
		if err != nil {
			return nil, err
		}
		for _, inc := range incs {
			for _, e := range g.events {
				// An open incident's window runs up to now; the delivery's
				// own clock is the sender's, so an open window takes any
				// event from its start on (as coveringSQL does).
				if inc.Covers(e.OccurredAt, e.OccurredAt) {
					e.IncidentID = inc.ID
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// joinJournalSQL adds to incident $1 every journal event inside its window
// (windowCoversSQL) and scope that it does not hold yet, oldest first, with
// the journal's content and hash, so that the rows equal what an upsert of
// the same events writes. Events the incident already holds are left alone:
// they were written by live capture or by a collection, which read upstream
// at least as recently as the journal.
var joinJournalSQL = `WITH inc AS (
    SELECT id, window_start, window_end, resolved_at, channels,
           ARRAY(SELECT lower(r) FROM unnest(repos) r) AS repos
    FROM incidents WHERE id = $1
), cand AS (
    SELECT j.* FROM inc JOIN live_journal j ON j.scope_kind = 'channel' AND j.scope = ANY(inc.channels)
    WHERE NOT j.deleted AND ` + windowCoversSQL("inc.", "j.occurred_at", "j.occurred_ns") + `
    UNION ALL
    SELECT j.* FROM inc JOIN live_journal j ON j.scope_kind = 'repo' AND j.scope = ANY(inc.repos)
    WHERE NOT j.deleted AND ` + windowCoversSQL("inc.", "j.occurred_at", "j.occurred_ns") + `
), ins AS (
    INSERT INTO events (incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details, content_hash, version)
    SELECT $1, c.id, c.source, c.kind, c.occurred_at, c.occurred_ns, c.actor, c.title, c.text, c.url, c.details, c.content_hash, c.version
    FROM cand c
    WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.incident_id = $1 AND e.id = c.id)
    ORDER BY c.occurred_at, c.occurred_ns, c.id
    ON CONFLICT (incident_id, id) DO NOTHING
    RETURNING seq
)
SELECT count(*), COALESCE(max(seq), 0) FROM ins`

// journalLockID excludes writers of the journal (exclusive) from writers of
// incidents (shared): an incident written at the same moment as a journal
// entry either commits first, and writeJournalTx finds it, or looks for the
// entry after it committed. Taken before writeLockID, never after.
const journalLockID int64 = 0x67772d6a726e6c // "gw-jrnl"

// journalPendingSQL says whether joinJournalSQL would add anything.
var journalPendingSQL = joinJournalSQL[:strings.Index(joinJournalSQL, "), ins AS (")] + `)
SELECT EXISTS (SELECT 1 FROM cand c WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.incident_id = $1 AND e.id = c.id))`

// joinJournalTx joins the journal into incidentID's timeline (see
// joinJournalSQL) inside tx and returns how many events it added. Call it
// wherever an incident is created or its window or scope changes: it is
// idempotent. Like every writer of events it holds writeLockID, so seqs stay
// in commit order, and it wakes feed readers when it added anything.
func joinJournalTx(ctx context.Context, tx pgx.Tx, incidentID string) (int, error) {
	// Writers of incidents do not exclude one another, only writers of the
	// journal; and the feed's lock is taken only when there is something
	// to join, so that declaring an incident never waits for a collection
	// that is storing events.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, journalLockID); err != nil {
		return 0, err
	}
	var pending bool
	if err := tx.QueryRow(ctx, journalPendingSQL, incidentID).Scan(&pending); err != nil {
		return 0, err
	}
	if !pending {
		return 0, nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockID); err != nil {
		return 0, err
	}
	var n, maxSeq int64
	if err := tx.QueryRow(ctx, joinJournalSQL, incidentID).Scan(&n, &maxSeq); err != nil {
		return 0, err
	}
	if n > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FeedChannel, fmt.Sprint(maxSeq)); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// JoinJournal adds to the incident's timeline every journal event inside
// its window and scope that it does not hold yet, and returns how many it
// added. UpsertIncident and Deliveries.RecordDelivery call it by themselves
// for every incident they write; it is exported for callers that change an
// incident's window or scope some other way.
func (s *Store) JoinJournal(ctx context.Context, incidentID string) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		n, err = joinJournalTx(ctx, tx, incidentID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("joining the live journal into %s: %w", incidentID, classify(err))
	}
	return n, nil
}

// JoinJournalTx is JoinJournal inside the caller's transaction.
func (s *Store) JoinJournalTx(ctx context.Context, tx pgx.Tx, incidentID string) (int, error) {
	n, err := joinJournalTx(ctx, tx, incidentID)
	if err != nil {
		return 0, fmt.Errorf("joining the live journal into %s: %w", incidentID, classify(err))
	}
	return n, nil
}

// JournalEvents returns the journal's events of source in scope, a place of
// kind, with occurred_at in [from, to], in timeline order, for inspection
// and tests. Their IncidentID is empty.
func (s *Store) JournalEvents(ctx context.Context, source string, kind timeline.ScopeKind, scope string, from, to time.Time) ([]timeline.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT '', id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details, 0::bigint, version, deleted
		FROM live_journal WHERE source = $1 AND scope = $2 AND occurred_at >= $3 AND occurred_at <= $4 AND NOT deleted
		ORDER BY occurred_at, occurred_ns, id`, source, kind.Key(scope), from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("journal of %s %s: %w", source, scope, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("journal of %s %s: %w", source, scope, classify(err))
	}
	return out, nil
}

// PruneJournal forgets journal events that occurred before cutoff and the
// coverage before it (coverage vouches only for what the journal still
// holds). It returns how many events it deleted.
func (s *Store) PruneJournal(ctx context.Context, cutoff time.Time) (int64, error) {
	cutoff = cutoff.UTC()
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM live_journal WHERE occurred_at < $1`, cutoff)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM live_coverage WHERE covered_to < $1`, cutoff); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE live_coverage SET covered_from = $1 WHERE covered_from < $1`, cutoff)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning the live journal: %w", classify(err))
	}
	return n, nil
}
