package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// The realistic incident of the story view, written by the timeline
// package's generator (go test ./timeline -run TestStoryFixtureIsGenerated
// -update).
const storyFixture = "../timeline/testdata/story/realistic.json"

func loadStoryFixture(t testing.TB) []timeline.Event {
	t.Helper()
	raw, err := os.ReadFile(storyFixture)
	if err != nil {
		t.Fatal(err)
	}
	var in []struct {
		ID         string          `json:"id"`
		IncidentID string          `json:"incident_id"`
		Source     string          `json:"source"`
		Kind       string          `json:"kind"`
		OccurredAt time.Time       `json:"occurred_at"`
		Actor      *timeline.Actor `json:"actor"`
		Title      string          `json:"title"`
		Text       string          `json:"text"`
		URL        string          `json:"url"`
		Details    map[string]any  `json:"details"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	out := make([]timeline.Event, len(in))
	for i, e := range in {
		out[i] = timeline.Event{ID: e.ID, IncidentID: e.IncidentID, Source: e.Source, Kind: e.Kind, OccurredAt: e.OccurredAt,
			Actor: e.Actor, Title: e.Title, Text: e.Text, URL: e.URL, Details: e.Details}
	}
	return out
}

// markedStore is the Postgres store with hide and star marks, as the
// annotations will give them.
type markedStore struct {
	*postgres.Store
	mu    sync.Mutex
	marks timeline.StoryMarks
}

func (m *markedStore) StoryMarks(context.Context, string) (timeline.StoryMarks, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.marks, nil
}

func (m *markedStore) set(marks timeline.StoryMarks) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks = marks
}

var _ timeline.StoryMarkStore = (*markedStore)(nil)

const storyIncident = "Q1CHK4521"

func storyBundle(t *testing.T) (*reviewBundle, *markedStore, []timeline.Event) {
	t.Helper()
	var marked *markedStore
	b := setupReview(t, func(s *api.Server) {
		marked = &markedStore{Store: s.Store.(*postgres.Store)}
		s.Store = marked
	})
	events := loadStoryFixture(t)
	started := time.Date(2026, 3, 10, 9, 58, 0, 0, time.UTC)
	resolved := started.Add(82 * time.Minute)
	b.incident(t, timeline.Incident{ID: storyIncident, Title: "Checkout API 5xx rate above 5%", Source: timeline.SourcePagerDuty,
		StartedAt: started, ResolvedAt: &resolved, WindowStart: started.Add(-2 * time.Hour), WindowEnd: resolved.Add(30 * time.Minute),
		URL: "https://acme.pagerduty.com/incidents/" + storyIncident})
	b.events(t, events...)
	return b, marked, events
}

// TestStoryViewOfTheRealisticIncident stores the realistic incident
// (1,665 events) and reads its story through the server: at most 60 rows,
// every event in exactly one row, every key moment of the incident's
// summary shown, the same story the timeline package tells of the same
// events, and a response the OpenAPI document describes.
func TestStoryViewOfTheRealisticIncident(t *testing.T) {
	t.Parallel()
	b, _, events := storyBundle(t)
	c := loadContract(t, b.srv.URL)

	status, raw := c.call(t, b.srv.URL, "GET", "/v1/incidents/"+storyIncident+"/timeline?view=story", readToken, nil)
	if status != http.StatusOK {
		t.Fatalf("view=story: %d %s", status, raw)
	}
	var story api.StoryJSON
	if err := json.Unmarshal(raw, &story); err != nil {
		t.Fatal(err)
	}
	t.Logf("GET view=story: %d events in %d rows, %d bytes", story.Events, len(story.Rows), len(raw))
	if len(story.Rows) > 60 {
		t.Errorf("%d rows, want at most 60", len(story.Rows))
	}
	if story.Events != len(events) || story.View != "story" || story.Timezone != "Europe/London" || story.Hidden.Count != 0 {
		t.Errorf("story header: events %d (want %d), view %q, timezone %q, hidden %d", story.Events, len(events), story.View, story.Timezone, story.Hidden.Count)
	}
	in := map[string]int{}
	shown := map[string]api.StoryRowJSON{}
	for _, r := range story.Rows {
		for _, id := range r.EventIDs {
			in[id]++
			shown[id] = r
		}
		if r.Collapsed != nil {
			if r.Collapsed.Count != len(r.Collapsed.EventIDs) {
				t.Errorf("row %s: collapsed count %d for %d ids", r.ID, r.Collapsed.Count, len(r.Collapsed.EventIDs))
			}
			for _, id := range r.Collapsed.EventIDs {
				in[id]++
			}
		}
	}
	for _, e := range events {
		if in[e.ID] != 1 {
			t.Errorf("event %s is in %d rows, want 1", e.ID, in[e.ID])
		}
	}
	if len(in) != len(events) {
		t.Errorf("rows hold %d ids, the timeline %d events", len(in), len(events))
	}

	// The key moments the incident's own summary reports are all shown.
	_, raw = c.call(t, b.srv.URL, "GET", "/v1/incidents/"+storyIncident, readToken, nil)
	var detail struct {
		Summary timeline.Summary `json:"summary"`
	}
	if err := json.Unmarshal(raw, &detail); err != nil {
		t.Fatal(err)
	}
	if len(detail.Summary.KeyMoments) < 8 {
		t.Fatalf("the summary has %d key moments", len(detail.Summary.KeyMoments))
	}
	for _, m := range detail.Summary.KeyMoments {
		for _, id := range m.EventIDs {
			if r, ok := shown[id]; !ok || r.KeyMoment == "" {
				t.Errorf("key moment %s (%s): event %s is not shown on a key-moment row", m.Moment, m.Title, id)
			}
		}
	}

	// The same story as the pure function tells of the fixture: the
	// store's round trip changes nothing that matters.
	resolved := time.Date(2026, 3, 10, 11, 20, 0, 0, time.UTC)
	inc := timeline.Incident{ID: storyIncident, StartedAt: time.Date(2026, 3, 10, 9, 58, 0, 0, time.UTC), ResolvedAt: &resolved}
	direct := timeline.BuildStory(timeline.StoryInput{Events: events, Location: london(t),
		KeyMoments: timeline.Summarize(timeline.SummaryInput{Incident: inc, Events: events}).KeyMoments})
	var want, got []string
	for _, r := range direct.Rows {
		want = append(want, r.ID+" "+r.Title)
	}
	for _, r := range story.Rows {
		got = append(got, r.ID+" "+r.Title)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("story through the server differs from BuildStory on the fixture (-direct +server):\n%s", diff)
	}

	// Markdown, for pasting.
	status, raw = c.call(t, b.srv.URL, "GET", "/v1/incidents/"+storyIncident+"/timeline?view=story&format=markdown", readToken, nil)
	md := string(raw)
	if status != http.StatusOK || !strings.HasPrefix(md, "## Story: [Checkout API 5xx rate above 5% (Q1CHK4521)](https://acme.pagerduty.com/incidents/Q1CHK4521)") ||
		strings.Count(md, "\n| 2026-03-10 ") != len(story.Rows) || !strings.Contains(md, "**first acknowledgement:** ") ||
		!strings.Contains(md, "messages from 12 people in #checkout") {
		t.Errorf("markdown story: %d\n%s", status, md)
	}
}

// TestStoryViewRequests: the story view's parameters, errors, ETags and
// marks, each response checked against the OpenAPI document.
func TestStoryViewRequests(t *testing.T) {
	t.Parallel()
	b, marked, events := storyBundle(t)
	c := loadContract(t, b.srv.URL)
	u := b.srv.URL
	path := "/v1/incidents/" + storyIncident + "/timeline"

	for _, tc := range []struct {
		query, token string
		status       int
		code         string
	}{
		{"?view=story", readToken, 200, ""},
		{"?view=raw&limit=2", readToken, 200, ""},
		{"?view=story&format=json", readToken, 200, ""},
		{"?view=stories", readToken, 400, "invalid_view"},
		{"?view=story&limit=10", readToken, 400, "invalid_parameter"},
		{"?view=story&since=2026-03-10T10:00:00Z", readToken, 400, "invalid_parameter"},
		{"?view=story&kind=page.", readToken, 400, "invalid_parameter"},
		{"?view=story&format=csv", readToken, 400, "invalid_format"},
		{"?view=story", "", 401, "unauthorized"},
		{"?view=story", writeToken, 403, "forbidden"},
	} {
		status, raw := c.call(t, u, "GET", path+tc.query, tc.token, nil)
		if status != tc.status || (tc.code != "" && !strings.Contains(string(raw), `"code":"`+tc.code+`"`)) {
			t.Errorf("GET %s: %d %s, want %d %s", tc.query, status, raw, tc.status, tc.code)
		}
	}
	if status, raw := c.call(t, u, "GET", "/v1/incidents/QNOPE/timeline?view=story", readToken, nil); status != 404 {
		t.Errorf("unknown incident: %d %s", status, raw)
	}

	// ETags: 304 while nothing changed; a new event, a new mark or
	// another view is another representation.
	etag := func(query string, headers ...string) (int, string, []byte) {
		t.Helper()
		status, h, body := b.fetch(t, path+query, headers...)
		return status, h.Get("ETag"), body
	}
	_, story1, body := etag("?view=story")
	_, raw1, _ := etag("")
	_, md1, _ := etag("?view=story&format=markdown")
	if story1 == "" || story1 == raw1 || story1 == md1 {
		t.Fatalf("ETags: story %q, raw %q, markdown %q: want three different ones", story1, raw1, md1)
	}
	if status, _ := c.call(t, u, "GET", path+"?view=story", readToken, nil, "If-None-Match", story1); status != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", status)
	}

	var before api.StoryJSON
	if err := json.Unmarshal(body, &before); err != nil {
		t.Fatal(err)
	}
	// Hide a key moment's row and a burst's first line; star a message
	// folded into a burst.
	var burst api.StoryRowJSON
	for _, r := range before.Rows {
		if r.Kind == timeline.StoryKindBurst && r.Collapsed != nil && r.Collapsed.Count > 10 {
			burst = r
			break
		}
	}
	var ack string
	for _, r := range before.Rows {
		if r.KeyMoment == timeline.MomentFirstAcknowledgement {
			ack = r.ID
		}
	}
	if burst.ID == "" || ack == "" {
		t.Fatalf("no burst or no acknowledgement row in %d rows", len(before.Rows))
	}
	starred := burst.Collapsed.EventIDs[5]
	hidden := []string{ack, burst.EventIDs[0]}
	marked.set(timeline.StoryMarks{Hidden: map[string]bool{hidden[0]: true, hidden[1]: true}, Starred: map[string]bool{starred: true}})
	status, story2, body := etag("?view=story", "If-None-Match", story1)
	if status != http.StatusOK || story2 == story1 {
		t.Fatalf("after marking: %d, ETag %q (was %q): want 200 and a new ETag", status, story2, story1)
	}
	c.call(t, u, "GET", path+"?view=story", readToken, nil)
	var after api.StoryJSON
	if err := json.Unmarshal(body, &after); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.StoryCollapsedJSON{Count: 2, EventIDs: sortedByTimeline(events, hidden)}, after.Hidden); diff != "" {
		t.Errorf("hidden (-want +got):\n%s", diff)
	}
	if after.Events != len(events)-2 {
		t.Errorf("events %d, want %d", after.Events, len(events)-2)
	}
	starredShown := false
	for _, r := range after.Rows {
		for _, id := range r.EventIDs {
			if slices.Contains(hidden, id) {
				t.Errorf("hidden event %s is shown by row %s", id, r.ID)
			}
			if id == starred && r.ID == starred && r.Starred {
				starredShown = true
			}
		}
		if r.Collapsed != nil && slices.ContainsFunc(r.Collapsed.EventIDs, func(id string) bool { return slices.Contains(hidden, id) || id == starred }) {
			t.Errorf("row %s folds a hidden or starred event", r.ID)
		}
	}
	if !starredShown {
		t.Errorf("starred event %s is not a starred row of its own", starred)
	}

	// A new event changes the version, hence the ETag.
	e := events[len(events)-1]
	e.ID, e.OccurredAt, e.Text = e.ID+"9", e.OccurredAt.Add(time.Second), "one more thing"
	b.events(t, e)
	if status, story3, _ := etag("?view=story", "If-None-Match", story2); status != http.StatusOK || story3 == story2 {
		t.Errorf("after a new event: %d, ETag %q (was %q)", status, story3, story2)
	}
}

func sortedByTimeline(events []timeline.Event, ids []string) []string {
	var out []string
	for _, e := range events {
		if slices.Contains(ids, e.ID) {
			out = append(out, e.ID)
		}
	}
	return out
}
