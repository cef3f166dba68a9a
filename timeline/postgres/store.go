// Package postgres is the Postgres implementation of timeline.Store, on pgx
// v5, with its embedded, versioned migrations.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Store is the Postgres timeline.Store.
type Store struct {
	pool *pgxpool.Pool
	// upsert is the bulk method used by UpsertEvents (see bulk.go).
	upsert BulkMethod
	// people keeps the people of incidents by the version of their events,
	// for OverlappingPeople (summary.go).
	people *lru.Cache[string, incidentPeople]
}

var _ timeline.Store = (*Store)(nil)

// New returns a store over pool. The schema must be current (see Migrate).
func New(pool *pgxpool.Pool) *Store {
	people, err := lru.New[string, incidentPeople](peopleCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Store{pool: pool, upsert: BulkCopy, people: people}
}

// Open connects to the database at url and checks that it answers.
//
// Its sessions run with jit off (unless url sets jit): the service's
// queries are short index lookups, whose plans at a large size cost enough
// for Postgres to compile them, which takes longer than running them.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("database_url: not a valid Postgres connection string")
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to Postgres: %w", classify(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to Postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, classify(err))
	}
	return pool, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return classify(err)
	}
	return nil
}

// CursorKey returns the server-side key that signs API cursors, shared by
// every process on this database.
func (s *Store) CursorKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'cursor_key'`).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("reading cursor key: %w", classify(err))
	}
	return key, nil
}

// classify turns driver errors into the domain's errors at the store's edge.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return timeline.ErrNotFound
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "57P"), // admin shutdown, cannot connect now
			pgErr.Code == "53300":                // too many connections
			return fmt.Errorf("%w: %s", timeline.ErrUnavailable, pgErr.Message)
		case strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "23"):
			return fmt.Errorf("%w: %s", timeline.ErrInvalid, pgErr.Message)
		}
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connErr) || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: %v", timeline.ErrUnavailable, err)
	}
	return err
}

// UpsertIncident implements timeline.Store. The live journal's events
// inside the incident's window and scope join its timeline in the same
// transaction (see JoinJournal).
func (s *Store) UpsertIncident(ctx context.Context, inc timeline.Incident) error {
	if inc.ID == "" {
		return fmt.Errorf("%w: incident id is empty", timeline.ErrInvalid)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := writeIncidentTx(ctx, tx, inc, timeline.Incident.Refresh); err != nil {
			return err
		}
		// The journal's events inside the (new or changed) window and
		// scope join the timeline at once.
		_, err := joinJournalTx(ctx, tx, inc.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("upserting incident %s: %w", inc.ID, classify(err))
	}
	return nil
}

func incidentArgs(inc timeline.Incident) []any {
	var resolved *time.Time
	if inc.ResolvedAt != nil {
		t := inc.ResolvedAt.UTC()
		resolved = &t
	}
	return []any{inc.ID, inc.Title, inc.ServiceID, inc.Urgency, inc.Source, inc.URL,
		inc.StartedAt.UTC(), resolved, inc.WindowStart.UTC(), inc.WindowEnd.UTC(),
		nonNil(inc.Repos), nonNil(inc.Channels)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const incidentColumns = `id, title, service_id, urgency, source, url, started_at, resolved_at,
	window_start, window_end, repos, channels, created_at, updated_at, status_at`

func scanIncident(row pgx.Row) (timeline.Incident, error) {
	var inc timeline.Incident
	var statusAt *time.Time
	err := row.Scan(&inc.ID, &inc.Title, &inc.ServiceID, &inc.Urgency, &inc.Source, &inc.URL,
		&inc.StartedAt, &inc.ResolvedAt, &inc.WindowStart, &inc.WindowEnd, &inc.Repos, &inc.Channels,
		&inc.CreatedAt, &inc.UpdatedAt, &statusAt)
	if err != nil {
		return inc, err
	}
	if statusAt != nil {
		inc.StatusAt = statusAt.UTC()
	}
	inc.StartedAt = inc.StartedAt.UTC()
	if inc.ResolvedAt != nil {
		t := inc.ResolvedAt.UTC()
		inc.ResolvedAt = &t
	}
	inc.WindowStart, inc.WindowEnd = inc.WindowStart.UTC(), inc.WindowEnd.UTC()
	inc.CreatedAt, inc.UpdatedAt = inc.CreatedAt.UTC(), inc.UpdatedAt.UTC()
	return inc, nil
}

// Incident implements timeline.Store.
func (s *Store) Incident(ctx context.Context, id string) (timeline.Incident, error) {
	inc, err := scanIncident(s.pool.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
	if err != nil {
		return inc, fmt.Errorf("incident %s: %w", id, classify(err))
	}
	return inc, nil
}

// Incidents implements timeline.Store.
func (s *Store) Incidents(ctx context.Context, q timeline.IncidentQuery) ([]timeline.Incident, error) {
	sql := `SELECT ` + incidentColumns + ` FROM incidents`
	args := []any{}
	if q.Before != nil {
		sql += ` WHERE (started_at, id) < ($1, $2)`
		args = append(args, q.Before.StartedAt.UTC(), q.Before.ID)
	}
	sql += ` ORDER BY started_at DESC, id DESC`
	if q.Limit > 0 {
		sql += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", classify(err))
	}
	defer rows.Close()
	var out []timeline.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("listing incidents: %w", classify(err))
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing incidents: %w", classify(err))
	}
	return out, nil
}

// Overlapping returns the other incidents whose span [started_at,
// resolved_at or now] overlaps [start, end]. Placeholders of incidents not
// planned yet (no source) have no span and overlap nothing. The
// incidents_span index finds the candidates (spanOverlaps), the comparisons
// decide.
func (s *Store) Overlapping(ctx context.Context, id string, start, end time.Time) ([]timeline.Incident, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents
		WHERE `+spanOverlaps("", "$2", "$3")+`
		  AND id <> $1 AND source <> '' AND started_at <= $3 AND COALESCE(resolved_at, now()) >= $2
		ORDER BY started_at, id LIMIT 100`, id, start.UTC(), end.UTC())
	if err != nil {
		return nil, fmt.Errorf("overlapping incidents: %w", classify(err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Incident, error) { return scanIncident(r) })
}

// spanOverlaps and windowOverlaps are conditions that an incident's span
// (incidents_span) or window (incidents_window) meets [from, to] (either
// way round), in the form of those GiST indexes, so that a query over
// incidents near a time reads only those. Each is implied by the plain
// comparisons the queries keep beside it (the range is closed at both
// ends, and a span resolved before it started is taken to end when it
// started, later than its resolution): it narrows the rows read, never the
// rows returned. alias qualifies the columns ("i." or "").
func spanOverlaps(alias, from, to string) string {
	return fmt.Sprintf(`tstzrange(%[1]sstarted_at, GREATEST(%[1]sstarted_at, COALESCE(%[1]sresolved_at, 'infinity')), '[]') && %[2]s`,
		alias, closedRange(from, to))
}

func windowOverlaps(alias, from, to string) string {
	return fmt.Sprintf(`tstzrange(%[1]swindow_start, %[1]swindow_end, '[]') && %[2]s`, alias, closedRange(from, to))
}

func closedRange(from, to string) string {
	return fmt.Sprintf(`tstzrange(LEAST(%[1]s::timestamptz, %[2]s::timestamptz), GREATEST(%[1]s::timestamptz, %[2]s::timestamptz), '[]')`, from, to)
}

// SetSourceStatus implements timeline.Store.
func (s *Store) SetSourceStatus(ctx context.Context, st timeline.SourceStatus) error {
	switch st.State {
	case timeline.StatePending, timeline.StateRunning, timeline.StateSucceeded, timeline.StateFailed, timeline.StateSkipped:
	default:
		return fmt.Errorf("%w: unknown collection state %q", timeline.ErrInvalid, st.State)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO collection_status (incident_id, source, state, error, event_count, started_at, finished_at, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (incident_id, source) DO UPDATE SET
			state = excluded.state, error = excluded.error, event_count = excluded.event_count,
			started_at = COALESCE(excluded.started_at, collection_status.started_at),
			finished_at = excluded.finished_at, reason = excluded.reason, updated_at = now()`,
		st.IncidentID, st.Source, st.State, st.Error, st.EventCount, utcPtr(st.StartedAt), utcPtr(st.FinishedAt), st.Reason)
	if err != nil {
		return fmt.Errorf("recording %s status of %s: %w", st.Source, st.IncidentID, classify(err))
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// SourceStatuses implements timeline.Store.
func (s *Store) SourceStatuses(ctx context.Context, incidentID string) ([]timeline.SourceStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT incident_id, source, state, error, event_count, started_at, finished_at, updated_at, reason
		FROM collection_status WHERE incident_id = $1 ORDER BY source`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("collection status of %s: %w", incidentID, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.SourceStatus, error) {
		var st timeline.SourceStatus
		err := r.Scan(&st.IncidentID, &st.Source, &st.State, &st.Error, &st.EventCount, &st.StartedAt, &st.FinishedAt, &st.UpdatedAt, &st.Reason)
		st.StartedAt, st.FinishedAt, st.UpdatedAt = utcPtr(st.StartedAt), utcPtr(st.FinishedAt), st.UpdatedAt.UTC()
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("collection status of %s: %w", incidentID, classify(err))
	}
	return out, nil
}

const eventColumns = `incident_id, id, source, kind, occurred_at, occurred_ns, actor, title, text, url, details, seq, version, deleted`

func scanEvent(r pgx.Row) (timeline.Event, error) {
	var e timeline.Event
	var ns int32
	var actor, details []byte
	var version *time.Time
	if err := r.Scan(&e.IncidentID, &e.ID, &e.Source, &e.Kind, &e.OccurredAt, &ns, &actor, &e.Title, &e.Text, &e.URL, &details, &e.Seq,
		&version, &e.Deleted); err != nil {
		return e, err
	}
	e.OccurredAt = e.OccurredAt.UTC().Add(time.Duration(ns))
	if version != nil {
		e.Version = version.UTC()
	}
	if len(actor) > 0 && string(actor) != "null" {
		e.Actor = new(timeline.Actor)
		if err := json.Unmarshal(actor, e.Actor); err != nil {
			return e, fmt.Errorf("event %s: actor: %w", e.ID, err)
		}
	}
	if err := json.Unmarshal(details, &e.Details); err != nil {
		return e, fmt.Errorf("event %s: details: %w", e.ID, err)
	}
	return e, nil
}

// splitTime splits t into the microseconds Postgres keeps and the
// nanoseconds below them.
func splitTime(t time.Time) (time.Time, int32) {
	t = t.UTC()
	us := t.Truncate(time.Microsecond)
	return us, int32(t.Sub(us))
}

// timelineWhere builds the WHERE clause of a timeline query. Tombstones
// are never on a timeline.
func timelineWhere(q timeline.TimelineQuery) queryBuilder {
	var b queryBuilder
	b.where("incident_id = %s", q.IncidentID)
	b.where("NOT deleted")
	if q.After != nil {
		us, ns := splitTime(q.After.OccurredAt)
		b.where("(occurred_at, occurred_ns, id) > (%s, %s, %s)", us, ns, q.After.ID)
	}
	if q.Since != nil {
		us, ns := splitTime(*q.Since)
		b.where("(occurred_at, occurred_ns) >= (%s, %s)", us, ns)
	}
	if q.Until != nil {
		us, ns := splitTime(*q.Until)
		b.where("(occurred_at, occurred_ns) <= (%s, %s)", us, ns)
	}
	if len(q.Sources) > 0 {
		b.where("source = ANY(%s)", q.Sources)
	}
	if q.KindPrefix != "" {
		if strings.HasSuffix(q.KindPrefix, ".") {
			b.where("starts_with(kind, %s)", q.KindPrefix)
		} else {
			b.where("kind = %s", q.KindPrefix)
		}
	}
	return b
}

func timelineTail(q timeline.TimelineQuery) string {
	sql := ` ORDER BY occurred_at, occurred_ns, id`
	if q.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return sql
}

// Timeline implements timeline.Store.
func (s *Store) Timeline(ctx context.Context, q timeline.TimelineQuery) ([]timeline.Event, error) {
	b := timelineWhere(q)
	sql := `SELECT ` + eventColumns + ` FROM events WHERE ` + b.clause() + timelineTail(q)
	return s.queryEvents(ctx, "timeline of "+q.IncidentID, sql, b.args...)
}

// TimelineJSON implements timeline.TimelineEncoder: the events of
// Timeline, each rendered as its API JSON object (PRODUCT.md §3) straight
// from the row, with actor and details copied as the raw JSON Postgres
// returns, so a page is served without decoding and re-encoding every
// event's details.
func (s *Store) TimelineJSON(ctx context.Context, q timeline.TimelineQuery) ([]timeline.EncodedEvent, error) {
	b := timelineWhere(q)
	sql := `SELECT ` + eventColumns + ` FROM events WHERE ` + b.clause() + timelineTail(q)
	rows, err := s.pool.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", q.IncidentID, classify(err))
	}
	defer rows.Close()
	var out []timeline.EncodedEvent
	var buf []byte
	for rows.Next() {
		var inc, id, src, kind, title, text, url string
		var at time.Time
		var ns int32
		var actor, details []byte
		var seq int64
		var version *time.Time
		var deleted bool
		if err := rows.Scan(&inc, &id, &src, &kind, &at, &ns, &actor, &title, &text, &url, &details, &seq, &version, &deleted); err != nil {
			return nil, fmt.Errorf("timeline of %s: %w", q.IncidentID, classify(err))
		}
		at = at.UTC().Add(time.Duration(ns))
		buf = buf[:0]
		buf = append(buf, `{"id":`...)
		buf = appendJSONString(buf, id)
		buf = append(buf, `,"incident_id":`...)
		buf = appendJSONString(buf, inc)
		buf = append(buf, `,"source":`...)
		buf = appendJSONString(buf, src)
		buf = append(buf, `,"kind":`...)
		buf = appendJSONString(buf, kind)
		buf = append(buf, `,"occurred_at":"`...)
		buf = at.AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, `","actor":`...)
		if len(actor) == 0 {
			buf = append(buf, "null"...)
		} else {
			buf = append(buf, actor...)
		}
		buf = append(buf, `,"title":`...)
		buf = appendJSONString(buf, title)
		buf = append(buf, `,"text":`...)
		buf = appendJSONString(buf, text)
		buf = append(buf, `,"url":`...)
		buf = appendJSONString(buf, url)
		buf = append(buf, `,"details":`...)
		buf = append(buf, details...)
		buf = append(buf, `,"seq":`...)
		buf = strconv.AppendInt(buf, seq, 10)
		buf = append(buf, '}')
		out = append(out, timeline.EncodedEvent{OccurredAt: at, ID: id, JSON: append([]byte(nil), buf...)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", q.IncidentID, classify(err))
	}
	return out, nil
}

// appendJSONString appends s as a JSON string, escaping as encoding/json does
// without HTML escaping: quotes, backslashes, control characters, U+2028 and
// U+2029, and invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Feed implements timeline.Store. Tombstones come as they are stored: their
// content is gone, Deleted is set.
func (s *Store) Feed(ctx context.Context, after int64, limit int) ([]timeline.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.feed(ctx, after, limit) // with annotation changes (annotations.go)
}

func (s *Store) queryEvents(ctx context.Context, what, sql string, args ...any) ([]timeline.Event, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Event, error) { return scanEvent(r) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, classify(err))
	}
	return out, nil
}

// queryBuilder joins WHERE conditions, numbering their placeholders.
type queryBuilder struct {
	conds []string
	args  []any
}

func (b *queryBuilder) where(format string, args ...any) {
	ph := make([]any, len(args))
	for i, a := range args {
		b.args = append(b.args, a)
		ph[i] = fmt.Sprintf("$%d", len(b.args))
	}
	b.conds = append(b.conds, fmt.Sprintf(format, ph...))
}

func (b *queryBuilder) clause() string {
	if len(b.conds) == 0 {
		return "true"
	}
	return strings.Join(b.conds, " AND ")
}
