package timeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// gatherStore answers PriorPages only once OverlappingPeople has been
// asked, so that gathering the two one after the other never ends.
type gatherStore struct {
	peopleAsked chan struct{}
	failPeople  bool
}

func (g *gatherStore) Timeline(context.Context, timeline.TimelineQuery) ([]timeline.Event, error) {
	return nil, nil
}

func (g *gatherStore) Overlapping(_ context.Context, _ string, _, _ time.Time) ([]timeline.Incident, error) {
	return []timeline.Incident{{ID: "POTHER"}}, nil
}

func (g *gatherStore) PriorPages(ctx context.Context, _ string, _, _ time.Time) (map[string]int, error) {
	select {
	case <-g.peopleAsked:
		return map[string]int{"PANA": 2}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(30 * time.Second): // a hang guard, not a timing
		return nil, errors.New("OverlappingPeople was never asked while PriorPages waited")
	}
}

func (g *gatherStore) OverlappingPeople(_ context.Context, ids []string) (map[string][]timeline.Identity, error) {
	close(g.peopleAsked)
	if g.failPeople {
		return nil, timeline.ErrUnavailable
	}
	return map[string][]timeline.Identity{ids[0]: {{Source: "slack", ID: "U1"}}}, nil
}

// TestGatherSummaryInputAsksAtOnce: the prior pages and the overlapping
// incidents' people are asked at the same time, not one after the other;
// both answers land in the input, and a failure of either fails it.
func TestGatherSummaryInputAsksAtOnce(t *testing.T) {
	t.Parallel()
	resolved := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	inc := timeline.Incident{ID: "PSELF", StartedAt: resolved.Add(-time.Hour), ResolvedAt: &resolved}
	in, err := timeline.GatherSummaryInput(context.Background(), &gatherStore{peopleAsked: make(chan struct{})}, inc,
		timeline.DefaultReviewConfig(), resolved)
	if err != nil {
		t.Fatal(err)
	}
	if in.PriorPages["PANA"] != 2 || len(in.Overlapping) != 1 || len(in.OverlappingPeople["POTHER"]) != 1 {
		t.Errorf("input: prior pages %v, overlapping %v, people %v", in.PriorPages, in.Overlapping, in.OverlappingPeople)
	}
	_, err = timeline.GatherSummaryInput(context.Background(), &gatherStore{peopleAsked: make(chan struct{}), failPeople: true}, inc,
		timeline.DefaultReviewConfig(), resolved)
	if !errors.Is(err, timeline.ErrUnavailable) {
		t.Errorf("a failed question: %v, want ErrUnavailable", err)
	}
}
