package slack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// staticUsers is a UserResolver from a map; ids not in it are ErrUnknown.
type staticUsers struct {
	users map[string]timeline.Actor
	bots  map[string]string
	err   error // returned for every lookup when set
}

func (s staticUsers) User(_ context.Context, id string) (timeline.Actor, error) {
	if s.err != nil {
		return timeline.Actor{}, s.err
	}
	a, ok := s.users[id]
	if !ok {
		return timeline.Actor{}, ErrUnknown
	}
	return a, nil
}

func (s staticUsers) Bot(_ context.Context, id string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	n, ok := s.bots[id]
	if !ok {
		return "", ErrUnknown
	}
	return n, nil
}

var people = staticUsers{users: map[string]timeline.Actor{
	"U1": {ID: "U1", Name: "Alice Ng", Email: "alice@acme.test"},
	"U2": {ID: "U2", Name: "Bob"},
}}

func TestTimestamps(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1512085950.000216", time.Date(2017, 11, 30, 23, 52, 30, 216000, time.UTC)},
		{"1763632923.000200", time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC)},
		{"1763632923", time.Date(2025, 11, 20, 10, 2, 3, 0, time.UTC)},
		{"1763632923.5", time.Date(2025, 11, 20, 10, 2, 3, 500000000, time.UTC)},
	} {
		got, err := ParseTS(tc.in)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTS(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "1.2.3", "-5.000001", "1763632923.0000001", "1763632923.-00001"} {
		if _, err := ParseTS(bad); !errors.Is(err, timeline.ErrInvalid) {
			t.Errorf("ParseTS(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	at := time.Date(2025, 11, 20, 11, 2, 3, 200999, time.FixedZone("CET", 3600))
	if got := FormatTS(at); got != "1763632923.000200" {
		t.Errorf("FormatTS = %s", got)
	}
	if got := ceilTS(at); got != "1763632923.000201" {
		t.Errorf("ceilTS = %s", got)
	}
	if got := ceilTS(at.Truncate(time.Microsecond)); got != "1763632923.000200" {
		t.Errorf("ceilTS of an exact microsecond = %s", got)
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"<@U1> look", "@Alice Ng look"},
		{"cc <@U2|bobby> and <@U1|alice>", "cc @Bob and @Alice Ng"},
		{"<@U9|ghost> <@U8>", "@ghost @U8"},
		{"see <#C0DEPLOYS|deploys> and <#C0OTHER>", "see #deploys and #C0OTHER"},
		{"<!here> <!channel> <!everyone>", "@here @channel @everyone"},
		{"<!subteam^S0ONCALL|@oncall> please", "@oncall please"},
		{"<!subteam^S0ONCALL> please", "@S0ONCALL please"},
		{"<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"},
		{"<https://x.test/a?b=1&amp;c=2>", "https://x.test/a?b=1&c=2"},
		{"<https://x.test/a|the doc>", "the doc (https://x.test/a)"},
		{"<https://x.test/a|https://x.test/a>", "https://x.test/a"},
		{"<mailto:a@b.test|a@b.test>", "a@b.test (mailto:a@b.test)"},
		{"1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"},
		{"unclosed <@U1", "unclosed <@U1"},
		{"", ""},
	} {
		got, err := PlainText(context.Background(), tc.in, people)
		if err != nil || got != tc.want {
			t.Errorf("PlainText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Without a resolver ids stay, labels are used.
	if got, _ := PlainText(context.Background(), "<@U1> <@U2|bob>", nil); got != "@U1 @bob" {
		t.Errorf("nil resolver: %q", got)
	}
	// A failing lookup (not ErrUnknown) is an error.
	boom := errors.New("connection reset")
	if _, err := PlainText(context.Background(), "<@U1>", staticUsers{err: boom}); !errors.Is(err, boom) {
		t.Errorf("lookup failure: %v", err)
	}
}

// TestReadingText: the text as a reader sees it in Slack, which the story
// view shows (timeline.DetailPlainText): links are their labels, channel
// references their names, and formatting markers are dropped where they
// mark words. The realistic story fixture (timeline/story_fixture_test.go,
// fxRender) stores its messages by the same rules as the last cases.
func TestReadingText(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"<@U1> and <@U2|bobby>, <@U9|ghost> <@U8>", "@Alice Ng and @Bob, @ghost @U8"},
		{"in <#C0CHECKOUT|checkout> and <#C0OPS>", "in #checkout and #ops"},
		{"<#C0GONE>", "#C0GONE"},
		{"<https://grafana.acme.test/d/x|the dashboard> or <https://x.test/a_b_c>", "the dashboard or https://x.test/a_b_c"},
		{"<mailto:a@b.test|a@b.test> <mailto:c@d.test> <!here> <!subteam^S1|@oncall> <!channel>", "a@b.test c@d.test @here @oncall @channel"},
		{"*rolling back* _now_ ~never~ &amp; 5 &lt; 6 &gt; 4", "rolling back now never & 5 < 6 > 4"},
		{"snake_case_name and 2*3*4 and a * b", "snake_case_name and 2*3*4 and a * b"},
		{"*bold in https://x.test/_next_/page*", "*bold in https://x.test/_next_/page*"},
		{"Deployment of *v5.3.0* to *production* started for <https://github.com/acme/pay|acme/pay>",
			"Deployment of v5.3.0 to production started for acme/pay"},
		{"🧵 *Investigation*: what changed?", "🧵 Investigation: what changed?"},
		{"unclosed <@U1", "unclosed <@U1"},
	} {
		got, err := ReadingText(ctx, tc.in, withChannels{staticUsers: people, channels: map[string]string{"C0OPS": "ops"}})
		if err != nil || got != tc.want {
			t.Errorf("ReadingText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	boom := errors.New("connection reset")
	if _, err := ReadingText(ctx, "<#C0OPS>", withChannels{staticUsers: people, err: boom}); !errors.Is(err, boom) {
		t.Errorf("failing channel lookup: %v", err)
	}
}

// withChannels is a UserResolver that names channels too.
type withChannels struct {
	staticUsers
	channels map[string]string
	err      error
}

func (w withChannels) ChannelName(_ context.Context, id string) (string, error) {
	if w.err != nil {
		return "", w.err
	}
	if n, ok := w.channels[id]; ok {
		return n, nil
	}
	return "", ErrUnknown
}

func TestNormalizeMessage(t *testing.T) {
	ctx := context.Background()
	const ws = "https://acme.slack.com/"
	for _, tc := range []struct {
		name string
		msg  slackapi.Msg
		want timeline.Event
	}{{
		name: "plain",
		msg:  slackapi.Msg{Type: "message", User: "U1", Text: "hello <@U2>", Timestamp: "1763632923.000200"},
		want: timeline.Event{
			ID: "slack:message:C1:1763632923.000200", Source: "slack", Kind: timeline.KindChatMessage,
			OccurredAt: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
			Actor:      &timeline.Actor{ID: "U1", Name: "Alice Ng", Email: "alice@acme.test"},
			Title:      "Alice Ng: hello @Bob", Text: "hello @Bob",
			URL:     "https://acme.slack.com/archives/C1/p1763632923000200",
			Details: map[string]any{"channel": "C1"},
			Version: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
		},
	}, {
		name: "reply, edited, files, reactions",
		msg: slackapi.Msg{User: "U2", Text: "see graph", Timestamp: "1763632990.000100", ThreadTimestamp: "1763632923.000200",
			Edited:    &slackapi.Edited{User: "U2", Timestamp: "1763633000.000000"},
			Files:     []slackapi.File{{ID: "F1"}, {ID: "F2"}},
			Reactions: []slackapi.ItemReaction{{Name: "+1", Count: 3}}},
		want: timeline.Event{
			ID: "slack:message:C1:1763632990.000100", Source: "slack", Kind: timeline.KindChatReply,
			OccurredAt: time.Date(2025, 11, 20, 10, 3, 10, 100000, time.UTC),
			Actor:      &timeline.Actor{ID: "U2", Name: "Bob"},
			Title:      "Bob (in thread): see graph", Text: "see graph",
			URL: "https://acme.slack.com/archives/C1/p1763632990000100?thread_ts=1763632923.000200&cid=C1",
			// A reply names its thread's parent by event id, for the
			// story view.
			Details: map[string]any{"channel": "C1", "thread_ts": "1763632923.000200", "edited_ts": "1763633000.000000",
				"files": 2, "reactions": map[string]any{"+1": 3}, timeline.DetailThreadParentID: "slack:message:C1:1763632923.000200"},
			// The edit's time is the version.
			Version: time.Date(2025, 11, 20, 10, 3, 20, 0, time.UTC),
		},
	}, {
		// Text keeps a link's URL and the formatting; the reading text
		// (the story view's) is the message as Slack shows it.
		name: "formatting and links",
		msg:  slackapi.Msg{User: "U1", Text: "*rolling back* <@U2>, see <https://x.test/r|the runbook>", Timestamp: "1763632923.000200"},
		want: timeline.Event{
			ID: "slack:message:C1:1763632923.000200", Source: "slack", Kind: timeline.KindChatMessage,
			OccurredAt: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
			Actor:      &timeline.Actor{ID: "U1", Name: "Alice Ng", Email: "alice@acme.test"},
			Title:      "Alice Ng: *rolling back* @Bob, see the runbook (https://x.test/r)",
			Text:       "*rolling back* @Bob, see the runbook (https://x.test/r)",
			URL:        "https://acme.slack.com/archives/C1/p1763632923000200",
			Details:    map[string]any{"channel": "C1", timeline.DetailPlainText: "rolling back @Bob, see the runbook"},
			Version:    time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
		},
	}, {
		name: "unknown user, no text",
		msg:  slackapi.Msg{User: "U404", Timestamp: "1763632923.000200"},
		want: timeline.Event{
			ID: "slack:message:C1:1763632923.000200", Source: "slack", Kind: timeline.KindChatMessage,
			OccurredAt: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
			Actor:      &timeline.Actor{ID: "U404", Name: "U404"},
			Title:      "U404: (no text)",
			URL:        "https://acme.slack.com/archives/C1/p1763632923000200",
			Details:    map[string]any{"channel": "C1"},
			Version:    time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
		},
	}, {
		// An app's message that also names a user: the user is the actor,
		// the bot is in details.
		name: "bot message naming a user",
		msg: slackapi.Msg{BotID: "B1", User: "U1", Text: "deployed", Timestamp: "1763632923.000200",
			BotProfile: &slackapi.BotProfile{ID: "B1", Name: "Argo CD"}},
		want: timeline.Event{
			ID: "slack:message:C1:1763632923.000200", Source: "slack", Kind: timeline.KindChatMessage,
			OccurredAt: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
			Actor:      &timeline.Actor{ID: "U1", Name: "Alice Ng", Email: "alice@acme.test"},
			Title:      "Alice Ng: deployed", Text: "deployed",
			URL:     "https://acme.slack.com/archives/C1/p1763632923000200",
			Details: map[string]any{"channel": "C1", "bot_id": "B1", "bot_name": "Argo CD"},
			Version: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
		},
	}, {
		name: "bot message without a user",
		msg: slackapi.Msg{BotID: "B1", Text: "deployed", Timestamp: "1763632923.000200",
			BotProfile: &slackapi.BotProfile{ID: "B1", Name: "Argo CD"}},
		want: timeline.Event{
			ID: "slack:message:C1:1763632923.000200", Source: "slack", Kind: timeline.KindChatMessage,
			OccurredAt: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
			Actor:      &timeline.Actor{ID: "B1", Name: "Argo CD", Bot: true},
			Title:      "Argo CD: deployed", Text: "deployed",
			URL:     "https://acme.slack.com/archives/C1/p1763632923000200",
			Details: map[string]any{"channel": "C1", "bot_id": "B1"},
			Version: time.Date(2025, 11, 20, 10, 2, 3, 200000, time.UTC),
		},
	}} {
		got, err := NormalizeMessage(ctx, "C1", ws, tc.msg, people)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}

	if _, err := NormalizeMessage(ctx, "C1", ws, slackapi.Msg{Timestamp: "x"}, people); !errors.Is(err, timeline.ErrInvalid) {
		t.Errorf("bad ts: %v", err)
	}
	long := ""
	for len(long) < 300 {
		long += "word "
	}
	e, _ := NormalizeMessage(ctx, "C1", "", slackapi.Msg{User: "U1", Text: long + "\nsecond line", Timestamp: "1.000001"}, people)
	if n := len([]rune(e.Title)); n > titleLen || e.URL != "" || e.Text != long+"\nsecond line" {
		t.Errorf("long title (%d runes) %q, url %q", n, e.Title, e.URL)
	}
}

func loadMessageEvent(t *testing.T, name string) *slackevents.MessageEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	outer, err := slackevents.ParseEvent(b, slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := outer.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("%s: inner event is %T", name, outer.InnerEvent.Data)
	}
	return ev
}

// TestLiveEventsMatchCollected checks that an Events API delivery normalises
// to exactly the event collecting the same message gives: same id, kind,
// time, actor, text, url and details.
func TestLiveEventsMatchCollected(t *testing.T) {
	b := setup(t, nil, nil)
	seedIncidentChannel(t, b)
	collected, err := b.collect(t, window("C0CHECKOUT"))
	if err != nil {
		t.Fatal(err)
	}
	want := byID(collected)
	ctx := context.Background()
	ws, err := b.col.WorkspaceURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	users := b.col.NewUserResolver()
	for _, tc := range []struct{ file, id string }{
		{"message.json", "slack:message:C0CHECKOUT:1763635200.000700"},
		{"message_changed.json", "slack:message:C0CHECKOUT:1763629500.000400"},
		{"thread_reply.json", "slack:message:C0CHECKOUT:1763632980.000000"},
		{"reply_to_old_parent.json", "slack:message:C0CHECKOUT:1763629805.000000"},
		{"channel_join.json", "slack:message:C0CHECKOUT:1763629260.000200"},
		{"bot_message.json", "slack:message:C0CHECKOUT:1763633160.000500"},
	} {
		got, ok, err := NormalizeMessageEvent(ctx, ws, loadMessageEvent(t, tc.file), users)
		if err != nil || !ok {
			t.Errorf("%s: ok=%v err=%v", tc.file, ok, err)
			continue
		}
		if d := cmp.Diff(want[tc.id], got); d != "" {
			t.Errorf("%s: live event differs from the collected one (-collected +live):\n%s", tc.file, d)
		}
	}
	// A deletion is the message's tombstone, versioned by when it happened.
	del, ok, err := NormalizeMessageEvent(ctx, ws, loadMessageEvent(t, "message_deleted.json"), users)
	wantDel := timeline.Event{ID: "slack:message:C0CHECKOUT:1763628000.000100", Source: "slack", Kind: timeline.KindChatMessage,
		OccurredAt: time.Date(2025, 11, 20, 8, 40, 0, 100000, time.UTC),
		Details:    map[string]any{"channel": "C0CHECKOUT"}, Version: time.Unix(1763629900, 100000).UTC(), Deleted: true}
	if d := cmp.Diff(wantDel, del); !ok || err != nil || d != "" {
		t.Errorf("message_deleted: ok=%v err=%v (-want +got):\n%s", ok, err, d)
	}
	if _, ok, _ := NormalizeMessageEvent(ctx, ws, nil, users); ok {
		t.Error("nil event stored")
	}
}

func TestUserCache(t *testing.T) {
	b := setup(t, nil, nil)
	b.fake.AddUserProfile(slackfake.User{ID: "U1", Name: "alice", RealName: "Alice Real", Email: "a@x.test"})
	users := b.col.NewUserResolver()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		a, err := users.User(ctx, "U1")
		if err != nil || a != (timeline.Actor{ID: "U1", Name: "Alice Real", Email: "a@x.test", TimeZone: "Europe/London"}) {
			t.Fatalf("User = %+v, %v", a, err)
		}
		if _, err := users.User(ctx, "U404"); !errors.Is(err, ErrUnknown) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	if n := b.fake.RequestsFor("users.info"); n != 2 {
		t.Errorf("users.info called %d times, want 2", n)
	}
	// A transport failure is not cached.
	b.fake.FailNext(6, 500)
	if _, err := users.User(ctx, "U2"); err == nil || errors.Is(err, ErrUnknown) {
		t.Fatalf("failed lookup: %v", err)
	}
	b.fake.AddUser("U2", "bob", "Bob", "")
	if a, err := users.User(ctx, "U2"); err != nil || a.Name != "Bob" {
		t.Fatalf("retry after failure: %+v %v", a, err)
	}
}

// NUL characters and invalid UTF-8 anywhere in a message (text, names the
// resolver gives, the channel id) come out replaced, so the event can be
// stored; a live message event gets the same.
func TestNormalizeMakesStorable(t *testing.T) {
	ctx := context.Background()
	users := staticUsers{users: map[string]timeline.Actor{"U1": {ID: "U1", Name: "Al\x00ice", Email: "a\xff@acme.test"}}}
	m := slackapi.Msg{Timestamp: "1763629200.000100", User: "U1", Text: "nul\x00 and bad \xff <@U1>",
		Reactions: []slackapi.ItemReaction{{Name: "fire\x00", Count: 1}}}
	e, err := NormalizeMessage(ctx, "C1\x00", "https://acme.slack.com/", m, users)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Storable() {
		t.Fatalf("event not storable: %+v", e)
	}
	if want := "nul\uFFFD and bad \uFFFD @Al\uFFFDice"; e.Text != want {
		t.Errorf("text %q, want %q", e.Text, want)
	}
	if e.Actor.Name != "Al\uFFFDice" || e.Details["channel"] != "C1\uFFFD" {
		t.Errorf("actor %+v, details %v", e.Actor, e.Details)
	}
	live, ok, err := NormalizeMessageEvent(ctx, "https://acme.slack.com/", &slackevents.MessageEvent{
		Type: "message", Channel: "C1\x00", User: "U1", Text: m.Text, TimeStamp: m.Timestamp,
		Message: &m,
	}, users)
	if err != nil || !ok || live.Text != e.Text || live.ID != e.ID {
		t.Errorf("live %+v, %v, %v; want the collected event", live, ok, err)
	}
}
