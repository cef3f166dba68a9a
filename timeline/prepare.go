package timeline

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// PriorPagesWindow is how far before an incident's start its responders'
// earlier pages are counted.
const PriorPagesWindow = 7 * 24 * time.Hour

// SummaryStore finds what the summary needs besides the incident itself.
//
// Methods return ErrUnavailable (wrapped) when the database cannot be reached.
type SummaryStore interface {
	// Timeline returns an incident's events ordered by (OccurredAt, ID), as
	// Store.Timeline does.
	Timeline(ctx context.Context, q TimelineQuery) ([]Event, error)
	// Overlapping returns the incidents other than incidentID whose span
	// [StartedAt, ResolvedAt or now] overlaps [start, end].
	Overlapping(ctx context.Context, incidentID string, start, end time.Time) ([]Incident, error)
	// PriorPages counts, for each person incidentID's events name (by the
	// id of an actor, a notified user or an assignee), the interruptions
	// (CountInterruptions) of the page.notified events naming them as the
	// paged user (the "id" of the event's "user" detail) in incidents other
	// than incidentID, that occurred in [since, until). People with none,
	// and people the incident does not name, are absent; the map is never
	// nil.
	PriorPages(ctx context.Context, incidentID string, since, until time.Time) (map[string]int, error)
	// OverlappingPeople returns, for each of incidentIDs, the identities of
	// the people who acted (bots left out) or were notified in it; every
	// id asked for is a key.
	OverlappingPeople(ctx context.Context, incidentIDs []string) (map[string][]Identity, error)
}

// GatherSummaryInput reads from store everything Summarize needs about inc
// except its events: the incidents that overlapped it and its responders'
// pages in the 7 days before it started. The caller fills in Events (see
// PrepareSummary); the API uses the rest to decide whether a cached summary
// is still current before it reads the whole timeline.
func GatherSummaryInput(ctx context.Context, store SummaryStore, inc Incident, cfg ReviewConfig, now time.Time) (SummaryInput, error) {
	in := SummaryInput{Incident: inc, Config: cfg, Now: now.UTC()}
	end := in.Now
	if inc.ResolvedAt != nil {
		end = *inc.ResolvedAt
	}
	if end.Before(inc.StartedAt) {
		end = inc.StartedAt
	}
	// The prior pages and the overlapping incidents (then their people)
	// are independent questions, asked at once: in a busy organisation
	// each reads hundreds of other incidents.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		in.PriorPages, err = store.PriorPages(gctx, inc.ID, inc.StartedAt.Add(-PriorPagesWindow), inc.StartedAt)
		return err
	})
	g.Go(func() error {
		var err error
		if in.Overlapping, err = store.Overlapping(gctx, inc.ID, inc.StartedAt, end); err != nil {
			return err
		}
		ids := make([]string, 0, len(in.Overlapping))
		for _, o := range in.Overlapping {
			ids = append(ids, o.ID)
		}
		in.OverlappingPeople, err = store.OverlappingPeople(gctx, ids)
		return err
	})
	if err := g.Wait(); err != nil {
		return in, fmt.Errorf("summary of %s: %w", inc.ID, err)
	}
	return in, nil
}

// PrepareReview derives inc's whole review (summary, people, changes) from
// what store holds, as PrepareSummary does.
func PrepareReview(ctx context.Context, store SummaryStore, inc Incident, cfg ReviewConfig, now time.Time) (Review, error) {
	in, err := GatherSummaryInput(ctx, store, inc, cfg, now)
	if err != nil {
		return Review{}, err
	}
	if in.Events, err = store.Timeline(ctx, TimelineQuery{IncidentID: inc.ID}); err != nil {
		return Review{}, fmt.Errorf("summary of %s: %w", inc.ID, err)
	}
	return Prepare(in), nil
}

// PrepareSummary derives inc's review summary from what store holds: its
// whole timeline, the incidents that overlapped it and its responders'
// earlier pages. now bounds incidents that are still open.
func PrepareSummary(ctx context.Context, store SummaryStore, inc Incident, cfg ReviewConfig, now time.Time) (Summary, error) {
	in, err := GatherSummaryInput(ctx, store, inc, cfg, now)
	if err != nil {
		return Summary{}, err
	}
	if in.Events, err = store.Timeline(ctx, TimelineQuery{IncidentID: inc.ID}); err != nil {
		return Summary{}, fmt.Errorf("summary of %s: %w", inc.ID, err)
	}
	return Summarize(in), nil
}
