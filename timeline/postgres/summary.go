package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

var _ timeline.SummaryStore = (*Store)(nil)

// incidentPeopleSQL lists the ids of the people incident $1's events name:
// actors, notified users and assignees (a superset of the identities the
// summary finds in them).
const incidentPeopleSQL = `
SELECT ARRAY(SELECT DISTINCT p.id FROM events e, LATERAL (
    SELECT e.actor ->> 'id' AS id
    UNION ALL SELECT e.details -> 'user' ->> 'id' WHERE e.kind = 'page.notified'
    UNION ALL SELECT a ->> 'id' FROM jsonb_array_elements(CASE WHEN jsonb_typeof(e.details -> 'assignees') = 'array'
                                                      THEN e.details -> 'assignees' ELSE '[]' END) a
  ) p
  WHERE e.incident_id = $1 AND COALESCE(p.id, '') <> '') AS ids`

// priorPagesSQL lists the notifications of incident $1's people in other
// incidents. The pages are read by person and time (events_notified_by_person),
// and kept when their incident's window or span meets [since, until): the
// candidate incidents are found through incidents_window and incidents_span.
var priorPagesSQL = `
WITH people AS (` + incidentPeopleSQL + `)
SELECT DISTINCT ON (e.id) e.details -> 'user' ->> 'id' AS user_id, e.occurred_at,
       COALESCE(e.details ->> 'notification_type', '')
FROM people, incidents i
JOIN events e ON e.incident_id = i.id
WHERE i.id <> $1
  AND (` + windowOverlaps("i.", "$2", "$3") + ` OR ` + spanOverlaps("i.", "$2", "$3") + `)
  AND ((i.window_start < $3 AND i.window_end >= $2)
       OR (i.started_at < $3 AND COALESCE(i.resolved_at, 'infinity') >= $2))
  AND e.occurred_at >= $2 AND e.occurred_at < $3
  AND e.kind = 'page.notified' AND NOT e.deleted
  AND (e.details -> 'user' ->> 'id') = ANY (people.ids)
ORDER BY e.id`

// PriorPages implements timeline.SummaryStore. Notifications are counted
// as interruptions (timeline.CountInterruptions): several channels to one
// person within a minute are one, email none.
func (s *Store) PriorPages(ctx context.Context, incidentID string, since, until time.Time) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, priorPagesSQL, incidentID, since.UTC(), until.UTC())
	if err != nil {
		return nil, fmt.Errorf("prior pages of %s: %w", incidentID, classify(err))
	}
	defer rows.Close()
	byUser := map[string][]timeline.Notification{}
	for rows.Next() {
		var user, channel string
		var at time.Time
		if err := rows.Scan(&user, &at, &channel); err != nil {
			return nil, fmt.Errorf("prior pages of %s: %w", incidentID, classify(err))
		}
		byUser[user] = append(byUser[user], timeline.Notification{At: at, Channel: channel})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("prior pages of %s: %w", incidentID, classify(err))
	}
	out := map[string]int{}
	for u, ns := range byUser {
		if n := timeline.CountInterruptions(ns); n > 0 {
			out[u] = n
		}
	}
	return out, nil
}

// overlappingPeopleSQL lists who acted or was notified in each incident.
const overlappingPeopleSQL = `
SELECT DISTINCT e.incident_id, e.source, p.id
FROM events e,
LATERAL (SELECT e.actor ->> 'id' AS id WHERE COALESCE((e.actor ->> 'bot')::boolean, false) = false
         UNION ALL SELECT e.details -> 'user' ->> 'id' WHERE e.kind = 'page.notified') p
WHERE e.incident_id = ANY($1) AND COALESCE(p.id, '') <> ''
  AND e.kind NOT LIKE 'alert.%' AND e.kind NOT LIKE 'ci.%'
ORDER BY 1, 2, 3`

// peopleCacheSize is how many incidents' people a Store keeps.
const peopleCacheSize = 4096

// incidentPeople is an incident's people, as they were when its events'
// highest seq was seq.
type incidentPeople struct {
	seq int64
	ids []timeline.Identity
}

// eventsSeqSQL reads each incident's events' highest seq, which every
// insert, change and deletion of one of them moves (events_incident_seq
// answers each from one entry); 0 for an incident without events.
const eventsSeqSQL = `SELECT i.id, COALESCE((SELECT max(seq) FROM events WHERE incident_id = i.id), 0)
FROM unnest($1::text[]) AS i(id)`

// OverlappingPeople implements timeline.SummaryStore. The people of an
// incident are read from its events once per version of them and kept
// (the peopleCacheSize most recent incidents): a busy organisation's
// incident overlaps a score of others, whose thousands of events would
// otherwise be read for every summary.
func (s *Store) OverlappingPeople(ctx context.Context, incidentIDs []string) (map[string][]timeline.Identity, error) {
	out := map[string][]timeline.Identity{}
	if len(incidentIDs) == 0 {
		return out, nil
	}
	seqs := make(map[string]int64, len(incidentIDs))
	rows, err := s.pool.Query(ctx, eventsSeqSQL, incidentIDs)
	if err != nil {
		return nil, fmt.Errorf("people of overlapping incidents: %w", classify(err))
	}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("people of overlapping incidents: %w", classify(err))
		}
		seqs[id] = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("people of overlapping incidents: %w", classify(err))
	}
	var read []string
	for _, id := range incidentIDs {
		if p, ok := s.people.Get(id); ok && p.seq == seqs[id] {
			out[id] = slices.Clone(p.ids)
			continue
		}
		out[id] = []timeline.Identity{}
		read = append(read, id)
	}
	if len(read) == 0 {
		return out, nil
	}
	// Read after the seqs: a change in between is kept under the older
	// seq, which the next call no longer finds, and so reads again.
	rows, err = s.pool.Query(ctx, overlappingPeopleSQL, read)
	if err != nil {
		return nil, fmt.Errorf("people of overlapping incidents: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var inc string
		var id timeline.Identity
		if err := rows.Scan(&inc, &id.Source, &id.ID); err != nil {
			return nil, fmt.Errorf("people of overlapping incidents: %w", classify(err))
		}
		out[inc] = append(out[inc], id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("people of overlapping incidents: %w", classify(err))
	}
	for _, id := range read {
		s.people.Add(id, incidentPeople{seq: seqs[id], ids: slices.Clone(out[id])})
	}
	return out, nil
}

// versionSQL reads what an incident's responses are made of, in a form that
// changes exactly when they do:
//   - the incident row's updated_at, which UpsertIncident moves only when a
//     column really changed;
//   - the events' highest seq: every insert, every real change and every
//     deletion (a tombstone keeps its row) draws a new, higher one. The
//     events_incident_seq index answers it from one entry;
//   - likewise the annotations' highest seq (annotations_incident), as
//     timeline rows carry their annotations;
//   - a digest of the collection status rows' content (not their
//     updated_at, which moves on every write even when nothing changed).
const versionSQL = `
SELECT (extract(epoch FROM i.updated_at) * 1000000)::bigint,
       GREATEST(COALESCE((SELECT max(seq) FROM events WHERE incident_id = i.id), 0),
                COALESCE((SELECT max(seq) FROM annotations WHERE incident_id = i.id), 0)),
       COALESCE((SELECT md5(string_agg(concat_ws('|', cs.source, cs.state, cs.error, cs.reason, cs.event_count,
                     (extract(epoch FROM cs.started_at) * 1000000)::bigint,
                     (extract(epoch FROM cs.finished_at) * 1000000)::bigint), E'\n' ORDER BY cs.source))
                 FROM collection_status cs WHERE cs.incident_id = i.id), '')
FROM incidents i
WHERE i.id = $1`

// IncidentVersion returns an opaque token that changes exactly when the
// incident, its events, its annotations or its collection status change;
// the API derives ETags from it. It returns timeline.ErrNotFound for an
// unknown incident.
func (s *Store) IncidentVersion(ctx context.Context, incidentID string) (string, error) {
	var updated, maxSeq int64
	var status string
	err := s.pool.QueryRow(ctx, versionSQL, incidentID).Scan(&updated, &maxSeq, &status)
	if err != nil {
		return "", fmt.Errorf("version of incident %s: %w", incidentID, classify(err))
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%d|%d|%s", updated, maxSeq, status))
	return hex.EncodeToString(h[:12]), nil
}
