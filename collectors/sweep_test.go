package collectors_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// TestRecollectionRemovesWhatSlackDeleted: collecting an incident again
// removes the Slack events the channel no longer has inside what the
// collection read, and nothing else: not what it could not have read (a
// message posted after it read the channel, a reply to a parent older than
// the lookback, an event outside the window), not a channel that failed,
// not another source's events.
func TestRecollectionRemovesWhatSlackDeleted(t *testing.T) {
	t.Parallel()
	const token = "xoxb-sweep-test"
	start := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Hour)
	at := func(d time.Duration) string { return slack.FormatTS(start.Add(d)) }
	fake := slackfake.New(token)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	// The collection reads the channel a few seconds before the window
	// ends (the incident resolved 30 minutes ago, say).
	readAt := end.Add(-10 * time.Second)
	col, err := slack.New(slack.Config{Token: token, APIURL: srv.URL + "/api/", SigningSecret: "s"},
		slack.Options{ClientOptions: collectors.ClientOptions{SleepFunc: instant, NowFunc: func() time.Time { return readAt }},
			Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	st := postgres.New(pgtest.New(t).Pool)
	ctx := context.Background()
	if err := st.UpsertIncident(ctx, timeline.Incident{ID: "INC", StartedAt: start, WindowStart: start, WindowEnd: end,
		Channels: []string{"C1", "CGONE"}}); err != nil {
		t.Fatal(err)
	}
	reg := &collectors.Registry{}
	reg.Register(col)
	runner := &collectors.Runner{Registry: reg, Store: st}
	w := timeline.Window{IncidentID: "INC", Start: start, End: end, Channels: []string{"C1"}}

	add := func(m slackfake.Message) {
		t.Helper()
		if err := fake.AddMessage("C1", m); err != nil {
			t.Fatal(err)
		}
	}
	oldParent := at(-8 * 24 * time.Hour) // older than the 7-day lookback
	add(slackfake.Message{TS: oldParent, User: "U1", Text: "old thread"})
	add(slackfake.Message{TS: at(10 * time.Minute), User: "U1", Text: "checkout is down"})
	add(slackfake.Message{TS: at(20 * time.Minute), User: "U1", Text: "AKIA… (pasted by mistake)"})
	add(slackfake.Message{TS: at(30 * time.Minute), User: "U1", Text: "thread"})
	add(slackfake.Message{TS: at(31 * time.Minute), User: "U2", Text: "reply kept", ThreadTS: at(30 * time.Minute)})
	add(slackfake.Message{TS: at(32 * time.Minute), User: "U2", Text: "reply deleted", ThreadTS: at(30 * time.Minute)})
	add(slackfake.Message{TS: at(40 * time.Minute), User: "U1", Text: "parent deleted, reply stays"})
	add(slackfake.Message{TS: at(41 * time.Minute), User: "U2", Text: "reply to a deleted parent", ThreadTS: at(40 * time.Minute)})
	add(slackfake.Message{TS: at(45 * time.Minute), User: "U1", Text: "parent and reply deleted"})
	add(slackfake.Message{TS: at(46 * time.Minute), User: "U2", Text: "its reply", ThreadTS: at(45 * time.Minute)})
	// Collection cannot see this reply: its parent is older than the lookback.
	add(slackfake.Message{TS: at(50 * time.Minute), User: "U2", Text: "in the old thread", ThreadTS: oldParent})

	res := runner.Run(ctx, w)
	if err := res.Err(); err != nil || res.Sources[0].Deleted != 0 {
		t.Fatalf("first collection: %v, %d deleted", err, res.Sources[0].Deleted)
	}
	if n := len(timelineIDs(t, st)); n != 9 {
		t.Fatalf("first collection stored %d events, want 9", n)
	}

	for _, ts := range []string{at(20 * time.Minute), at(32 * time.Minute), at(40 * time.Minute), at(46 * time.Minute), at(45 * time.Minute)} {
		if err := fake.DeleteMessage("C1", ts); err != nil {
			t.Fatal(err)
		}
	}
	id := func(ch string, d time.Duration) string { return slack.MessageID(ch, at(d)) }
	live := func(ch string, d time.Duration, threadTS string) timeline.Event {
		e := timeline.Event{ID: id(ch, d), IncidentID: "INC", Source: "slack", Kind: timeline.KindChatMessage,
			OccurredAt: start.Add(d), Text: "captured live", Details: map[string]any{"channel": ch}}
		if threadTS != "" {
			e.Kind, e.Details["thread_ts"] = timeline.KindChatReply, threadTS
		}
		return e
	}
	// Captured live and never collected: gone from the channel since (1),
	// posted after the collection read the channel (2), a reply in a thread
	// whose parent is older than the lookback (3), outside the window (4),
	// in a channel whose collection fails (5); and another source's (6).
	_, err = st.UpsertEvents(ctx, []timeline.Event{
		live("C1", 55*time.Minute, ""),
		live("C1", 2*time.Hour-5*time.Second, ""),
		live("C1", 56*time.Minute, slack.FormatTS(start.Add(-9*24*time.Hour))),
		live("C1", 2*time.Hour+time.Minute, ""),
		live("CGONE", 15*time.Minute, ""),
		{ID: "github:commit:acme/api:abc", IncidentID: "INC", Source: "github", Kind: timeline.KindChangeCommit, OccurredAt: start.Add(time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	feedBefore, err := st.Feed(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}

	w.Channels = []string{"C1", "CGONE"}
	res = runner.Run(ctx, w)
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "CGONE") {
		t.Fatalf("second collection: %v, want CGONE to fail", err)
	}
	wantGone := []string{id("C1", 20*time.Minute), id("C1", 32*time.Minute), id("C1", 40*time.Minute),
		id("C1", 45*time.Minute), id("C1", 46*time.Minute), id("C1", 55*time.Minute)}
	wantKept := []string{
		id("C1", 10*time.Minute), id("C1", 30*time.Minute), id("C1", 31*time.Minute), id("C1", 41*time.Minute),
		id("C1", 56*time.Minute), id("C1", 2*time.Hour-5*time.Second), id("C1", 2*time.Hour+time.Minute),
		id("CGONE", 15*time.Minute), "github:commit:acme/api:abc",
	}
	if d := cmp.Diff(slices.Sorted(slices.Values(wantKept)), timelineIDs(t, st)); d != "" {
		t.Errorf("timeline after re-collection (-want +got):\n%s", d)
	}
	// The deleted parent that keeps a reply is a tombstone in history,
	// stored as such; the others were swept.
	if n := res.Sources[0].Deleted; n != len(wantGone)-1 {
		t.Errorf("%d reported swept, want %d", n, len(wantGone)-1)
	}
	feed, err := st.Feed(ctx, feedBefore[len(feedBefore)-1].Seq, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var tombstones []string
	for _, e := range feed {
		if e.Deleted {
			if e.Text != "" || e.Actor != nil || len(e.Details) != 0 {
				t.Errorf("tombstone %s keeps content: %+v", e.ID, e)
			}
			tombstones = append(tombstones, e.ID)
		}
	}
	if d := cmp.Diff(slices.Sorted(slices.Values(wantGone)), slices.Sorted(slices.Values(tombstones))); d != "" {
		t.Errorf("tombstones in the feed (-want +got):\n%s", d)
	}

	// Nothing changed upstream: a third collection deletes nothing more.
	w.Channels = []string{"C1"}
	if res := runner.Run(ctx, w); res.Err() != nil || res.Sources[0].Deleted != 0 {
		t.Errorf("third collection: %v, %d deleted, want none", res.Err(), res.Sources[0].Deleted)
	}
}

func timelineIDs(t *testing.T, st *postgres.Store) []string {
	t.Helper()
	evs, err := st.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: "INC"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}
