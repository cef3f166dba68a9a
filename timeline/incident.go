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
	Source    string
	StartedAt time.Time
	// ResolvedAt is nil while the incident is open (see Incident.Open).
	ResolvedAt *time.Time
	// StatusAt is when the upstream last opened, reopened or resolved the
	// incident, as the delivery that said so reports it (PagerDuty's
	// occurred_at; the generic hook's time of receipt). Deliveries may
	// arrive out of order: one whose StatusAt is older than the stored one
	// does not change whether the incident is open (see Merge). Zero when
	// unknown.
	StatusAt time.Time
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

// Incident statuses, as the API shows them.
const (
	// IncidentOpen: triggered, acknowledged or reopened, not resolved
	// since. Its window runs up to now and live events join it as they
	// arrive.
	IncidentOpen = "open"
	// IncidentResolved: resolved; its window ends window.after past the
	// resolution, and its final collection has been queued.
	IncidentResolved = "resolved"
)

// Open reports whether the incident is open: it has no resolution (it was
// never resolved, or it was reopened since).
func (inc Incident) Open() bool { return inc.ResolvedAt == nil }

// Status is IncidentOpen or IncidentResolved.
func (inc Incident) Status() string {
	if inc.Open() {
		return IncidentOpen
	}
	return IncidentResolved
}

// WindowEndAt is the end of the incident's window as it stands at now:
// WindowEnd once resolved; while open, now (or WindowEnd, if that is
// later), since an open incident's window runs up to now.
func (inc Incident) WindowEndAt(now time.Time) time.Time {
	if inc.Open() && now.After(inc.WindowEnd) {
		return now.UTC()
	}
	return inc.WindowEnd
}

// Merge returns the stored incident inc updated with a later delivery's view
// of it (a webhook that opened, reopened or resolved it). It is the one rule
// of the incident lifecycle:
//
//   - later's title, service, urgency, source and URL replace inc's where
//     later sets them; its start and window start replace inc's; the
//     repositories and channels are united, inc's first;
//   - the status follows the newer news: when later.StatusAt is set and not
//     before inc.StatusAt, later's resolution (nil: open again) and window
//     end replace inc's, so a reopen clears the resolution and a second
//     resolve sets the new one; a late delivery of an older change
//     (later.StatusAt before inc.StatusAt) leaves them alone. A view that
//     reports no StatusAt may resolve the incident but never reopens it;
//   - an incident that stays open keeps the later of the two window ends.
func (inc Incident) Merge(later Incident) Incident {
	out := inc
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&out.Title, later.Title}, {&out.ServiceID, later.ServiceID}, {&out.Urgency, later.Urgency},
		{&out.Source, later.Source}, {&out.URL, later.URL},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if !later.StartedAt.IsZero() {
		out.StartedAt = later.StartedAt
		out.WindowStart = later.WindowStart
	}
	out.Repos = Union(inc.Repos, later.Repos)
	out.Channels = Union(inc.Channels, later.Channels)
	newer := !later.StatusAt.IsZero() && !later.StatusAt.Before(inc.StatusAt)
	switch {
	case newer:
		out.ResolvedAt, out.WindowEnd, out.StatusAt = later.ResolvedAt, later.WindowEnd, later.StatusAt
	case later.StatusAt.IsZero() && later.ResolvedAt != nil:
		out.ResolvedAt, out.WindowEnd = later.ResolvedAt, later.WindowEnd
	}
	if out.Open() {
		for _, v := range []Incident{inc, later} {
			if v.Open() && v.WindowEnd.After(out.WindowEnd) {
				out.WindowEnd = v.WindowEnd
			}
		}
	}
	if out.WindowEnd.Before(out.WindowStart) {
		out.WindowEnd = out.WindowStart
	}
	return out
}

// Refresh returns the stored incident inc replaced by a collection's full
// view of it, later (the planner's, read from the incident's source or the
// store when the collection began): later's fields replace inc's (its title,
// service, urgency, source and URL only where set), except the status, which
// follows the lifecycle as in Merge. Later's resolution (or its absence)
// stands when later.StatusAt is not before inc.StatusAt; when later is
// older (a webhook reopened or resolved the incident while the collection
// was being planned), inc's resolution stays, with its window end (an open
// incident's, if later).
// When neither has a StatusAt, a view may resolve but never reopens.
func (inc Incident) Refresh(later Incident) Incident {
	out := later
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&out.Title, inc.Title}, {&out.ServiceID, inc.ServiceID}, {&out.Urgency, inc.Urgency},
		{&out.Source, inc.Source}, {&out.URL, inc.URL},
	} {
		if *f.dst == "" {
			*f.dst = f.v
		}
	}
	switch {
	case !later.StatusAt.IsZero() && !later.StatusAt.Before(inc.StatusAt):
	case inc.StatusAt.IsZero() && later.StatusAt.IsZero():
		if later.ResolvedAt == nil {
			out.ResolvedAt = inc.ResolvedAt
		}
	default:
		out.ResolvedAt, out.StatusAt = inc.ResolvedAt, inc.StatusAt
		if !inc.Open() || inc.WindowEnd.After(out.WindowEnd) {
			out.WindowEnd = inc.WindowEnd
		}
	}
	if out.WindowEnd.Before(out.WindowStart) {
		out.WindowEnd = out.WindowStart
	}
	return out
}

// Window is the slice of time and the places a collection looks at.
type Window struct {
	IncidentID string
	// IncidentSource is where the incident was declared (Incident.Source:
	// pagerduty or generic; empty when unknown). A collector that knows
	// only its own source's incidents skips the others (collectors.Skipper).
	IncidentSource string
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
// after past its resolution, or up to now while it is still open; both ends
// are included. It is the one window rule: the planner, the webhooks and
// the store compute windows with it, and apply them with Incident.Covers
// (its SQL form, with the same edge cases checked against it, is in
// timeline/postgres/window.go).
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
	// StateSkipped: the source cannot know anything of the incident (a
	// generic incident has no PagerDuty side; no repositories or channels
	// are in scope), so it was not asked. SourceStatus.Reason says why.
	StateSkipped = "skipped"
)

// SourceStatus is the state of one source's collection for one incident.
type SourceStatus struct {
	IncidentID string
	Source     string
	State      string
	// Error is the reason of a failure, free of secrets.
	Error string
	// Reason says why a skipped source was skipped.
	Reason     string
	EventCount int
	StartedAt  *time.Time
	FinishedAt *time.Time
	UpdatedAt  time.Time
}
