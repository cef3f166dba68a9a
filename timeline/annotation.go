package timeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Annotations are what people (and Groundwork's own detectors) say about a
// timeline: markers and notes on events, or on a moment. They are kept apart
// from events and keyed by event id, which is stable by design, so a
// re-collection never touches them. An annotation whose cited event leaves
// the timeline (a deleted chat message) is orphaned, never dropped: the
// store reports the missing ids with it (Annotation.MissingEventIDs).

// Markers: a fixed vocabulary, so that review tools can rely on it.
const (
	MarkerDetection    = "detection"
	MarkerDiagnosis    = "diagnosis"
	MarkerRepair       = "repair"
	MarkerKeyMoment    = "key_moment"
	MarkerCoordination = "coordination"
	MarkerHandoff      = "handoff"
	MarkerQuestion     = "question"
	MarkerBlindSpot    = "blind_spot"
	MarkerStar         = "star"
	MarkerHide         = "hide"
)

// Markers lists every marker of the vocabulary.
var Markers = []string{
	MarkerDetection, MarkerDiagnosis, MarkerRepair, MarkerKeyMoment, MarkerCoordination,
	MarkerHandoff, MarkerQuestion, MarkerBlindSpot, MarkerStar, MarkerHide,
}

// IsMarker reports whether m belongs to the vocabulary.
func IsMarker(m string) bool {
	for _, v := range Markers {
		if v == m {
			return true
		}
	}
	return false
}

// Annotation statuses. A person's annotation is always active. A suggested
// one (Groundwork's own) is active until a person confirms or dismisses it.
const (
	AnnotationActive    = "active"
	AnnotationConfirmed = "confirmed"
	AnnotationDismissed = "dismissed"
)

// AnnotationStatuses lists every status.
var AnnotationStatuses = []string{AnnotationActive, AnnotationConfirmed, AnnotationDismissed}

// Limits of an annotation's content.
const (
	// MaxAnnotationTitle is the longest title, in characters.
	MaxAnnotationTitle = 200
	// MaxAnnotationNote is the longest note, in characters.
	MaxAnnotationNote = 20000
	// MaxAnnotationEvents is the largest number of events one annotation
	// cites.
	MaxAnnotationEvents = 200
	// MaxEventIDLen is the longest event id an annotation may cite, in
	// bytes.
	MaxEventIDLen = 1024
)

// SuggestedAuthor is the author of Groundwork's own suggestions.
const SuggestedAuthor = "groundwork"

// Annotation is one marker or note on an incident's timeline.
type Annotation struct {
	// ID is assigned by the store (a UUID).
	ID         string
	IncidentID string
	// EventIDs are the events it is about; empty only when At is set (a
	// marker on a moment, such as a blind spot).
	EventIDs []string
	Marker   string
	Title    string
	Note     string
	// At is the moment it is about, when it is about one; UTC, nanoseconds
	// kept.
	At *time.Time
	// Author is who wrote it: the API token's name, or SuggestedAuthor.
	Author string
	// Suggested marks Groundwork's own detections, which a person confirms
	// or dismisses (Status).
	Suggested bool
	// SuggestedKey identifies a suggestion among its incident's, so that
	// running a detector again neither duplicates it nor brings back one a
	// person dismissed or deleted. Empty for a person's annotation.
	SuggestedKey string
	// Status is AnnotationActive, AnnotationConfirmed or
	// AnnotationDismissed.
	Status string
	// ReviewedBy and ReviewedAt say who last set Status, and when.
	ReviewedBy string
	ReviewedAt *time.Time
	// Version starts at 1 and grows with every change; the API's ETag.
	Version int
	// Seq is the position of its last change in the feed, drawn from the
	// same sequence as events' seqs.
	Seq       int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Deleted marks an annotation a person deleted: it is kept so that the
	// feed carries the removal, and only Feed returns it.
	Deleted bool
	// MissingEventIDs, computed when the annotation is read, are the cited
	// events that are not (or no longer) on the incident's timeline.
	MissingEventIDs []string
}

// Orphaned reports whether an event the annotation cites has left the
// timeline.
func (a Annotation) Orphaned() bool { return len(a.MissingEventIDs) > 0 }

// Validate reports the first thing wrong with a, naming the field. The error
// wraps ErrInvalid.
func (a Annotation) Validate() error {
	if err := ValidateIncidentID(a.IncidentID); err != nil {
		return err
	}
	if !IsMarker(a.Marker) {
		return fmt.Errorf("%w: marker must be one of %s, got %q", ErrInvalid, strings.Join(Markers, ", "), a.Marker)
	}
	if len(a.EventIDs) == 0 && a.At == nil {
		return fmt.Errorf("%w: event_ids: name at least one event, or give at for a marker on a moment", ErrInvalid)
	}
	if len(a.EventIDs) > MaxAnnotationEvents {
		return fmt.Errorf("%w: event_ids: at most %d events, got %d", ErrInvalid, MaxAnnotationEvents, len(a.EventIDs))
	}
	seen := make(map[string]bool, len(a.EventIDs))
	for i, id := range a.EventIDs {
		switch {
		case id == "":
			return fmt.Errorf("%w: event_ids[%d] is empty", ErrInvalid, i)
		case len(id) > MaxEventIDLen:
			return fmt.Errorf("%w: event_ids[%d] is %d bytes long, at most %d", ErrInvalid, i, len(id), MaxEventIDLen)
		case !storableText(id):
			return fmt.Errorf("%w: event_ids[%d] holds a NUL character or invalid UTF-8", ErrInvalid, i)
		case seen[id]:
			return fmt.Errorf("%w: event_ids[%d] names %q a second time", ErrInvalid, i, id)
		}
		seen[id] = true
	}
	if err := checkText("title", a.Title, MaxAnnotationTitle); err != nil {
		return err
	}
	if strings.ContainsAny(a.Title, "\r\n") {
		return fmt.Errorf("%w: title must be one line", ErrInvalid)
	}
	if err := checkText("note", a.Note, MaxAnnotationNote); err != nil {
		return err
	}
	if a.At != nil {
		if y := a.At.UTC().Year(); y < 1 || y > 9999 {
			return fmt.Errorf("%w: at is outside the years 1 to 9999", ErrInvalid)
		}
	}
	if a.Author == "" {
		return fmt.Errorf("%w: author is empty", ErrInvalid)
	}
	if err := checkText("author", a.Author, MaxAnnotationTitle); err != nil {
		return err
	}
	switch a.Status {
	case AnnotationActive:
	case AnnotationConfirmed, AnnotationDismissed:
		if !a.Suggested {
			return fmt.Errorf("%w: status: only a suggested annotation is confirmed or dismissed (delete a person's annotation instead)", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: status must be one of %s, got %q", ErrInvalid, strings.Join(AnnotationStatuses, ", "), a.Status)
	}
	if a.Suggested != (a.SuggestedKey != "") {
		return fmt.Errorf("%w: a suggested annotation needs a suggested key, and only a suggested one has one", ErrInvalid)
	}
	return checkText("suggested key", a.SuggestedKey, MaxEventIDLen)
}

// checkText refuses a value Postgres cannot store (NUL, invalid UTF-8) or
// one longer than limit characters.
func checkText(field, s string, limit int) error {
	if !storableText(s) {
		return fmt.Errorf("%w: %s holds a NUL character or invalid UTF-8", ErrInvalid, field)
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Errorf("%w: %s is %d characters long, at most %d", ErrInvalid, field, n, limit)
	}
	return nil
}

func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// ValidAnnotationID reports whether id has the form of an annotation id: a
// UUID in its 36-character text form.
func ValidAnnotationID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ErrAnnotationNotFound is returned for an annotation that does not exist
// (or was deleted); errors.Is(err, ErrNotFound) holds for it too.
var ErrAnnotationNotFound = fmt.Errorf("annotation %w", ErrNotFound)

// ErrVersionMismatch is wrapped by a write whose expected version is not the
// annotation's current one: someone changed it since it was read.
var ErrVersionMismatch = errors.New("the annotation has changed")

// VersionMismatchError says which version an annotation has now.
type VersionMismatchError struct {
	Current int
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("%s: it is at version %d", ErrVersionMismatch, e.Current)
}

// Unwrap makes errors.Is(err, ErrVersionMismatch) hold.
func (e *VersionMismatchError) Unwrap() error { return ErrVersionMismatch }

// UnknownEventsError is returned when an annotation would cite events that
// are not on its incident's timeline. It wraps ErrInvalid.
type UnknownEventsError struct {
	IncidentID string
	IDs        []string
}

func (e *UnknownEventsError) Error() string {
	return fmt.Sprintf("%s: event_ids: %s not on the timeline of incident %q", ErrInvalid, quoteList(e.IDs, 3), e.IncidentID)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *UnknownEventsError) Unwrap() error { return ErrInvalid }

// quoteList quotes the first n ids ("a", "b" and 4 more are / "a" is).
func quoteList(ids []string, n int) string {
	var b strings.Builder
	for i, id := range ids {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(ids)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(id) > 80 {
			id = id[:80] + "…"
		}
		fmt.Fprintf(&b, "%q", id)
	}
	if len(ids) == 1 {
		return b.String() + " is"
	}
	return b.String() + " are"
}

// AnnotationQuery selects an incident's annotations.
type AnnotationQuery struct {
	IncidentID string
	// Markers keeps only these markers when not empty.
	Markers []string
	// IncludeDismissed includes dismissed suggestions.
	IncludeDismissed bool
	// EventIDs, when not nil, keeps only the annotations that cite at
	// least one of these events (a timeline page's).
	EventIDs []string
}

// AnnotationPatch changes some fields of an annotation; nil fields are left
// as they are.
type AnnotationPatch struct {
	EventIDs *[]string
	Marker   *string
	Title    *string
	Note     *string
	// SetAt, when true, sets At (nil clears it).
	SetAt bool
	At    *time.Time
	// Status confirms or dismisses a suggested annotation (or makes it
	// active again); ReviewedBy and ReviewedAt then say By and when.
	Status *string
	// By is who makes the change.
	By string
	// IfVersion is the version the change was made against; a mismatch is
	// a *VersionMismatchError. Zero accepts any version.
	IfVersion int
}

// Apply returns a with p applied, and whether anything changed. ReviewedBy
// is set to p.By when Status changed; the store sets ReviewedAt.
func (p AnnotationPatch) Apply(a Annotation) (Annotation, bool) {
	out := a
	changed := false
	if p.EventIDs != nil && !equalStrings(*p.EventIDs, a.EventIDs) {
		out.EventIDs, changed = append([]string(nil), *p.EventIDs...), true
	}
	if p.Marker != nil && *p.Marker != a.Marker {
		out.Marker, changed = *p.Marker, true
	}
	if p.Title != nil && *p.Title != a.Title {
		out.Title, changed = *p.Title, true
	}
	if p.Note != nil && *p.Note != a.Note {
		out.Note, changed = *p.Note, true
	}
	if p.SetAt && !equalTimePtr(p.At, a.At) {
		out.At, changed = p.At, true
	}
	if p.Status != nil && *p.Status != a.Status {
		out.Status, out.ReviewedBy, changed = *p.Status, p.By, true
	}
	return out, changed
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// AnnotationStore persists annotations. Its methods return ErrNotFound when
// the incident (or the annotation) does not exist, ErrInvalid (wrapped) for
// input they cannot use and ErrUnavailable (wrapped) when the database
// cannot be reached. Every write gives the annotation a new Seq, drawn like
// events' so that the feed carries the change in order, and wakes feed
// readers.
type AnnotationStore interface {
	// CreateAnnotation stores a new annotation and returns it with ID,
	// Version, Seq and times assigned. Every cited event must be on the
	// incident's timeline, else *UnknownEventsError.
	CreateAnnotation(ctx context.Context, a Annotation) (Annotation, error)
	// Annotation returns one annotation that is not deleted.
	Annotation(ctx context.Context, incidentID, id string) (Annotation, error)
	// Annotations returns an incident's annotations that are not deleted,
	// oldest first.
	Annotations(ctx context.Context, q AnnotationQuery) ([]Annotation, error)
	// UpdateAnnotation applies p and returns the result, with a new
	// Version when anything changed. Events p newly cites must be on the
	// timeline (*UnknownEventsError); a version mismatch is
	// *VersionMismatchError.
	UpdateAnnotation(ctx context.Context, incidentID, id string, p AnnotationPatch) (Annotation, error)
	// DeleteAnnotation deletes an annotation (ifVersion as in
	// AnnotationPatch). It stays stored, Deleted, so that the feed carries
	// the removal.
	DeleteAnnotation(ctx context.Context, incidentID, id string, ifVersion int) error
	// SuggestAnnotations stores the suggestions (Suggested, with a
	// SuggestedKey) that incidentID does not hold yet under their key, and
	// returns how many it stored. One it holds is left as it is, whatever
	// a person did with it: confirmed, dismissed or deleted, it stays so.
	SuggestAnnotations(ctx context.Context, incidentID string, suggestions []Annotation) (int, error)
}
