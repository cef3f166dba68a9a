package timeline

import (
	"context"
	"time"
)

// Store persists incidents, their events and the per-source collection status.
//
// Methods return ErrNotFound when the incident does not exist, ErrInvalid
// (wrapped) for arguments they cannot use and ErrUnavailable (wrapped) when the
// database cannot be reached.
type Store interface {
	// UpsertEvents inserts new events, updates changed ones (giving them a
	// new Seq) and leaves identical ones untouched. A batch may hold the same
	// id more than once; the last one wins. It returns how many rows were
	// inserted and how many updated. Strings are made storable first
	// (MakeStorable); an event that still cannot be stored is left out and
	// reported in UpsertResult.Skipped while the rest is written. An event
	// that fails Validate fails the whole batch with ErrInvalid.
	UpsertEvents(ctx context.Context, events []Event) (UpsertResult, error)
	// UpsertIncident creates or updates an incident by id.
	UpsertIncident(ctx context.Context, inc Incident) error
	// Incident returns one incident.
	Incident(ctx context.Context, id string) (Incident, error)
	// Incidents lists incidents newest first (by StartedAt, then id).
	Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error)
	// SetSourceStatus records the collection state of one source.
	SetSourceStatus(ctx context.Context, st SourceStatus) error
	// SourceStatuses returns every source status of an incident.
	SourceStatuses(ctx context.Context, incidentID string) ([]SourceStatus, error)
	// Timeline returns an incident's events ordered by (OccurredAt, ID).
	// Events deleted upstream are not on it.
	Timeline(ctx context.Context, q TimelineQuery) ([]Event, error)
	// Feed returns events of every incident with Seq > after, in Seq order,
	// deletions included: a deleted event comes as a tombstone (Deleted set,
	// only ID, IncidentID and Seq meaningful) at the seq of its deletion;
	// interleaved with the changes of annotations (see Event.Annotation),
	// which draw their Seq from the same sequence, and with the removals of
	// deleted incidents (see Event.Removal).
	Feed(ctx context.Context, after int64, limit int) ([]Event, error)
	// SweepEvents turns into tombstones (see Event.Deleted) the stored
	// events that s says the upstream no longer has, giving each a new Seq,
	// and returns how many it deleted.
	SweepEvents(ctx context.Context, s Sweep) (int, error)
}

// Sweep names a part of one source's data that a collection has just read
// completely: every event of IncidentID and Source whose ID starts with
// IDPrefix and whose OccurredAt lies in [Start, End] was either sent again
// by the collection or has been deleted upstream. SweepEvents deletes the
// stored events there that KeepFunc does not keep.
type Sweep struct {
	IncidentID string
	Source     string
	// IDPrefix selects the events by id ("chat:message:C0CHECKOUT:" is
	// one channel of a source named chat); it must not be empty.
	IDPrefix string
	// Start and End bound OccurredAt, both included.
	Start, End time.Time
	// KeepFunc keeps a stored event, returning true: those the collection
	// sent again, and those it could not have seen (a thread reply whose
	// parent it did not read). It is called with each candidate (content
	// included, Deleted false) while the store holds its write lock, so it
	// must be quick and must not call the store.
	KeepFunc func(Event) bool
}

// UpsertResult counts what an upsert changed.
type UpsertResult struct {
	Inserted int
	Updated  int
	// Skipped are the events left out because they cannot be stored even
	// with their strings made storable (details that do not encode as JSON,
	// a time RFC 3339 cannot write); nil when there were none.
	Skipped []SkippedEvent
}

// SkippedEvent is an event an upsert left out, and why.
type SkippedEvent struct {
	IncidentID string
	ID         string
	Err        error
}

// Changed is the number of rows that got a new Seq.
func (r UpsertResult) Changed() int { return r.Inserted + r.Updated }

// TimelinePosition is a keyset position in timeline order.
type TimelinePosition struct {
	OccurredAt time.Time
	ID         string
}

// TimelineQuery selects a page of one incident's timeline.
type TimelineQuery struct {
	IncidentID string
	// After, when set, returns only events strictly after that position.
	After *TimelinePosition
	// Since and Until bound OccurredAt, both included, when set.
	Since *time.Time
	Until *time.Time
	// Sources keeps only these sources when not empty.
	Sources []string
	// KindPrefix keeps kinds equal to it, or starting with it when it ends
	// with a dot ("page.").
	KindPrefix string
	// Limit is the largest number of events returned; 0 means no limit.
	Limit int
}

// IncidentPosition is a keyset position in incident list order.
type IncidentPosition struct {
	StartedAt time.Time
	ID        string
}

// IncidentQuery selects a page of incidents, newest first.
type IncidentQuery struct {
	Before *IncidentPosition
	Limit  int
}

// EncodedEvent is an event already rendered as the API's JSON object, with
// its position for cursors.
type EncodedEvent struct {
	OccurredAt time.Time
	ID         string
	JSON       []byte
}

// TimelineEncoder is implemented by stores that can render timeline pages
// as JSON themselves, which is much cheaper than decoding and re-encoding
// every event. The JSON must equal the API's encoding of the same event.
type TimelineEncoder interface {
	// TimelineJSON returns the events Timeline would, encoded.
	TimelineJSON(ctx context.Context, q TimelineQuery) ([]EncodedEvent, error)
}
