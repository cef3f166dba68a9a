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
