package timeline

import (
	"math/rand"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// questionsBase is a small incident: Pat is paged at 10:00 (London, a
// Tuesday), the page times out to Quinn at 10:05, Quinn acknowledges at
// 10:07, it is resolved at 11:00. Chat happens in C1 (and C2).
func questionsBase(extra ...Event) SummaryInput {
	pager := pdSystem("PSVC", "Checkout", "service_reference")
	events := []Event{
		ev("pagerduty:alert:A1", KindAlertTriggered, "2025-11-18T09:59:50Z", titled("checkout error rate above 5%")),
		ev("pagerduty:log_entry:TRIG", KindPageTriggered, "2025-11-18T10:00:00Z", pager,
			with(DetailAssignees, []any{map[string]any{"id": "PPAT", "name": "Pat Lee", "email": "pat@x.io"}})),
		ev("pagerduty:log_entry:N1", KindPageNotified, "2025-11-18T10:00:05Z", pager, notifiedIn("PPAT", "Pat Lee", "pat@x.io", "Europe/London"),
			with(DetailNotifyChannel, NotifyPush)),
		ev("pagerduty:log_entry:ESC", KindPageEscalated, "2025-11-18T10:05:00Z", pager,
			with(DetailEscalationLevel, 2, DetailEscalationReason, EscalationTimeout,
				DetailAssignees, []any{map[string]any{"id": "PQUINN", "name": "Quinn Ray", "email": "quinn@x.io"}})),
		ev("pagerduty:log_entry:N2", KindPageNotified, "2025-11-18T10:05:05Z", pager, notifiedIn("PQUINN", "Quinn Ray", "quinn@x.io", "Europe/London"),
			with(DetailNotifyChannel, NotifyPhone)),
		ev("pagerduty:log_entry:ACK", KindPageAcknowledged, "2025-11-18T10:07:00Z", pdUser("PQUINN", "Quinn Ray", "quinn@x.io")),
		ev("pagerduty:log_entry:RES", KindPageResolved, "2025-11-18T11:00:00Z", pdUser("PQUINN", "Quinn Ray", "quinn@x.io")),
	}
	inc := incident("QINC", "Checkout errors", SourcePagerDuty, "2025-11-18T10:00:00Z", "2025-11-18T11:00:00Z")
	inc.Channels = []string{"C1"}
	return SummaryInput{Incident: inc, Events: withIncident(inc.ID, append(events, extra...)...),
		Config: ReviewConfig{Location: zone("Europe/London")}, Now: at("2025-11-19T00:00:00Z")}
}

func notifiedIn(id, name, email, tz string) evOpt {
	return with(DetailNotifiedPerson, map[string]any{"id": id, "name": name, "email": email, "time_zone": tz})
}

// chat is a message in channel ch by a Slack user.
func chat(ch, when, user, name, email, text string) Event {
	return ev(slackID(ch, when), KindChatMessage, when, by(user, name, email), with(DetailChatChannel, ch), titled(text))
}

func joined(ch, when, user, name string) Event {
	return ev(slackID(ch, when), KindChatJoined, when, by(user, name, ""), with(DetailChatChannel, ch), titled(name+" joined"))
}

func prodDeploy(n int, kind, when string, id int64, sha string, opts ...evOpt) Event {
	return ev("github:deployment_status:acme/api:"+strconv.Itoa(n), kind, when, append([]evOpt{by("deployer[bot]", "deployer", ""), bot(), deploy("acme/api", id, "production", sha)}, opts...)...)
}

func questionsOf(in SummaryInput) []Question {
	return Prepare(in).Questions
}

// TestQuestionDetectors runs each pattern's detector on a case where the
// pattern is in the data and on cases where it is not.
func TestQuestionDetectors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern string
		in      SummaryInput
		// want is how many questions of the pattern, and cites the event
		// ids the first must cite.
		want  int
		cites []string
		// text must appear in the first question's text.
		text string
	}{
		{name: "acked in chat, page escalated", pattern: PatternAckedInChat, want: 1,
			in:    questionsBase(chat("C1", "2025-11-18T10:01:00Z", "U0PAT", "Pat", "pat@x.io", "ack, looking")),
			cites: []string{slackID("C1", "2025-11-18T10:01:00Z"), "pagerduty:log_entry:ESC", "pagerduty:log_entry:ACK"},
			text:  "At 10:01 Pat Lee acknowledged in chat (“ack, looking”), and the page moved on at 10:05 (it escalated on a timeout)"},
		{name: "acked in chat, never in the pager", pattern: PatternAckedInChat, want: 1,
			in: func() SummaryInput {
				in := questionsBase(chat("C1", "2025-11-18T10:01:00Z", "U0PAT", "Pat", "pat@x.io", "on it"))
				in.Events = slices.DeleteFunc(in.Events, func(e Event) bool { return e.Kind == KindPageAcknowledged })
				return in
			}(),
			cites: []string{slackID("C1", "2025-11-18T10:01:00Z")}, text: "the pager never recorded an acknowledgement"},
		{name: "chat without an acknowledgement", pattern: PatternAckedInChat, want: 0,
			in: questionsBase(chat("C1", "2025-11-18T10:01:00Z", "U0PAT", "Pat", "pat@x.io", "morning all"))},
		{name: "someone not paged says on it", pattern: PatternAckedInChat, want: 0,
			in: questionsBase(chat("C1", "2025-11-18T10:01:00Z", "U0ZOE", "Zoe", "zoe@x.io", "on it"))},

		{name: "alert again after the rollback", pattern: PatternRepagedAfterMitigation, want: 1,
			in: questionsBase(
				prodDeploy(1, KindDeployStarted, "2025-11-18T10:25:00Z", 7, "aaa1111", with(DetailRollback, true)),
				prodDeploy(2, KindDeploySucceeded, "2025-11-18T10:30:00Z", 7, "aaa1111", with(DetailRollback, true)),
				ev("pagerduty:alert:A2", KindAlertTriggered, "2025-11-18T10:30:17Z", titled("checkout error rate above 5%"))),
			cites: []string{"github:deployment_status:acme/api:1", "github:deployment_status:acme/api:2", "pagerduty:alert:A2"},
			text:  "At 10:30:00 the rollback went live"},
		{name: "nothing after the rollback", pattern: PatternRepagedAfterMitigation, want: 0,
			in: questionsBase(
				prodDeploy(1, KindDeployStarted, "2025-11-18T10:25:00Z", 7, "aaa1111", with(DetailRollback, true)),
				prodDeploy(2, KindDeploySucceeded, "2025-11-18T10:30:00Z", 7, "aaa1111", with(DetailRollback, true)))},

		{name: "hotfix failed, then rollback", pattern: PatternFixFailedBeforeRollback, want: 1,
			in: questionsBase(
				prodDeploy(1, KindDeployStarted, "2025-11-18T10:12:00Z", 8, "bbb2222"),
				prodDeploy(2, KindDeployFailed, "2025-11-18T10:18:00Z", 8, "bbb2222"),
				prodDeploy(3, KindDeployStarted, "2025-11-18T10:20:00Z", 9, "aaa1111", with(DetailRollback, true)),
				prodDeploy(4, KindDeploySucceeded, "2025-11-18T10:24:00Z", 9, "aaa1111", with(DetailRollback, true))),
			cites: []string{"github:deployment_status:acme/api:1", "github:deployment_status:acme/api:2", "github:deployment_status:acme/api:3"},
			text:  "failed at 10:18, and a rollback began at 10:20"},
		{name: "failed deploy, no rollback", pattern: PatternFixFailedBeforeRollback, want: 0,
			in: questionsBase(
				prodDeploy(1, KindDeployStarted, "2025-11-18T10:12:00Z", 8, "bbb2222"),
				prodDeploy(2, KindDeployFailed, "2025-11-18T10:18:00Z", 8, "bbb2222"))},
		{name: "failure before the page is no fix attempt", pattern: PatternFixFailedBeforeRollback, want: 0,
			in: questionsBase(
				prodDeploy(1, KindDeployStarted, "2025-11-18T09:40:00Z", 8, "bbb2222"),
				prodDeploy(2, KindDeployFailed, "2025-11-18T09:45:00Z", 8, "bbb2222"),
				prodDeploy(3, KindDeployStarted, "2025-11-18T10:20:00Z", 9, "aaa1111", with(DetailRollback, true)),
				prodDeploy(4, KindDeploySucceeded, "2025-11-18T10:24:00Z", 9, "aaa1111", with(DetailRollback, true)))},

		{name: "jumping on a call", pattern: PatternMovedToCall, want: 1,
			in:    questionsBase(chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn", "quinn@x.io", "let's jump on a call, link in the topic")),
			cites: []string{slackID("C1", "2025-11-18T10:09:00Z")}, text: "moved to a call"},
		{name: "a meeting link", pattern: PatternMovedToCall, want: 1,
			in:    questionsBase(chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn", "quinn@x.io", "https://acme.zoom.us/j/123456")),
			cites: []string{slackID("C1", "2025-11-18T10:09:00Z")}},
		{name: "being on call is no call", pattern: PatternMovedToCall, want: 0,
			in: questionsBase(chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn", "quinn@x.io", "Is anyone looking at this? @Pat is on call I think"))},
		{name: "hopping on zoom", pattern: PatternMovedToCall, want: 1,
			in:    questionsBase(chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn", "quinn@x.io", "hopping on zoom with the DBAs")),
			cites: []string{slackID("C1", "2025-11-18T10:09:00Z")}},
		{name: "calling a vendor is no call", pattern: PatternMovedToCall, want: 0,
			in: questionsBase(chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn", "quinn@x.io", "I'll call the vendor about the quota"))},

		{name: "same question in two channels", pattern: PatternSameQuestionTwoChannels, want: 1,
			in: questionsBase(
				chat("C2", "2025-11-18T10:10:00Z", "U0ZOE", "Zoe", "zoe@x.io", "is checkout-db at max connections?"),
				chat("C1", "2025-11-18T10:12:00Z", "U0QUINN", "Quinn", "quinn@x.io", "anyone know if checkout-db is at max connections?")),
			cites: []string{slackID("C2", "2025-11-18T10:10:00Z"), slackID("C1", "2025-11-18T10:12:00Z")},
			text:  "at 10:10 in channel C2"},
		{name: "same question in one channel", pattern: PatternSameQuestionTwoChannels, want: 0,
			in: questionsBase(
				chat("C1", "2025-11-18T10:10:00Z", "U0ZOE", "Zoe", "zoe@x.io", "is checkout-db at max connections?"),
				chat("C1", "2025-11-18T10:12:00Z", "U0QUINN", "Quinn", "quinn@x.io", "anyone know if checkout-db is at max connections?"))},
		{name: "different questions in two channels", pattern: PatternSameQuestionTwoChannels, want: 0,
			in: questionsBase(
				chat("C2", "2025-11-18T10:10:00Z", "U0ZOE", "Zoe", "zoe@x.io", "is checkout-db at max connections?"),
				chat("C1", "2025-11-18T10:12:00Z", "U0QUINN", "Quinn", "quinn@x.io", "who owns the payments queue?"))},

		{name: "merges kept landing", pattern: PatternChangesDuringIncident, want: 1,
			in: questionsBase(
				ev("github:pull:acme/api:10", KindChangeMerged, "2025-11-18T10:15:00Z", by("zoe-gh", "zoe-gh", ""), with(DetailRepo, "acme/api", DetailNumber, 10)),
				ev("github:pull:acme/api:11", KindChangeMerged, "2025-11-18T10:40:00Z", by("kim-gh", "kim-gh", ""), with(DetailRepo, "acme/api", DetailNumber, 11))),
			cites: []string{"github:pull:acme/api:10", "github:pull:acme/api:11"}, text: "2 merges landed"},
		{name: "one merge", pattern: PatternChangesDuringIncident, want: 0,
			in: questionsBase(ev("github:pull:acme/api:10", KindChangeMerged, "2025-11-18T10:15:00Z", by("zoe-gh", "zoe-gh", "")))},
		{name: "merges after the resolution", pattern: PatternChangesDuringIncident, want: 0,
			in: questionsBase(
				ev("github:pull:acme/api:10", KindChangeMerged, "2025-11-18T11:15:00Z", by("zoe-gh", "zoe-gh", "")),
				ev("github:pull:acme/api:11", KindChangeMerged, "2025-11-18T11:40:00Z", by("kim-gh", "kim-gh", "")))},

		{name: "another incident in the channel", pattern: PatternOverlappingIncident, want: 1,
			in: func() SummaryInput {
				in := questionsBase(chat("C1", "2025-11-18T10:20:00Z", "U0QUINN", "Quinn", "quinn@x.io", "that alert is the other incident"))
				o := incident("QOTHER", "Payments latency", SourcePagerDuty, "2025-11-18T10:15:00Z", "2025-11-18T10:45:00Z")
				o.Channels = []string{"C1"}
				in.Overlapping = []Incident{o}
				return in
			}(),
			cites: []string{slackID("C1", "2025-11-18T10:20:00Z")}, text: "Incident QOTHER (“Payments latency”) was open from 10:15 to 10:45, in the same channel C1"},
		{name: "another incident elsewhere", pattern: PatternOverlappingIncident, want: 0,
			in: func() SummaryInput {
				in := questionsBase()
				o := incident("QOTHER", "Payments latency", SourcePagerDuty, "2025-11-18T10:15:00Z", "2025-11-18T10:45:00Z")
				o.Channels = []string{"C9"}
				in.Overlapping = []Incident{o}
				return in
			}()},

		{name: "paged in the evening in Tokyo", pattern: PatternOffHours, want: 1,
			in: func() SummaryInput {
				in := questionsBase()
				for i := range in.Events {
					if in.Events[i].ID == "pagerduty:log_entry:N1" {
						notifiedIn("PPAT", "Pat Lee", "pat@x.io", "Asia/Tokyo")(&in.Events[i])
					}
				}
				return in
			}(),
			cites: []string{"pagerduty:log_entry:N1"}, text: "Pat Lee was paged at 19:00 by their own clock (Asia/Tokyo, evening)"},
		{name: "paged in working hours", pattern: PatternOffHours, want: 0, in: questionsBase()},

		{name: "three joined within three minutes", pattern: PatternManyJoined, want: 1,
			in: questionsBase(
				joined("C1", "2025-11-18T10:06:00Z", "U0A", "Ada"),
				joined("C1", "2025-11-18T10:07:30Z", "U0B", "Bo"),
				joined("C1", "2025-11-18T10:09:00Z", "U0C", "Cy")),
			cites: []string{slackID("C1", "2025-11-18T10:06:00Z"), slackID("C1", "2025-11-18T10:07:30Z"), slackID("C1", "2025-11-18T10:09:00Z")},
			text:  "Between 10:06 and 10:09, 3 people joined channel C1 (Ada, Bo, Cy)"},
		{name: "two joined", pattern: PatternManyJoined, want: 0,
			in: questionsBase(joined("C1", "2025-11-18T10:06:00Z", "U0A", "Ada"), joined("C1", "2025-11-18T10:07:30Z", "U0B", "Bo"))},
		{name: "three joined over twenty minutes", pattern: PatternManyJoined, want: 0,
			in: questionsBase(joined("C1", "2025-11-18T10:06:00Z", "U0A", "Ada"), joined("C1", "2025-11-18T10:16:00Z", "U0B", "Bo"),
				joined("C1", "2025-11-18T10:26:00Z", "U0C", "Cy"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			all := questionsOf(c.in)
			var got []Question
			for _, q := range all {
				if q.Pattern == c.pattern {
					got = append(got, q)
				}
			}
			if len(got) != c.want {
				t.Fatalf("%d %s questions, want %d; all: %+v", len(got), c.pattern, c.want, all)
			}
			checkQuestions(t, c.in.Events, all)
			if c.want == 0 {
				return
			}
			q := got[0]
			for _, id := range c.cites {
				if !slices.Contains(q.EventIDs, id) {
					t.Errorf("question cites %v, want %s among them", q.EventIDs, id)
				}
			}
			if !strings.Contains(q.Text, c.text) {
				t.Errorf("question text %q, want it to contain %q", q.Text, c.text)
			}
			wantMarker := MarkerQuestion
			if c.pattern == PatternMovedToCall {
				wantMarker = MarkerBlindSpot
			}
			if q.Marker != wantMarker || q.At == nil || q.Title == "" {
				t.Errorf("question %+v: want marker %s, a moment and a title", q, wantMarker)
			}
		})
	}
}

// blamingRE is phrasing a blameless review keeps out of its questions.
var blamingRE = regexp.MustCompile(`(?i)why didn'?t|why did you|why wasn'?t|should have|failed to|fault|blame|mistake|careless`)

// checkQuestions checks what every question must be: it cites events that
// exist, asks "what" or "how", never blames, and has a stable id.
func checkQuestions(t *testing.T, events []Event, qs []Question) {
	t.Helper()
	exists := map[string]bool{}
	for _, e := range events {
		exists[e.ID] = true
	}
	ids := map[string]bool{}
	for _, q := range qs {
		if len(q.EventIDs) == 0 {
			t.Errorf("%s cites no event", q.ID)
		}
		for _, id := range q.EventIDs {
			if !exists[id] {
				t.Errorf("%s cites %s, which is not on the timeline", q.ID, id)
			}
		}
		if !strings.Contains(q.Text, "What ") && !strings.Contains(q.Text, "How ") {
			t.Errorf("%s asks neither what nor how: %q", q.ID, q.Text)
		}
		if blamingRE.MatchString(q.Text) {
			t.Errorf("%s blames: %q", q.ID, q.Text)
		}
		if !strings.HasPrefix(q.ID, q.Pattern+":") || ids[q.ID] {
			t.Errorf("question id %q is not its pattern's or not unique", q.ID)
		}
		ids[q.ID] = true
		if err := q.Annotation("QINC").Validate(); err != nil {
			t.Errorf("%s as an annotation: %v", q.ID, err)
		}
	}
}

// TestQuestionsStable: the same data in another order, or with unrelated
// events added, gives the same questions with the same ids.
func TestQuestionsStable(t *testing.T) {
	t.Parallel()
	extra := []Event{
		chat("C1", "2025-11-18T10:01:00Z", "U0PAT", "Pat", "pat@x.io", "ack, looking"),
		chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn", "quinn@x.io", "jumping on the bridge"),
		joined("C1", "2025-11-18T10:06:00Z", "U0A", "Ada"),
		joined("C1", "2025-11-18T10:07:30Z", "U0B", "Bo"),
		joined("C1", "2025-11-18T10:09:30Z", "U0C", "Cy"),
		ev("github:pull:acme/api:10", KindChangeMerged, "2025-11-18T10:15:00Z", by("zoe-gh", "zoe-gh", "")),
		ev("github:pull:acme/api:11", KindChangeMerged, "2025-11-18T10:40:00Z", by("kim-gh", "kim-gh", "")),
	}
	in := questionsBase(extra...)
	want := questionsOf(in)
	if len(want) < 4 {
		t.Fatalf("only %d questions: %+v", len(want), want)
	}
	shuffled := questionsBase(extra...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled.Events), func(i, j int) {
		shuffled.Events[i], shuffled.Events[j] = shuffled.Events[j], shuffled.Events[i]
	})
	if diff := cmp.Diff(want, Questions(Prepare(shuffled), shuffled.Events)); diff != "" {
		t.Errorf("shuffled events (-want +got):\n%s", diff)
	}
	more := questionsBase(append(extra, chat("C1", "2025-11-18T10:30:00Z", "U0QUINN", "Quinn", "quinn@x.io", "still looking at the pool"))...)
	var a, b []string
	for _, q := range want {
		a = append(a, q.ID)
	}
	for _, q := range questionsOf(more) {
		b = append(b, q.ID)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("ids after an unrelated message (-want +got):\n%s", diff)
	}
}

// TestQuestionsLeaveOutBotsAndIgnored: an ignored test user and a bot are
// never the people a question is about.
func TestQuestionsLeaveOutBotsAndIgnored(t *testing.T) {
	t.Parallel()
	in := questionsBase(
		chat("C1", "2025-11-18T10:09:00Z", "U0QA", "QA", "qa@x.io", "join the bridge for synthetic checks"),
		ev(slackID("C1", "2025-11-18T10:10:00Z"), KindChatMessage, "2025-11-18T10:10:00Z", by("B0BOT", "Zoom", ""), bot(),
			with(DetailChatChannel, "C1"), titled("Quinn started a call: https://acme.zoom.us/j/1")),
	)
	in.Config.IgnoreActors = []string{"qa@x.io"}
	for _, q := range questionsOf(in) {
		if q.Pattern == PatternMovedToCall {
			t.Errorf("a question raised by a bot or an ignored user: %+v", q)
		}
	}
}

func TestReviewQuestions(t *testing.T) {
	t.Parallel()
	qs := []Question{{ID: "a:1", Pattern: "a"}, {ID: "a:2", Pattern: "a"}, {ID: "a:3", Pattern: "a"}, {ID: "a:4", Pattern: "a"}}
	anns := []Annotation{
		{ID: "x1", Suggested: true, SuggestedKey: qs[0].SuggestedKey(), Status: AnnotationActive},
		{ID: "x2", Suggested: true, SuggestedKey: qs[1].SuggestedKey(), Status: AnnotationConfirmed},
		{ID: "x3", Suggested: true, SuggestedKey: qs[2].SuggestedKey(), Status: AnnotationDismissed},
		// qs[3] has none: deleted when recorded, unknown when not.
	}
	ids := func(rq []ReviewedQuestion) []string {
		var out []string
		for _, q := range rq {
			st := "-"
			if q.Status != nil {
				st = *q.Status
			}
			out = append(out, q.ID+" "+st)
		}
		return out
	}
	got, left := ReviewQuestions(qs, anns, true, false)
	if diff := cmp.Diff([]string{"a:1 active", "a:2 confirmed"}, ids(got)); diff != "" || left != 2 {
		t.Errorf("recorded (-want +got):\n%s\nleft %d, want 2", diff, left)
	}
	got, left = ReviewQuestions(qs, anns, true, true)
	if diff := cmp.Diff([]string{"a:1 active", "a:2 confirmed", "a:3 dismissed"}, ids(got)); diff != "" || left != 1 {
		t.Errorf("with dismissed (-want +got):\n%s\nleft %d, want 1", diff, left)
	}
	got, left = ReviewQuestions(qs, nil, false, false)
	if diff := cmp.Diff([]string{"a:1 -", "a:2 -", "a:3 -", "a:4 -"}, ids(got)); diff != "" || left != 0 {
		t.Errorf("without a store (-want +got):\n%s\nleft %d", diff, left)
	}
}
