package collectors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// Planner turns a timeline.CollectRequest into the incident and its window, and records the
// incident in the store.
type Planner struct {
	Registry *Registry
	Store    timeline.Store
	// Before and After widen the incident's span (window.before/after).
	Before, After time.Duration
	// ScopeFunc returns the repositories and channels of a PagerDuty
	// service (services.<id>, else default).
	ScopeFunc func(serviceID string) (repos, channels []string)
	// NowFunc is the clock; time.Now when nil.
	NowFunc func() time.Time
}

// ErrUnknownIncident: no source knows the incident and the request gave no
// start time to build its window from.
var ErrUnknownIncident = errors.New("unknown incident: no source knows it and no started_at was given")

// Plan finds the incident (from a source that declares incidents, else from
// the store, else from the request), computes its window and scope, stores
// the incident, and returns both.
func (p *Planner) Plan(ctx context.Context, req timeline.CollectRequest) (timeline.Incident, timeline.Window, error) {
	now := time.Now()
	if p.NowFunc != nil {
		now = p.NowFunc()
	}
	inc, err := p.find(ctx, req)
	if err != nil {
		return inc, timeline.Window{}, err
	}
	if req.Title != "" {
		inc.Title = req.Title
	}
	if req.StartedAt != nil {
		inc.StartedAt = req.StartedAt.UTC()
	}
	if req.ResolvedAt != nil {
		t := req.ResolvedAt.UTC()
		inc.ResolvedAt = &t
	}
	if inc.StartedAt.IsZero() {
		return inc, timeline.Window{}, fmt.Errorf("%w: %s", ErrUnknownIncident, req.IncidentID)
	}
	start, end := timeline.WindowFor(inc.StartedAt, inc.ResolvedAt, p.Before, p.After, now)
	if req.Since != nil {
		start = req.Since.UTC()
	}
	if req.Until != nil {
		end = req.Until.UTC()
	}
	if end.Before(start) {
		return inc, timeline.Window{}, fmt.Errorf("%w: the window ends (%s) before it starts (%s)", timeline.ErrInvalid,
			end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	var repos, channels []string
	if p.ScopeFunc != nil {
		repos, channels = p.ScopeFunc(inc.ServiceID)
	}
	inc.Repos = union(union(repos, inc.Repos), req.Repos)
	inc.Channels = union(union(channels, inc.Channels), req.Channels)
	inc.WindowStart, inc.WindowEnd = start, end
	if err := p.Store.UpsertIncident(ctx, inc); err != nil {
		return inc, timeline.Window{}, err
	}
	return inc, timeline.Window{IncidentID: inc.ID, IncidentSource: inc.Source, Start: start, End: end,
		Repos: inc.Repos, Channels: inc.Channels, ServiceID: inc.ServiceID}, nil
}

func (p *Planner) find(ctx context.Context, req timeline.CollectRequest) (timeline.Incident, error) {
	stored, serr := p.Store.Incident(ctx, req.IncidentID)
	if serr != nil && !errors.Is(serr, timeline.ErrNotFound) {
		return stored, serr
	}
	if serr == nil && stored.Source == "" {
		// A placeholder recorded when the collection was queued, so that
		// the incident and its collection status can be shown before it
		// is planned: it says nothing about the incident.
		stored, serr = timeline.Incident{}, timeline.ErrNotFound
	}
	if serr == nil && stored.Source == timeline.SourceGeneric {
		// Declared by the generic hook: no source knows more about it.
		return stored, nil
	}
	if p.Registry != nil {
		for _, c := range p.Registry.All() {
			d, ok := c.(IncidentDescriber)
			if !ok {
				continue
			}
			inc, err := d.DescribeIncident(ctx, req.IncidentID)
			if err == nil {
				// Keep the scope recorded by earlier requests.
				if serr == nil {
					inc.Repos, inc.Channels = stored.Repos, stored.Channels
				}
				return inc, nil
			}
			if !errors.Is(err, timeline.ErrNotFound) {
				return inc, fmt.Errorf("reading incident %s from %s: %w", req.IncidentID, c.Name(), err)
			}
		}
	}
	if serr == nil {
		return stored, nil
	}
	return timeline.Incident{ID: req.IncidentID, Source: timeline.SourceGeneric}, nil
}

// union returns a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, x := range b {
		dup := false
		for _, y := range out {
			if x == y {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}
