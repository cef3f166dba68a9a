package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/timeline"
)

// questionsIncident stores an incident whose data raises several
// questions: Pat acknowledges in chat and the page times out to Quinn; the
// channel moves to a call; three people join at once; two merges land.
func questionsIncident(t *testing.T, b *reviewBundle) {
	t.Helper()
	resolved := t0.Add(time.Hour)
	b.incident(t, timeline.Incident{ID: "PQUEST", Title: "Checkout errors", Source: timeline.SourcePagerDuty, StartedAt: t0,
		ResolvedAt: &resolved, Channels: []string{"C1"}, URL: "https://acme.pagerduty.com/incidents/PQUEST"})
	pager := &timeline.Actor{ID: "PSVC", Name: "Checkout", Bot: true}
	ev := func(id, kind string, at time.Duration, actor *timeline.Actor, title string, details map[string]any) timeline.Event {
		src, _, _ := strings.Cut(id, ":")
		return timeline.Event{ID: id, IncidentID: "PQUEST", Source: src, Kind: kind, OccurredAt: t0.Add(at), Actor: actor,
			Title: title, Text: title, URL: "https://example.test/" + strings.ReplaceAll(id, ":", "/"), Details: details}
	}
	user := func(id, name, email string) map[string]any {
		return map[string]any{"id": id, "name": name, "email": email, "time_zone": "Europe/London"}
	}
	chat := func(n string, at time.Duration, actor *timeline.Actor, kind, text string) timeline.Event {
		return ev("slack:message:C1:"+n, kind, at, actor, text, map[string]any{"channel": "C1"})
	}
	pat := &timeline.Actor{ID: "U0PAT", Name: "Pat", Email: "pat@x.io"}
	quinn := &timeline.Actor{ID: "U0QUINN", Name: "Quinn", Email: "quinn@x.io"}
	b.events(t,
		ev("pagerduty:alert:A1", timeline.KindAlertTriggered, 0, nil, "checkout error rate above 5%", nil),
		ev("pagerduty:log_entry:TRIG", timeline.KindPageTriggered, 10*time.Second, pager, "Triggered",
			map[string]any{"assignees": []any{user("PPAT", "Pat Lee", "pat@x.io")}}),
		ev("pagerduty:log_entry:N1", timeline.KindPageNotified, 15*time.Second, pager, "Notified Pat Lee",
			map[string]any{"user": user("PPAT", "Pat Lee", "pat@x.io"), "notification_type": "push"}),
		chat("1", time.Minute, pat, timeline.KindChatMessage, "ack, looking"),
		ev("pagerduty:log_entry:ESC", timeline.KindPageEscalated, 5*time.Minute, pager, "Escalated to level 2",
			map[string]any{"escalation_level": 2, "escalation_reason": "timeout", "assignees": []any{user("PQUINN", "Quinn Ray", "quinn@x.io")}}),
		ev("pagerduty:log_entry:N2", timeline.KindPageNotified, 5*time.Minute+5*time.Second, pager, "Notified Quinn Ray",
			map[string]any{"user": user("PQUINN", "Quinn Ray", "quinn@x.io"), "notification_type": "phone"}),
		chat("2", 6*time.Minute, &timeline.Actor{ID: "U0ADA", Name: "Ada"}, timeline.KindChatJoined, "Ada joined"),
		ev("pagerduty:log_entry:ACK", timeline.KindPageAcknowledged, 7*time.Minute, &timeline.Actor{ID: "PQUINN", Name: "Quinn Ray", Email: "quinn@x.io"}, "Acknowledged", nil),
		chat("3", 7*time.Minute+30*time.Second, &timeline.Actor{ID: "U0BO", Name: "Bo"}, timeline.KindChatJoined, "Bo joined"),
		chat("4", 8*time.Minute, quinn, timeline.KindChatMessage, "jumping on the bridge, join us"),
		chat("5", 9*time.Minute, &timeline.Actor{ID: "U0CY", Name: "Cy"}, timeline.KindChatJoined, "Cy joined"),
		ev("github:pull:acme/api:10", timeline.KindChangeMerged, 15*time.Minute, &timeline.Actor{ID: "zoe-gh", Name: "zoe-gh"}, "#10 Tidy logs", nil),
		ev("github:pull:acme/api:11", timeline.KindChangeMerged, 40*time.Minute, &timeline.Actor{ID: "kim-gh", Name: "kim-gh"}, "#11 Docs", nil),
		chat("6", 50*time.Minute, quinn, timeline.KindChatMessage, "error rate back to normal"),
		ev("pagerduty:log_entry:RES", timeline.KindPageResolved, time.Hour, &timeline.Actor{ID: "PQUINN", Name: "Quinn Ray", Email: "quinn@x.io"}, "Resolved", nil),
	)
}

// questionsAndPacketContract exercises the questions and the packet for
// the OpenAPI contract test.
func questionsAndPacketContract(t *testing.T, c *contract, b *reviewBundle) {
	t.Helper()
	questionsIncident(t, b)
	u := b.srv.URL
	_, raw := c.call(t, u, "GET", "/v1/incidents/PQUEST/questions", readToken, nil)
	qs := decode[api.QuestionsJSON](t, raw)
	if len(qs.Questions) < 4 {
		t.Errorf("the contract exercised %d questions, want several: %s", len(qs.Questions), raw)
	}
	for _, path := range []string{"/v1/incidents/PQUEST/questions", "/v1/incidents/PQUEST/review",
		"/v1/incidents/PQUEST/review?format=markdown", "/v1/incidents/PQUEST/review?format=html"} {
		if status, raw := c.call(t, u, "GET", path, readToken, nil); status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, status, raw)
		}
		resp := b.do(t, "GET", path, nil)
		resp.Body.Close()
		c.call(t, u, "GET", path, readToken, nil, "If-None-Match", resp.Header.Get("ETag"))
	}
	c.call(t, u, "GET", "/v1/incidents/PQUEST/questions?include_dismissed=true", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PQUEST/questions?include_dismissed=maybe", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PQUEST/questions?limit=3", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PQUEST/review?format=pdf", readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PQUEST/review?view=story", readToken, nil)
	for _, part := range []string{"questions", "review"} {
		c.call(t, u, "GET", "/v1/incidents/PNOPE/"+part, readToken, nil)
		c.call(t, u, "GET", "/v1/incidents/bad'id/"+part, readToken, nil)
		c.call(t, u, "GET", "/v1/incidents/PQUEST/"+part, "", nil)
		c.call(t, u, "GET", "/v1/incidents/PQUEST/"+part, writeToken, nil)
	}
}

// timelineIDs reads every event id of an incident's timeline.
func timelineIDs(t *testing.T, b *reviewBundle, id string) map[string]bool {
	t.Helper()
	page := getJSON[api.TimelineJSON](t, b, "/v1/incidents/"+id+"/timeline?limit=5000")
	if page.Partial || page.NextCursor != nil {
		t.Fatalf("the timeline of %s has more than one page", id)
	}
	out := map[string]bool{}
	for _, e := range page.Events {
		out[e.ID] = true
	}
	return out
}

// checkCitations fails for a question citing no event, or one that is not
// on the timeline.
func checkCitations(t *testing.T, qs []timeline.ReviewedQuestion, ids map[string]bool) {
	t.Helper()
	for _, q := range qs {
		if len(q.EventIDs) == 0 {
			t.Errorf("%s cites no event", q.ID)
		}
		for _, id := range q.EventIDs {
			if !ids[id] {
				t.Errorf("%s cites %s, which is not on the timeline", q.ID, id)
			}
		}
	}
}

func byPattern(qs []timeline.ReviewedQuestion) map[string][]timeline.ReviewedQuestion {
	out := map[string][]timeline.ReviewedQuestion{}
	for _, q := range qs {
		out[q.Pattern] = append(out[q.Pattern], q)
	}
	return out
}

// realisticWithOverlap is the realistic incident, with the cart-api
// incident that shares its channel collected too.
func realisticWithOverlap(t *testing.T) (*reviewBundle, *fakeworld.World) {
	t.Helper()
	b, w := realistic(t)
	collectWorld(t, b, w, fakeworld.RealisticOverlappingID, nil, []string{fakeworld.RealisticChannel})
	return b, w
}

// TestQuestionsOnTheRealisticIncident: every pattern the realistic incident
// holds raises its question, citing events that exist.
func TestQuestionsOnTheRealisticIncident(t *testing.T) {
	t.Parallel()
	b, _ := realisticWithOverlap(t)
	id := fakeworld.RealisticIncidentID
	got := getJSON[api.QuestionsJSON](t, b, "/v1/incidents/"+id+"/questions")
	checkCitations(t, got.Questions, timelineIDs(t, b, id))
	if got.Timezone != "Europe/London" || got.LeftOut != 0 {
		t.Errorf("timezone %q, left out %d", got.Timezone, got.LeftOut)
	}
	pat := byPattern(got.Questions)
	for pattern, want := range map[string]struct {
		cites []string
		text  string
	}{
		timeline.PatternAckedInChat: {[]string{"pagerduty:log_entry:RPESC000000000000000005"},
			"At 10:01 Priya Natarajan acknowledged in chat (“ack, on it”), and the page moved on at 10:05 (it escalated on a timeout)"},
		timeline.PatternRepagedAfterMitigation:  {[]string{"pagerduty:alert:PAL5XX1036"}, "17 s later"},
		timeline.PatternFixFailedBeforeRollback: {nil, "A fix attempt (acme/checkout-api, “Hotfix: cap checkout DB pool at 150”) failed at 10:27, and a rollback began at 10:31"},
		timeline.PatternMovedToCall:             {nil, "moved to a call (“I'm IC for this one. We're on a call in the bridge”)"},
		timeline.PatternSameQuestionTwoChannels: {nil, "at 10:02 in channel C0SUPPORT"},
		timeline.PatternChangesDuringIncident:   {nil, "Between the page at 10:00 and the resolution at 11:12"},
		timeline.PatternOverlappingIncident:     {nil, "Incident " + fakeworld.RealisticOverlappingID},
		timeline.PatternOffHours:                {[]string{"pagerduty:log_entry:RPNOT000000000000000010"}, "Tomás Ortega was paged at 05:08 by their own clock (America/New_York, night)"},
		timeline.PatternManyJoined:              {nil, "3 people joined channel C0CHKPOOL (Marco Rossi, Tomás Ortega, Wei Chen)"},
	} {
		qs := pat[pattern]
		if len(qs) == 0 {
			t.Errorf("no %s question; got %+v", pattern, got.Questions)
			continue
		}
		q := qs[0]
		if !strings.Contains(q.Text, want.text) {
			t.Errorf("%s: %q, want it to contain %q", pattern, q.Text, want.text)
		}
		for _, id := range want.cites {
			if !slices.Contains(q.EventIDs, id) {
				t.Errorf("%s cites %v, want %s among them", pattern, q.EventIDs, id)
			}
		}
		if q.AnnotationID == nil || q.Status == nil || *q.Status != timeline.AnnotationActive {
			t.Errorf("%s is not recorded as an active suggestion: %+v", pattern, q)
		}
	}
	if len(pat[timeline.PatternOffHours]) != 1 {
		t.Errorf("off-hours questions %+v, want Tomás's only (the others were paged in their working hours)", pat[timeline.PatternOffHours])
	}
}

// TestQuestionsAreSuggestedAnnotations: each question is recorded once as
// a suggested annotation; a person's dismissal or deletion sticks.
func TestQuestionsAreSuggestedAnnotations(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	questionsIncident(t, b)
	const qpath = "/v1/incidents/PQUEST/questions"
	first := getJSON[api.QuestionsJSON](t, b, qpath)
	checkCitations(t, first.Questions, timelineIDs(t, b, "PQUEST"))
	anns := func() []api.AnnotationJSON {
		return getJSON[api.AnnotationListJSON](t, b, "/v1/incidents/PQUEST/annotations?include_dismissed=true").Annotations
	}
	recorded := anns()
	byID := map[string]api.AnnotationJSON{}
	for _, a := range recorded {
		byID[a.ID] = a
	}
	for _, q := range first.Questions {
		a, ok := byID[orEmpty(q.AnnotationID)]
		if !ok || !a.Suggested || a.Marker != q.Marker || a.Author != timeline.SuggestedAuthor || !slices.Equal(a.EventIDs, q.EventIDs) {
			t.Errorf("question %s is recorded as %+v", q.ID, a)
		}
		if (q.Pattern == timeline.PatternMovedToCall) != (q.Marker == timeline.MarkerBlindSpot) {
			t.Errorf("question %s has marker %s", q.ID, q.Marker)
		}
	}
	// Asking again records nothing more.
	again := getJSON[api.QuestionsJSON](t, b, qpath)
	if len(anns()) != len(recorded) || len(again.Questions) != len(first.Questions) {
		t.Fatalf("asking again: %d annotations (was %d), %d questions (was %d)", len(anns()), len(recorded), len(again.Questions), len(first.Questions))
	}

	// A dismissal is honoured, and shown on request.
	dismissed, deleted := first.Questions[0], first.Questions[1]
	patch := func(method, aid, body string) {
		resp := b.do(t, method, "/v1/incidents/PQUEST/annotations/"+aid, strings.NewReader(body),
			"Authorization", "Bearer "+writeToken, "If-Match", "*", "Content-Type", "application/json")
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", method, aid, resp.StatusCode)
		}
	}
	patch("PATCH", *dismissed.AnnotationID, `{"status":"dismissed"}`)
	patch("DELETE", *deleted.AnnotationID, ``)
	after := getJSON[api.QuestionsJSON](t, b, qpath)
	if after.LeftOut != 2 || len(after.Questions) != len(first.Questions)-2 {
		t.Errorf("after a dismissal and a deletion: %d questions, %d left out; want %d and 2", len(after.Questions), after.LeftOut, len(first.Questions)-2)
	}
	for _, q := range after.Questions {
		if q.ID == dismissed.ID || q.ID == deleted.ID {
			t.Errorf("question %s is back", q.ID)
		}
	}
	all := getJSON[api.QuestionsJSON](t, b, qpath+"?include_dismissed=true")
	var shown []string
	for _, q := range all.Questions {
		if q.ID == dismissed.ID && orEmpty(q.Status) == timeline.AnnotationDismissed {
			shown = append(shown, q.ID)
		}
		if q.ID == deleted.ID {
			t.Errorf("a deleted question is shown: %+v", q)
		}
	}
	if len(shown) != 1 || all.LeftOut != 1 {
		t.Errorf("include_dismissed: dismissed shown %v, left out %d; want it flagged and the deleted one left out", shown, all.LeftOut)
	}
	// A new event (a new version, a new review) brings neither back.
	b.events(t, timeline.Event{ID: "slack:message:C1:7", IncidentID: "PQUEST", Source: timeline.SourceSlack, Kind: timeline.KindChatMessage,
		OccurredAt: t0.Add(55 * time.Minute), Actor: &timeline.Actor{ID: "U0QUINN", Name: "Quinn", Email: "quinn@x.io"}, Title: "writing it up",
		Details: map[string]any{"channel": "C1"}})
	if later := getJSON[api.QuestionsJSON](t, b, qpath); later.LeftOut != 2 || len(later.Questions) != len(after.Questions) {
		t.Errorf("after a new event: %d questions, %d left out", len(later.Questions), later.LeftOut)
	}
	n := 0
	for _, a := range anns() {
		if a.Suggested {
			n++
		}
	}
	if n != len(recorded)-1 {
		t.Errorf("%d suggestions stored, want %d (one deleted)", n, len(recorded)-1)
	}
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestReviewPacketOnTheRealisticIncident: the packet holds the phases,
// people, changes and questions in at most 150 Markdown lines, links each
// key moment, names no author, and its HTML is self-contained.
func TestReviewPacketOnTheRealisticIncident(t *testing.T) {
	t.Parallel()
	b, _ := realisticWithOverlap(t)
	id := fakeworld.RealisticIncidentID
	path := "/v1/incidents/" + id + "/review"
	// A person's note, on Sam's message about the call.
	callMsg := "slack:message:" + fakeworld.RealisticChannel + ":" + strconv.FormatInt(at18("10:09:00").Unix(), 10) + ".000000"
	resp := b.do(t, "POST", "/v1/incidents/"+id+"/annotations", strings.NewReader(`{"event_ids":["`+callMsg+`"],"marker":"coordination",`+
		`"title":"Sam runs the bridge","note":"Notes from the call\nwere kept in a doc."}`), "Authorization", "Bearer "+writeToken, "Content-Type", "application/json")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("annotating: %d", resp.StatusCode)
	}

	status, h, body := b.fetch(t, path+"?format=markdown")
	if status != 200 || h.Get("Content-Type") != "text/markdown; charset=utf-8" {
		t.Fatalf("%d %q %s", status, h.Get("Content-Type"), body)
	}
	md := string(body)
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	t.Logf("the packet is %d Markdown lines:\n%s", len(lines), md)
	if len(lines) > timeline.MaxPacketLines {
		t.Errorf("the packet is %d lines, want at most %d", len(lines), timeline.MaxPacketLines)
	}
	for _, want := range []string{
		timeline.PrimeDirective,
		"## Facts", "## Phases", "| Detection | 09:55:00 |", "| Mitigation | 10:36:00 |", "**Durations:** detection to page 5m01s",
		"## Key moments", "## People", "| Tomás Ortega | added by reassignment |", "05:08 America/New\\_York, night",
		"| Wei Chen | followed the channel |",
		"## Changes in flight", "Proximity is not cause", "Hotfix: cap checkout DB pool at 150", "live 7m50s before the page",
		"## Context", "Payments offsite", "## Questions", "Acknowledged in chat, not in the pager", "## Blind spots", "moved to a call",
		"## Annotations", "- **Coordination** Sam runs the bridge — Notes from the call were kept in a doc. _(by writer)_", "[Meeting page](" + b.srv.URL + "/incidents/" + id + ")",
		"[Full timeline](" + b.srv.URL + "/v1/incidents/" + id + "/timeline)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the packet lacks %q", want)
		}
	}
	// Blameless: the changes table names no one who deployed or merged.
	inChanges := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "## Changes"):
			inChanges = true
		case strings.HasPrefix(l, "## "):
			inChanges = false
		}
		if inChanges && regexp.MustCompile(`Priya|Tomás|tortega|priya-n|Jonas|jberg`).MatchString(l) {
			t.Errorf("a change names its author: %s", l)
		}
	}

	packet := getJSON[timeline.Packet](t, b, path)
	if len(packet.KeyMoments) == 0 || len(packet.KeyMoments) > 20 {
		t.Errorf("%d key moments, want 1 to 20", len(packet.KeyMoments))
	}
	upstream := 0
	for _, m := range packet.KeyMoments {
		if !strings.HasPrefix(m.TimelineURL, b.srv.URL+"/v1/incidents/"+id+"/timeline?since=") {
			t.Errorf("key moment %s links to %q", m.Moment, m.TimelineURL)
		}
		if m.URL != nil {
			upstream++
		}
		// The moment's link finds its events.
		rel := strings.TrimPrefix(m.TimelineURL, b.srv.URL)
		page := getJSON[api.TimelineJSON](t, b, rel)
		var got []string
		for _, e := range page.Events {
			got = append(got, e.ID)
		}
		if !slices.Contains(got, m.EventIDs[len(m.EventIDs)-1]) && !slices.Contains(got, m.EventIDs[0]) {
			t.Errorf("key moment %s's link %s shows %v, not its events %v", m.Moment, rel, got, m.EventIDs)
		}
	}
	if upstream == 0 {
		t.Error("no key moment links upstream")
	}
	if packet.PrimeDirective.Text != timeline.PrimeDirective || len(packet.Phases) != 5 || len(packet.People) != 7 ||
		len(packet.Changes.Items) != 3 || len(packet.Questions) == 0 {
		t.Errorf("packet: directive %q, %d phases, %d people, %d changes, %d questions", packet.PrimeDirective.Text,
			len(packet.Phases), len(packet.People), len(packet.Changes.Items), len(packet.Questions))
	}
	ids := timelineIDs(t, b, id)
	checkCitations(t, packet.Questions, ids)
	for _, q := range packet.Questions {
		if q.Pattern == timeline.PatternMovedToCall {
			t.Errorf("the call is among the questions, not the blind spots: %+v", q)
		}
	}
	var calls int
	for _, bs := range packet.BlindSpots {
		if bs.Kind == timeline.BlindSpotCall {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("blind spots %+v, want the call", packet.BlindSpots)
	}

	status, h, body = b.fetch(t, path+"?format=html")
	if status != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("%d %q %q", status, h.Get("Content-Type"), h.Get("Content-Security-Policy"))
	}
	html := string(body)
	for _, want := range []string{"<!DOCTYPE html>", "<style>", "@media print", "Regardless of what we discover", "Tomás Ortega",
		"Hotfix: cap checkout DB pool at 150", "Acknowledged in chat, not in the pager"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`(?i)<script`), regexp.MustCompile(`(?i)<link`), regexp.MustCompile(`(?i)<img`),
		regexp.MustCompile(`(?i)src=`), regexp.MustCompile(`(?i)@import`), regexp.MustCompile(`(?i)url\(`), regexp.MustCompile(`(?i)\bon[a-z]+=`)} {
		if bad.MatchString(html) {
			t.Errorf("the HTML is not self-contained: it matches %s", bad)
		}
	}
}

// TestQuestionsOnTheDemoIncident: the demo's questions cite events that
// exist, and its packet keeps within the line budget.
func TestQuestionsOnTheDemoIncident(t *testing.T) {
	t.Parallel()
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	b := setupReview(t)
	b.now = time.Date(2025, 11, 21, 9, 0, 0, 0, time.UTC)
	collectWorld(t, b, w, fakeworld.IncidentID, []string{fakeworld.Repo}, []string{fakeworld.Channel})
	got := getJSON[api.QuestionsJSON](t, b, "/v1/incidents/"+fakeworld.IncidentID+"/questions")
	checkCitations(t, got.Questions, timelineIDs(t, b, fakeworld.IncidentID))
	pat := byPattern(got.Questions)
	t.Logf("demo questions: %+v", got.Questions)
	// The demo's Tomás is paged at 05:08 New York time; three people join
	// within four minutes; "@Priya is on call" is the rota, not a call.
	if len(pat[timeline.PatternOffHours]) != 1 || len(pat[timeline.PatternManyJoined]) != 1 || len(pat[timeline.PatternMovedToCall]) != 0 {
		t.Errorf("demo questions by pattern: %v", pat)
	}
	_, _, body := b.fetch(t, "/v1/incidents/"+fakeworld.IncidentID+"/review?format=markdown")
	if n := strings.Count(string(body), "\n"); n > timeline.MaxPacketLines || n < 40 {
		t.Errorf("the demo's packet is %d lines", n)
	}
}

// TestMarkdownExportNamesEachPersonOnce: the Markdown timeline opens with
// the summary, and names each person by one name in every tool.
func TestMarkdownExportNamesEachPersonOnce(t *testing.T) {
	t.Parallel()
	b, _ := realistic(t)
	_, _, body := b.fetch(t, "/v1/incidents/"+fakeworld.RealisticIncidentID+"/timeline?format=markdown")
	md := string(body)
	head, table, ok := strings.Cut(md, "| Time (Europe/London) |")
	if !ok {
		t.Fatalf("no table:\n%s", md)
	}
	for _, want := range []string{"- **Phases:** Detection 09:55:00 · Page 10:00:01 · First acknowledgement 10:07:00 (by Marco Rossi, at level 2",
		"- **Durations:** detection to page 5m01s", "- **People:** Lena (Support), there before the page, 09:55–10:38"} {
		if !strings.Contains(head, want) {
			t.Errorf("the header lacks %q:\n%s", want, head)
		}
	}
	// Tomás is "tomas" on Slack's profile, "tortega" on GitHub and "Tomás
	// Ortega" in the pager: one name in every row.
	who := map[string]bool{}
	for _, row := range strings.Split(table, "\n")[2:] {
		cells := strings.Split(row, " | ")
		if len(cells) > 3 {
			who[cells[3]] = true
		}
	}
	for _, other := range []string{"tortega", "Tomás", "tomas", "Priya", "Marco", "priya-n"} {
		if who[other] {
			t.Errorf("a row names %q instead of the person's one name (names: %v)", other, who)
		}
	}
	if !who["Tomás Ortega"] || !who["Priya Natarajan"] {
		t.Errorf("names in the rows: %v", who)
	}
}

// TestTimelinePartial: a page says whether it is the whole timeline.
func TestTimelinePartial(t *testing.T) {
	t.Parallel()
	for _, encoded := range []bool{true, false} {
		b := setupReview(t)
		if !encoded {
			b = setupReview(t, func(s *api.Server) { s.Store = plainStore{s.Store} })
		}
		checkoutIncident(t, b)
		whole := getJSON[api.TimelineJSON](t, b, "/v1/incidents/PCHECKOUT/timeline")
		first := getJSON[api.TimelineJSON](t, b, "/v1/incidents/PCHECKOUT/timeline?limit=2")
		if whole.Partial || !first.Partial || first.NextCursor == nil {
			t.Fatalf("encoded %v: whole partial %v, first page partial %v", encoded, whole.Partial, first.Partial)
		}
		last := getJSON[api.TimelineJSON](t, b, "/v1/incidents/PCHECKOUT/timeline?limit=5000&cursor="+*first.NextCursor)
		if !last.Partial || last.NextCursor != nil {
			t.Errorf("encoded %v: the last page after a cursor: partial %v, next %v", encoded, last.Partial, last.NextCursor)
		}
		var raw map[string]json.RawMessage
		_, _, body := b.fetch(t, "/v1/incidents/PCHECKOUT/timeline")
		if err := json.Unmarshal(body, &raw); err != nil || string(raw["partial"]) != "false" {
			t.Errorf("encoded %v: partial is %s", encoded, raw["partial"])
		}
	}
}

// countingSummaries counts whole-timeline reads of the review.
type countingSummaries struct {
	timeline.SummaryStore
	reads atomic.Int64
}

func (c *countingSummaries) Timeline(ctx context.Context, q timeline.TimelineQuery) ([]timeline.Event, error) {
	c.reads.Add(1)
	return c.SummaryStore.Timeline(ctx, q)
}

// TestQuestionsAndPacketDerivedOncePerVersion: the questions and every
// format of the packet come from the cached review; only a change to the
// incident derives it again.
func TestQuestionsAndPacketDerivedOncePerVersion(t *testing.T) {
	t.Parallel()
	var counting *countingSummaries
	b := setupReview(t, func(s *api.Server) {
		counting = &countingSummaries{SummaryStore: s.Summaries}
		s.Summaries = counting
	})
	questionsIncident(t, b)
	paths := []string{"/v1/incidents/PQUEST/questions", "/v1/incidents/PQUEST/review", "/v1/incidents/PQUEST/review?format=markdown",
		"/v1/incidents/PQUEST/review?format=html", "/v1/incidents/PQUEST/questions?include_dismissed=true", "/v1/incidents/PQUEST"}
	// The first answer records the questions, which is a new version of
	// the incident; the second derives that version's review.
	for range 2 {
		if status, _, body := b.fetch(t, paths[0]); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	before := counting.reads.Load()
	for range 3 {
		for _, p := range paths {
			if status, _, body := b.fetch(t, p); status != 200 {
				t.Fatalf("GET %s: %d %s", p, status, body)
			}
		}
	}
	if n := counting.reads.Load() - before; n != 0 {
		t.Errorf("%d whole-timeline reads for %d answers of one version, want 0", n, 3*len(paths))
	}
	b.events(t, timeline.Event{ID: "slack:message:C1:9", IncidentID: "PQUEST", Source: timeline.SourceSlack, Kind: timeline.KindChatMessage,
		OccurredAt: t0.Add(58 * time.Minute), Actor: &timeline.Actor{ID: "U0QUINN", Name: "Quinn"}, Title: "done", Details: map[string]any{"channel": "C1"}})
	before = counting.reads.Load()
	for _, p := range paths {
		b.fetch(t, p)
	}
	if n := counting.reads.Load() - before; n != 1 {
		t.Errorf("%d whole-timeline reads after a new event, want 1", n)
	}
}
