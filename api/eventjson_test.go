package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
)

// The feed encodes a deletion as its four fields and every other event with
// all of its fields, exactly as before deletions existed.
func TestFeedWireEncoding(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 1, time.UTC)
	e := eventJSON(timeline.Event{ID: "slack:message:C1:1.000001", IncidentID: "P", Source: "slack", Kind: timeline.KindChatMessage,
		OccurredAt: at, Actor: &timeline.Actor{ID: "U1", Name: "Ana"}, Title: "t", Text: "x", Seq: 7})
	del := eventJSON(timeline.Event{ID: "slack:message:C1:2.000002", IncidentID: "P", Source: "slack", Kind: timeline.KindChatMessage,
		OccurredAt: at, Title: "ignored", Text: "ignored", Seq: 9, Deleted: true})
	b, err := json.Marshal(FeedJSON{Events: []EventJSON{e, del}, NextAfter: 9}.wire())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"events":[{"id":"slack:message:C1:1.000001","incident_id":"P","source":"slack","kind":"chat.message",` +
		`"occurred_at":"2026-11-20T09:00:00.000000001Z","actor":{"id":"U1","name":"Ana"},"title":"t","text":"x","url":"",` +
		`"details":{},"seq":7},{"id":"slack:message:C1:2.000002","incident_id":"P","deleted":true,"seq":9}],"next_after":9}`
	if string(b) != want {
		t.Errorf("feed page\n got %s\nwant %s", b, want)
	}
	// Decoded by a client, a deletion is an EventJSON with Deleted set.
	var back FeedJSON
	if err := json.Unmarshal(b, &back); err != nil || back.Events[0].Deleted || !back.Events[1].Deleted || back.Events[1].Seq != 9 {
		t.Errorf("decoded %+v %v", back, err)
	}
	if plain, _ := json.Marshal(e); strings.Contains(string(plain), "deleted") {
		t.Errorf("an event that is not deleted says so: %s", plain)
	}
}
