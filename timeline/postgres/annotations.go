package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

var _ timeline.AnnotationStore = (*Store)(nil)

// Every write of an annotation holds writeLockID, like every writer of
// events, and draws its seq from event_seq while it does: annotation
// changes and event changes thus become visible in seq order, and the feed
// interleaves them without skipping either.
//
// Whether a cited event is on the timeline is asked with timelineWhere, the
// very condition timelines are read with, so an event that leaves the
// timeline by any path (a row deleted, a tombstone) leaves the annotation
// orphaned without any hook in that path.

const annotationColumns = `a.id::text, a.incident_id, a.event_ids, a.marker, a.title, a.note, a.at, a.at_ns, a.author,
	a.suggested, COALESCE(a.suggested_key, ''), a.status, COALESCE(a.reviewed_by, ''), a.reviewed_at, a.version, a.seq,
	a.created_at, a.updated_at, a.deleted_at IS NOT NULL`

// missingExpr is the ids annotation a cites that are not on its incident's
// timeline, in the order it cites them; clause is timelineWhere's for the
// incident (its columns resolve to the events of the innermost query).
func missingExpr(clause string) string {
	return `ARRAY(SELECT u.x FROM unnest(a.event_ids) WITH ORDINALITY AS u(x, n)
		WHERE NOT EXISTS (SELECT 1 FROM events WHERE ` + clause + ` AND id = u.x) ORDER BY u.n)`
}

func scanAnnotation(r pgx.Row, withMissing bool) (timeline.Annotation, error) {
	var a timeline.Annotation
	var at, reviewed *time.Time
	var ns int32
	dest := []any{&a.ID, &a.IncidentID, &a.EventIDs, &a.Marker, &a.Title, &a.Note, &at, &ns, &a.Author,
		&a.Suggested, &a.SuggestedKey, &a.Status, &a.ReviewedBy, &reviewed, &a.Version, &a.Seq,
		&a.CreatedAt, &a.UpdatedAt, &a.Deleted}
	if withMissing {
		dest = append(dest, &a.MissingEventIDs)
	}
	if err := r.Scan(dest...); err != nil {
		return a, err
	}
	if at != nil {
		t := at.UTC().Add(time.Duration(ns))
		a.At = &t
	}
	a.ReviewedAt = utcPtr(reviewed)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	if a.EventIDs == nil {
		a.EventIDs = []string{}
	}
	if len(a.MissingEventIDs) == 0 {
		a.MissingEventIDs = nil
	}
	return a, nil
}

// splitTimePtr is splitTime for an optional time.
func splitTimePtr(t *time.Time) (*time.Time, int32) {
	if t == nil {
		return nil, 0
	}
	us, ns := splitTime(*t)
	return &us, ns
}

func lockFeed(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockID)
	return err
}

func notifyFeed(ctx context.Context, tx pgx.Tx, seq int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FeedChannel, fmt.Sprint(seq))
	return err
}

// queryRower is a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func incidentExists(ctx context.Context, q queryRower, id string) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("incident %s: %w", id, timeline.ErrNotFound)
	}
	return nil
}

// liveIDs returns which of ids are on incidentID's timeline.
func liveIDs(ctx context.Context, tx pgx.Tx, incidentID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	b := timelineWhere(timeline.TimelineQuery{IncidentID: incidentID})
	b.where("id = ANY(%s)", ids)
	rows, err := tx.Query(ctx, `SELECT id FROM events WHERE `+b.clause(), b.args...)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// checkLive returns *timeline.UnknownEventsError naming those of ids that
// are not on incidentID's timeline.
func checkLive(ctx context.Context, tx pgx.Tx, incidentID string, ids []string) error {
	live, err := liveIDs(ctx, tx, incidentID, ids)
	if err != nil {
		return err
	}
	var unknown []string
	for _, id := range ids {
		if !live[id] {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return &timeline.UnknownEventsError{IncidentID: incidentID, IDs: unknown}
	}
	return nil
}

// annotationErr classifies err of an operation on an annotation, keeping
// the domain's own errors as they are.
func annotationErr(what string, err error) error {
	var unknown *timeline.UnknownEventsError
	var mismatch *timeline.VersionMismatchError
	if errors.As(err, &unknown) || errors.As(err, &mismatch) || errors.Is(err, timeline.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, classify(err))
}

// CreateAnnotation implements timeline.AnnotationStore.
func (s *Store) CreateAnnotation(ctx context.Context, a timeline.Annotation) (timeline.Annotation, error) {
	if err := a.Validate(); err != nil {
		return a, err
	}
	var out timeline.Annotation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		if err := incidentExists(ctx, tx, a.IncidentID); err != nil {
			return err
		}
		if err := checkLive(ctx, tx, a.IncidentID, a.EventIDs); err != nil {
			return err
		}
		at, ns := splitTimePtr(a.At)
		var key *string
		if a.SuggestedKey != "" {
			key = &a.SuggestedKey
		}
		row := tx.QueryRow(ctx, `WITH a AS (
			INSERT INTO annotations (incident_id, event_ids, marker, title, note, at, at_ns, author, suggested, suggested_key, status, seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, nextval('event_seq')) RETURNING *)
			SELECT `+annotationColumns+` FROM a`,
			a.IncidentID, nonNil(a.EventIDs), a.Marker, a.Title, a.Note, at, ns, a.Author, a.Suggested, key, a.Status)
		var err error
		if out, err = scanAnnotation(row, false); err != nil {
			return err
		}
		return notifyFeed(ctx, tx, out.Seq)
	})
	if err != nil {
		return timeline.Annotation{}, annotationErr("creating an annotation of "+a.IncidentID, err)
	}
	return out, nil
}

// annotationQuery selects the annotations of one incident that are not
// deleted, with their missing events; a caller adds conditions on a with
// the placeholders that follow args.
func annotationQuery(incidentID string) (sql string, args []any) {
	b := timelineWhere(timeline.TimelineQuery{IncidentID: incidentID})
	args = append(b.args, incidentID)
	return `SELECT ` + annotationColumns + `, ` + missingExpr(b.clause()) + `
		FROM annotations a WHERE a.incident_id = $` + fmt.Sprint(len(args)) + ` AND a.deleted_at IS NULL`, args
}

// annotationTx reads one annotation that is not deleted, on tx (or the
// pool).
func (s *Store) annotationTx(ctx context.Context, tx queryRower, incidentID, id string) (timeline.Annotation, error) {
	if !timeline.ValidAnnotationID(id) {
		return timeline.Annotation{}, timeline.ErrAnnotationNotFound
	}
	sql, args := annotationQuery(incidentID)
	args = append(args, id)
	a, err := scanAnnotation(tx.QueryRow(ctx, sql+` AND a.id = $`+fmt.Sprint(len(args))+`::uuid`, args...), true)
	if errors.Is(err, pgx.ErrNoRows) {
		if err := incidentExists(ctx, tx, incidentID); err != nil {
			return a, err
		}
		return a, timeline.ErrAnnotationNotFound
	}
	return a, err
}

// Annotation implements timeline.AnnotationStore.
func (s *Store) Annotation(ctx context.Context, incidentID, id string) (timeline.Annotation, error) {
	a, err := s.annotationTx(ctx, s.pool, incidentID, id)
	if err != nil {
		return a, annotationErr("annotation "+id+" of "+incidentID, err)
	}
	return a, nil
}

// Annotations implements timeline.AnnotationStore. With q.EventIDs, the
// ids and citations of the incident's annotations are read first and
// matched here, and only the annotations that cite one of those events are
// read whole: a timeline page asks on every page, and most pages of most
// incidents carry none, so it costs them one small round trip.
func (s *Store) Annotations(ctx context.Context, q timeline.AnnotationQuery) ([]timeline.Annotation, error) {
	var cond string
	var condArgs []any
	arg := func(v any) string {
		condArgs = append(condArgs, v)
		return "$%d"
	}
	if len(q.Markers) > 0 {
		cond += ` AND a.marker = ANY(` + arg(q.Markers) + `)`
	}
	if !q.IncludeDismissed {
		cond += ` AND a.status <> 'dismissed'`
	}
	// numbered renders cond's placeholders after the first n.
	numbered := func(n int) string {
		nums := make([]any, len(condArgs))
		for i := range nums {
			nums[i] = n + i + 1
		}
		return fmt.Sprintf(cond, nums...)
	}
	// Whether the incident exists travels in the same round trip.
	var batch pgx.Batch
	var exists bool
	batch.Queue(`SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)`, q.IncidentID).QueryRow(func(r pgx.Row) error {
		return r.Scan(&exists)
	})
	var out []timeline.Annotation
	var wanted []string
	if q.EventIDs != nil {
		batch.Queue(`SELECT a.id::text, a.event_ids FROM annotations a WHERE a.incident_id = $1 AND a.deleted_at IS NULL`+numbered(1),
			append([]any{q.IncidentID}, condArgs...)...).Query(func(rows pgx.Rows) error {
			if len(q.EventIDs) == 0 {
				return nil
			}
			page := make(map[string]bool, len(q.EventIDs))
			for _, id := range q.EventIDs {
				page[id] = true
			}
			var id string
			var cited []string
			_, err := pgx.ForEachRow(rows, []any{&id, &cited}, func() error {
				if slices.ContainsFunc(cited, func(e string) bool { return page[e] }) {
					wanted = append(wanted, id)
				}
				return nil
			})
			return err
		})
	} else {
		sql, args := annotationQuery(q.IncidentID)
		batch.Queue(sql+numbered(len(args))+` ORDER BY a.created_at, a.id`, append(args, condArgs...)...).Query(func(rows pgx.Rows) error {
			var err error
			out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Annotation, error) { return scanAnnotation(r, true) })
			return err
		})
	}
	if err := s.pool.SendBatch(ctx, &batch).Close(); err != nil {
		return nil, fmt.Errorf("annotations of %s: %w", q.IncidentID, classify(err))
	}
	if !exists {
		return nil, fmt.Errorf("annotations: incident %s: %w", q.IncidentID, timeline.ErrNotFound)
	}
	if len(wanted) > 0 {
		sql, args := annotationQuery(q.IncidentID)
		args = append(args, wanted)
		rows, err := s.pool.Query(ctx, sql+fmt.Sprintf(` AND a.id = ANY($%d::uuid[])`, len(args))+` ORDER BY a.created_at, a.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("annotations of %s: %w", q.IncidentID, classify(err))
		}
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Annotation, error) { return scanAnnotation(r, true) }); err != nil {
			return nil, fmt.Errorf("annotations of %s: %w", q.IncidentID, classify(err))
		}
	}
	return out, nil
}

// checkVersion returns *timeline.VersionMismatchError when want is set and
// is not a's version.
func checkVersion(a timeline.Annotation, want int) error {
	if want != 0 && a.Version != want {
		return &timeline.VersionMismatchError{Current: a.Version}
	}
	return nil
}

// UpdateAnnotation implements timeline.AnnotationStore.
func (s *Store) UpdateAnnotation(ctx context.Context, incidentID, id string, p timeline.AnnotationPatch) (timeline.Annotation, error) {
	var out timeline.Annotation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		cur, err := s.annotationTx(ctx, tx, incidentID, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, p.IfVersion); err != nil {
			return err
		}
		next, changed := p.Apply(cur)
		if !changed {
			out = cur
			return nil
		}
		if err := next.Validate(); err != nil {
			return err
		}
		// Only the events it newly cites must be on the timeline: one it
		// kept may have left since, and stays cited (orphaned).
		var added []string
		for _, e := range next.EventIDs {
			if !slices.Contains(cur.EventIDs, e) {
				added = append(added, e)
			}
		}
		if err := checkLive(ctx, tx, incidentID, added); err != nil {
			return err
		}
		at, ns := splitTimePtr(next.At)
		var seq int64
		if err := tx.QueryRow(ctx, `UPDATE annotations SET event_ids = $3, marker = $4, title = $5, note = $6, at = $7, at_ns = $8,
			reviewed_at = CASE WHEN status IS DISTINCT FROM $9 THEN now() ELSE reviewed_at END,
			status = $9, reviewed_by = NULLIF($10, ''),
			version = version + 1, seq = nextval('event_seq'), updated_at = now()
			WHERE incident_id = $1 AND id = $2::uuid RETURNING seq`,
			incidentID, id, nonNil(next.EventIDs), next.Marker, next.Title, next.Note, at, ns, next.Status, next.ReviewedBy).Scan(&seq); err != nil {
			return err
		}
		if out, err = s.annotationTx(ctx, tx, incidentID, id); err != nil {
			return err
		}
		return notifyFeed(ctx, tx, seq)
	})
	if err != nil {
		return timeline.Annotation{}, annotationErr("updating annotation "+id+" of "+incidentID, err)
	}
	return out, nil
}

// DeleteAnnotation implements timeline.AnnotationStore.
func (s *Store) DeleteAnnotation(ctx context.Context, incidentID, id string, ifVersion int) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		cur, err := s.annotationTx(ctx, tx, incidentID, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, ifVersion); err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRow(ctx, `UPDATE annotations SET deleted_at = now(), updated_at = now(),
			version = version + 1, seq = nextval('event_seq')
			WHERE incident_id = $1 AND id = $2::uuid RETURNING seq`, incidentID, id).Scan(&seq); err != nil {
			return err
		}
		return notifyFeed(ctx, tx, seq)
	})
	if err != nil {
		return annotationErr("deleting annotation "+id+" of "+incidentID, err)
	}
	return nil
}

// SuggestAnnotations implements timeline.AnnotationStore.
func (s *Store) SuggestAnnotations(ctx context.Context, incidentID string, suggestions []timeline.Annotation) (int, error) {
	for _, a := range suggestions {
		if a.IncidentID != incidentID {
			return 0, fmt.Errorf("%w: a suggestion for incident %q among those of %q", timeline.ErrInvalid, a.IncidentID, incidentID)
		}
		if !a.Suggested {
			return 0, fmt.Errorf("%w: annotation %q is not a suggestion", timeline.ErrInvalid, a.Title)
		}
		if err := a.Validate(); err != nil {
			return 0, err
		}
	}
	if len(suggestions) == 0 {
		return 0, nil
	}
	inserted := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		if err := incidentExists(ctx, tx, incidentID); err != nil {
			return err
		}
		var maxSeq int64
		for _, a := range suggestions {
			at, ns := splitTimePtr(a.At)
			var seq int64
			err := tx.QueryRow(ctx, `INSERT INTO annotations (incident_id, event_ids, marker, title, note, at, at_ns, author, suggested, suggested_key, status, seq)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true, $9, 'active', nextval('event_seq'))
				ON CONFLICT (incident_id, suggested_key) WHERE suggested_key IS NOT NULL DO NOTHING
				RETURNING seq`, incidentID, nonNil(a.EventIDs), a.Marker, a.Title, a.Note, at, ns, a.Author, a.SuggestedKey).Scan(&seq)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // held already, whatever became of it
			}
			if err != nil {
				return err
			}
			inserted++
			maxSeq = max(maxSeq, seq)
		}
		if inserted == 0 {
			return nil
		}
		return notifyFeed(ctx, tx, maxSeq)
	})
	if err != nil {
		return 0, annotationErr("suggesting annotations of "+incidentID, err)
	}
	return inserted, nil
}

// feedEventsSQL is the events part of the feed.
const feedEventsSQL = `SELECT ` + eventColumns + ` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`

// feed reads events and annotation changes with seq > after in one
// snapshot (both draw from event_seq, and a reader that read them at two
// moments could skip a change committed in between) and merges them in seq
// order.
func (s *Store) feed(ctx context.Context, after int64, limit int) ([]timeline.Event, error) {
	var out []timeline.Event
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, feedEventsSQL, after, limit)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Event, error) { return scanEvent(r) })
		if err != nil {
			return err
		}
		// A full page of events ends the page at its last seq: annotation
		// changes past it belong to later pages, and reading them (and
		// their events) here would make every page cost as much as the
		// annotations stored after it.
		upTo := int64(math.MaxInt64)
		if len(events) == limit {
			upTo = events[len(events)-1].Seq
		}
		rows, err = tx.Query(ctx, `SELECT `+annotationColumns+` FROM annotations a WHERE a.seq > $1 AND a.seq <= $3 ORDER BY a.seq LIMIT $2`,
			after, limit, upTo)
		if err != nil {
			return err
		}
		anns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.Annotation, error) { return scanAnnotation(r, false) })
		if err != nil {
			return err
		}
		removals, err := feedRemovalsTx(ctx, tx, after, limit, upTo) // retention.go
		if err != nil {
			return err
		}
		if len(anns) == 0 && len(removals) == 0 {
			out = events
			return nil
		}
		if err := fillMissing(ctx, tx, anns); err != nil {
			return err
		}
		out = make([]timeline.Event, 0, min(limit, len(events)+len(anns)+len(removals)))
		out = append(out, events...)
		for i := range anns {
			a := &anns[i]
			out = append(out, timeline.Event{ID: a.ID, IncidentID: a.IncidentID, Seq: a.Seq, Annotation: a})
		}
		out = append(out, removals...)
		slices.SortFunc(out, func(x, y timeline.Event) int { return cmp.Compare(x.Seq, y.Seq) })
		if len(out) > limit {
			out = out[:limit]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feed: %w", classify(err))
	}
	return out, nil
}

// fillMissing sets MissingEventIDs of the annotations that are not deleted,
// one query per incident.
func fillMissing(ctx context.Context, tx pgx.Tx, anns []timeline.Annotation) error {
	byIncident := map[string][]int{}
	var order []string
	for i, a := range anns {
		if a.Deleted {
			continue
		}
		if _, ok := byIncident[a.IncidentID]; !ok {
			order = append(order, a.IncidentID)
		}
		byIncident[a.IncidentID] = append(byIncident[a.IncidentID], i)
	}
	for _, inc := range order {
		var ids []string
		for _, i := range byIncident[inc] {
			ids = append(ids, anns[i].EventIDs...)
		}
		live, err := liveIDs(ctx, tx, inc, ids)
		if err != nil {
			return err
		}
		for _, i := range byIncident[inc] {
			for _, id := range anns[i].EventIDs {
				if !live[id] {
					anns[i].MissingEventIDs = append(anns[i].MissingEventIDs, id)
				}
			}
		}
	}
	return nil
}

var _ timeline.StoryMarkStore = (*Store)(nil)

// StoryMarks implements timeline.StoryMarkStore: the events that the
// incident's hide and star annotations cite (dismissed suggestions left
// out), for the story view.
func (s *Store) StoryMarks(ctx context.Context, incidentID string) (timeline.StoryMarks, error) {
	list, err := s.Annotations(ctx, timeline.AnnotationQuery{IncidentID: incidentID,
		Markers: []string{timeline.MarkerHide, timeline.MarkerStar}})
	if err != nil {
		return timeline.StoryMarks{}, err
	}
	marks := timeline.StoryMarks{Hidden: map[string]bool{}, Starred: map[string]bool{}}
	for _, a := range list {
		into := marks.Starred
		if a.Marker == timeline.MarkerHide {
			into = marks.Hidden
		}
		for _, id := range a.EventIDs {
			into[id] = true
		}
	}
	return marks, nil
}
