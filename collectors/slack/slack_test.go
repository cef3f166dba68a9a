package slack

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

func TestGoldenIncidentChannel(t *testing.T) {
	b := setup(t, nil, nil)
	seedIncidentChannel(t, b)
	events, err := b.collect(t, window("C0CHECKOUT"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		e.IncidentID = "INC1"
		if err := e.Validate(); err != nil {
			t.Error(err)
		}
	}
	checkGolden(t, "incident_channel.json", events)

	// What must and must not be there, independently of the golden file.
	got := byID(events)
	for _, id := range []string{
		"slack:message:C0CHECKOUT:" + ts(-time.Hour),              // old parent
		"slack:message:C0CHECKOUT:" + ts(-55*time.Minute),         // old reply before the window
		"slack:message:C0CHECKOUT:" + ts(-20*time.Minute),         // before the window
		"slack:message:C0CHECKOUT:" + ts(150*time.Minute),         // reply after the window
		"slack:message:C0CHECKOUT:" + ts(2*time.Hour+time.Second), // after the window
	} {
		if _, ok := got[id]; ok {
			t.Errorf("%s was emitted but lies outside the window", id)
		}
	}
	if e, ok := got["slack:message:C0CHECKOUT:"+ts(10*time.Minute+5*time.Second)]; !ok || e.Kind != timeline.KindChatReply {
		t.Errorf("the in-window reply to the old parent is missing or wrong: %+v", e)
	}
	if e := got["slack:message:C0CHECKOUT:1763632923.000200"]; e.URL != "https://acme.slack.com/archives/C0CHECKOUT/p1763632923000200" {
		t.Errorf("permalink %q", e.URL)
	}
	if n := b.fake.RequestsFor(slackfake.MethodAuthTest); n != 1 {
		t.Errorf("auth.test called %d times, want once per run", n)
	}
}

func TestHistoryPagingHonoursPageSize(t *testing.T) {
	b := setup(t, func(c *Config) { c.HistoryPageSize = 40 }, nil)
	b.fake.AddUser("U1", "u1", "User One", "")
	const n = 250
	for i := 0; i < n; i++ {
		b.add(t, "C1", slackfake.Message{TS: ts(time.Duration(i) * 20 * time.Second), User: "U1", Text: "msg " + strconv.Itoa(i)})
	}
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("got %d events, want %d", len(events), n)
	}
	for i, e := range events {
		if want := "msg " + strconv.Itoa(i); e.Text != want {
			t.Fatalf("event %d text %q, want %q", i, e.Text, want)
		}
	}
	calls := b.fake.CallsFor(slackfake.MethodHistory)
	// 7 pages of the window (250/40) and 1 of the (empty) lookback.
	if len(calls) != 8 {
		t.Errorf("history called %d times, want 8", len(calls))
	}
	for i, c := range calls {
		if c.Form["limit"][0] != "40" || c.Form["inclusive"][0] != "1" {
			t.Errorf("call %d sent limit=%v inclusive=%v", i, c.Form["limit"], c.Form["inclusive"])
		}
		if i > 0 && i < 7 && c.Form["cursor"] == nil {
			t.Errorf("call %d sent no cursor", i)
		}
	}
	if o, l := calls[0].Form["oldest"][0], calls[0].Form["latest"][0]; o != "1763629200.000000" || l != "1763636400.000000" {
		t.Errorf("window sent as oldest=%s latest=%s", o, l)
	}
	if n := b.fake.RequestsFor(slackfake.MethodUserInfo); n != 1 {
		t.Errorf("users.info called %d times, want 1", n)
	}
}

func TestWindowEdges(t *testing.T) {
	b := setup(t, nil, nil)
	for _, d := range []time.Duration{-time.Second, -time.Microsecond, 0, 2 * time.Hour, 2*time.Hour + time.Microsecond, 2*time.Hour + time.Second} {
		b.add(t, "C1", slackfake.Message{TS: ts(d), User: "U1", Text: "x"})
	}
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"slack:message:C1:" + ts(0), "slack:message:C1:" + ts(2*time.Hour)}
	if d := cmp.Diff(want, ids(events)); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if !events[0].OccurredAt.Equal(winStart) || !events[1].OccurredAt.Equal(winEnd) {
		t.Errorf("occurred_at %v, %v", events[0].OccurredAt, events[1].OccurredAt)
	}
}

func TestWindowEdgesOfReplies(t *testing.T) {
	b := setup(t, nil, nil)
	b.add(t, "C1", slackfake.Message{TS: ts(time.Hour), User: "U1", Text: "parent"})
	b.add(t, "C1", slackfake.Message{TS: ts(2 * time.Hour), User: "U1", Text: "reply at the end", ThreadTS: ts(time.Hour)})
	b.add(t, "C1", slackfake.Message{TS: ts(2*time.Hour + time.Second), User: "U1", Text: "reply after", ThreadTS: ts(time.Hour)})
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"slack:message:C1:" + ts(time.Hour), "slack:message:C1:" + ts(2*time.Hour)}
	if d := cmp.Diff(want, ids(events)); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if k := events[1].Kind; k != timeline.KindChatReply {
		t.Errorf("reply kind %s", k)
	}
	if d := events[0].Details; d["thread_ts"] != ts(time.Hour) || d["reply_count"] != 2 {
		t.Errorf("parent details %v", d)
	}
	calls := b.fake.CallsFor(slackfake.MethodReplies)
	if len(calls) != 1 || calls[0].Form["oldest"][0] != ts(0) || calls[0].Form["latest"][0] != ts(2*time.Hour) || calls[0].Form["inclusive"][0] != "1" {
		t.Errorf("replies calls: %+v", calls)
	}
}

func TestReplyToParentBeforeWindow(t *testing.T) {
	b := setup(t, nil, func(o *Options) { o.ThreadLookback = 24 * time.Hour })
	// Parent 3 h before the window; replies before, inside and after it.
	b.add(t, "C1", slackfake.Message{TS: ts(-3 * time.Hour), User: "U1", Text: "old parent"})
	b.add(t, "C1", slackfake.Message{TS: ts(-2 * time.Hour), User: "U1", Text: "old reply", ThreadTS: ts(-3 * time.Hour)})
	b.add(t, "C1", slackfake.Message{TS: ts(30 * time.Minute), User: "U2", Text: "reply inside", ThreadTS: ts(-3 * time.Hour)})
	b.add(t, "C1", slackfake.Message{TS: ts(3 * time.Hour), User: "U1", Text: "reply after", ThreadTS: ts(-3 * time.Hour)})
	// A parent whose thread ended before the window: not fetched.
	b.add(t, "C1", slackfake.Message{TS: ts(-4 * time.Hour), User: "U1", Text: "quiet thread"})
	b.add(t, "C1", slackfake.Message{TS: ts(-4*time.Hour + time.Minute), User: "U1", Text: "done", ThreadTS: ts(-4 * time.Hour)})
	// A parent older than the lookback: its in-window reply is out of reach.
	b.add(t, "C1", slackfake.Message{TS: ts(-48 * time.Hour), User: "U1", Text: "ancient"})
	b.add(t, "C1", slackfake.Message{TS: ts(40 * time.Minute), User: "U1", Text: "late reply to ancient", ThreadTS: ts(-48 * time.Hour)})

	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"slack:message:C1:" + ts(30*time.Minute)}
	if d := cmp.Diff(want, ids(events)); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	e := events[0]
	if e.Kind != timeline.KindChatReply || e.Details["thread_ts"] != ts(-3*time.Hour) {
		t.Errorf("reply event: %+v", e)
	}
	if e.URL != "https://acme.slack.com/archives/C1/p"+strings.Replace(ts(30*time.Minute), ".", "", 1)+"?thread_ts="+ts(-3*time.Hour)+"&cid=C1" {
		t.Errorf("reply permalink %q", e.URL)
	}
	// The lookback asked for [start-24h, start-1µs]; only the live thread's
	// replies were fetched.
	hist := b.fake.CallsFor(slackfake.MethodHistory)
	if len(hist) != 2 || hist[1].Form["oldest"][0] != ts(-24*time.Hour) || hist[1].Form["latest"][0] != ts(-time.Microsecond) {
		t.Errorf("history calls: %+v", hist)
	}
	if n := b.fake.RequestsFor(slackfake.MethodReplies); n != 1 {
		t.Errorf("replies called %d times, want 1", n)
	}

	// With the lookback off, the reply is not found.
	b2 := setup(t, nil, func(o *Options) { o.ThreadLookback = -1 })
	b2.add(t, "C1", slackfake.Message{TS: ts(-3 * time.Hour), User: "U1", Text: "old parent"})
	b2.add(t, "C1", slackfake.Message{TS: ts(30 * time.Minute), User: "U2", Text: "reply inside", ThreadTS: ts(-3 * time.Hour)})
	events, err = b2.collect(t, window("C1"))
	if err != nil || len(events) != 0 {
		t.Errorf("without lookback: %v %v", ids(events), err)
	}
}

func TestJoinsAndBots(t *testing.T) {
	b := setup(t, nil, nil)
	b.fake.AddUser("U1", "alice", "Alice", "alice@acme.test")
	b.fake.AddBot("B0APP", "Grafana")
	b.fake.AddBot("B0LEGACY", "jenkins")
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Subtype: "channel_join", Text: "<@U1> has joined the channel"})
	// A modern app message: bot_profile carries the name.
	b.add(t, "C1", slackfake.Message{TS: ts(2 * time.Minute), BotID: "B0APP", Text: "alert firing"})
	// A legacy integration posting under a custom username.
	b.add(t, "C1", slackfake.Message{TS: ts(3 * time.Minute), BotID: "B0HOOK", Subtype: "bot_message", Username: "deploy-bot", Text: "deployed"})
	// Legacy messages with neither: bots.info, once.
	b.add(t, "C1", slackfake.Message{TS: ts(4 * time.Minute), BotID: "B0LEGACY", Subtype: "bot_message", Text: "build 1 failed"})
	b.add(t, "C1", slackfake.Message{TS: ts(5 * time.Minute), BotID: "B0LEGACY", Subtype: "bot_message", Text: "build 2 failed"})
	// An unknown bot falls back to its id.
	b.add(t, "C1", slackfake.Message{TS: ts(6 * time.Minute), BotID: "B0GONE", Subtype: "bot_message", Text: "?"})

	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Kind, ActorID, ActorName, Title string }
	var got []row
	for _, e := range events {
		got = append(got, row{e.Kind, e.Actor.ID, e.Actor.Name, e.Title})
	}
	want := []row{
		{timeline.KindChatJoined, "U1", "Alice", "@Alice has joined the channel"},
		{timeline.KindChatMessage, "B0APP", "Grafana", "Grafana: alert firing"},
		{timeline.KindChatMessage, "B0HOOK", "deploy-bot", "deploy-bot: deployed"},
		{timeline.KindChatMessage, "B0LEGACY", "jenkins", "jenkins: build 1 failed"},
		{timeline.KindChatMessage, "B0LEGACY", "jenkins", "jenkins: build 2 failed"},
		{timeline.KindChatMessage, "B0GONE", "B0GONE", "B0GONE: ?"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if e := events[0]; e.Actor.Email != "alice@acme.test" || e.Details["subtype"] != "channel_join" {
		t.Errorf("join event: %+v", e)
	}
	if e := events[3]; e.Details["bot_id"] != "B0LEGACY" || e.Details["subtype"] != "bot_message" {
		t.Errorf("bot details: %v", e.Details)
	}
	if n := b.fake.RequestsFor(slackfake.MethodBotInfo); n != 2 {
		t.Errorf("bots.info called %d times, want 2 (B0LEGACY once, B0GONE once)", n)
	}
}

func TestMentionsAndPerRunUserCache(t *testing.T) {
	b := setup(t, nil, nil)
	b.fake.AddUser("U1", "alice", "Alice Ng", "alice@acme.test")
	b.fake.AddUserProfile(slackfake.User{ID: "U2", Name: "bob", RealName: "Bob Okafor"})
	b.fake.AddUserProfile(slackfake.User{ID: "U3", Name: "carol"})
	for _, ch := range []string{"C1", "C2", "C3"} {
		for i := 0; i < 20; i++ {
			user := []string{"U1", "U2", "U3"}[i%3]
			b.add(t, ch, slackfake.Message{TS: ts(time.Duration(i) * time.Minute), User: user,
				Text: "hey <@U1> and <@U2|bob>, ask <@U3> or <@U404|ghost> or <@U405>"})
		}
	}
	events, err := b.collect(t, window("C1", "C2", "C3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 60 {
		t.Fatalf("%d events", len(events))
	}
	const want = "hey @Alice Ng and @Bob Okafor, ask @carol or @ghost or @U405"
	for _, e := range events {
		if e.Text != want {
			t.Fatalf("text %q, want %q", e.Text, want)
		}
	}
	names := map[string]string{}
	for _, e := range events {
		names[e.Actor.ID] = e.Actor.Name
	}
	if d := cmp.Diff(map[string]string{"U1": "Alice Ng", "U2": "Bob Okafor", "U3": "carol"}, names); d != "" {
		t.Errorf("actor names (-want +got):\n%s", d)
	}
	// U1, U2, U3, U404, U405: once each for the whole run, across channels.
	if n := b.fake.RequestsFor(slackfake.MethodUserInfo); n != 5 {
		t.Errorf("users.info called %d times, want 5", n)
	}
	// A new run asks again.
	if _, err := b.collect(t, window("C1")); err != nil {
		t.Fatal(err)
	}
	if n := b.fake.RequestsFor(slackfake.MethodUserInfo); n != 10 {
		t.Errorf("users.info called %d times after a second run, want 10", n)
	}
}

func TestEditedMessageRecollected(t *testing.T) {
	b := setup(t, nil, nil)
	b.fake.AddUser("U1", "alice", "Alice", "")
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "rollback startd"})
	before, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.fake.EditMessage("C1", ts(time.Minute), "rollback started", ts(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	after, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 || len(after) != 1 || before[0].ID != after[0].ID {
		t.Fatalf("ids before %v after %v", ids(before), ids(after))
	}
	if after[0].Text != "rollback started" || after[0].Details["edited_ts"] != ts(2*time.Minute) {
		t.Errorf("edited event: %+v", after[0])
	}
	if _, ok := before[0].Details["edited_ts"]; ok || before[0].Text != "rollback startd" {
		t.Errorf("original event: %+v", before[0])
	}
	if !after[0].OccurredAt.Equal(before[0].OccurredAt) {
		t.Errorf("occurred_at moved with the edit")
	}
}

func TestRateLimitRetryAfter(t *testing.T) {
	b := setup(t, nil, nil)
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "x"})
	b.fake.RateLimitNext(2, 7)
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Errorf("%d events", len(events))
	}
	if d := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second}, b.sleeps()); d != "" {
		t.Errorf("requested waits (-want +got):\n%s", d)
	}

	// Retry-After 0 or missing still waits a second.
	if d, ok := RetryAfter(&http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"0"}}}, time.Time{}); !ok || d != time.Second {
		t.Errorf("Retry-After 0: %v %v", d, ok)
	}
	if _, ok := RetryAfter(&http.Response{StatusCode: 200, Header: http.Header{"Retry-After": {"5"}}}, time.Time{}); ok {
		t.Error("a 200 is not a rate limit")
	}
}

func TestRateLimitTooLongIsReturned(t *testing.T) {
	b := setup(t, nil, nil)
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "x"})
	b.fake.RateLimitNext(1, 3600)
	_, err := b.collect(t, window("C1"))
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Hour || rl.Source != "slack" {
		t.Fatalf("got %v, want a *collectors.RateLimitError of 1h", err)
	}
}

func TestServerErrorsRetried(t *testing.T) {
	b := setup(t, nil, nil)
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "x"})
	b.fake.FailNext(2, http.StatusServiceUnavailable)
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Errorf("%d events", len(events))
	}
	if n := len(b.sleeps()); n != 2 {
		t.Errorf("%d backoff waits, want 2", n)
	}
}

func TestLimiterFromConfig(t *testing.T) {
	for _, tc := range []struct {
		rpm  int
		want time.Duration
	}{{1, time.Minute}, {50, 1200 * time.Millisecond}, {0, 1200 * time.Millisecond}} {
		col, err := New(Config{Token: "t", SigningSecret: "s", RequestsPerMinute: tc.rpm}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		lim := col.transport.Limiter
		if lim.Limit() != rate.Every(tc.want) || lim.Burst() != 1 {
			t.Errorf("rpm %d: limit %v burst %d", tc.rpm, lim.Limit(), lim.Burst())
		}
		t0 := time.Unix(1763629200, 0)
		if r := lim.ReserveN(t0, 1); r.DelayFrom(t0) != 0 {
			t.Errorf("rpm %d: first request waits", tc.rpm)
		}
		if r := lim.ReserveN(t0, 1); r.DelayFrom(t0) != tc.want {
			t.Errorf("rpm %d: second request waits %v, want %v", tc.rpm, r.DelayFrom(t0), tc.want)
		}
	}
}

// TestNonMarketplaceLimitsComplete runs against Slack's 2025 limits for
// non-Marketplace apps (1 request a minute, 15 messages a page on history and
// replies) with requests_per_minute 1 and history_page_size 15: every event
// still arrives, after waits of at most a minute each. The fake's clock moves
// only when the collector "sleeps".
func TestNonMarketplaceLimitsComplete(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2025, 11, 21, 0, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var waits []time.Duration
	b := setup(t, func(c *Config) { c.HistoryPageSize = 15; c.RequestsPerMinute = 1 }, func(o *Options) {
		o.SleepFunc = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			now = now.Add(d)
			waits = append(waits, d)
			mu.Unlock()
			return ctx.Err()
		}
	})
	b.fake.NonMarketplace()
	b.fake.SetNow(clock)
	b.fake.AddUser("U1", "alice", "Alice", "")
	for i := 0; i < 40; i++ {
		b.add(t, "C1", slackfake.Message{TS: ts(time.Duration(i) * time.Minute), User: "U1", Text: "m"})
	}
	for i := 0; i < 20; i++ {
		b.add(t, "C1", slackfake.Message{TS: ts(time.Duration(i)*time.Minute + time.Second), User: "U1", Text: "r", ThreadTS: ts(0)})
	}
	events, err := b.collect(t, window("C1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 60 {
		t.Fatalf("%d events, want 60", len(events))
	}
	// history: 3 pages of the window + 1 of the lookback; replies: 2 pages
	// (parent + 14, then 6).
	if h, r := len(okCalls(b.fake, slackfake.MethodHistory)), len(okCalls(b.fake, slackfake.MethodReplies)); h != 4 || r != 2 {
		t.Errorf("served history %d, replies %d; want 4 and 2", h, r)
	}
	if len(waits) == 0 {
		t.Fatal("no rate-limit waits")
	}
	var total time.Duration
	for _, w := range waits {
		if w <= 0 || w > time.Minute {
			t.Errorf("wait %v outside (0, 1m]", w)
		}
		total += w
	}
	// Four history calls need at least three minutes between them.
	if total < 3*time.Minute {
		t.Errorf("waited %v in total, want at least 3m", total)
	}
}

func okCalls(f *slackfake.Server, method string) []slackfake.Call {
	var out []slackfake.Call
	for _, c := range f.CallsFor(method) {
		if c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

func TestOneChannelFailing(t *testing.T) {
	b := setup(t, nil, nil)
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "x"})
	b.add(t, "C2", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "y"})
	events, err := b.collect(t, window("C1", "CMISSING", "C2"))
	if err == nil || !strings.Contains(err.Error(), "channel CMISSING") || !strings.Contains(err.Error(), "channel_not_found") {
		t.Fatalf("error %v should name the channel and the reason", err)
	}
	if strings.Contains(err.Error(), "C1") || strings.Contains(err.Error(), "channel C2") {
		t.Errorf("error names healthy channels: %v", err)
	}
	if d := cmp.Diff([]string{"slack:message:C1:" + ts(time.Minute), "slack:message:C2:" + ts(time.Minute)}, ids(events)); d != "" {
		t.Errorf("events of healthy channels (-want +got):\n%s", d)
	}
}

func TestErrorsNeverHoldTheToken(t *testing.T) {
	b := setup(t, func(c *Config) { c.Token = "xoxb-9999-wrong-secret-token" }, nil)
	b.fake.AddChannel("C1")
	_, err := b.collect(t, window("C1"))
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("error %v, want invalid_auth", err)
	}
	if strings.Contains(err.Error(), "xoxb") || strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks a token: %v", err)
	}
}

func TestEmitErrorStopsAndIsReturnedUnchanged(t *testing.T) {
	b := setup(t, nil, nil)
	for _, ch := range []string{"C1", "C2", "C3"} {
		for i := 0; i < 10; i++ {
			b.add(t, ch, slackfake.Message{TS: ts(time.Duration(i) * time.Minute), User: "U1", Text: "x"})
		}
	}
	stop := errors.New("store is full")
	n := 0
	err := b.col.Collect(context.Background(), window("C1", "C2", "C3"), func(timeline.Event) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("got %v, want the emit error unchanged", err)
	}
	if n != 3 {
		t.Errorf("emit called %d times after failing", n-3)
	}
}

func TestCancelledContext(t *testing.T) {
	b := setup(t, nil, nil)
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "x"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.col.Collect(ctx, window("C1"), func(timeline.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}

	// Cancelled while channels are in flight.
	b.fake.SetLatency(time.Hour)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.col.Collect(ctx, window("C1", "C2"), func(timeline.Event) error { return nil }) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestNoChannelsNoCalls(t *testing.T) {
	b := setup(t, nil, nil)
	events, err := b.collect(t, window())
	if err != nil || len(events) != 0 || b.fake.Requests() != 0 {
		t.Errorf("events %d err %v requests %d", len(events), err, b.fake.Requests())
	}
}

func TestObserverHearsRequests(t *testing.T) {
	var p collectors.Progress
	b := setup(t, nil, func(o *Options) { o.Observer = &p })
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "x"})
	b.fake.RateLimitNext(1, 2)
	if _, err := b.collect(t, window("C1")); err != nil {
		t.Fatal(err)
	}
	snap := p.Snapshot()
	if len(snap) != 1 || snap[0].Source != "slack" || snap[0].Requests != b.fake.Requests() || snap[0].RateLimitWaits != 1 {
		t.Errorf("progress %+v, fake saw %d requests", snap, b.fake.Requests())
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for none
	}{
		{"disabled", Config{}, ""},
		{"enabled", Config{Token: "t", SigningSecret: "s"}, ""},
		{"no signing secret", Config{Token: "t"}, "sources.slack.signing_secret"},
		{"page size too big", Config{HistoryPageSize: 1000}, "sources.slack.history_page_size"},
		{"page size negative", Config{HistoryPageSize: -1}, "sources.slack.history_page_size"},
		{"page size max", Config{HistoryPageSize: 999}, ""},
		{"rpm negative", Config{RequestsPerMinute: -5}, "sources.slack.requests_per_minute"},
		{"bad url", Config{APIURL: "slack.com/api"}, "sources.slack.api_url"},
		{"ftp url", Config{APIURL: "ftp://slack.com/api/"}, "sources.slack.api_url"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	d := Config{APIURL: "http://localhost:9/api"}.WithDefaults()
	if d.APIURL != "http://localhost:9/api/" || d.HistoryPageSize != 100 || d.RequestsPerMinute != 50 {
		t.Errorf("defaults: %+v", d)
	}
	if d := (Config{}).WithDefaults(); d.APIURL != "https://slack.com/api/" {
		t.Errorf("default api_url %q", d.APIURL)
	}
	if (Config{}).Enabled() || !(Config{Token: "t"}).Enabled() {
		t.Error("Enabled")
	}
	if _, err := New(Config{Token: "t"}, Options{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}
