package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func testLinks() PacketLinks {
	return PacketLinks{Timeline: "https://gw.example/v1/incidents/X/timeline", TimelineMarkdown: "https://gw.example/v1/incidents/X/timeline?format=markdown",
		Page: "https://gw.example/incidents/X", Questions: "https://gw.example/v1/incidents/X/questions",
		MomentFunc: func(at time.Time) string {
			return "https://gw.example/v1/incidents/X/timeline?since=" + at.Format(time.RFC3339)
		}}
}

func packetOf(in SummaryInput, anns []Annotation) Packet {
	rv := Prepare(in)
	qs, _ := ReviewQuestions(rv.Questions, anns, false, false)
	return BuildPacket(in.Incident, rv, qs, anns, testLinks())
}

// hugeInput is an incident with far more of everything than a packet
// holds: 60 people paged at night, 40 deployments, chat in 30 channels, 12
// overlapping incidents.
func hugeInput() SummaryInput {
	in := questionsBase()
	start := at("2025-11-18T10:00:00Z")
	pager := pdSystem("PSVC", "Checkout", "service_reference")
	for i := 0; i < 60; i++ {
		when := start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		id := fmt.Sprintf("P%03d", i)
		in.Events = append(in.Events,
			ev("pagerduty:log_entry:NX"+id, KindPageNotified, when, pager, notifiedIn(id, "Person "+id, id+"@x.io", "Asia/Tokyo"),
				with(DetailNotifyChannel, NotifyPhone)),
			ev(slackID(fmt.Sprintf("C%02d", i%30), when), KindChatJoined, when, by("U"+id, "Person "+id, id+"@x.io"), with(DetailChatChannel, fmt.Sprintf("C%02d", i%30))))
	}
	for i := 0; i < 40; i++ {
		when := start.Add(time.Duration(i) * 90 * time.Second)
		kind := KindDeploySucceeded
		if i%3 == 0 {
			kind = KindDeployFailed
		}
		in.Events = append(in.Events,
			prodDeploy(100+2*i, KindDeployStarted, when.Format(time.RFC3339), int64(1000+i), fmt.Sprintf("%07x", i), titled(fmt.Sprintf("Deploy %d", i))),
			prodDeploy(101+2*i, kind, when.Add(time.Minute).Format(time.RFC3339), int64(1000+i), fmt.Sprintf("%07x", i), with(DetailRollback, i%5 == 4), titled(fmt.Sprintf("Deploy %d done", i))),
			ev(fmt.Sprintf("github:pull:acme/api:%d", i), KindChangeMerged, when.Add(30*time.Second).Format(time.RFC3339), by("dev", "dev", "")),
			chat(fmt.Sprintf("C%02d", i%30), when.Add(20*time.Second).Format(time.RFC3339), "U0QUINN", "Quinn", "quinn@x.io", fmt.Sprintf("jumping on a call about deploy %d", i)),
		)
	}
	for i := 0; i < 12; i++ {
		o := incident(fmt.Sprintf("QO%02d", i), "Another thing", SourcePagerDuty, "2025-11-18T10:10:00Z", "2025-11-18T10:50:00Z")
		o.Channels = []string{"C1"}
		in.Overlapping = append(in.Overlapping, o)
	}
	in.Events = withIncident(in.Incident.ID, in.Events...)
	in.Config.Calendar = []CalendarEntry{{Title: "Freeze", Kind: "freeze", Start: start.Add(-time.Hour), End: start.Add(time.Hour)},
		{Title: "Launch", Kind: "launch", Start: start.Add(-time.Hour), End: start.Add(time.Hour)}}
	return in
}

func hugeAnnotations() []Annotation {
	var out []Annotation
	for i := 0; i < 40; i++ {
		t := at("2025-11-18T10:00:00Z").Add(time.Duration(i) * time.Minute)
		out = append(out, Annotation{ID: fmt.Sprintf("a%d", i), Marker: Markers[i%len(Markers)], Title: fmt.Sprintf("Note %d", i),
			Note: strings.Repeat("a long\nnote ", 100), At: &t, Author: "facilitator", Status: AnnotationActive, EventIDs: []string{"pagerduty:log_entry:ACK"}})
	}
	return out
}

// TestPacketMarkdownWithinBudget: however much the incident holds, the
// Markdown stays within MaxPacketLines and says what it left out.
func TestPacketMarkdownWithinBudget(t *testing.T) {
	t.Parallel()
	p := packetOf(hugeInput(), hugeAnnotations())
	md := p.Markdown()
	n := strings.Count(md, "\n")
	t.Logf("the huge incident's packet: %d lines, omitted %v", n, p.Omitted)
	if n > MaxPacketLines {
		t.Errorf("%d lines, want at most %d:\n%s", n, MaxPacketLines, md)
	}
	for _, list := range []string{"key_moments", "people", "changes", "questions", "blind_spots", "annotations", "context"} {
		if p.Omitted[list] == 0 {
			t.Errorf("nothing of %s was left out; the case does not test its cap", list)
		}
	}
	if !strings.Contains(md, "_…and ") {
		t.Error("the Markdown does not say what it left out")
	}
	for _, l := range strings.Split(md, "\n") {
		if len([]rune(l)) > 2000 {
			t.Errorf("a line of %d characters: %.100s…", len([]rune(l)), l)
		}
	}
}

// TestPacketSections: the packet of the timeline's realistic case holds
// every section, the Prime Directive verbatim, and durations of the
// summary.
func TestPacketSections(t *testing.T) {
	t.Parallel()
	in := realisticInput()
	p := packetOf(in, nil)
	md := p.Markdown()
	for _, want := range []string{
		"# Review packet: Checkout API 5xx (Q1CHECKOUT)",
		"> **The Retrospective Prime Directive.** “Regardless of what we discover, we understand and truly believe that everyone did the best job " +
			"they could, given what they knew at the time, their skills and abilities, the resources available, and the situation at hand.” — Norm Kerth",
		"## Facts", "## Phases", "## Key moments", "## People", "## Changes in flight", "## Context", "## Questions", "## Blind spots", "## Annotations",
		"page to first acknowledgement 17m20s", "[Meeting page](https://gw.example/incidents/X)", "Payments API latency",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the packet lacks %q:\n%s", want, md)
		}
	}
	if got := strings.Count(md, "\n"); got > MaxPacketLines {
		t.Errorf("%d lines", got)
	}
	var buf bytes.Buffer
	if err := p.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "page to first acknowledgement 17m20s") || !strings.Contains(buf.String(), "@media print") {
		t.Errorf("the HTML lacks the durations or its print rules")
	}
	// JSON round trip: the renderers work from a decoded packet too.
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Packet
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	back.Links.MomentFunc = p.Links.MomentFunc
	if back.Markdown() != md {
		t.Error("a decoded packet renders differently")
	}
}

// TestPacketEscapes: text from chat and upstream titles cannot inject
// markup, scripts or links into either rendering.
func TestPacketEscapes(t *testing.T) {
	t.Parallel()
	in := questionsBase(
		chat("C1", "2025-11-18T10:09:00Z", "U0QUINN", "Quinn <script>alert(1)</script>", "quinn@x.io",
			"join the bridge <img src=x onerror=alert(1)> [click](javascript:alert(1)) | *bold*"),
	)
	in.Incident.Title = `</title><script>alert("t")</script> | [x](javascript:alert(2))`
	in.Incident.URL = "javascript:alert(3)"
	anns := []Annotation{{ID: "a1", Marker: MarkerKeyMoment, Title: "<b>bold</b>", Note: "<script>n</script>", At: ptr(at("2025-11-18T10:09:00Z")),
		Author: "x", Status: AnnotationActive, EventIDs: []string{slackID("C1", "2025-11-18T10:09:00Z")}}}
	p := packetOf(in, anns)
	var buf bytes.Buffer
	if err := p.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{"<script", "<img", `href="javascript:`, "<b>bold"} {
		if strings.Contains(html, bad) {
			t.Errorf("the HTML holds %q", bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;") {
		t.Error("the HTML does not show the escaped text")
	}
	md := p.Markdown()
	// Text is escaped: "\](" is a literal bracket, never a link.
	if regexp.MustCompile(`[^\\]\]\(javascript:`).MatchString(md) || strings.Contains(md, "<script") || strings.Contains(md, "<img") {
		t.Errorf("the Markdown injects markup:\n%s", md)
	}
	if !strings.Contains(md, `\[click\](javascript:alert(1)) \| \*bo…`) || !strings.Contains(md, `&lt;script&gt;n&lt;/script&gt;`) {
		t.Errorf("the Markdown does not escape the message:\n%s", md)
	}
}

// TestPacketKeyMoments: moments are in time order with links, include the
// moments people marked, and leave out what a person hid.
func TestPacketKeyMoments(t *testing.T) {
	t.Parallel()
	in := realisticInput()
	marked := at("2025-11-20T03:21:00Z")
	anns := []Annotation{
		{ID: "h", Marker: MarkerHide, EventIDs: []string{"pagerduty:log_entry:R0ESC1"}, Author: "x", Status: AnnotationActive},
		{ID: "k", Marker: MarkerDiagnosis, Title: "Alice names the pooling change", At: &marked, Author: "x", Status: AnnotationActive,
			EventIDs: []string{slackID("C0CHECKOUT", "2025-11-20T03:21:00Z")}},
		{ID: "d", Marker: MarkerKeyMoment, Title: "dismissed", At: &marked, Author: SuggestedAuthor, Suggested: true, SuggestedKey: "x:1",
			Status: AnnotationDismissed, EventIDs: []string{slackID("C0CHECKOUT", "2025-11-20T03:21:00Z")}},
	}
	p := packetOf(in, anns)
	var got []string
	for i, m := range p.KeyMoments {
		got = append(got, m.Moment)
		if i > 0 && m.At.Before(p.KeyMoments[i-1].At) {
			t.Errorf("moment %s is out of order", m.Moment)
		}
		if !strings.HasPrefix(m.TimelineURL, "https://gw.example/v1/incidents/X/timeline?since=") {
			t.Errorf("moment %s links to %q", m.Moment, m.TimelineURL)
		}
	}
	want := []string{"deploy", "last_deploy_before_first_alert", "first_alert", "triggered", "first_acknowledgement", "diagnosis", "rollback", "resolved"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("moments %v, want %v (the escalation hidden, the diagnosis marked, the dismissed one left out)", got, want)
	}
}
