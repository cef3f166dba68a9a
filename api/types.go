package api

import (
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The API's JSON types are kept apart from the domain's, so the wire format
// changes only on purpose.

// EventJSON is one timeline event on the wire (PRODUCT.md §3). In the feed,
// an event deleted upstream comes as {"id", "incident_id", "deleted": true,
// "seq"} and nothing else (see wire); timelines and exports never hold one.
type EventJSON struct {
	ID         string          `json:"id"`
	IncidentID string          `json:"incident_id"`
	Source     string          `json:"source"`
	Kind       string          `json:"kind"`
	OccurredAt string          `json:"occurred_at"`
	Actor      *timeline.Actor `json:"actor"`
	Title      string          `json:"title"`
	Text       string          `json:"text"`
	URL        string          `json:"url"`
	Details    map[string]any  `json:"details"`
	Seq        int64           `json:"seq"`
	// Annotations, on timelines (json and jsonl) only, are the annotations
	// citing the event, when there are any.
	Annotations []AnnotationJSON `json:"annotations,omitempty"`
	// Deleted marks the removal of an event deleted upstream; only ID,
	// IncidentID and Seq are set then.
	Deleted bool `json:"deleted,omitempty"`
}

// deletedEventJSON is the feed's entry for an event deleted upstream.
type deletedEventJSON struct {
	ID         string `json:"id"`
	IncidentID string `json:"incident_id"`
	Deleted    bool   `json:"deleted"`
	Seq        int64  `json:"seq"`
}

// wire is what the feed encodes for e: the deletion's four fields, or the
// whole event. (A MarshalJSON method would do the same for every encoding of
// EventJSON, at about ten times the cost: encoding/json re-scans what a
// Marshaler returns.)
func (e EventJSON) wire() any {
	if e.Deleted {
		return deletedEventJSON{ID: e.ID, IncidentID: e.IncidentID, Deleted: true, Seq: e.Seq}
	}
	return e
}

// formatTime renders an instant in UTC with every nanosecond kept.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func eventJSON(e timeline.Event) EventJSON {
	if e.Deleted {
		return EventJSON{ID: e.ID, IncidentID: e.IncidentID, Deleted: true, Seq: e.Seq}
	}
	d := e.Details
	if d == nil {
		d = map[string]any{}
	}
	return EventJSON{ID: e.ID, IncidentID: e.IncidentID, Source: e.Source, Kind: e.Kind,
		OccurredAt: formatTime(e.OccurredAt), Actor: e.Actor, Title: e.Title, Text: e.Text,
		URL: e.URL, Details: d, Seq: e.Seq}
}

// WindowJSON is an incident's collection window.
type WindowJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// IncidentJSON is an incident in lists. Status is open (triggered,
// acknowledged or reopened: the window runs up to now, and live events join
// it) or resolved.
type IncidentJSON struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	ServiceID  string     `json:"service_id"`
	Urgency    string     `json:"urgency"`
	Source     string     `json:"source"`
	URL        string     `json:"url"`
	StartedAt  string     `json:"started_at"`
	ResolvedAt *string    `json:"resolved_at"`
	Status     string     `json:"status"`
	Window     WindowJSON `json:"window"`
	Repos      []string   `json:"github_repos"`
	Channels   []string   `json:"slack_channels"`
	CreatedAt  string     `json:"created_at"`
	UpdatedAt  string     `json:"updated_at"`
}

// incidentJSON renders inc as it stands at now: an open incident's window
// ends now.
func incidentJSON(inc timeline.Incident, now time.Time) IncidentJSON {
	return IncidentJSON{ID: inc.ID, Title: inc.Title, ServiceID: inc.ServiceID, Urgency: inc.Urgency,
		Source: inc.Source, URL: inc.URL, StartedAt: formatTime(inc.StartedAt), ResolvedAt: formatTimePtr(inc.ResolvedAt),
		Status: inc.Status(),
		Window: WindowJSON{Start: formatTime(inc.WindowStart), End: formatTime(inc.WindowEndAt(now))},
		Repos:  nonNil(inc.Repos), Channels: nonNil(inc.Channels),
		CreatedAt: formatTime(inc.CreatedAt), UpdatedAt: formatTime(inc.UpdatedAt)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SourceStatusJSON is one source's collection state; Reason says why a
// skipped source was skipped.
type SourceStatusJSON struct {
	Source     string  `json:"source"`
	State      string  `json:"state"`
	Error      *string `json:"error"`
	Reason     *string `json:"reason,omitempty"`
	EventCount int     `json:"event_count"`
	StartedAt  *string `json:"started_at"`
	FinishedAt *string `json:"finished_at"`
}

func sourceStatusJSON(st timeline.SourceStatus) SourceStatusJSON {
	out := SourceStatusJSON{Source: st.Source, State: st.State, EventCount: st.EventCount,
		StartedAt: formatTimePtr(st.StartedAt), FinishedAt: formatTimePtr(st.FinishedAt)}
	if st.Error != "" {
		e := st.Error
		out.Error = &e
	}
	if st.Reason != "" {
		r := st.Reason
		out.Reason = &r
	}
	return out
}

// IncidentDetailJSON is GET /v1/incidents/{id}.
type IncidentDetailJSON struct {
	IncidentJSON
	Collection []SourceStatusJSON `json:"collection"`
	Summary    any                `json:"summary"`
}

// IncidentListJSON is GET /v1/incidents.
type IncidentListJSON struct {
	Incidents  []IncidentJSON `json:"incidents"`
	NextCursor *string        `json:"next_cursor"`
}

// TimelineJSON is GET /v1/incidents/{id}/timeline with format=json.
type TimelineJSON struct {
	IncidentID string      `json:"incident_id"`
	Events     []EventJSON `json:"events"`
	NextCursor *string     `json:"next_cursor"`
	// Partial is true when the page is not the whole (filtered) timeline:
	// a next page exists, or the page was asked for with a cursor.
	Partial bool `json:"partial"`
}

// FeedJSON is GET /v1/feed without Accept: text/event-stream. The feed
// interleaves the changes of annotations with events (AnnotationChangeJSON,
// AnnotationRemovalJSON, with "type": "annotation"); decoded into
// EventJSON they keep their incident_id and seq.
type FeedJSON struct {
	Events []EventJSON `json:"events"`
	// NextAfter is the seq to pass as after for the next page: the last
	// event's, or the request's after when there were none.
	NextAfter int64 `json:"next_after"`
}

// wire is what GET /v1/feed encodes for f: its events as EventJSON.wire.
func (f FeedJSON) wire() any {
	events := make([]any, len(f.Events))
	for i, e := range f.Events {
		events[i] = e.wire()
	}
	return struct {
		Events    []any `json:"events"`
		NextAfter int64 `json:"next_after"`
	}{events, f.NextAfter}
}

// StoryJSON is GET /v1/incidents/{id}/timeline?view=story: the timeline
// with its noise collapsed. Every event of the timeline is in exactly one
// row (shown in event_ids or folded in collapsed), except the ones hide
// annotations left out, which are listed in hidden.
type StoryJSON struct {
	IncidentID string `json:"incident_id"`
	View       string `json:"view"`
	// Timezone is the zone of the clock times in titles (review.timezone).
	Timezone string `json:"timezone"`
	// Events is the number of events the rows account for.
	Events int                `json:"events"`
	Hidden StoryCollapsedJSON `json:"hidden"`
	Rows   []StoryRowJSON     `json:"rows"`
}

// StoryRowJSON is one row of the story view.
type StoryRowJSON struct {
	ID           string              `json:"id"`
	At           string              `json:"at"`
	End          *string             `json:"end,omitempty"`
	Kind         string              `json:"kind"`
	Source       string              `json:"source,omitempty"`
	Title        string              `json:"title"`
	Text         string              `json:"text,omitempty"`
	URL          string              `json:"url,omitempty"`
	Actor        *StoryActorJSON     `json:"actor,omitempty"`
	Channel      string              `json:"channel,omitempty"`
	ThreadParent *StoryRefJSON       `json:"thread_parent,omitempty"`
	EventIDs     []string            `json:"event_ids"`
	Collapsed    *StoryCollapsedJSON `json:"collapsed,omitempty"`
	KeyMoment    string              `json:"key_moment,omitempty"`
	Starred      bool                `json:"starred,omitempty"`
	Presence     []string            `json:"presence,omitempty"`
}

// StoryActorJSON is a row's actor under the person's one name.
type StoryActorJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// StoryRefJSON names another event (a reply's thread parent).
type StoryRefJSON struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
}

// StoryCollapsedJSON counts and lists the events a row folds.
type StoryCollapsedJSON struct {
	Count    int      `json:"count"`
	EventIDs []string `json:"event_ids"`
}
