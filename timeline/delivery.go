package timeline

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Validate reports the first thing wrong with r, naming the field.
func (r CollectRequest) Validate() error {
	if problem := incidentIDProblem(r.IncidentID); problem != "" {
		return fmt.Errorf("%w: incident_id: %s; %s", ErrInvalid, problem, IncidentIDRule)
	}
	switch {
	case strings.ContainsRune(r.Title, 0):
		return fmt.Errorf("%w: title holds a NUL character", ErrInvalid)
	case r.StartedAt != nil && r.ResolvedAt != nil && r.ResolvedAt.Before(*r.StartedAt):
		return fmt.Errorf("%w: resolved_at is before started_at", ErrInvalid)
	case r.Since != nil && r.Until != nil && r.Until.Before(*r.Since):
		return fmt.Errorf("%w: until is before since", ErrInvalid)
	}
	for _, s := range r.Repos {
		if owner, name, ok := strings.Cut(s, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") || hasControl(s) {
			return fmt.Errorf("%w: github_repos: %q is not owner/name", ErrInvalid, s)
		}
	}
	for _, c := range r.Channels {
		if c == "" || strings.ContainsAny(c, " #/") || hasControl(c) {
			return fmt.Errorf("%w: slack_channels: %q is not a channel id such as C0CHECKOUT", ErrInvalid, c)
		}
	}
	return nil
}

// hasControl reports whether s holds an ASCII control character (NUL
// among them, which Postgres cannot store in text).
func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// Merge folds a later request for the same incident into r, as when a
// trigger arrives while r is still queued: the later request's overrides win
// where it sets them, and repositories and channels are united, so that
// nothing either request asked for is lost.
func (r CollectRequest) Merge(later CollectRequest) CollectRequest {
	out := r
	if later.Title != "" {
		out.Title = later.Title
	}
	if later.StartedAt != nil {
		out.StartedAt = later.StartedAt
	}
	if later.ResolvedAt != nil {
		out.ResolvedAt = later.ResolvedAt
	}
	if later.Since != nil {
		out.Since = later.Since
	}
	if later.Until != nil {
		out.Until = later.Until
	}
	out.Repos = Union(r.Repos, later.Repos)
	out.Channels = Union(r.Channels, later.Channels)
	return out
}

// Union returns a followed by the elements of b not in a, without
// duplicates. It returns nil when both are empty.
func Union(a, b []string) []string {
	var out []string
	seen := make(map[string]bool, len(a)+len(b))
	for _, s := range [][]string{a, b} {
		for _, x := range s {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// Covers reports whether t falls inside the incident's window for live
// capture, as the window stands at now (Incident.WindowEndAt): from
// WindowStart up to WindowEnd once the incident is resolved, or up to now
// while it is open. Callers allow for clock skew by passing now a little
// ahead.
func (inc Incident) Covers(t, now time.Time) bool {
	return !t.Before(inc.WindowStart) && !t.After(inc.WindowEndAt(now))
}

// Delivery is what one webhook delivery (or one API request to collect)
// changes, written at once: the incidents it declares, the events it
// captured live and the collections it queues.
type Delivery struct {
	// Receiver names the endpoint: a webhook receiver's name, or api for
	// the collect API.
	Receiver string
	// ID is the sender's delivery id. A delivery whose (Receiver, ID) was
	// recorded before changes nothing. An empty ID is never deduplicated.
	ID string
	// Incidents are created, or merged into the stored ones by
	// Incident.Merge: set fields replace, repositories and channels are
	// united, and whether the incident is open follows the newest
	// StatusAt.
	Incidents []Incident
	// Events are upserted as by Store.UpsertEvents; their incidents must
	// exist or be among Incidents.
	Events []Event
	// Journal are live events kept in the live journal. Each also joins,
	// inside the same transaction, every incident whose window and scope
	// hold it, so that an incident created at the same moment can never
	// miss it (see JournalEntry).
	Journal []JournalEntry
	// Collect queues one collection per request. A request for an incident
	// whose collection is still queued (not yet running) joins that job
	// instead (see CollectRequest.Merge), so a storm of triggers never
	// becomes a storm of jobs; one that arrives while the incident's
	// collection runs queues exactly one follow-up.
	Collect []CollectRequest
}

// DeliveryResult is what recording a delivery did.
type DeliveryResult struct {
	// Duplicate is true when the delivery was seen before; nothing changed.
	Duplicate bool
	// JobIDs holds the job of each Collect request, in order: a new job, or
	// the queued one the request joined.
	JobIDs []int64
	// Events counts the events the delivery inserted and updated.
	Events UpsertResult
}

// LiveScope selects the incidents a live event may belong to: those whose
// scope holds Repo (when set; compared case-insensitively, as repository
// names are, see ScopeRepo) or Channel (when set), and whose window
// overlaps [From, To] (an open incident's window has no end here; callers
// bound it with Incident.Covers). A scope that names neither must set
// AnyPlace: every incident whose window overlaps, for sources whose events
// are not tied to a repository or a channel.
type LiveScope struct {
	Repo     string
	Channel  string
	AnyPlace bool
	From     time.Time
	To       time.Time
}

// DeliveryStore records webhook deliveries and finds the incidents that live
// events belong to.
//
// Methods return ErrInvalid (wrapped) for arguments they cannot use and
// ErrUnavailable (wrapped) when the database cannot be reached.
type DeliveryStore interface {
	// RecordDelivery writes d in one transaction: the delivery id, the
	// incidents, the events and the queued jobs all commit together or not
	// at all. A delivery recorded before returns Duplicate and changes
	// nothing, even when the two arrive at the same moment.
	RecordDelivery(ctx context.Context, d Delivery) (DeliveryResult, error)
	// LiveIncidents returns the incidents of q, oldest first. Callers pick
	// each event's incidents with Incident.Covers.
	LiveIncidents(ctx context.Context, q LiveScope) ([]Incident, error)
}
