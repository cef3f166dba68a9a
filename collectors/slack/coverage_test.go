package slack

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// fixedCoverage vouches for the same spans of every channel it lists.
type fixedCoverage struct {
	spans map[string][]timeline.Span
	err   error
	asked []string
}

func (f *fixedCoverage) Covered(_ context.Context, source string, kind timeline.ScopeKind, scope string, from, to, now time.Time) ([]timeline.Span, error) {
	f.asked = append(f.asked, source+" "+string(kind)+" "+scope)
	if f.err != nil {
		return nil, f.err
	}
	return f.spans[scope], nil
}

// coverageBundle seeds C1 with a message every five minutes across the
// window and a thread whose replies run through it, and returns a collector
// that asks cov and whose clock says now.
func coverageBundle(t *testing.T, cov *fixedCoverage, now time.Time) *bundle {
	t.Helper()
	b := setup(t, nil, func(o *Options) {
		o.Coverage = cov
		o.NowFunc = func() time.Time { return now }
	})
	b.fake.AddUser("U1", "alice", "Alice", "")
	for i := 0; i < 24; i++ {
		b.add(t, "C1", slackfake.Message{TS: ts(time.Duration(i) * 5 * time.Minute), User: "U1", Text: "m"})
	}
	for i := 0; i < 6; i++ {
		b.add(t, "C1", slackfake.Message{TS: ts(time.Duration(i)*20*time.Minute + time.Second), User: "U1", Text: "r", ThreadTS: ts(0)})
	}
	return b
}

// TestCoveredWindowIsNotRead: a window that live capture vouches for up to
// now is not read at all, not even auth.test; the part of an open window
// after now counts as covered, since its events have not happened yet.
func TestCoveredWindowIsNotRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  time.Time
		span timeline.Span
	}{
		{"closed window, all covered", winEnd.Add(time.Minute), timeline.Span{From: winStart.Add(-time.Hour), To: winEnd.Add(time.Minute)}},
		{"window still open, covered up to now", winStart.Add(70 * time.Minute), timeline.Span{From: winStart, To: winStart.Add(70 * time.Minute)}},
	} {
		cov := &fixedCoverage{spans: map[string][]timeline.Span{"C1": {tc.span}}}
		b := coverageBundle(t, cov, tc.now)
		events, err := b.collect(t, window("C1"))
		if err != nil {
			t.Fatal(err)
		}
		if n := b.fake.Requests(); n != 0 || len(events) != 0 {
			t.Errorf("%s: %d requests, %d events; want none: live capture has them", tc.name, n, len(events))
		}
		if diff := cmp.Diff([]string{"slack channel C1"}, cov.asked); diff != "" {
			t.Errorf("%s: coverage asked (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestCoveredTailIsNotRead: live capture began 40 minutes into the window;
// the collector reads only up to there (and the thread's replies up to
// there), leaving the rest to the journal. A second channel without
// coverage is read whole.
func TestCoveredTailIsNotRead(t *testing.T) {
	began := winStart.Add(40 * time.Minute)
	cov := &fixedCoverage{spans: map[string][]timeline.Span{"C1": {{From: began, To: winEnd.Add(time.Minute)}}}}
	b := coverageBundle(t, cov, winEnd.Add(time.Minute))
	b.add(t, "C2", slackfake.Message{TS: ts(100 * time.Minute), User: "U1", Text: "elsewhere"})
	events, err := b.collect(t, window("C1", "C2"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i <= 8; i++ { // 0, 5, ..., 40 minutes
		want = append(want, MessageID("C1", ts(time.Duration(i)*5*time.Minute)))
	}
	want = append(want, MessageID("C1", ts(time.Second)), MessageID("C1", ts(20*time.Minute+time.Second)),
		MessageID("C2", ts(100*time.Minute)))
	if diff := cmp.Diff(want, ids(events), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("events read (-want +got):\n%s", diff)
	}
	for _, c := range okCalls(b.fake, slackfake.MethodHistory) {
		if c.Form["channel"][0] == "C1" && c.Form["latest"][0] != FormatTS(began) && c.Form["latest"][0] != FormatTS(winStart.Add(-time.Microsecond)) {
			t.Errorf("C1 history read up to %s, want %s (or the lookback before the window)", c.Form["latest"][0], FormatTS(began))
		}
	}
	for _, c := range okCalls(b.fake, slackfake.MethodReplies) {
		if c.Form["latest"][0] != FormatTS(began) {
			t.Errorf("replies read up to %s, want %s", c.Form["latest"][0], FormatTS(began))
		}
	}
}

// TestCoverageGapInTheMiddle: an outage in the middle of the window is
// read from the window's start (edits made during it may concern earlier
// messages) to its end; the covered stretch after it is not read.
func TestCoverageGapInTheMiddle(t *testing.T) {
	cov := &fixedCoverage{spans: map[string][]timeline.Span{"C1": {
		{From: winStart.Add(-time.Hour), To: winStart.Add(30 * time.Minute)},
		{From: winStart.Add(50 * time.Minute), To: winEnd.Add(time.Minute)},
	}}}
	b := coverageBundle(t, cov, winEnd.Add(time.Minute))
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	last := winStart.Add(50 * time.Minute)
	for _, e := range events {
		if e.OccurredAt.After(last) {
			t.Errorf("read %s after the last gap", e.ID)
		}
	}
	if len(events) != 11+3 { // 0..50 minutes every 5, and replies at 0:01, 0:20, 0:40
		t.Errorf("%d events, want 14: %v", len(events), ids(events))
	}
}

// TestCoverageUnknownReadsEverything: when coverage cannot be read, the
// whole window is collected.
func TestCoverageUnknownReadsEverything(t *testing.T) {
	cov := &fixedCoverage{err: errors.New("database unreachable")}
	b := coverageBundle(t, cov, winEnd.Add(time.Minute))
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 24+6 {
		t.Errorf("%d events, want all 30", len(events))
	}
}
