package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// BulkMethod is how UpsertEvents moves a batch into Postgres. Both methods
// give identical results; BenchmarkUpsert measures them against a plain COPY
// and the faster one is the default.
type BulkMethod int

const (
	// BulkCopy streams the batch with COPY into a temporary staging table,
	// then merges it with one INSERT ... SELECT ... ON CONFLICT.
	BulkCopy BulkMethod = iota
	// BulkUnnest sends the batch as column arrays to one
	// INSERT ... SELECT FROM unnest(...) ... ON CONFLICT.
	BulkUnnest
)

func (m BulkMethod) String() string {
	if m == BulkUnnest {
		return "unnest"
	}
	return "copy"
}

// WithBulkMethod returns a copy of s that upserts with m.
func (s *Store) WithBulkMethod(m BulkMethod) *Store {
	c := *s
	c.upsert = m
	return &c
}

// feedLockID serialises writers of events between drawing seqs and commit, so
// seqs become visible in increasing order (see the migration's comment).
const feedLockID int64 = 0x67772d66656564 // "gw-feed"

// FeedChannel is the NOTIFY channel that wakes feed readers after a commit
// that changed events; the payload is the highest seq written.
const FeedChannel = "groundwork_events"

const stageColumns = `ord, incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details`

// mergeSQL merges staged rows: new ones are inserted, changed ones updated
// with a new seq, identical ones left alone (no new row version at all).
const mergeTail = `
ON CONFLICT (incident_id, id) DO UPDATE SET
    source = excluded.source, kind = excluded.kind, occurred_at = excluded.occurred_at,
    occurred_ns = excluded.occurred_ns, actor = excluded.actor, title = excluded.title,
    text = excluded.text, url = excluded.url, details = excluded.details,
    seq = nextval('event_seq'), updated_at = now()
WHERE (events.source, events.kind, events.occurred_at, events.occurred_ns, events.actor,
       events.title, events.text, events.url, events.details)
      IS DISTINCT FROM
      (excluded.source, excluded.kind, excluded.occurred_at, excluded.occurred_ns, excluded.actor,
       excluded.title, excluded.text, excluded.url, excluded.details)
RETURNING (xmax = 0) AS inserted, seq`

const mergeFromStage = `
WITH up AS (
    INSERT INTO events (incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details)
    SELECT DISTINCT ON (incident_id, id)
           incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details
    FROM events_stage
    ORDER BY incident_id, id, ord DESC` + mergeTail + `
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), COALESCE(max(seq), 0) FROM up`

const mergeFromUnnest = `
WITH up AS (
    INSERT INTO events (incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details)
    SELECT DISTINCT ON (incident_id, id)
           incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details
    FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::int[],
                $8::jsonb[], $9::text[], $10::text[], $11::text[], $12::jsonb[])
         AS u(ord, incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details)
    ORDER BY incident_id, id, ord DESC` + mergeTail + `
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), COALESCE(max(seq), 0) FROM up`

type row struct {
	us      any
	ns      int32
	actor   any
	details json.RawMessage
}

func encodeEvent(e *timeline.Event) (row, error) {
	if err := e.Validate(); err != nil {
		return row{}, fmt.Errorf("%w: %w", timeline.ErrInvalid, err)
	}
	us, ns := splitTime(e.OccurredAt)
	r := row{us: us, ns: ns, details: json.RawMessage("{}")}
	if e.Actor != nil {
		b, err := json.Marshal(e.Actor)
		if err != nil {
			return r, fmt.Errorf("%w: event %s: actor: %w", timeline.ErrInvalid, e.ID, err)
		}
		r.actor = json.RawMessage(b)
	}
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return r, fmt.Errorf("%w: event %s: details: %w", timeline.ErrInvalid, e.ID, err)
		}
		r.details = b
	}
	return r, nil
}

// UpsertEvents implements timeline.Store. The whole batch is validated before
// anything is written, and written in one transaction.
func (s *Store) UpsertEvents(ctx context.Context, events []timeline.Event) (timeline.UpsertResult, error) {
	if len(events) == 0 {
		return timeline.UpsertResult{}, nil
	}
	rows := make([]row, len(events))
	for i := range events {
		r, err := encodeEvent(&events[i])
		if err != nil {
			return timeline.UpsertResult{}, err
		}
		rows[i] = r
	}
	var res timeline.UpsertResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.upsertTx(ctx, tx, events, rows)
		return err
	})
	if err != nil {
		return timeline.UpsertResult{}, fmt.Errorf("upserting %d events: %w", len(events), classify(err))
	}
	return res, nil
}

// UpsertEventsTx is UpsertEvents inside the caller's transaction (webhook
// deliveries store events, the delivery and the job in one transaction).
func (s *Store) UpsertEventsTx(ctx context.Context, tx pgx.Tx, events []timeline.Event) (timeline.UpsertResult, error) {
	if len(events) == 0 {
		return timeline.UpsertResult{}, nil
	}
	rows := make([]row, len(events))
	for i := range events {
		r, err := encodeEvent(&events[i])
		if err != nil {
			return timeline.UpsertResult{}, err
		}
		rows[i] = r
	}
	res, err := s.upsertTx(ctx, tx, events, rows)
	if err != nil {
		return res, fmt.Errorf("upserting %d events: %w", len(events), classify(err))
	}
	return res, nil
}

func (s *Store) upsertTx(ctx context.Context, tx pgx.Tx, events []timeline.Event, rows []row) (timeline.UpsertResult, error) {
	var ins, upd, maxSeq int64
	switch s.upsert {
	case BulkUnnest:
		n := len(events)
		ord, ns := make([]int32, n), make([]int32, n)
		inc, ids, src, kind, title, text, url := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		us, actor, details := make([]any, n), make([]any, n), make([]any, n)
		for i, e := range events {
			ord[i], inc[i], ids[i], src[i], kind[i] = int32(i), e.IncidentID, e.ID, e.Source, e.Kind
			us[i], ns[i], actor[i], details[i] = rows[i].us, rows[i].ns, rows[i].actor, rows[i].details
			title[i], text[i], url[i] = e.Title, e.Text, e.URL
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, feedLockID); err != nil {
			return timeline.UpsertResult{}, err
		}
		if err := tx.QueryRow(ctx, mergeFromUnnest, ord, inc, ids, src, kind, us, ns, actor, title, text, url, details).Scan(&ins, &upd, &maxSeq); err != nil {
			return timeline.UpsertResult{}, err
		}
	default:
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS events_stage (
			ord int, incident_id text, id text, source text, kind text, occurred_at timestamptz,
			occurred_ns int, actor jsonb, title text, text text, url text, details jsonb
		) ON COMMIT DELETE ROWS`); err != nil {
			return timeline.UpsertResult{}, err
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(events) {
				return nil, nil
			}
			e, r := &events[i], &rows[i]
			vals := []any{int32(i), e.IncidentID, e.ID, e.Source, e.Kind, r.us, r.ns, r.actor, e.Title, e.Text, e.URL, r.details}
			i++
			return vals, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events_stage"}, splitColumns(stageColumns), src); err != nil {
			return timeline.UpsertResult{}, err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, feedLockID); err != nil {
			return timeline.UpsertResult{}, err
		}
		if err := tx.QueryRow(ctx, mergeFromStage).Scan(&ins, &upd, &maxSeq); err != nil {
			return timeline.UpsertResult{}, err
		}
	}
	if ins+upd > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FeedChannel, fmt.Sprint(maxSeq)); err != nil {
			return timeline.UpsertResult{}, err
		}
	}
	return timeline.UpsertResult{Inserted: int(ins), Updated: int(upd)}, nil
}

func splitColumns(s string) []string {
	cols := strings.Split(s, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}
