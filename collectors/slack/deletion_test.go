package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack/slackevents"

	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// rawHistory returns the fake's conversations.history messages of ch as
// Slack sends them.
func rawHistory(t *testing.T, b *bundle, ch string) []json.RawMessage {
	t.Helper()
	resp, err := http.PostForm(b.srv.URL+"/api/conversations.history", url.Values{"token": {testToken}, "channel": {ch}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// liveEvent parses an Events API delivery whose event is inner.
func liveEvent(t *testing.T, inner string) *slackevents.MessageEvent {
	t.Helper()
	body := `{"type":"event_callback","event_id":"Ev1","team_id":"T0ACME0001","event":` + inner + `}`
	outer, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := outer.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner event is %T", outer.InnerEvent.Data)
	}
	return ev
}

// TestCollectedMatchesLiveForBotsAndDeletions: the collector normalises as
// the live path does: an app's message naming a user is that user's (the
// bot in details), and a thread parent deleted while it has replies —
// a tombstone in history, a message_changed to a tombstone live — is the
// message's deletion.
func TestCollectedMatchesLiveForBotsAndDeletions(t *testing.T) {
	now := winEnd.Add(time.Hour)
	b := setup(t, nil, func(o *Options) { o.NowFunc = func() time.Time { return now } })
	b.fake.AddUser("U1", "alice", "Alice", "alice@acme.test")
	b.fake.AddUserProfile(slackfake.User{ID: "U0GRAFANA", Name: "grafana", RealName: "Grafana", IsBot: true})
	b.fake.AddBot("B0GRAFANA", "Grafana Alerts")
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), BotID: "B0GRAFANA", User: "U0GRAFANA", Text: "alert firing"})
	b.add(t, "C1", slackfake.Message{TS: ts(2 * time.Minute), BotID: "B0HOOK", Subtype: "bot_message", Username: "deploy-bot", Text: "deployed"})
	b.add(t, "C1", slackfake.Message{TS: ts(3 * time.Minute), User: "U1", Text: "AKIA… oops, deleting"})
	b.add(t, "C1", slackfake.Message{TS: ts(4 * time.Minute), User: "U1", Text: "reply", ThreadTS: ts(3 * time.Minute)})
	if err := b.fake.DeleteMessage("C1", ts(3*time.Minute)); err != nil {
		t.Fatal(err)
	}

	var events []timeline.Event
	var sweeps []timeline.Sweep
	err := b.col.CollectSweeping(context.Background(), window("C1", "CMISSING"), func(e timeline.Event) error {
		events = append(events, e)
		return nil
	}, func(s timeline.Sweep) { sweeps = append(sweeps, s) })
	if err == nil {
		t.Fatal("CMISSING did not fail")
	}
	collected := byID(events)

	app := collected["slack:message:C1:"+ts(time.Minute)]
	if app.Actor == nil || *app.Actor != (timeline.Actor{ID: "U0GRAFANA", Name: "Grafana", TimeZone: "Europe/London", Bot: true}) ||
		app.Details["bot_id"] != "B0GRAFANA" || app.Details["bot_name"] != "Grafana Alerts" || app.Title != "Grafana: alert firing" {
		t.Errorf("app message naming a user: actor %+v title %q details %v", app.Actor, app.Title, app.Details)
	}
	if hook := collected["slack:message:C1:"+ts(2*time.Minute)]; hook.Actor == nil || *hook.Actor != (timeline.Actor{ID: "B0HOOK", Name: "deploy-bot", Bot: true}) {
		t.Errorf("bot message without a user: actor %+v", hook.Actor)
	}
	want := timeline.Event{ID: "slack:message:C1:" + ts(3*time.Minute), Source: "slack", Kind: timeline.KindChatMessage,
		OccurredAt: winStart.Add(3 * time.Minute), Details: map[string]any{"channel": "C1"}, Version: now, Deleted: true}
	if d := cmp.Diff(want, collected[want.ID]); d != "" {
		t.Errorf("deleted parent (-want +got):\n%s", d)
	}
	if r := collected["slack:message:C1:"+ts(4*time.Minute)]; r.Kind != timeline.KindChatReply || r.Deleted {
		t.Errorf("the reply under a deleted parent: %+v", r)
	}

	// The same messages delivered live normalise to the same events.
	ws, err := b.col.WorkspaceURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	users := b.col.NewUserResolver()
	for _, raw := range rawHistory(t, b, "C1") {
		var m struct {
			TS      string `json:"ts"`
			Subtype string `json:"subtype"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		inner := fmt.Sprintf(`{"type":"message","channel":"C1","ts":%q,"event_ts":%q,"message":%s}`, m.TS, m.TS, raw)
		if m.Subtype == MsgSubTypeTombstone {
			inner = fmt.Sprintf(`{"type":"message","subtype":"message_changed","hidden":true,"channel":"C1","ts":%q,"event_ts":%q,"message":%s}`,
				FormatTS(now), FormatTS(now), raw)
		}
		got, ok, err := NormalizeMessageEvent(context.Background(), ws, liveEvent(t, inner), users)
		if err != nil || !ok {
			t.Errorf("%s: ok=%v err=%v", m.TS, ok, err)
			continue
		}
		if d := cmp.Diff(collected[got.ID], got); d != "" {
			t.Errorf("%s: live differs from collected (-collected +live):\n%s", m.TS, d)
		}
	}

	// One sweep, for the channel that was read completely, ending a
	// minute before the read began (or at the window's end).
	if len(sweeps) != 1 {
		t.Fatalf("sweeps %+v, want one for C1", sweeps)
	}
	s := sweeps[0]
	if s.IDPrefix != "slack:message:C1:" || !s.Start.Equal(winStart) || !s.End.Equal(winEnd) {
		t.Errorf("sweep %s %v..%v, want C1 over the window", s.IDPrefix, s.Start, s.End)
	}
	reply := func(thread string, sub string) timeline.Event {
		e := timeline.Event{Kind: timeline.KindChatReply, Details: map[string]any{"thread_ts": thread}}
		if sub != "" {
			e.Details["subtype"] = sub
		}
		return e
	}
	for name, tc := range map[string]struct {
		e    timeline.Event
		keep bool
	}{
		"a message":                {timeline.Event{Kind: timeline.KindChatMessage}, false},
		"a reply in a thread read": {reply(ts(30*time.Minute), ""), false},
		"a reply to a parent found in the lookback":   {reply(ts(-24*time.Hour), ""), false},
		"a reply to a parent older than the lookback": {reply(ts(-8*24*time.Hour), ""), true},
		"a broadcast reply to an old parent":          {reply(ts(-8*24*time.Hour), "thread_broadcast"), false},
		"a reply without a readable thread_ts":        {reply("", ""), true},
	} {
		if got := s.KeepFunc(tc.e); got != tc.keep {
			t.Errorf("%s: keep = %v, want %v", name, got, tc.keep)
		}
	}

	// Reading while the window is still open: the sweep ends a minute
	// before the read.
	now = winStart.Add(time.Hour)
	sweeps = nil
	if err := b.col.CollectSweeping(context.Background(), window("C1"), func(timeline.Event) error { return nil },
		func(s timeline.Sweep) { sweeps = append(sweeps, s) }); err != nil {
		t.Fatal(err)
	}
	if len(sweeps) != 1 || !sweeps[0].End.Equal(now.Add(-sweepMargin)) {
		t.Errorf("sweeps %+v, want one ending at %v", sweeps, now.Add(-sweepMargin))
	}
	// Collect alone reports nothing and needs no sweep function.
	if err := b.col.Collect(context.Background(), window("C1"), func(timeline.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
