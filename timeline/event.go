// Package timeline is Groundwork's domain: the normalised Event, its fixed
// vocabulary of kinds, the incident and its collection window, the Store
// interface that persists them and the summary derived from them.
//
// It imports no database driver and no HTTP package; adapters live beside it
// (timeline/postgres) or above it (collectors, api).
package timeline

import (
	"fmt"
	"strings"
	"time"
)

// Kinds: a fixed vocabulary so that dashboards can rely on it (PRODUCT.md §3).
const (
	KindPageTriggered       = "page.triggered"
	KindPageAcknowledged    = "page.acknowledged"
	KindPageUnacknowledged  = "page.unacknowledged"
	KindPageEscalated       = "page.escalated"
	KindPageReassigned      = "page.reassigned"
	KindPageNotified        = "page.notified"
	KindPagePriorityChanged = "page.priority_changed"
	KindPageResolved        = "page.resolved"
	KindPageOther           = "page.other"
	KindPageAnnotated       = "page.annotated"
	KindAlertTriggered      = "alert.triggered"
	// KindAlertFiring and KindAlertResolved are the start and the end of
	// one span of an alert that fired (a monitoring system's alert rule).
	KindAlertFiring   = "alert.firing"
	KindAlertResolved = "alert.resolved"

	KindDeployQueued    = "deploy.queued"
	KindDeployStarted   = "deploy.started"
	KindDeploySucceeded = "deploy.succeeded"
	KindDeployFailed    = "deploy.failed"
	KindDeployInactive  = "deploy.inactive"
	KindDeployPending   = "deploy.pending"

	KindChangeCommit  = "change.commit"
	KindChangeMerged  = "change.merged"
	KindChangeRelease = "change.release"
	KindCICompleted   = "ci.completed"

	KindChatMessage = "chat.message"
	KindChatReply   = "chat.reply"
	KindChatJoined  = "chat.joined"

	KindIncidentOpened = "incident.opened"
	KindIncidentClosed = "incident.closed"
)

// Kinds lists every kind of the vocabulary.
var Kinds = []string{
	KindPageTriggered, KindPageAcknowledged, KindPageUnacknowledged, KindPageEscalated,
	KindPageReassigned, KindPageNotified, KindPagePriorityChanged, KindPageResolved,
	KindPageOther, KindPageAnnotated, KindAlertTriggered, KindAlertFiring, KindAlertResolved,
	KindDeployQueued, KindDeployStarted, KindDeploySucceeded, KindDeployFailed,
	KindDeployInactive, KindDeployPending,
	KindChangeCommit, KindChangeMerged, KindChangeRelease, KindCICompleted,
	KindChatMessage, KindChatReply, KindChatJoined,
	KindIncidentOpened, KindIncidentClosed,
}

// IsKind reports whether k belongs to the vocabulary.
func IsKind(k string) bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// Actor is the person or system behind an event, with its name resolved.
// Email is kept (when the upstream reports one) so that one person acting in
// several tools can be recognised as one responder.
type Actor struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	// TimeZone is the person's IANA time zone as the upstream reports it
	// (a chat profile, a pager's user record), or empty.
	TimeZone string `json:"time_zone,omitempty"`
	// Bot marks an actor that is not a person: a bot, an integration, a
	// service or an automation. The normalisers set it; the summary never
	// counts such an actor as a responder.
	Bot bool `json:"bot,omitempty"`
}

// Event is one item on an incident's timeline.
type Event struct {
	// ID is stable and derived only from the upstream object:
	// {source}:{type}:{natural id}. See EventID.
	ID         string
	IncidentID string
	Source     string
	Kind       string
	// OccurredAt is when it happened upstream, in UTC, nanoseconds kept.
	OccurredAt time.Time
	Actor      *Actor
	Title      string
	Text       string
	URL        string
	Details    map[string]any
	// Seq is the event's position in the feed; the store assigns it.
	Seq int64
	// Version is when the upstream last changed the object (a chat
	// message: its last edit, else its own time; a deletion: when it was
	// deleted),
	// zero when the source keeps no such time. A stored event is never
	// replaced by one with an older Version, so a late retry of an old
	// version cannot undo an edit or a deletion. Stores keep microseconds.
	// (Left out of a zero event's JSON, which tests' golden files hold.)
	Version time.Time `json:",omitzero"`
	// Deleted marks a tombstone: the object was deleted upstream. Storing
	// it removes the event's content and takes it off the timeline and the
	// exports; the feed carries the removal (ID, IncidentID, Seq) so that
	// consumers can drop the event. Only ID, IncidentID, Source, Kind,
	// OccurredAt and Version of a tombstone are used.
	Deleted bool `json:",omitempty"`
	// Annotation, set only on entries of Store.Feed, makes the entry the
	// change of an annotation rather than an event: ID, IncidentID and Seq
	// are the annotation's, the other fields are empty, and
	// Annotation.Deleted marks a removal. (Left out of an event's JSON.)
	Annotation *Annotation `json:",omitempty"`
	// Removal, set only on entries of Store.Feed, makes the entry the
	// deletion of the whole incident IncidentID (through the API or by
	// retention): every event and annotation of it is gone. IncidentID and
	// Seq are the removal's, the other fields are empty. (Left out of an
	// event's JSON.)
	Removal *IncidentRemoval `json:",omitempty"`
}

// EventID builds an event id from its source, upstream type and natural id
// parts: EventID("forge", "commit", "acme/api", sha) is
// "forge:commit:acme/api:<sha>".
func EventID(source, typ string, natural ...string) string {
	return source + ":" + typ + ":" + strings.Join(natural, ":")
}

// Compare orders events in timeline order: by OccurredAt, then by ID
// (PRODUCT.md §5). Use it with slices.SortFunc.
func Compare(a, b Event) int {
	if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Validate reports the first thing wrong with e, naming the field.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("event: id is empty")
	case e.IncidentID == "":
		return fmt.Errorf("event %s: incident_id is empty", e.ID)
	case !strings.HasPrefix(e.ID, e.Source+":"):
		return fmt.Errorf("event %s: id does not start with its source %q", e.ID, e.Source)
	case !IsKind(e.Kind):
		return fmt.Errorf("event %s: unknown kind %q", e.ID, e.Kind)
	case e.OccurredAt.IsZero():
		return fmt.Errorf("event %s: occurred_at is zero", e.ID)
	}
	return nil
}

// Truncate shortens s to at most n runes, marking the cut with an ellipsis.
// Titles use it so that a list stays one line.
func Truncate(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
