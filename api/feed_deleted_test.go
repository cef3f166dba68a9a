package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
)

// TestFeedCarriesDeletions: an event deleted upstream leaves the timeline,
// the summary and the exports; the feed, polled or streamed, carries its
// removal as {"id", "incident_id", "deleted": true, "seq"} at a new seq, and
// its content appears nowhere.
func TestFeedCarriesDeletions(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PA", StartedAt: t0})
	const secret = "AKIAIOSFODNN7EXAMPLE pasted by mistake"
	leak, kept := chatEvent("PA", 1, secret), chatEvent("PA", 2, "rolling back")
	b.events(t, leak, kept)
	_, h, _ := b.fetch(t, "/v1/incidents/PA/timeline")
	etag := h.Get("ETag")

	c := b.stream(t, "/v1/feed?after=0")
	defer c.close()
	for i := 0; i < 2; i++ {
		c.next(t)
	}
	gone := timeline.Event{ID: leak.ID, IncidentID: "PA", Source: leak.Source, Kind: leak.Kind, OccurredAt: leak.OccurredAt,
		Version: leak.OccurredAt.Add(1e9), Deleted: true}
	b.events(t, gone)

	ev := c.next(t)
	want := fmt.Sprintf(`{"id":%q,"incident_id":"PA","deleted":true,"seq":%d}`, leak.ID, ev.id)
	if ev.data != want || ev.id <= 0 {
		t.Errorf("streamed %d %s, want %s", ev.id, ev.data, want)
	}

	status, _, body := b.fetch(t, "/v1/feed?after=0")
	if status != 200 || strings.Contains(string(body), secret) || !strings.Contains(string(body), want) {
		t.Errorf("feed page %d %s, want the deletion %s and no content", status, body, want)
	}
	page := decode[api.FeedJSON](t, body)
	if len(page.Events) != 2 || page.Events[0].ID != kept.ID || page.Events[0].Deleted ||
		!page.Events[1].Deleted || page.Events[1].ID != leak.ID || page.Events[1].Seq != ev.id || page.NextAfter != ev.id {
		t.Errorf("feed page %+v, want the kept event, then the deletion", page)
	}

	for _, path := range []string{"/v1/incidents/PA/timeline", "/v1/incidents/PA", "/v1/incidents/PA/timeline?format=jsonl",
		"/v1/incidents/PA/timeline?format=csv", "/v1/incidents/PA/timeline?format=markdown"} {
		status, _, body := b.fetch(t, path)
		if status != 200 || strings.Contains(string(body), secret) || strings.Contains(string(body), leak.ID) {
			t.Errorf("%s: %d, still shows the deleted event:\n%s", path, status, body)
		}
	}
	var tl api.TimelineJSON
	if _, _, body := b.fetch(t, "/v1/incidents/PA/timeline"); json.Unmarshal(body, &tl) != nil || len(tl.Events) != 1 {
		t.Errorf("timeline %s, want the kept event only", body)
	}
	if status, _, _ := b.fetch(t, "/v1/incidents/PA/timeline", "If-None-Match", etag); status != 200 {
		t.Errorf("the timeline's old ETag still matches after a deletion: %d", status)
	}
	if evs, err := b.store.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: "PA"}); err != nil || len(evs) != 1 {
		t.Errorf("store timeline %v %v", evs, err)
	}
}
