package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Paging limits of the timeline (PRODUCT.md §5) and of the incident list.
const (
	timelineDefaultLimit  = 500
	timelineMaxLimit      = 5000
	incidentsDefaultLimit = 50
	incidentsMaxLimit     = 500
)

// timelineParams is the decoded query string of the timeline endpoint.
type timelineParams struct {
	Sources    []string
	KindPrefix string
	Since      *time.Time
	Until      *time.Time
	Limit      int
	Cursor     string
	Format     string
}

func parseLimit(q url.Values, def, maxLimit int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("invalid_limit", fmt.Sprintf("limit must be an integer from 1 to %d, got %s", maxLimit, quoted(v)))
	}
	return n, nil
}

func parseTimeParam(q url.Values, name string) (*time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, badRequest("invalid_"+name, fmt.Sprintf("%s must be an RFC 3339 time such as 2026-11-20T09:00:00Z, got %s", name, quoted(v)))
	}
	t = t.UTC()
	return &t, nil
}

// parseTimelineParams reads a timeline query; sources are the names the
// source filter accepts.
func parseTimelineParams(q url.Values, sources []string) (timelineParams, error) {
	var p timelineParams
	var err error
	for _, v := range q["source"] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !slices.Contains(sources, s) {
				return p, badRequest("invalid_source", fmt.Sprintf("source must be one of %s, got %s", strings.Join(sources, ", "), quoted(s)))
			}
			p.Sources = append(p.Sources, s)
		}
	}
	if k := q.Get("kind"); k != "" {
		if !validKindFilter(k) {
			return p, badRequest("invalid_kind", fmt.Sprintf("kind must be a kind such as page.acknowledged or a prefix such as page., got %s", quoted(k)))
		}
		p.KindPrefix = k
	}
	if p.Since, err = parseTimeParam(q, "since"); err != nil {
		return p, err
	}
	if p.Until, err = parseTimeParam(q, "until"); err != nil {
		return p, err
	}
	if p.Since != nil && p.Until != nil && p.Since.After(*p.Until) {
		return p, badRequest("invalid_range", "since must not be after until")
	}
	if p.Limit, err = parseLimit(q, timelineDefaultLimit, timelineMaxLimit); err != nil {
		return p, err
	}
	p.Cursor = q.Get("cursor")
	p.Format = q.Get("format")
	switch p.Format {
	case "":
		p.Format = formatJSON
	case formatJSON:
	case formatJSONL, formatCSV, formatMarkdown:
		// An export is the whole (filtered) timeline, streamed.
		if q.Has("cursor") || q.Has("limit") {
			return p, badRequest("invalid_parameter", fmt.Sprintf("format=%s exports the whole timeline: limit and cursor apply to format=json only", p.Format))
		}
	default:
		return p, badRequest("invalid_format", fmt.Sprintf("format must be json, jsonl, csv or markdown, got %s", quoted(p.Format)))
	}
	return p, nil
}

func validKindFilter(k string) bool {
	if strings.HasSuffix(k, ".") {
		for _, v := range timeline.Kinds {
			if strings.HasPrefix(v, k) {
				return true
			}
		}
		return false
	}
	return timeline.IsKind(k)
}

// scope binds a cursor to the query that issued it: a cursor replayed with
// other filters is rejected rather than silently skipping events.
func (p timelineParams) scope(incidentID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q|%v|%v", p.Sources, p.KindPrefix, p.Since, p.Until)
	return "timeline:" + incidentID + ":" + hex.EncodeToString(h.Sum(nil)[:8])
}

func (p timelineParams) query(incidentID string) timeline.TimelineQuery {
	return timeline.TimelineQuery{IncidentID: incidentID, Since: p.Since, Until: p.Until,
		Sources: p.Sources, KindPrefix: p.KindPrefix}
}

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	// Any lookup below may find the incident gone.
	defer func() { err = incidentErr(id, err) }()
	switch v := r.URL.Query().Get("view"); v {
	case "", viewRaw:
	case viewStory:
		return s.getStory(w, r, id)
	default:
		return badRequest("invalid_view", fmt.Sprintf("view must be raw or story, got %s", quoted(v)))
	}
	p, err := parseTimelineParams(r.URL.Query(), s.sourceNames())
	if err != nil {
		return err
	}
	q := p.query(id)
	q.Limit = p.Limit + 1
	if p.Cursor != "" {
		t, eid, err := s.Cursors.Decode(p.scope(id), p.Cursor)
		if err != nil {
			return badRequest("invalid_cursor", "cursor is malformed, was tampered with, or belongs to another query")
		}
		q.After = &timeline.TimelinePosition{OccurredAt: t, ID: eid}
	}
	// The version is read before the data: were it read after, a change in
	// between would label old data with the new ETag.
	version, err := s.version(r, id)
	if err != nil {
		return err
	}
	etag := ""
	if version != "" {
		etag = etagOf(version, "timeline", p.Format, r.URL.Query().Encode(), s.Review.Location)
	}
	if etag != "" && p.Format == formatMarkdown {
		// The Markdown export opens with the review: its settings are part
		// of the representation.
		etag = etagOf(etag, reviewSettings(s.Review))
	}
	if etag != "" && notModified(w, r, etag) {
		return nil
	}
	// A version says the incident exists; without one, ask. Exports need
	// the incident anyway (the Markdown heading names it).
	if version == "" || p.Format != formatJSON {
		inc, err := s.Store.Incident(r.Context(), id)
		if err != nil {
			return err
		}
		if p.Format != formatJSON {
			return s.exportTimeline(w, r, inc, p)
		}
	}
	if enc, ok := s.Store.(timeline.TimelineEncoder); ok {
		return s.writeEncodedTimeline(w, r, enc, id, p, q)
	}
	events, err := s.Store.Timeline(r.Context(), q)
	if err != nil {
		return err
	}
	out := TimelineJSON{IncidentID: id, Events: make([]EventJSON, 0, min(len(events), p.Limit))}
	if len(events) > p.Limit {
		last := events[p.Limit-1]
		c := s.Cursors.Encode(p.scope(id), last.OccurredAt, last.ID)
		out.NextCursor = &c
		events = events[:p.Limit]
	}
	out.Partial = out.NextCursor != nil || p.Cursor != ""
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	anns, err := s.eventAnnotations(r.Context(), id, ids)
	if err != nil {
		return err
	}
	for _, e := range events {
		ej := eventJSON(e)
		ej.Annotations = anns[e.ID]
		out.Events = append(out.Events, ej)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) error {
	qs := r.URL.Query()
	limit, err := parseLimit(qs, incidentsDefaultLimit, incidentsMaxLimit)
	if err != nil {
		return err
	}
	q := timeline.IncidentQuery{Limit: limit + 1}
	if c := qs.Get("cursor"); c != "" {
		t, id, err := s.Cursors.Decode("incidents", c)
		if err != nil {
			return badRequest("invalid_cursor", "cursor is malformed, was tampered with, or belongs to another query")
		}
		q.Before = &timeline.IncidentPosition{StartedAt: t, ID: id}
	}
	list, err := s.Store.Incidents(r.Context(), q)
	if err != nil {
		return err
	}
	out := IncidentListJSON{Incidents: make([]IncidentJSON, 0, len(list))}
	if len(list) > limit {
		last := list[limit-1]
		c := s.Cursors.Encode("incidents", last.StartedAt, last.ID)
		out.NextCursor = &c
		list = list[:limit]
	}
	for _, inc := range list {
		out.Incidents = append(out.Incidents, incidentJSON(inc, s.now()))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) (err error) {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	// Any lookup below may find the incident gone.
	defer func() { err = incidentErr(id, err) }()
	p, err := s.gatherReview(r, id)
	if err != nil {
		return err
	}
	// An open incident's window ends now, so no two answers are alike:
	// it gets no ETag until it resolves.
	if p.version != "" && !p.incident.Open() {
		// What the summary reads from other incidents is part of the
		// representation too, so it goes into the ETag with the version.
		etag := etagOf(p.version, "incident", s.Summaries != nil, reviewSettings(s.Review), summaryInputDigest(p.input))
		if notModified(w, r, etag) {
			return nil
		}
	}
	sts, err := s.Store.SourceStatuses(r.Context(), id)
	if err != nil {
		return err
	}
	out := IncidentDetailJSON{IncidentJSON: incidentJSON(p.incident, s.now()), Collection: make([]SourceStatusJSON, 0, len(sts))}
	for _, st := range sts {
		out.Collection = append(out.Collection, sourceStatusJSON(st))
	}
	if s.Summaries != nil {
		// The summary is derived once per version of its inputs and kept.
		if err := s.derive(r, p); err != nil {
			return err
		}
		out.Summary = &p.review.Summary
	}
	return writeJSON(w, http.StatusOK, out)
}

// writeEncodedTimeline writes a TimelineJSON page from events the store
// rendered itself; TestEncodedTimelineMatchesEventJSON keeps the two
// encodings equal.
func (s *Server) writeEncodedTimeline(w http.ResponseWriter, r *http.Request, enc timeline.TimelineEncoder, id string, p timelineParams, q timeline.TimelineQuery) error {
	events, err := enc.TimelineJSON(r.Context(), q)
	if err != nil {
		return err
	}
	var next *string
	if len(events) > p.Limit {
		last := events[p.Limit-1]
		c := s.Cursors.Encode(p.scope(id), last.OccurredAt, last.ID)
		next = &c
		events = events[:p.Limit]
	}
	// Rows carry their annotations: the store's JSON of an event is an
	// object, and "annotations" goes last, where EventJSON puts it.
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	anns, err := s.eventAnnotations(r.Context(), id, ids)
	if err != nil {
		return err
	}
	extra := make(map[string][]byte)
	size := 64
	for _, e := range events {
		size += len(e.JSON) + 1
		if a := anns[e.ID]; len(a) > 0 {
			if _, done := extra[e.ID]; !done {
				b, err := jsonLine(a)
				if err != nil {
					return err
				}
				extra[e.ID] = b
				size += len(b) + len(`,"annotations":`)
			}
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	head, _ := json.Marshal(id)
	buf.WriteString(`{"incident_id":`)
	buf.Write(head)
	buf.WriteString(`,"events":[`)
	for i, e := range events {
		if i > 0 {
			buf.WriteByte(',')
		}
		if a, ok := extra[e.ID]; ok && len(e.JSON) > 0 && e.JSON[len(e.JSON)-1] == '}' {
			buf.Write(e.JSON[:len(e.JSON)-1])
			buf.WriteString(`,"annotations":`)
			buf.Write(a)
			buf.WriteByte('}')
			continue
		}
		buf.Write(e.JSON)
	}
	buf.WriteString(`],"next_cursor":`)
	tail, _ := json.Marshal(next)
	buf.Write(tail)
	buf.WriteString(`,"partial":`)
	buf.WriteString(strconv.FormatBool(next != nil || p.Cursor != ""))
	buf.WriteString("}\n")
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}
