package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/groundwork-dev/groundwork/timeline"
)

// AnnotationJSON is one annotation on the wire. Orphaned and
// MissingEventIDs are computed when it is read: the cited events that are
// not (or no longer) on the incident's timeline.
type AnnotationJSON struct {
	ID              string   `json:"id"`
	IncidentID      string   `json:"incident_id"`
	EventIDs        []string `json:"event_ids"`
	Marker          string   `json:"marker"`
	Title           string   `json:"title"`
	Note            string   `json:"note"`
	At              *string  `json:"at"`
	Author          string   `json:"author"`
	Suggested       bool     `json:"suggested"`
	Status          string   `json:"status"`
	ReviewedBy      *string  `json:"reviewed_by"`
	ReviewedAt      *string  `json:"reviewed_at"`
	Orphaned        bool     `json:"orphaned"`
	MissingEventIDs []string `json:"missing_event_ids"`
	Version         int      `json:"version"`
	Seq             int64    `json:"seq"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
}

func annotationJSON(a timeline.Annotation) AnnotationJSON {
	out := AnnotationJSON{ID: a.ID, IncidentID: a.IncidentID, EventIDs: nonNil(a.EventIDs), Marker: a.Marker,
		Title: a.Title, Note: a.Note, At: formatTimePtr(a.At), Author: a.Author, Suggested: a.Suggested,
		Status: a.Status, ReviewedAt: formatTimePtr(a.ReviewedAt), Orphaned: a.Orphaned(),
		MissingEventIDs: nonNil(a.MissingEventIDs), Version: a.Version, Seq: a.Seq,
		CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt)}
	if a.ReviewedBy != "" {
		by := a.ReviewedBy
		out.ReviewedBy = &by
	}
	return out
}

// AnnotationListJSON is GET /v1/incidents/{id}/annotations.
type AnnotationListJSON struct {
	IncidentID  string           `json:"incident_id"`
	Annotations []AnnotationJSON `json:"annotations"`
}

// AnnotationChangeJSON is the feed's entry for an annotation created or
// changed.
type AnnotationChangeJSON struct {
	Type       string         `json:"type"`
	IncidentID string         `json:"incident_id"`
	Seq        int64          `json:"seq"`
	Annotation AnnotationJSON `json:"annotation"`
}

// AnnotationRemovalJSON is the feed's entry for an annotation deleted.
type AnnotationRemovalJSON struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	IncidentID string `json:"incident_id"`
	Deleted    bool   `json:"deleted"`
	Seq        int64  `json:"seq"`
}

// feedTypeAnnotation is the type of the feed's annotation entries; events
// carry no type.
const feedTypeAnnotation = "annotation"

// feedEntryJSON is what the feed sends for e: the event, the change or
// removal of an annotation, or the removal of a deleted incident.
func feedEntryJSON(e timeline.Event) any {
	a := e.Annotation
	switch {
	case e.Removal != nil:
		return incidentRemovalJSON(*e.Removal) // retention.go
	case a == nil:
		return eventJSON(e).wire()
	case a.Deleted:
		return AnnotationRemovalJSON{Type: feedTypeAnnotation, ID: a.ID, IncidentID: a.IncidentID, Deleted: true, Seq: a.Seq}
	}
	return AnnotationChangeJSON{Type: feedTypeAnnotation, IncidentID: a.IncidentID, Seq: a.Seq, Annotation: annotationJSON(*a)}
}

// feedPageJSON is what GET /v1/feed encodes (FeedJSON decodes it).
type feedPageJSON struct {
	Events    []any `json:"events"`
	NextAfter int64 `json:"next_after"`
}

// annotationBody is the body of POST /v1/incidents/{id}/annotations.
type annotationBody struct {
	EventIDs []string `json:"event_ids"`
	Marker   string   `json:"marker"`
	Title    string   `json:"title"`
	Note     string   `json:"note"`
	At       *string  `json:"at"`
}

// annotationPatchBody is the body of PATCH: fields left out (or null) stay
// as they are, except at, which null clears.
type annotationPatchBody struct {
	EventIDs *[]string       `json:"event_ids"`
	Marker   *string         `json:"marker"`
	Title    *string         `json:"title"`
	Note     *string         `json:"note"`
	At       json.RawMessage `json:"at"`
	Status   *string         `json:"status"`
}

var errNoAnnotations = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
	Message: "annotations cannot be stored: the annotation store is not configured"}

func (s *Server) routeAnnotations(route func(pattern, scope string, h handlerFunc)) {
	route("GET /v1/incidents/{id}/annotations", ScopeRead, s.listAnnotations)
	route("POST /v1/incidents/{id}/annotations", ScopeWrite, s.createAnnotation)
	route("GET /v1/incidents/{id}/annotations/{aid}", ScopeRead, s.getAnnotation)
	route("PATCH /v1/incidents/{id}/annotations/{aid}", ScopeWrite, s.patchAnnotation)
	route("DELETE /v1/incidents/{id}/annotations/{aid}", ScopeWrite, s.deleteAnnotation)
}

// annotationETag is the strong ETag of an annotation: its version.
func annotationETag(a timeline.Annotation) string { return `"` + strconv.Itoa(a.Version) + `"` }

func annotationLocation(a timeline.Annotation) string {
	return "/v1/incidents/" + url.PathEscape(a.IncidentID) + "/annotations/" + a.ID
}

// annotationErr maps the store's errors of annotation aid (or of a new one
// when aid is "") of incident id to the client's.
func annotationErr(id, aid string, err error) error {
	var unknown *timeline.UnknownEventsError
	var mismatch *timeline.VersionMismatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unknown):
		return badRequest("unknown_event", invalidDetail(unknown))
	case errors.As(err, &mismatch):
		return &Error{Status: http.StatusPreconditionFailed, Code: "precondition_failed",
			Message: fmt.Sprintf(`the annotation has changed since it was read: its ETag is now "%d"; read it again and retry`, mismatch.Current)}
	case errors.Is(err, timeline.ErrAnnotationNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "annotation " + quoted(aid) + " does not exist in incident " + quoted(id)}
	case errors.Is(err, timeline.ErrNotFound):
		return incidentNotFound(id)
	}
	// The handlers validated the annotation before the store saw it; an
	// ErrInvalid from the store is a value the database refused, which
	// writeError answers without repeating the database's words.
	return err
}

// pathAnnotation reads and checks the path's incident and annotation ids.
func pathAnnotation(r *http.Request) (id, aid string, err error) {
	id, aid = r.PathValue("id"), r.PathValue("aid")
	if err := checkIncidentID(id); err != nil {
		return id, aid, err
	}
	if !timeline.ValidAnnotationID(aid) {
		return id, aid, badRequest("invalid_annotation_id", "an annotation id is a UUID such as 0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1, got "+quoted(aid))
	}
	return id, strings.ToLower(aid), nil
}

// readBody reads a JSON request body: 413 when it is too large, 415 when it
// is declared as something else, 400 when it is empty.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
				Message: fmt.Sprintf("the body exceeds the limit of %d bytes", tooLarge.Limit)}
		}
		return nil, badRequest("unreadable_body", "the body could not be read")
	}
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, malformed("the body is empty: send a JSON object")
	}
	return body, nil
}

func (s *Server) createAnnotation(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var b annotationBody
	if err := decodeStrict(body, &b); err != nil {
		return err
	}
	if b.Marker == "" {
		return malformed("marker: required, one of %s", strings.Join(timeline.Markers, ", "))
	}
	a := timeline.Annotation{IncidentID: id, EventIDs: nonNil(b.EventIDs), Marker: b.Marker, Title: b.Title, Note: b.Note,
		Author: tokenName(r), Status: timeline.AnnotationActive}
	if b.At != nil {
		if a.At, err = parseBodyTime("at", *b.At, true); err != nil {
			return err
		}
	}
	if err := a.Validate(); err != nil {
		return badRequest("invalid_annotation", invalidDetail(err))
	}
	if s.Annotations == nil {
		return errNoAnnotations
	}
	out, err := s.Annotations.CreateAnnotation(r.Context(), a)
	if err != nil {
		return annotationErr(id, "", err)
	}
	h := w.Header()
	h.Set("Location", annotationLocation(out))
	h.Set("ETag", annotationETag(out))
	return writeJSON(w, http.StatusCreated, annotationJSON(out))
}

func (s *Server) listAnnotations(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkIncidentID(id); err != nil {
		return err
	}
	qs := r.URL.Query()
	q := timeline.AnnotationQuery{IncidentID: id}
	for _, v := range qs["marker"] {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m == "" {
				continue
			}
			if !timeline.IsMarker(m) {
				return badRequest("invalid_marker", fmt.Sprintf("marker must be one of %s, got %s", strings.Join(timeline.Markers, ", "), quoted(m)))
			}
			q.Markers = append(q.Markers, m)
		}
	}
	switch v := qs.Get("include_dismissed"); v {
	case "", "false":
	case "true":
		q.IncludeDismissed = true
	default:
		return badRequest("invalid_include_dismissed", "include_dismissed must be true or false, got "+quoted(v))
	}
	if s.Annotations == nil {
		return errNoAnnotations
	}
	version, err := s.version(r, id)
	if err != nil {
		return incidentErr(id, err)
	}
	if version != "" && notModified(w, r, etagOf(version, "annotations", qs.Encode())) {
		return nil
	}
	list, err := s.Annotations.Annotations(r.Context(), q)
	if err != nil {
		return annotationErr(id, "", err)
	}
	out := AnnotationListJSON{IncidentID: id, Annotations: make([]AnnotationJSON, 0, len(list))}
	for _, a := range list {
		out.Annotations = append(out.Annotations, annotationJSON(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getAnnotation(w http.ResponseWriter, r *http.Request) error {
	id, aid, err := pathAnnotation(r)
	if err != nil {
		return err
	}
	if s.Annotations == nil {
		return errNoAnnotations
	}
	a, err := s.Annotations.Annotation(r.Context(), id, aid)
	if err != nil {
		return annotationErr(id, aid, err)
	}
	h := w.Header()
	h.Set("ETag", annotationETag(a))
	h.Set("Cache-Control", "private, no-cache")
	return writeJSON(w, http.StatusOK, annotationJSON(a))
}

// ifMatch checks the request's If-Match against a (strong comparison, RFC
// 9110 §13.1.1: a weak tag never matches). required makes a request without
// one 428.
func ifMatch(r *http.Request, a timeline.Annotation, required bool) error {
	headers := r.Header.Values("If-Match")
	if len(headers) == 0 {
		if required {
			return &Error{Status: http.StatusPreconditionRequired, Code: "precondition_required",
				Message: "send If-Match with the annotation's ETag (from GET, POST or an earlier PATCH), so that a change made meanwhile is not overwritten"}
		}
		return nil
	}
	etag := annotationETag(a)
	for _, h := range headers {
		for _, tag := range strings.Split(h, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || tag == etag {
				return nil
			}
		}
	}
	return &Error{Status: http.StatusPreconditionFailed, Code: "precondition_failed",
		Message: fmt.Sprintf("If-Match does not match: the annotation's ETag is %s; read it again and retry", etag)}
}

func (s *Server) patchAnnotation(w http.ResponseWriter, r *http.Request) error {
	id, aid, err := pathAnnotation(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var b annotationPatchBody
	if err := decodeStrict(body, &b); err != nil {
		return err
	}
	p := timeline.AnnotationPatch{EventIDs: b.EventIDs, Marker: b.Marker, Title: b.Title, Note: b.Note, Status: b.Status, By: tokenName(r)}
	if len(b.At) > 0 {
		p.SetAt = true
		if string(b.At) != "null" {
			var at string
			if err := json.Unmarshal(b.At, &at); err != nil {
				return malformed("at: must be an RFC 3339 time or null")
			}
			if p.At, err = parseBodyTime("at", at, true); err != nil {
				return err
			}
		}
	}
	if s.Annotations == nil {
		return errNoAnnotations
	}
	cur, err := s.matchedAnnotation(r, id, aid, true)
	if err != nil {
		return err
	}
	next, _ := p.Apply(cur)
	if err := next.Validate(); err != nil {
		return badRequest("invalid_annotation", invalidDetail(err))
	}
	p.IfVersion = cur.Version
	out, err := s.Annotations.UpdateAnnotation(r.Context(), id, aid, p)
	if err != nil {
		return annotationErr(id, aid, err)
	}
	w.Header().Set("ETag", annotationETag(out))
	return writeJSON(w, http.StatusOK, annotationJSON(out))
}

// matchedAnnotation reads the stored annotation and checks it against the
// request's If-Match (required or not). The store checks the version again
// under its lock, so a change in between is still refused.
func (s *Server) matchedAnnotation(r *http.Request, id, aid string, required bool) (timeline.Annotation, error) {
	cur, err := s.Annotations.Annotation(r.Context(), id, aid)
	if err != nil {
		return cur, annotationErr(id, aid, err)
	}
	return cur, ifMatch(r, cur, required)
}

func (s *Server) deleteAnnotation(w http.ResponseWriter, r *http.Request) error {
	id, aid, err := pathAnnotation(r)
	if err != nil {
		return err
	}
	if s.Annotations == nil {
		return errNoAnnotations
	}
	cur, err := s.matchedAnnotation(r, id, aid, false)
	if err != nil {
		return err
	}
	if err := s.Annotations.DeleteAnnotation(r.Context(), id, aid, cur.Version); err != nil {
		return annotationErr(id, aid, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// eventAnnotations returns the annotations that rows of incident id's
// timeline carry (dismissed suggestions left out), by event id: those of
// the events page when it is not nil, else all. Without an annotation store
// it returns nil.
func (s *Server) eventAnnotations(ctx context.Context, id string, page []string) (map[string][]AnnotationJSON, error) {
	if s.Annotations == nil {
		return nil, nil
	}
	list, err := s.Annotations.Annotations(ctx, timeline.AnnotationQuery{IncidentID: id, EventIDs: page})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	out := map[string][]AnnotationJSON{}
	for _, a := range list {
		aj := annotationJSON(a)
		for _, e := range a.EventIDs {
			out[e] = append(out[e], aj)
		}
	}
	return out, nil
}
