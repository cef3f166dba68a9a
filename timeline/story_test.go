package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const storyRealisticFixture = "testdata/story/realistic.json"

// TestStoryFixtureIsGenerated keeps testdata/story/realistic.json equal to
// what its generator writes; -update rewrites it. It also checks the
// fixture has the figures its comment promises.
func TestStoryFixtureIsGenerated(t *testing.T) {
	events := storyGenerateRealistic()
	raw := storyEncodeFixture(t, events)
	if *update {
		if err := os.MkdirAll(filepath.Dir(storyRealisticFixture), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(storyRealisticFixture, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(storyRealisticFixture)
	if err != nil {
		t.Fatalf("%v (run go test ./timeline -run TestStoryFixtureIsGenerated -update to create it)", err)
	}
	if !bytes.Equal(stored, raw) {
		t.Fatalf("%s differs from its generator; run go test ./timeline -run TestStoryFixtureIsGenerated -update", storyRealisticFixture)
	}

	counts := map[string]int{}
	lowContent, bots := 0, 0
	b := &storyBuilder{cfg: DefaultStoryConfig(), dir: newStoryDirectory(events)}
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			t.Error(err)
		}
		counts[e.Kind]++
		if storyIsChat(e.Kind) && isStoryBot(e) {
			bots++
		} else if e.Kind != KindChatJoined && storyIsChat(e.Kind) && b.isLowContent(e) {
			lowContent++
		}
	}
	t.Logf("realistic fixture: %d events: %v", len(events), counts)
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"page.notified", counts[KindPageNotified], 144},
		{"bot messages", bots, 26},
		{"ack/+1 messages", lowContent, 274},
		{"commits", counts[KindChangeCommit], 168},
		{"merged pull requests", counts[KindChangeMerged], 24},
		{"CI runs", counts[KindCICompleted], 90},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
}

func storyEncodeFixture(t testing.TB, events []Event) []byte {
	t.Helper()
	out := make([]storyFixtureEvent, len(events))
	for i, e := range events {
		out[i] = storyFixtureEvent{ID: e.ID, IncidentID: e.IncidentID, Source: e.Source, Kind: e.Kind, OccurredAt: e.OccurredAt,
			Actor: e.Actor, Title: e.Title, Text: e.Text, URL: e.URL, Details: e.Details}
	}
	// A JSON array with one event a line: small, and a diff shows which
	// events changed.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString("[\n")
	for i, e := range out {
		if i > 0 {
			buf.WriteString(",\n")
		}
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
	buf.WriteString("\n]\n")
	return buf.Bytes()
}

// storyLoadRealistic reads the fixture as a store would give it back (numbers
// in details are float64 after the JSON round trip).
func storyLoadRealistic(t testing.TB) []Event {
	t.Helper()
	raw, err := os.ReadFile(storyRealisticFixture)
	if err != nil {
		t.Fatal(err)
	}
	var in []storyFixtureEvent
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	out := make([]Event, len(in))
	for i, e := range in {
		out[i] = Event{ID: e.ID, IncidentID: e.IncidentID, Source: e.Source, Kind: e.Kind, OccurredAt: e.OccurredAt,
			Actor: e.Actor, Title: e.Title, Text: e.Text, URL: e.URL, Details: e.Details}
	}
	return out
}

func storyOfRealistic(t testing.TB, events []Event, hidden, starred map[string]bool) (Story, []KeyMoment) {
	t.Helper()
	resolved := fxResolved
	inc := Incident{ID: storyFixtureIncident, StartedAt: fxTrigger, ResolvedAt: &resolved}
	moments := Summarize(SummaryInput{Incident: inc, Events: events}).KeyMoments
	return BuildStory(StoryInput{Events: events, KeyMoments: moments, Hidden: hidden, Starred: starred,
		Config: DefaultStoryConfig(), Location: zone("Europe/London")}), moments
}

// storyCheckAccounting asserts that every event not hidden is in exactly one
// row, shown or collapsed, and that hidden ones are in none.
func storyCheckAccounting(t *testing.T, events []Event, s Story, hidden map[string]bool) {
	t.Helper()
	seen := map[string]string{}
	for _, r := range s.Rows {
		for _, id := range append(slices.Clone(r.EventIDs), r.Collapsed...) {
			if prev, dup := seen[id]; dup {
				t.Errorf("event %s is in row %s and in row %s", id, prev, r.ID)
			}
			seen[id] = r.ID
		}
	}
	for _, e := range events {
		_, in := seen[e.ID]
		switch {
		case hidden[e.ID] && in:
			t.Errorf("hidden event %s is in row %s", e.ID, seen[e.ID])
		case !hidden[e.ID] && !in:
			t.Errorf("event %s is in no row", e.ID)
		}
	}
	if len(seen) != s.Events {
		t.Errorf("rows account for %d events, Story.Events says %d", len(seen), s.Events)
	}
}

// storyCheckMoments asserts that every event a key moment cites is shown
// by a row that names the moment.
func storyCheckMoments(t *testing.T, s Story, moments []KeyMoment) {
	t.Helper()
	shown := map[string]StoryRow{}
	for _, r := range s.Rows {
		for _, id := range r.EventIDs {
			shown[id] = r
		}
	}
	for _, m := range moments {
		for _, id := range m.EventIDs {
			r, ok := shown[id]
			switch {
			case !ok:
				t.Errorf("key moment %s (%s): event %s is not shown", m.Moment, m.Title, id)
			case r.KeyMoment == "":
				t.Errorf("key moment %s: row %s shows %s but names no key moment", m.Moment, r.ID, id)
			}
		}
		if r, ok := shown[m.EventIDs[0]]; ok && r.ID != m.EventIDs[0] && !slices.Contains(m.EventIDs, r.ID) {
			t.Errorf("key moment %s: row %s is not headed by an event the moment cites", m.Moment, r.ID)
		}
	}
}

// TestStoryRealisticIncident is the target: the realistic incident
// (1,665 events) tells in at most 60 rows, with every key moment.
func TestStoryRealisticIncident(t *testing.T) {
	events := storyLoadRealistic(t)
	s, moments := storyOfRealistic(t, events, nil, nil)
	t.Logf("story view of the realistic incident: %d events in %d rows (%d key moments)", len(events), len(s.Rows), len(moments))
	if len(s.Rows) > 60 {
		t.Errorf("%d rows, want at most 60", len(s.Rows))
	}
	if len(moments) < 8 {
		t.Errorf("only %d key moments: the fixture should exercise every kind", len(moments))
	}
	storyCheckAccounting(t, events, s, nil)
	storyCheckMoments(t, s, moments)
	storyGolden(t, "realistic.story", s)
}

// storyGolden compares s with testdata/story/name.json; -update rewrites it.
func storyGolden(t *testing.T, name string, s Story) {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range s.Rows {
		fmt.Fprintf(&buf, "%s", storyGoldenLine(r))
	}
	path := filepath.Join("testdata", "story", name+".txt")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./timeline -run TestStory -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("story differs from %s (-want +got):\n%s", path, diff)
	}
}

// storyGoldenLine renders a row as a reviewer reads it, for the golden file.
func storyGoldenLine(r StoryRow) string {
	var b strings.Builder
	loc := zone("Europe/London")
	fmt.Fprintf(&b, "%s", r.At.In(loc).Format("15:04:05"))
	if !r.End.IsZero() {
		fmt.Fprintf(&b, "–%s", r.End.In(loc).Format("15:04:05"))
	}
	fmt.Fprintf(&b, " [%s]", r.Kind)
	if r.KeyMoment != "" {
		fmt.Fprintf(&b, " <%s>", r.KeyMoment)
	}
	if r.Channel != "" {
		fmt.Fprintf(&b, " %s", r.Channel)
	}
	if r.Actor != nil {
		fmt.Fprintf(&b, " (%s)", r.Actor.Name)
	}
	fmt.Fprintf(&b, " %s", r.Title)
	fmt.Fprintf(&b, "  {shown %d, collapsed %d}\n", len(r.EventIDs), len(r.Collapsed))
	if r.ThreadParent != nil {
		fmt.Fprintf(&b, "    ↳ thread: %s\n", storyOr(r.ThreadParent.Title, r.ThreadParent.ID))
	}
	for _, l := range strings.Split(r.Text, "\n") {
		if l != "" && len(r.Text) < 400 {
			fmt.Fprintf(&b, "    | %s\n", l)
		}
	}
	if len(r.Presence) > 0 {
		fmt.Fprintf(&b, "    present: %s\n", strings.Join(r.Presence, ", "))
	}
	return b.String()
}

func storyOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Builders for the rule tests. Times are "15:04:05" on the fixture's day,
// UTC (London is on GMT that day).

type storyOpt func(*Event)

func sev(id, kind, clock string, opts ...storyOpt) Event {
	src, _, _ := strings.Cut(id, ":")
	t, err := time.Parse("15:04:05", clock)
	if err != nil {
		panic(err)
	}
	e := Event{ID: id, IncidentID: "I", Source: src, Kind: kind, Title: kind, Details: map[string]any{},
		OccurredAt: fxDay.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func sby(id, name, email string) storyOpt {
	return func(e *Event) { e.Actor = &Actor{ID: id, Name: name, Email: email} }
}

// sbot is an actor its source's normaliser marked as a bot.
func sbot(id, name string) storyOpt {
	return func(e *Event) { e.Actor = &Actor{ID: id, Name: name, Bot: true} }
}

func sdet(kv ...any) storyOpt {
	return func(e *Event) {
		for i := 0; i+1 < len(kv); i += 2 {
			e.Details[kv[i].(string)] = kv[i+1]
		}
	}
}

func stitle(s string) storyOpt { return func(e *Event) { e.Title = s } }
func stext(s string) storyOpt  { return func(e *Event) { e.Text = s } }
func surl(s string) storyOpt   { return func(e *Event) { e.URL = s } }

// msg is a Slack message in #checkout by a person of fxPeople.
func sMsg(ts, who, text string, opts ...storyOpt) Event {
	p := fxPeople[who]
	id := EventID(SourceSlack, "message", fxChCheckout, ts)
	clock := ts
	return sev(id, KindChatMessage, clock, append([]storyOpt{sby(p.slack, p.slackName, p.email), stext(text),
		sdet(DetailChannel, fxChCheckout, DetailChannelName, "checkout")}, opts...)...)
}

func sReply(ts, parentTS, who, text string) Event {
	e := sMsg(ts, who, text, sdet(DetailThreadTS, parentTS))
	e.Kind = KindChatReply
	return e
}

func sBot(ts, text string) Event {
	return sev(EventID(SourceSlack, "message", "C0DEPLOYS", ts), KindChatMessage, ts, sbot("B0GITHUB", "GitHub"), stext(text),
		sdet(DetailChannel, "C0DEPLOYS", DetailChannelName, "deploys", "bot_id", "B0GITHUB"))
}

func sNotified(id, clock, who, how string, level int) Event {
	p := fxPeople[who]
	return sev("pagerduty:log_entry:"+id, KindPageNotified, clock, sbot("PSVC001", "Checkout API"),
		stitle("Notified "+p.name+" by "+how), sdet(DetailNotifiedPerson, map[string]any{"id": p.pd, "name": p.name, "email": p.email},
			"notification_type", how, "escalation_level", float64(level)))
}

func sStatus(id, clock, kind, deployment, ref, sha string) Event {
	return sev("github:deployment_status:acme/api:"+id, kind, clock, sbot("github-actions[bot]", "github-actions[bot]"),
		sdet(DetailRepo, "acme/api", DetailDeploymentID, deployment, DetailEnvironment, "production", DetailSHA, sha, "ref", ref))
}

// sRowView is what the rule tests compare of a row.
type sRowView struct {
	ID, Kind, Title  string
	Shown, Collapsed []string
	Moment           string
	Starred          bool
}

func sViewOf(s Story) []sRowView {
	out := make([]sRowView, len(s.Rows))
	for i, r := range s.Rows {
		out[i] = sRowView{ID: r.ID, Kind: r.Kind, Title: r.Title, Shown: r.EventIDs, Collapsed: r.Collapsed, Moment: r.KeyMoment, Starred: r.Starred}
	}
	return out
}

func sIDs(prefix string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

const (
	sha1a = "aaaaaaa1111111111111111111111111111111111"
	sha1b = "bbbbbbb2222222222222222222222222222222222"
)

func sSlackID(ts string) string { return EventID(SourceSlack, "message", fxChCheckout, ts) }

// TestStoryRules checks each rule on a small timeline, and for every case
// that each event is in exactly one row.
func TestStoryRules(t *testing.T) {
	pd := "pagerduty:log_entry:"
	many := func(n int, from string, every time.Duration, who []string) []Event {
		var out []Event
		base := sev("x:x:x", KindChatMessage, from).OccurredAt
		for i := 0; i < n; i++ {
			at := base.Add(time.Duration(i) * every)
			ts := at.Format("15:04:05")
			out = append(out, sMsg(ts, who[i%len(who)], fmt.Sprintf("finding number %d", i)))
		}
		return out
	}
	four := []string{"alice", "bob", "carol", "dan"}
	cases := []struct {
		name    string
		events  []Event
		moments []KeyMoment
		hidden  []string
		starred []string
		cfg     StoryConfig
		want    []sRowView
	}{
		{
			name: "notifications become one row per escalation step, counting interruptions",
			events: []Event{
				sev(pd+"T", KindPageTriggered, "10:00:00", stitle("Triggered")),
				sNotified("N1", "10:00:00", "alice", "sms", 1),
				sNotified("N2", "10:00:30", "alice", "phone", 1),
				sNotified("N3", "10:01:00", "bob", "sms", 1),
				sNotified("N4", "10:07:00", "alice", "sms", 1), // 6m30s after her last: a new interruption
				sev(pd+"E", KindPageEscalated, "10:10:00", stitle("Escalated to level 2")),
				sNotified("N5", "10:10:05", "carol", "push", 2),
				sNotified("N6", "10:10:15", "carol", "push", 2),
			},
			want: []sRowView{
				{ID: pd + "T", Kind: KindPageTriggered, Title: "Triggered", Shown: sIDs(pd, "T")},
				{ID: "story:notify:" + pd + "N1", Kind: StoryKindNotifications,
					Title: "Escalation level 1: 3 interruptions of 2 people: Alice Smith ×2, Bob Jones (4 notifications by SMS and phone)",
					Shown: sIDs(pd, "N1", "N3", "N4"), Collapsed: sIDs(pd, "N2")},
				{ID: pd + "E", Kind: KindPageEscalated, Title: "Escalated to level 2", Shown: sIDs(pd, "E")},
				{ID: "story:notify:" + pd + "N5", Kind: StoryKindNotifications,
					Title: "Escalation level 2: 1 interruption of Carol Diaz (2 notifications by push)",
					Shown: sIDs(pd, "N5"), Collapsed: sIDs(pd, "N6")},
			},
		},
		{
			name: "a deployment's statuses become one row; an older deployment's inactive status folds into it",
			events: []Event{
				sStatus("1", "09:45:00", KindDeployQueued, "7", "v2.14.0", sha1a),
				sStatus("2", "09:47:00", KindDeployStarted, "7", "v2.14.0", sha1a),
				sStatus("3", "09:52:00", KindDeploySucceeded, "7", "v2.14.0", sha1a),
				sStatus("4", "09:52:00", KindDeployInactive, "6", "v2.13.2", sha1b),
				sStatus("5", "10:30:00", KindDeployInactive, "7", "v2.14.0", sha1a),
				sStatus("6", "10:20:00", KindDeployQueued, "8", "main", sha1b),
				sStatus("7", "10:25:00", KindDeployFailed, "8", "main", sha1b),
			},
			want: []sRowView{
				{ID: "github:deployment_status:acme/api:3", Kind: KindDeploySucceeded,
					Title: "acme/api v2.14.0 to production: queued 09:45, started 09:47, live 09:52",
					Shown: sIDs("github:deployment_status:acme/api:", "1", "2", "3"), Collapsed: sIDs("github:deployment_status:acme/api:", "4", "5")},
				{ID: "github:deployment_status:acme/api:7", Kind: KindDeployFailed,
					Title: "acme/api main@bbbbbbb to production: queued 10:20, failed 10:25",
					Shown: sIDs("github:deployment_status:acme/api:", "6", "7")},
			},
		},
		{
			name: "a bot message that echoes an event attaches to it; others stay",
			events: []Event{
				sStatus("3", "09:52:00", KindDeploySucceeded, "7", "v2.14.0", sha1a),
				sBot("09:52:10", "Deployment of *v2.14.0* to *production* succeeded"),
				sBot("09:53:00", "Deployment of *v2.14.0* to *production* started"), // no such status
				sBot("10:10:00", "Deployment of v2.14.0 to production succeeded"),   // too late to be an echo
				sMsg("09:52:20", "alice", "Deployment of v2.14.0 to production succeeded"),
				sev("github:workflow_run:acme/api:9", KindCICompleted, "09:55:00", stitle("CI #12 failure on v2.14.0"),
					surl("https://github.com/acme/api/actions/runs/9"), sdet(DetailRepo, "acme/api", "conclusion", "failure", "head_sha", sha1a, "run_number", 12)),
				sBot("09:55:30", "CI failed: <https://github.com/acme/api/actions/runs/9|details>"),
			},
			want: []sRowView{
				{ID: "github:deployment_status:acme/api:3", Kind: KindDeploySucceeded, Title: "acme/api v2.14.0 to production: live 09:52",
					Shown: sIDs("github:deployment_status:acme/api:", "3"), Collapsed: []string{"slack:message:C0DEPLOYS:09:52:10"}},
				{ID: sSlackID("09:52:20"), Kind: KindChatMessage, Title: "alice: Deployment of v2.14.0 to production succeeded", Shown: []string{sSlackID("09:52:20")}},
				{ID: "slack:message:C0DEPLOYS:09:53:00", Kind: KindChatMessage, Title: "GitHub: Deployment of v2.14.0 to production started",
					Shown: []string{"slack:message:C0DEPLOYS:09:53:00"}},
				{ID: "github:workflow_run:acme/api:9", Kind: KindCICompleted, Title: "CI #12 failure on v2.14.0",
					Shown: []string{"github:workflow_run:acme/api:9"}, Collapsed: []string{"slack:message:C0DEPLOYS:09:55:30"}},
				{ID: "slack:message:C0DEPLOYS:10:10:00", Kind: KindChatMessage, Title: "GitHub: Deployment of v2.14.0 to production succeeded",
					Shown: []string{"slack:message:C0DEPLOYS:10:10:00"}},
			},
		},
		{
			name: "changes that shipped nothing become one count per repo; shipped ones and failures on deployed refs stay",
			events: []Event{
				sev("github:commit:acme/api:"+sha1a, KindChangeCommit, "09:00:00", stitle("Reuse connections"), sdet(DetailRepo, "acme/api", DetailSHA, sha1a)),
				sev("github:pull:acme/api:812", KindChangeMerged, "09:00:00", stitle("Merged #812: Reuse connections"), sdet(DetailRepo, "acme/api", "number", 812, "merge_commit_sha", sha1a)),
				sev("github:commit:acme/api:c1", KindChangeCommit, "09:10:00", sdet(DetailRepo, "acme/api", DetailSHA, "c1c1c1c1c1")),
				sev("github:commit:acme/api:c2", KindChangeCommit, "09:20:00", sdet(DetailRepo, "acme/api", DetailSHA, "c2c2c2c2c2")),
				sev("github:pull:acme/api:813", KindChangeMerged, "09:20:00", sdet(DetailRepo, "acme/api", "number", 813, "merge_commit_sha", "c2c2c2c2c2")),
				sev("github:commit:acme/web:w1", KindChangeCommit, "09:30:00", sdet(DetailRepo, "acme/web", DetailSHA, "w1w1w1w1w1")),
				sev("github:workflow_run:acme/api:1", KindCICompleted, "09:06:00", sdet(DetailRepo, "acme/api", "conclusion", "success", "head_sha", sha1a)),
				sev("github:workflow_run:acme/api:2", KindCICompleted, "10:05:00", stitle("e2e failure on v2.14.0"), sdet(DetailRepo, "acme/api", "conclusion", "failure", "head_sha", sha1a, "head_branch", "v2.14.0")),
				sev("github:workflow_run:acme/api:3", KindCICompleted, "10:06:00", stitle("e2e failure on v2.14.0"), sdet(DetailRepo, "acme/api", "conclusion", "failure", "head_sha", "1111111", "head_branch", "v2.14.0")),
				sev("github:workflow_run:acme/api:4", KindCICompleted, "10:07:00", sdet(DetailRepo, "acme/api", "conclusion", "failure", "head_sha", "c1c1c1c1c1", "head_branch", "feature/x")),
				sev("github:workflow_run:acme/api:5", KindCICompleted, "10:08:00", sdet(DetailRepo, "acme/api", "conclusion", "cancelled", "head_sha", "c1c1c1c1c1")),
				sStatus("3", "09:52:00", KindDeploySucceeded, "7", "v2.14.0", sha1a),
			},
			want: []sRowView{
				{ID: "github:pull:acme/api:812", Kind: KindChangeMerged, Title: "Merged #812: Reuse connections",
					Shown: []string{"github:pull:acme/api:812"}, Collapsed: []string{"github:commit:acme/api:" + sha1a}},
				{ID: "story:changes:acme/api", Kind: StoryKindChanges,
					Title: "acme/api: 2 commits and 1 merge that shipped nothing; 1 CI run passed; 1 failed on refs not deployed; 1 cancelled or skipped",
					Shown: []string{}, Collapsed: []string{"github:workflow_run:acme/api:1", "github:commit:acme/api:c1", "github:commit:acme/api:c2",
						"github:pull:acme/api:813", "github:workflow_run:acme/api:4", "github:workflow_run:acme/api:5"}},
				{ID: "story:changes:acme/web", Kind: StoryKindChanges, Title: "acme/web: 1 commit that shipped nothing",
					Shown: []string{}, Collapsed: []string{"github:commit:acme/web:w1"}},
				{ID: "github:deployment_status:acme/api:3", Kind: KindDeploySucceeded, Title: "acme/api v2.14.0 to production: live 09:52",
					Shown: []string{"github:deployment_status:acme/api:3"}},
				{ID: "github:workflow_run:acme/api:2", Kind: KindCICompleted, Title: "e2e failure on v2.14.0", Shown: []string{"github:workflow_run:acme/api:2"}},
				{ID: "github:workflow_run:acme/api:3", Kind: KindCICompleted, Title: "e2e failure on v2.14.0", Shown: []string{"github:workflow_run:acme/api:3"}},
			},
		},
		{
			name: "successful CI runs are kept when configured so",
			cfg:  StoryConfig{KeepSuccessfulCI: true},
			events: []Event{
				sev("github:workflow_run:acme/api:1", KindCICompleted, "09:06:00", stitle("CI #1 success on main"), sdet(DetailRepo, "acme/api", "conclusion", "success")),
			},
			want: []sRowView{{ID: "github:workflow_run:acme/api:1", Kind: KindCICompleted, Title: "CI #1 success on main", Shown: []string{"github:workflow_run:acme/api:1"}}},
		},
		{
			name: "low-content chat folds into presence",
			events: []Event{
				sMsg("10:00:00", "alice", "rolling back v2.14.0 now"),
				sMsg("10:00:20", "bob", "ack"),
				sMsg("10:01:00", "carol", "On it!"),
				sMsg("10:02:00", "dan", "👍"),
				sMsg("10:03:00", "erin", ":eyes: :+1:"),
				sev(sSlackID("10:04:00"), KindChatJoined, "10:04:00", sby("U0FARID", "farid", "farid@acme.com"),
					sdet(DetailChannel, fxChCheckout, "subtype", "channel_join")),
				sMsg("10:05:00", "grace", "ack the rollback plan, but what about the pool?"),
				sMsg("10:30:00", "hiro", "+1"), // 25 minutes after the last chat: a presence row
				sMsg("10:31:00", "ines", "thanks"),
				sReply("10:40:00", "10:00:00", "jonas", "+1"), // a reply: to its parent
			},
			want: []sRowView{
				{ID: sSlackID("10:00:00"), Kind: KindChatMessage, Title: "alice: rolling back v2.14.0 now",
					Shown: []string{sSlackID("10:00:00")}, Collapsed: []string{sSlackID("10:00:20"), sSlackID("10:01:00"), sSlackID("10:02:00"), sSlackID("10:03:00"), sSlackID("10:04:00"), sSlackID("10:40:00")}},
				{ID: sSlackID("10:05:00"), Kind: KindChatMessage, Title: "grace: ack the rollback plan, but what about the pool?", Shown: []string{sSlackID("10:05:00")}},
				{ID: "story:presence:" + sSlackID("10:30:00"), Kind: StoryKindPresence, Title: "2 check-ins from 2 people in #checkout, 10:30–10:31",
					Shown: []string{}, Collapsed: []string{sSlackID("10:30:00"), sSlackID("10:31:00")}},
			},
		},
		{
			name:   "an empty low-content list leaves only emoji and joins as presence",
			cfg:    StoryConfig{LowContent: []string{}},
			events: []Event{sMsg("10:00:00", "alice", "rolling back"), sMsg("10:00:20", "bob", "ack"), sMsg("10:00:30", "carol", "🙏")},
			want: []sRowView{
				{ID: sSlackID("10:00:00"), Kind: KindChatMessage, Title: "alice: rolling back", Shown: []string{sSlackID("10:00:00")}},
				{ID: sSlackID("10:00:20"), Kind: KindChatMessage, Title: "bobj: ack", Shown: []string{sSlackID("10:00:20")}, Collapsed: []string{sSlackID("10:00:30")}},
			},
		},
		{
			name:   "a dense burst becomes one row with its first lines",
			events: many(12, "10:02:00", 20*time.Second, four),
			want: []sRowView{{ID: "story:burst:" + sSlackID("10:02:00"), Kind: StoryKindBurst, Title: "12 messages from 4 people in #checkout, 10:02–10:05",
				Shown:     []string{sSlackID("10:02:00"), sSlackID("10:02:20"), sSlackID("10:02:40")},
				Collapsed: []string{sSlackID("10:03:00"), sSlackID("10:03:20"), sSlackID("10:03:40"), sSlackID("10:04:00"), sSlackID("10:04:20"), sSlackID("10:04:40"), sSlackID("10:05:00"), sSlackID("10:05:20"), sSlackID("10:05:40")}}},
		},
		{
			name:   "messages from fewer than BurstMinPeople people are no burst",
			events: many(12, "10:02:00", 20*time.Second, four[:3]),
			want: func() []sRowView {
				var out []sRowView
				for i, e := range many(12, "10:02:00", 20*time.Second, four[:3]) {
					out = append(out, sRowView{ID: e.ID, Kind: KindChatMessage, Title: fxPeople[four[i%3]].slackName + ": " + e.Text, Shown: []string{e.ID}})
				}
				return out
			}(),
		},
		{
			name: "a burst in a thread shows its parent; BurstMaxSpan splits a long one",
			cfg:  StoryConfig{BurstMaxSpan: 2 * time.Minute, BurstLines: 1},
			events: append([]Event{sMsg("10:00:00", "alice", "thread for the DB")}, func() []Event {
				var out []Event
				for i, e := range many(14, "10:01:00", 15*time.Second, four) {
					r := sReply(e.OccurredAt.Format("15:04:05"), "10:00:00", four[i%4], e.Text)
					out = append(out, r)
				}
				return out
			}()...),
			want: []sRowView{
				{ID: sSlackID("10:00:00"), Kind: KindChatMessage, Title: "alice: thread for the DB", Shown: []string{sSlackID("10:00:00")}},
				{ID: "story:burst:" + sSlackID("10:01:00"), Kind: StoryKindBurst, Title: "9 replies from 4 people in a thread in #checkout, 10:01–10:03",
					Shown: []string{sSlackID("10:01:00")}, Collapsed: []string{sSlackID("10:01:15"), sSlackID("10:01:30"), sSlackID("10:01:45"),
						sSlackID("10:02:00"), sSlackID("10:02:15"), sSlackID("10:02:30"), sSlackID("10:02:45"), sSlackID("10:03:00")}},
				{ID: "story:burst:" + sSlackID("10:03:15"), Kind: StoryKindBurst, Title: "5 replies from 4 people in a thread in #checkout, 10:03–10:04",
					Shown: []string{sSlackID("10:03:15")}, Collapsed: []string{sSlackID("10:03:30"), sSlackID("10:03:45"), sSlackID("10:04:00"), sSlackID("10:04:15")}},
			},
		},
		{
			name: "key moments and starred events are never collapsed; hidden ones are left out",
			events: append(many(16, "10:02:00", 15*time.Second, four),
				sMsg("10:02:50", "erin", "ack"),
				sev(pd+"T", KindPageTriggered, "10:00:00", stitle("Triggered")),
				sNotified("N1", "10:00:00", "alice", "sms", 1),
				sNotified("N2", "10:00:10", "alice", "phone", 1),
				sNotified("N3", "10:00:20", "alice", "push", 1),
				sStatus("1", "09:45:00", KindDeploySucceeded, "7", "v2.14.0", sha1a),
				sStatus("2", "10:30:00", KindDeployInactive, "7", "v2.14.0", sha1a),
				sBot("09:45:10", "Deployment of v2.14.0 to production succeeded"),
			),
			moments: []KeyMoment{{Moment: MomentDeploy, EventIDs: []string{"github:deployment_status:acme/api:1"}},
				{Moment: MomentTriggered, EventIDs: []string{pd + "T"}}, {Moment: "paged", EventIDs: []string{pd + "N2"}}},
			starred: []string{sSlackID("10:03:45"), sSlackID("10:02:50"), "github:deployment_status:acme/api:2", "slack:message:C0DEPLOYS:09:45:10", pd + "T", sSlackID("10:04:00")},
			hidden:  []string{sSlackID("10:04:00"), sSlackID("10:05:45"), pd + "N3"},
			want: []sRowView{
				{ID: "github:deployment_status:acme/api:1", Kind: KindDeploySucceeded, Title: "acme/api v2.14.0 to production: live 09:45",
					Shown: sIDs("github:deployment_status:acme/api:", "1", "2"), Moment: MomentDeploy, Starred: true},
				{ID: "slack:message:C0DEPLOYS:09:45:10", Kind: KindChatMessage, Title: "GitHub: Deployment of v2.14.0 to production succeeded",
					Shown: []string{"slack:message:C0DEPLOYS:09:45:10"}, Starred: true},
				{ID: pd + "T", Kind: KindPageTriggered, Title: "Triggered", Shown: sIDs(pd, "T"), Moment: MomentTriggered, Starred: true},
				{ID: "story:notify:" + pd + "N1", Kind: StoryKindNotifications, Title: "Escalation level 1: 1 interruption of Alice Smith (1 notification by SMS)",
					Shown: sIDs(pd, "N1")},
				{ID: pd + "N2", Kind: KindPageNotified, Title: "Notified Alice Smith by phone", Shown: sIDs(pd, "N2"), Moment: "paged"},
				{ID: "story:burst:" + sSlackID("10:02:00"), Kind: StoryKindBurst, Title: "13 messages from 4 people in #checkout, 10:02–10:05",
					Shown: []string{sSlackID("10:02:00"), sSlackID("10:02:15"), sSlackID("10:02:30")},
					Collapsed: []string{sSlackID("10:02:45"), sSlackID("10:03:00"), sSlackID("10:03:15"), sSlackID("10:03:30"),
						sSlackID("10:04:15"), sSlackID("10:04:30"), sSlackID("10:04:45"), sSlackID("10:05:00"), sSlackID("10:05:15"), sSlackID("10:05:30")}},
				{ID: sSlackID("10:02:50"), Kind: KindChatMessage, Title: "erin: ack", Shown: []string{sSlackID("10:02:50")}, Starred: true},
				{ID: sSlackID("10:03:45"), Kind: KindChatMessage, Title: "dan.o: finding number 7", Shown: []string{sSlackID("10:03:45")}, Starred: true},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hidden, starred := sSet(c.hidden), sSet(c.starred)
			s := BuildStory(StoryInput{Events: c.events, KeyMoments: c.moments, Hidden: hidden, Starred: starred, Config: c.cfg})
			if diff := cmp.Diff(c.want, sViewOf(s)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			storyCheckAccounting(t, c.events, s, hidden)
			storyCheckStars(t, s, starred, hidden)
			var wantHidden []string
			for _, e := range storySorted(c.events) {
				if hidden[e.ID] {
					wantHidden = append(wantHidden, e.ID)
				}
			}
			if diff := cmp.Diff(wantHidden, s.Hidden); diff != "" {
				t.Errorf("Story.Hidden (-want +got):\n%s", diff)
			}
		})
	}
}

func storySorted(events []Event) []Event {
	out := slices.Clone(events)
	slices.SortFunc(out, Compare)
	return out
}

// storyCheckStars asserts that every starred event not hidden is shown by a
// row marked starred.
func storyCheckStars(t *testing.T, s Story, starred, hidden map[string]bool) {
	t.Helper()
	shown := map[string]StoryRow{}
	for _, r := range s.Rows {
		for _, id := range r.EventIDs {
			shown[id] = r
		}
		for _, id := range r.Collapsed {
			if starred[id] {
				t.Errorf("starred event %s is collapsed into %s", id, r.ID)
			}
		}
	}
	for id := range starred {
		if r, ok := shown[id]; !hidden[id] && (!ok || !r.Starred) {
			t.Errorf("starred event %s is not shown by a starred row", id)
		}
	}
}

func sSet(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

func TestStorySlackText(t *testing.T) {
	events := []Event{
		sMsg("10:00:00", "alice", "x"), sMsg("10:00:01", "bob", "x"),
		sNotified("N1", "10:00:00", "alice", "sms", 1), // gives Alice her full name
		sev("slack:message:C0OPS:1", KindChatMessage, "10:00:02", sby("U0CAROL", "Carol", "carol@acme.com"),
			stext("see <#C0OPS|ops>"), sdet(DetailChannel, "C0OPS")),
	}
	d := newStoryDirectory(events)
	for _, c := range []struct{ in, want string }{
		{"<@U0ALICE> and <@U0BOB>", "@Alice Smith and @bobj"},
		{"<@U0NOBODY|someone>, <@U0NOBODY2>", "@someone, @U0NOBODY2"},
		{"in <#C0CHECKOUT|checkout> and <#C0OPS>, not <#C0GONE>", "in #checkout and #ops, not #C0GONE"},
		{"<https://grafana.acme.com/d/x|the dashboard> or <https://x.io/a_b_c>", "the dashboard or https://x.io/a_b_c"},
		{"<mailto:a@b.io|a@b.io> <!here> <!subteam^S1|@oncall> <!channel>", "a@b.io @here @oncall @channel"},
		{"*rolling back* _now_ ~never~ &amp; 5 &lt; 6 &gt; 4", "rolling back now never & 5 < 6 > 4"},
		{"snake_case_name and 2*3*4 and a * b", "snake_case_name and 2*3*4 and a * b"},
		{"*bold in https://x.io/_next_/page*", "*bold in https://x.io/_next_/page*"},
		// The collector already rendered this mention under Alice's Slack
		// name: it gets her one name, once.
		{"thanks @alice, and @alice.x stays, @Alice Smith too", "thanks @Alice Smith, and @alice.x stays, @Alice Smith too"},
		{"plain text", "plain text"},
	} {
		if got := d.slackText(c.in); got != c.want {
			t.Errorf("slackText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := d.channel("C0OPS"); got != "#ops" {
		t.Errorf("channel named only in text: %q, want #ops", got)
	}
	if got := d.channel("C0GONE"); got != "C0GONE" {
		t.Errorf("unknown channel: %q, want its id", got)
	}
}

func TestStoryLowContent(t *testing.T) {
	b := &storyBuilder{cfg: DefaultStoryConfig().withDefaults(), dir: newStoryDirectory(nil)}
	for text, want := range map[string]bool{
		"ack": true, "ACK.": true, "+1": true, " On it! ": true, "👍": true, "👍🏽 🙏": true, ":eyes:": true, ":+1: :tada:": true,
		"thank you": true, "*ack*": true,
		"ack, rolling back": false, "+1 to rollback": false, "on it, checking the pool": false, "": false,
		":not an emoji": false, "👍 but why?": false, "2": false,
	} {
		e := sMsg("10:00:00", "alice", text)
		if got := b.isLowContent(&e); got != want {
			t.Errorf("isLowContent(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestStoryConfigValidate(t *testing.T) {
	if err := DefaultStoryConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (StoryConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	for _, c := range []struct {
		cfg  StoryConfig
		want string
	}{
		{StoryConfig{BurstWindow: -time.Second}, "review.story.burst_window: -1s is negative"},
		{StoryConfig{EchoWindow: -time.Minute}, "review.story.echo_window"},
		{StoryConfig{BurstMinPeople: -1}, "review.story.burst_min_people: -1 is negative"},
		{StoryConfig{LowContent: []string{"ack", " !! "}}, `review.story.low_content[1]: " !! " has no words`},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	d := StoryConfig{}.withDefaults()
	if diff := cmp.Diff(DefaultStoryConfig(), d); diff != "" {
		t.Errorf("zero config with defaults (-want +got):\n%s", diff)
	}
}

// TestStoryRealisticNamesChannelsMarkup: in the realistic incident every
// person has one name on every row, channels are named and no Slack markup
// is left.
func TestStoryRealisticNamesChannelsMarkup(t *testing.T) {
	events := storyLoadRealistic(t)
	s, _ := storyOfRealistic(t, events, nil, nil)
	person := map[string]string{} // any id of a person → their key in fxPeople
	for k, p := range fxPeople {
		for _, id := range []string{p.pd, p.slack, p.github} {
			if id != "" {
				person[id] = k
			}
		}
	}
	names := map[string]map[string]bool{}
	note := func(who, name string) {
		if names[who] == nil {
			names[who] = map[string]bool{}
		}
		names[who][name] = true
	}
	byName := map[string]string{}
	for k, p := range fxPeople {
		byName[p.name], byName[p.slackName], byName[p.github] = k, k, k
	}
	for _, r := range s.Rows {
		if r.Actor != nil {
			if who, ok := person[r.Actor.ID]; ok {
				note(who, r.Actor.Name)
			}
		}
		for _, n := range r.Presence {
			if who, ok := byName[n]; ok {
				note(who, n)
			}
		}
		for _, l := range strings.Split(r.Text, "\n") {
			if n, _, ok := strings.Cut(l, ": "); ok && r.Kind == StoryKindBurst {
				if who, ok := byName[n]; ok {
					note(who, n)
				}
			}
		}
		if r.Source == SourceSlack && !strings.HasPrefix(r.Channel, "#") {
			t.Errorf("row %s names its channel %q", r.ID, r.Channel)
		}
		for _, markup := range []string{"<@", "<#", "<http", "&amp;", "&lt;", "*heads up*", "*Investigation*"} {
			if strings.Contains(r.Title+r.Text, markup) {
				t.Errorf("row %s keeps Slack markup %q: %s %s", r.ID, markup, r.Title, r.Text)
			}
		}
	}
	for who, ns := range names {
		if len(ns) != 1 {
			t.Errorf("%s appears under %d names: %v", who, len(ns), ns)
		}
	}
	if got := names["alice"]; !got["Alice Smith"] {
		t.Errorf("Alice appears as %v, want Alice Smith (her PagerDuty name)", got)
	}
	if got := names["farid"]; !got["Farid Haddad"] {
		t.Errorf("Farid appears as %v, want Farid Haddad (his full name from GitHub over his Slack handle)", got)
	}
}

// TestStoryRealisticMarks: hide and star annotations on the realistic
// incident: hidden events leave every row, starred ones are each shown.
func TestStoryRealisticMarks(t *testing.T) {
	events := storyLoadRealistic(t)
	hidden, starred := map[string]bool{}, map[string]bool{}
	for i, e := range events {
		switch {
		case i%37 == 0:
			hidden[e.ID] = true
		case i%41 == 3:
			starred[e.ID] = true
		}
	}
	s, moments := storyOfRealistic(t, events, hidden, starred)
	t.Logf("with %d hidden and %d starred: %d rows", len(hidden), len(starred), len(s.Rows))
	storyCheckAccounting(t, events, s, hidden)
	storyCheckStars(t, s, starred, hidden)
	if len(s.Hidden) != len(hidden) {
		t.Errorf("Story.Hidden has %d ids, want %d", len(s.Hidden), len(hidden))
	}
	// Moments whose events are all still there stay shown.
	var kept []KeyMoment
	for _, m := range moments {
		if !slices.ContainsFunc(m.EventIDs, func(id string) bool { return hidden[id] }) {
			kept = append(kept, m)
		}
	}
	storyCheckMoments(t, s, kept)
}

// TestStoryDeterministic: the order of the input does not matter, and the
// input is left as it was.
func TestStoryDeterministic(t *testing.T) {
	events := storyLoadRealistic(t)
	want, moments := storyOfRealistic(t, events, nil, nil)
	shuffled := slices.Clone(events)
	r := fxRNG{s: 7}
	for i := len(shuffled) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	before := slices.Clone(shuffled)
	got := BuildStory(StoryInput{Events: shuffled, KeyMoments: moments, Config: DefaultStoryConfig(), Location: zone("Europe/London")})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shuffled input gives another story (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, shuffled); diff != "" {
		t.Errorf("BuildStory changed its input:\n%s", diff)
	}
}

// BenchmarkStoryRealistic builds the story of the realistic incident and
// reports how many events each row tells.
func BenchmarkStoryRealistic(b *testing.B) {
	events := storyLoadRealistic(b)
	resolved := fxResolved
	inc := Incident{ID: storyFixtureIncident, StartedAt: fxTrigger, ResolvedAt: &resolved}
	moments := Summarize(SummaryInput{Incident: inc, Events: events}).KeyMoments
	var s Story
	for b.Loop() {
		s = BuildStory(StoryInput{Events: events, KeyMoments: moments, Location: time.UTC})
	}
	b.ReportMetric(float64(len(events))/float64(len(s.Rows)), "events/row")
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
