package timeline

import (
	"context"
	"fmt"
)

// Groundwork's own detections are annotations with Suggested set, which a
// person confirms or dismisses. Suggest derives them from what is stored;
// the store keeps each under its SuggestedKey, so running it again after
// every collection neither duplicates a suggestion nor brings back one a
// person dismissed or deleted.

// SuggestKeyRollback prefixes the key of the suggested repair on a rollback
// deployment that succeeded; the rest is the id of its successful status.
const SuggestKeyRollback = "rollback:"

// Suggestions derives Groundwork's suggestions from an incident's timeline
// (in any order). It does no I/O. Today there is one detector: a rollback
// deployment that succeeded (the summary's rollback key moment) is
// suggested as the repair.
func Suggestions(inc Incident, events []Event) []Annotation {
	sum := Summarize(SummaryInput{Incident: inc, Events: events})
	kinds := make(map[string]string, len(events))
	for _, e := range events {
		kinds[e.ID] = e.Kind
	}
	var out []Annotation
	for _, m := range sum.KeyMoments {
		if m.Moment != MomentRollback {
			continue
		}
		succeeded := ""
		for _, id := range m.EventIDs {
			if kinds[id] == KindDeploySucceeded {
				succeeded = id
			}
		}
		if succeeded == "" {
			continue // a rollback that did not (yet) succeed repaired nothing
		}
		at := m.At
		out = append(out, Annotation{
			IncidentID: inc.ID, EventIDs: append([]string(nil), m.EventIDs...), Marker: MarkerRepair,
			Title: Truncate("Rollback: "+m.Title, MaxAnnotationTitle),
			Note:  "Groundwork saw this rollback deployment succeed. Confirm it as the repair, or dismiss it.",
			At:    &at, Author: SuggestedAuthor, Suggested: true, SuggestedKey: SuggestKeyRollback + succeeded,
			Status: AnnotationActive,
		})
	}
	return out
}

// SuggestionStore is what Suggest reads and writes.
type SuggestionStore interface {
	Incident(ctx context.Context, id string) (Incident, error)
	Timeline(ctx context.Context, q TimelineQuery) ([]Event, error)
	SuggestAnnotations(ctx context.Context, incidentID string, suggestions []Annotation) (int, error)
}

// Suggest runs Groundwork's detectors over an incident's stored timeline
// and stores the suggestions it does not hold yet; it returns how many were
// new. Collections call it when they end.
func Suggest(ctx context.Context, st SuggestionStore, incidentID string) (int, error) {
	inc, err := st.Incident(ctx, incidentID)
	if err != nil {
		return 0, fmt.Errorf("suggesting annotations: %w", err)
	}
	events, err := st.Timeline(ctx, TimelineQuery{IncidentID: incidentID})
	if err != nil {
		return 0, fmt.Errorf("suggesting annotations: %w", err)
	}
	s := Suggestions(inc, events)
	if len(s) == 0 {
		return 0, nil
	}
	n, err := st.SuggestAnnotations(ctx, incidentID, s)
	if err != nil {
		return n, fmt.Errorf("suggesting annotations: %w", err)
	}
	return n, nil
}
