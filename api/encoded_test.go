package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// The store renders timeline pages as JSON itself; this keeps that JSON equal
// to the API's own encoding of the same events, whatever they hold.
func TestEncodedTimelineMatchesEventJSON(t *testing.T) {
	t.Parallel()
	st := postgres.New(pgtest.New(t).Pool)
	ctx := context.Background()
	at := time.Date(2026, 3, 29, 0, 59, 59, 0, time.UTC)
	if err := st.UpsertIncident(ctx, timeline.Incident{ID: "PENC", StartedAt: at, WindowStart: at, WindowEnd: at}); err != nil {
		t.Fatal(err)
	}
	events := []timeline.Event{
		{ID: "slack:message:C1:1.000001", Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: at.Add(123456789 * time.Nanosecond),
			Actor: &timeline.Actor{ID: "U1", Name: "Zoë \"Z\" Ødegård", Email: "zoe@acme.example"},
			Title: "pipes | and <html> & \"quotes\"", Text: "line one\nline two\t✓ 🎉 \\ back\\slash \u2028",
			URL: "https://acme.slack.com/archives/C1/p1000001", Details: map[string]any{"thread_ts": nil, "n": 3.5, "big": 12345678901.0,
				"list": []any{"a", 1.0, true}, "nested": map[string]any{"x": "<y>"}}},
		{ID: "pagerduty:log_entry:R1", Source: "pagerduty", Kind: timeline.KindPageTriggered, OccurredAt: at},
		{ID: "github:commit:acme/api:abc", Source: "github", Kind: timeline.KindChangeCommit, OccurredAt: at.Add(500 * time.Millisecond),
			Details: map[string]any{}},
		{ID: "github:commit:acme/api:def", Source: "github", Kind: timeline.KindChangeCommit, OccurredAt: at.Add(1200 * time.Nanosecond)},
	}
	for i := range events {
		events[i].IncidentID = "PENC"
	}
	if _, err := st.UpsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	q := timeline.TimelineQuery{IncidentID: "PENC"}
	decoded, err := st.Timeline(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := st.TimelineJSON(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(decoded) != len(events) || len(encoded) != len(events) {
		t.Fatalf("%d decoded, %d encoded, want %d", len(decoded), len(encoded), len(events))
	}
	for i := range decoded {
		want, _ := json.Marshal(eventJSON(decoded[i]))
		var w, g any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(encoded[i].JSON, &g); err != nil {
			t.Fatalf("%s: store JSON does not parse: %v\n%s", decoded[i].ID, err, encoded[i].JSON)
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("%s (-api +store):\n%s", decoded[i].ID, diff)
		}
		if !encoded[i].OccurredAt.Equal(decoded[i].OccurredAt) || encoded[i].ID != decoded[i].ID {
			t.Errorf("position %v %s, want %v %s", encoded[i].OccurredAt, encoded[i].ID, decoded[i].OccurredAt, decoded[i].ID)
		}
	}
}
