package timeline

import (
	"time"
)

// Incident is what a timeline belongs to.
type Incident struct {
	ID        string
	Title     string
	ServiceID string
	Urgency   string
	// Source is where the incident was declared: pagerduty or generic.
	Source     string
	StartedAt  time.Time
	ResolvedAt *time.Time
	// WindowStart and WindowEnd bound the collection (both included).
	WindowStart time.Time
	WindowEnd   time.Time
	// Repos and Channels are the GitHub repositories and Slack channels in
	// scope, recorded at the last collection request.
	Repos     []string
	Channels  []string
	URL       string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Window is the slice of time and the places a collection looks at.
type Window struct {
	IncidentID string
	// Start and End are both included.
	Start time.Time
	End   time.Time
	// Repos are GitHub "owner/name" repositories in scope.
	Repos []string
	// Channels are Slack channel ids in scope.
	Channels []string
	// ServiceID is the incident's service, for sources whose scope is
	// chosen by service (empty when the incident has none).
	ServiceID string
}

// Contains reports whether t lies inside the window, both ends included.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && !t.After(w.End)
}

// WindowFor computes an incident's window: from before ahead of its start to
// after past its resolution, or up to now while it is still open.
func WindowFor(started time.Time, resolved *time.Time, before, after time.Duration, now time.Time) (start, end time.Time) {
	start = started.Add(-before).UTC()
	if resolved != nil {
		end = resolved.Add(after).UTC()
	} else {
		end = now.UTC()
	}
	if end.Before(start) {
		end = start
	}
	return start, end
}

// Collection states of one source for one incident.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// SourceStatus is the state of one source's collection for one incident.
type SourceStatus struct {
	IncidentID string
	Source     string
	State      string
	// Error is the reason of a failure, free of secrets.
	Error      string
	EventCount int
	StartedAt  *time.Time
	FinishedAt *time.Time
	UpdatedAt  time.Time
}
