package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

// BulkMethod is how UpsertEvents writes the rows that are new. Both give
// identical results; BenchmarkUpsert measures them against a plain COPY and
// the faster one is the default.
type BulkMethod int

const (
	// BulkCopy streams new rows straight into events with COPY.
	BulkCopy BulkMethod = iota
	// BulkUnnest sends new rows as column arrays to one
	// INSERT ... SELECT FROM unnest(...).
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

// writeLockID is the transaction-level advisory lock every writer of events
// holds from reading what is stored to commit. It makes the upsert's
// "is it new, changed or identical?" answer authoritative (so new rows can be
// COPYed without ON CONFLICT), and it makes seqs become visible in the order
// they were drawn, so a feed reader that has seen seq N never later finds a
// smaller one.
const writeLockID int64 = 0x67772d66656564 // "gw-feed"

// FeedChannel is the NOTIFY channel that wakes feed readers after a commit
// that changed events; the payload is the highest seq written.
const FeedChannel = "groundwork_events"

var eventCols = []string{"incident_id", "id", "source", "kind", "occurred_at", "occurred_ns", "actor", "title", "text", "url", "details", "content_hash", "version", "deleted"}

const insertUnnestSQL = `INSERT INTO events (incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details, content_hash, version, deleted)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[],
                     $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::bytea[],
                     $13::timestamptz[], $14::boolean[])`

// updateSQL rewrites changed rows, giving each a new seq. A row is never
// replaced by an older version of the object (Event.Version): a stored row
// without a version is replaced by anything, an event without a version
// replaces anything but a tombstone, and otherwise the newer or equal
// version wins (equal: the same version collected again, with names
// resolved). Rows the rule keeps are left alone and not counted.
const updateSQL = `WITH up AS (
UPDATE events e SET source = u.source, kind = u.kind, occurred_at = u.occurred_at, occurred_ns = u.occurred_ns,
    actor = u.actor, title = u.title, text = u.text, url = u.url, details = u.details,
    content_hash = u.content_hash, version = u.version, deleted = u.deleted,
    seq = nextval('event_seq'), updated_at = now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[],
            $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::bytea[],
            $13::timestamptz[], $14::boolean[])
     AS u(incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details, content_hash,
          version, deleted)
WHERE e.incident_id = u.incident_id AND e.id = u.id AND e.content_hash IS DISTINCT FROM u.content_hash
  AND (e.version IS NULL OR u.version >= e.version OR (u.version IS NULL AND NOT e.deleted))
RETURNING e.seq)
SELECT count(*), COALESCE(max(seq), 0) FROM up`

// tombstoneHash is the content hash of every tombstone: deleting an event
// twice (a live deletion, then a collection that no longer finds it)
// changes nothing the second time.
var tombstoneHash = func() []byte {
	h := sha256.Sum256([]byte("groundwork:tombstone"))
	return h[:16]
}()

// changedSQL returns, for each row that is new or differs from what is
// stored, its position and whether it is stored at all. Only keys and
// content hashes travel, so an unchanged batch is never sent in full.
const changedSQL = `SELECT u.ord - 1, e.id IS NOT NULL
FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS u(incident_id, id, h, ord)
LEFT JOIN events e ON e.incident_id = u.incident_id AND e.id = u.id
WHERE e.content_hash IS DISTINCT FROM u.h`

// encoded is one event and, once encode has run, its column values.
type encoded struct {
	e    *timeline.Event
	done bool
	// err, set by encode, says why the event cannot be stored; the batch
	// is written without it.
	err     error
	us      any
	ns      int32
	actor   any
	details json.RawMessage
	hash    []byte
	version any
}

func (r *encoded) values() []any {
	e := r.e
	if e.Deleted {
		// A tombstone keeps no content.
		return []any{e.IncidentID, e.ID, e.Source, e.Kind, r.us, r.ns, nil, "", "", "", r.details, r.hash, r.version, true}
	}
	return []any{e.IncidentID, e.ID, e.Source, e.Kind, r.us, r.ns, r.actor, e.Title, e.Text, e.URL, r.details, r.hash, r.version, false}
}

// encode renders the JSON columns and the content hash. It is the costly
// part of a write, so new rows are encoded while COPY streams them. Its
// error, also kept in r.err, means the event cannot be stored: details that
// do not encode as JSON, or a time that RFC 3339 cannot write.
func (r *encoded) encode() error {
	if !r.done {
		r.err = r.render()
		r.done = true
	}
	return r.err
}

// Years RFC 3339 can write; the API writes occurred_at in it.
const minYear, maxYear = 1, 9999

func (r *encoded) render() error {
	e := r.e
	if y := e.OccurredAt.UTC().Year(); y < minYear || y > maxYear {
		return fmt.Errorf("event %s: occurred_at %s is outside the years %d to %d", e.ID, e.OccurredAt.UTC().Format(time.RFC3339), minYear, maxYear)
	}
	us, ns := splitTime(e.OccurredAt)
	r.us, r.ns, r.details, r.version = us, ns, json.RawMessage("{}"), nil
	var vb []byte
	if !e.Version.IsZero() {
		v := e.Version.UTC().Truncate(time.Microsecond)
		r.version = v
		vb = binary.BigEndian.AppendUint64(nil, uint64(v.UnixMicro()))
	}
	if e.Deleted {
		r.hash, r.done = tombstoneHash, true
		return nil
	}
	var actor []byte
	if e.Actor != nil {
		actor = appendActor(nil, e.Actor)
		r.actor = json.RawMessage(actor)
	}
	if len(e.Details) > 0 {
		b, err := appendJSONValue(make([]byte, 0, 256), e.Details)
		if err != nil {
			return fmt.Errorf("event %s: details: %w", e.ID, err)
		}
		r.details = b
	}
	h := sha256.New()
	var n [8]byte
	var tb [10]byte
	binary.BigEndian.PutUint64(tb[:8], uint64(us.UnixMicro()))
	binary.BigEndian.PutUint16(tb[8:], uint16(ns))
	parts := [][]byte{[]byte(e.Source), []byte(e.Kind), tb[:], actor, []byte(e.Title), []byte(e.Text), []byte(e.URL), r.details}
	if vb != nil {
		// Only versioned events hash their version, so the hashes of the
		// others are what they were before versions existed.
		parts = append(parts, vb)
	}
	for _, part := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	r.hash = h.Sum(nil)[:16]
	return nil
}

// prepareBatch validates every event, makes its strings storable (NUL and
// invalid UTF-8 replaced, whatever the caller did) and keeps only the last
// of several events with the same key. The caller's events are not changed.
func prepareBatch(events []timeline.Event) ([]encoded, error) {
	type key struct{ inc, id string }
	pos := make(map[key]int, len(events))
	out := make([]encoded, 0, len(events))
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", timeline.ErrInvalid, err)
		}
		if !e.Storable() {
			s := timeline.MakeStorable(*e)
			e = &s
		}
		k := key{e.IncidentID, e.ID}
		if j, dup := pos[k]; dup {
			out[j] = encoded{e: e}
			continue
		}
		pos[k] = len(out)
		out = append(out, encoded{e: e})
	}
	return out, nil
}

// encodeAll encodes rows and returns those that can be stored, in order;
// the others are appended to skipped.
func encodeAll(rows []encoded, skipped *[]timeline.SkippedEvent) []encoded {
	keep := rows[:0:0]
	for i := range rows {
		if err := rows[i].encode(); err != nil {
			*skipped = append(*skipped, rows[i].skippedEvent())
			continue
		}
		keep = append(keep, rows[i])
	}
	return keep
}

func (r *encoded) skippedEvent() timeline.SkippedEvent {
	return timeline.SkippedEvent{IncidentID: r.e.IncidentID, ID: r.e.ID, Err: r.err}
}

// copyFresh streams new rows into events with COPY and returns how many it
// wrote. Rows are encoded in chunks by a few goroutines while COPY sends the
// chunks already done, so encoding overlaps Postgres's work (row order does
// not matter to COPY). A row that cannot be encoded is left out, its error
// kept in its err.
func copyFresh(ctx context.Context, tx pgx.Tx, rows []encoded) (int64, error) {
	const chunk = 256
	chunks := (len(rows) + chunk - 1) / chunk
	next := make(chan int, chunks)
	for c := 0; c < chunks; c++ {
		next <- c
	}
	close(next)
	done := make(chan []encoded, chunks)
	stop := make(chan struct{})
	defer close(stop)
	workers := min(runtime.GOMAXPROCS(0), chunks)
	for w := 0; w < workers; w++ {
		go func() {
			for c := range next {
				part := rows[c*chunk : min((c+1)*chunk, len(rows))]
				for i := range part {
					_ = part[i].encode()
				}
				select {
				case done <- part:
				case <-stop:
					return
				}
			}
		}()
	}
	var part []encoded
	sent := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for {
			for len(part) == 0 {
				if sent == chunks {
					return nil, nil
				}
				select {
				case part = <-done:
					sent++
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			r := &part[0]
			part = part[1:]
			if r.err == nil {
				return r.values(), nil
			}
		}
	})
	return tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventCols, src)
}

// UpsertEvents implements timeline.Store. The whole batch is validated before
// anything is written, and written in one transaction. Every event's strings
// are made storable first (timeline.MakeStorable); an event that still
// cannot be stored is left out and reported in the result's Skipped, and
// the rest is written.
func (s *Store) UpsertEvents(ctx context.Context, events []timeline.Event) (timeline.UpsertResult, error) {
	rows, err := prepareBatch(events)
	if err != nil || len(rows) == 0 {
		return timeline.UpsertResult{}, err
	}
	var res timeline.UpsertResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.upsertTx(ctx, tx, rows)
		return err
	})
	if err != nil {
		return timeline.UpsertResult{}, fmt.Errorf("upserting %d events: %w", len(events), classify(err))
	}
	return res, nil
}

// UpsertEventsTx is UpsertEvents inside the caller's transaction (a webhook
// delivery stores its events, its id and its job in one transaction).
func (s *Store) UpsertEventsTx(ctx context.Context, tx pgx.Tx, events []timeline.Event) (timeline.UpsertResult, error) {
	rows, err := prepareBatch(events)
	if err != nil || len(rows) == 0 {
		return timeline.UpsertResult{}, err
	}
	res, err := s.upsertTx(ctx, tx, rows)
	if err != nil {
		return res, fmt.Errorf("upserting %d events: %w", len(events), classify(err))
	}
	return res, nil
}

func (s *Store) upsertTx(ctx context.Context, tx pgx.Tx, rows []encoded) (timeline.UpsertResult, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockID); err != nil {
		return timeline.UpsertResult{}, err
	}
	var res timeline.UpsertResult
	fresh, changed, err := classifyRows(ctx, tx, rows, &res.Skipped)
	if err != nil {
		return timeline.UpsertResult{}, err
	}
	var maxSeq int64
	if len(fresh) > 0 {
		switch s.upsert {
		case BulkUnnest:
			if fresh = encodeAll(fresh, &res.Skipped); len(fresh) > 0 {
				if _, err := tx.Exec(ctx, insertUnnestSQL, columns(fresh)...); err != nil {
					return res, err
				}
				res.Inserted = len(fresh)
			}
		default:
			n, err := copyFresh(ctx, tx, fresh)
			if err != nil {
				return res, err
			}
			for i := range fresh {
				if fresh[i].err != nil {
					res.Skipped = append(res.Skipped, fresh[i].skippedEvent())
				}
			}
			res.Inserted = int(n)
		}
		if res.Inserted > 0 {
			if err := tx.QueryRow(ctx, `SELECT currval('event_seq')`).Scan(&maxSeq); err != nil {
				return res, err
			}
		}
	}
	if changed = encodeAll(changed, &res.Skipped); len(changed) > 0 {
		var n, seq int64
		if err := tx.QueryRow(ctx, updateSQL, columns(changed)...).Scan(&n, &seq); err != nil {
			return res, err
		}
		res.Updated = int(n)
		maxSeq = max(maxSeq, seq)
	}
	if res.Changed() == 0 {
		return res, nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FeedChannel, fmt.Sprint(maxSeq)); err != nil {
		return res, err
	}
	return res, nil
}

// columns turns rows into the column arrays of insertUnnestSQL and updateSQL.
func columns(rows []encoded) []any {
	cols := make([][]any, len(eventCols))
	for i := range cols {
		cols[i] = make([]any, len(rows))
	}
	for j := range rows {
		for i, v := range rows[j].values() {
			cols[i][j] = v
		}
	}
	args := make([]any, len(cols))
	for i := range cols {
		args[i] = cols[i]
	}
	return args
}

// snapshotMin is the size from which an incident's part of a batch is
// compared against a snapshot of what the incident holds (one index range
// scan) instead of probing the index once per row.
const snapshotMin = 1000

// classifyRows splits rows into those not stored yet and those stored with
// other content; identical rows are dropped, and rows it had to encode that
// cannot be stored are appended to skipped. The caller holds writeLockID, so
// the answer stays true until commit.
func classifyRows(ctx context.Context, tx pgx.Tx, rows []encoded, skipped *[]timeline.SkippedEvent) (fresh, changed []encoded, err error) {
	byIncident := map[string][]int{}
	for i := range rows {
		byIncident[rows[i].e.IncidentID] = append(byIncident[rows[i].e.IncidentID], i)
	}
	var probe []int
	for inc, idx := range byIncident {
		if len(idx) < snapshotMin {
			probe = append(probe, idx...)
			continue
		}
		stored, complete, err := snapshot(ctx, tx, inc, 2*len(idx))
		if err != nil {
			return nil, nil, err
		}
		if !complete {
			probe = append(probe, idx...)
			continue
		}
		for _, i := range idx {
			h, ok := stored[rows[i].e.ID]
			if !ok {
				fresh = append(fresh, rows[i])
				continue
			}
			if err := rows[i].encode(); err != nil {
				*skipped = append(*skipped, rows[i].skippedEvent())
				continue
			}
			if string(h) != string(rows[i].hash) {
				changed = append(changed, rows[i])
			}
		}
	}
	if len(probe) == 0 {
		return fresh, changed, nil
	}
	keep := probe[:0]
	for _, i := range probe {
		if err := rows[i].encode(); err != nil {
			*skipped = append(*skipped, rows[i].skippedEvent())
			continue
		}
		keep = append(keep, i)
	}
	probe = keep
	if len(probe) == 0 {
		return fresh, changed, nil
	}
	inc, ids, hashes := make([]string, len(probe)), make([]string, len(probe)), make([][]byte, len(probe))
	for j, i := range probe {
		inc[j], ids[j], hashes[j] = rows[i].e.IncidentID, rows[i].e.ID, rows[i].hash
	}
	res, err := tx.Query(ctx, changedSQL, inc, ids, hashes)
	if err != nil {
		return nil, nil, err
	}
	defer res.Close()
	for res.Next() {
		var j int64
		var stored bool
		if err := res.Scan(&j, &stored); err != nil {
			return nil, nil, err
		}
		if r := rows[probe[j]]; stored {
			changed = append(changed, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	return fresh, changed, res.Err()
}

// snapshot reads the content hashes of an incident's events when it holds at
// most limit of them; complete is false when it holds more.
func snapshot(ctx context.Context, tx pgx.Tx, incidentID string, limit int) (map[string][]byte, bool, error) {
	res, err := tx.Query(ctx, `SELECT id, content_hash FROM events WHERE incident_id = $1 LIMIT $2`, incidentID, limit+1)
	if err != nil {
		return nil, false, err
	}
	defer res.Close()
	out := map[string][]byte{}
	for res.Next() {
		var id string
		var h []byte
		if err := res.Scan(&id, &h); err != nil {
			return nil, false, err
		}
		out[id] = h
	}
	if err := res.Err(); err != nil {
		return nil, false, err
	}
	return out, len(out) <= limit, nil
}
