package collectors_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/timeline"
)

// eventWith finds the event whose text contains s.
func eventWith(t *testing.T, events []timeline.Event, kind, s string) timeline.Event {
	t.Helper()
	for _, e := range events {
		if e.Kind == kind && strings.Contains(e.Text+e.Title, s) {
			return e
		}
	}
	t.Fatalf("no %s event with %q", kind, s)
	return timeline.Event{}
}

// Annotations are kept apart from events and keyed by their ids: collecting
// the incident again, with a message edited upstream meanwhile, leaves every
// annotation exactly as it was, and Groundwork's own suggestion (the
// rollback as the repair) is neither repeated nor brought back once
// dismissed. An event that then leaves the timeline (a deleted Slack
// message) orphans the annotation that cites it; nothing is lost.
func TestAnnotationsSurviveRecollectionAndDeletion(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.runner.AfterRunFunc = func(ctx context.Context, id string) error {
		_, err := timeline.Suggest(ctx, b.store, id)
		return err
	}
	ctx := context.Background()
	res, events := b.collect(t)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	all := func() []timeline.Annotation {
		t.Helper()
		list, err := b.store.Annotations(ctx, timeline.AnnotationQuery{IncidentID: fakeworld.IncidentID, IncludeDismissed: true})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	// The collection's end ran the detector: the rollback that succeeded
	// is suggested as the repair, citing its statuses.
	sugg := all()
	if len(sugg) != 1 || !sugg[0].Suggested || sugg[0].Marker != timeline.MarkerRepair || sugg[0].Status != timeline.AnnotationActive {
		t.Fatalf("suggestions after the first collection: %+v", sugg)
	}
	rolledBack := eventWith(t, events, timeline.KindDeploySucceeded, "v2.41.0 is live")
	rollingBack := eventWith(t, events, timeline.KindDeployStarted, "Rolling back 12 pods")
	if want := []string{rollingBack.ID, rolledBack.ID}; !slices.Equal(sugg[0].EventIDs, want) {
		t.Errorf("the suggestion cites %v, want %v", sugg[0].EventIDs, want)
	}

	// People annotate: the diagnosis on a message that will be edited, a
	// key moment on one that will be deleted, a blind spot on a moment.
	customers := eventWith(t, events, timeline.KindChatMessage, "Customers are reporting failed payments")
	linesUp := eventWith(t, events, timeline.KindChatMessage, "that lines up. Rolling back")
	poolMsg := eventWith(t, events, timeline.KindChatMessage, "DB pool exhausted")
	mk := func(marker string, at *time.Time, ids ...string) timeline.Annotation {
		a, err := b.store.CreateAnnotation(ctx, timeline.Annotation{IncidentID: fakeworld.IncidentID, EventIDs: ids, Marker: marker,
			Title: marker, Note: "from the review", At: at, Author: "facilitators", Status: timeline.AnnotationActive})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	quiet := rolledBack.OccurredAt.Add(30 * time.Minute)
	mk(timeline.MarkerDiagnosis, nil, poolMsg.ID, customers.ID)
	deleted := mk(timeline.MarkerKeyMoment, nil, linesUp.ID)
	mk(timeline.MarkerBlindSpot, &quiet)
	dismissed := timeline.AnnotationDismissed
	if _, err := b.store.UpdateAnnotation(ctx, fakeworld.IncidentID, sugg[0].ID,
		timeline.AnnotationPatch{Status: &dismissed, By: "facilitators", IfVersion: 1}); err != nil {
		t.Fatal(err)
	}
	before := all()

	// Upstream, a message is edited; the incident is collected again.
	ts := strings.TrimPrefix(customers.ID, "slack:message:"+fakeworld.Channel+":")
	if err := b.world.Slack.EditMessage(fakeworld.Channel, ts, "Customers are reporting failed payments at checkout (EU and TR)",
		fmt.Sprintf("%d.000001", customers.OccurredAt.Add(5*time.Minute).Unix())); err != nil {
		t.Fatal(err)
	}
	res, again := b.collect(t)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if edited := eventWith(t, again, timeline.KindChatMessage, "(EU and TR)"); edited.ID != customers.ID || edited.Seq <= customers.Seq {
		t.Fatalf("the edit was not collected: %+v", edited)
	}
	if diff := cmp.Diff(before, all()); diff != "" {
		t.Errorf("re-collection changed the annotations (-before +after):\n%s", diff)
	}

	// The message a key moment cites leaves the timeline.
	if _, err := b.schema.Pool.Exec(ctx, `DELETE FROM events WHERE incident_id = $1 AND id = $2`, fakeworld.IncidentID, linesUp.ID); err != nil {
		t.Fatal(err)
	}
	after := all()
	if len(after) != len(before) {
		t.Fatalf("%d annotations after the deletion, %d before", len(after), len(before))
	}
	for i, a := range after {
		if a.ID == deleted.ID {
			if !a.Orphaned() || !slices.Equal(a.MissingEventIDs, []string{linesUp.ID}) || !slices.Equal(a.EventIDs, deleted.EventIDs) {
				t.Errorf("the annotation of the deleted message: %+v", a)
			}
			a.MissingEventIDs = nil
		}
		if diff := cmp.Diff(before[i], a); diff != "" {
			t.Errorf("annotation %s changed beyond being orphaned (-before +after):\n%s", a.ID, diff)
		}
	}
}
