package timeline

import (
	"context"
	"errors"
	"time"
)

// ErrConflict: the operation cannot be done while the object is in its
// present state (an incident whose collection is running cannot be
// deleted); trying again later may succeed. Wrap it with the detail.
var ErrConflict = errors.New("conflict")

// IncidentRemoval is the record a deleted incident leaves: the feed carries
// it (Event.Removal), at its own Seq, so that consumers drop everything
// they hold of the incident.
type IncidentRemoval struct {
	IncidentID string
	// Seq is the removal's position in the feed, drawn from the same
	// sequence as events'.
	Seq int64
	// RemovedAt is when it was deleted; By who deleted it (the API
	// token's name, or "retention").
	RemovedAt time.Time
	By        string
	// Events is how many events were deleted with it.
	Events int
}

// IncidentDeleter deletes incidents with everything stored of them.
type IncidentDeleter interface {
	// DeleteIncident deletes incident id, its events (tombstones
	// included), collection status and annotations, and cancels the
	// collections queued for it; the feed carries one removal for the
	// whole incident (IncidentRemoval). by names who deletes it. It returns
	// ErrNotFound for an unknown incident and ErrConflict (wrapped) while a
	// collection of it runs, which would store it again. A later trigger
	// (a webhook, a collect request) creates the incident afresh.
	DeleteIncident(ctx context.Context, id, by string) (IncidentRemoval, error)
}
