// Package collectors defines how a source of events plugs into Groundwork:
// the Collector interface, the optional abilities a collector may have, and
// the Registry that cmd fills in explicitly.
package collectors

import (
	"context"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Collector pulls one source's events for an incident's window.
type Collector interface {
	// Name is the source name, equal to its config key and Event.Source.
	Name() string
	// Collect sends every event of this source inside w to emit, oldest
	// first where the API allows. It stops and returns ctx.Err() when ctx is
	// cancelled, and returns the error of emit unchanged. An error that
	// comes from the upstream's rate limit wraps *RateLimitError.
	Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error
}

// IncidentDescriber is implemented by a collector whose source declares
// incidents (PagerDuty): it reads the incident so that its window can be
// computed before any collector runs.
type IncidentDescriber interface {
	// DescribeIncident returns the incident with its title, service,
	// urgency and times. It returns an error wrapping timeline.ErrNotFound
	// when the source does not know the incident.
	DescribeIncident(ctx context.Context, id string) (timeline.Incident, error)
}

// Coverage tells a collector which stretches of time live capture vouches
// for: spans over which every live event of a source's scope was delivered
// and kept in the live journal, which joins each incident's timeline by
// itself. Only a source whose vendor retries failed deliveries may skip
// upstream reads inside them (Slack; not GitHub, which never retries).
// timeline/postgres.Store implements it.
type Coverage interface {
	// Covered returns the spans of source in scope that overlap [from, to]
	// as of now, in any order; an error means nothing is vouched for.
	Covered(ctx context.Context, source, scope string, from, to, now time.Time) ([]timeline.Span, error)
}

// Skipper is implemented by a collector that can know only some incidents
// (PagerDuty knows none that the generic hook declared; GitHub and Slack
// know nothing of an incident with no repositories or channels in scope).
// The Runner does not call Collect for a window it skips: the source's
// status is timeline.StateSkipped with the reason, not a failure, so the
// job is not retried for it.
type Skipper interface {
	// Skip reports whether the collector cannot know anything of w, and
	// why, in words for the incident's status.
	Skip(w timeline.Window) (reason string, skip bool)
}

// Sweeper is implemented by a collector that can tell which parts of the
// upstream it has read completely (Slack: a channel's history over the
// window), so that the events stored there which the upstream no longer has
// — deleted Slack messages — are removed when the incident is collected
// again (Runner; timeline.Store.SweepEvents).
type Sweeper interface {
	// CollectSweeping is Collect, and also calls sweep for each part of w
	// it read completely and without error, after emitting every event of
	// that part; never for a part it read only in part. sweep and emit are
	// never called concurrently. The caller fills in the sweep's IncidentID
	// and Source and keeps what was emitted, so KeepFunc need only keep
	// what the collector could not have seen.
	CollectSweeping(ctx context.Context, w timeline.Window, emit func(timeline.Event) error, sweep func(timeline.Sweep)) error
}

// Registry is the explicit, ordered list of enabled collectors.
type Registry struct {
	list []Collector
}

// Register adds c. It panics when a collector of the same name is already
// registered, which is a wiring mistake in cmd.
func (r *Registry) Register(c Collector) {
	for _, have := range r.list {
		if have.Name() == c.Name() {
			panic("collectors: " + c.Name() + " registered twice")
		}
	}
	r.list = append(r.list, c)
}

// All returns the registered collectors in registration order.
func (r *Registry) All() []Collector { return append([]Collector(nil), r.list...) }

// Get returns the collector named name.
func (r *Registry) Get(name string) (Collector, bool) {
	for _, c := range r.list {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

// RateLimitError reports that an upstream refused a request for its rate
// limit and when it may be tried again. Collectors wait and retry by
// themselves; they return it only when the wait would outlast their context
// or their patience, so that a job can be snoozed instead of failed.
type RateLimitError struct {
	Source     string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	msg := "rate limited upstream; retry after " + e.RetryAfter.Round(time.Second).String()
	if e.Source == "" {
		return msg
	}
	return e.Source + ": " + msg
}
