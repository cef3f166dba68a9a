package slackfake_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	slackapi "github.com/slack-go/slack"

	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
)

const token = "xoxb-test-token"

func setup(t *testing.T) (*slackfake.Server, *httptest.Server, *slackapi.Client) {
	t.Helper()
	fake := slackfake.New(token)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	api := slackapi.New(token, slackapi.OptionAPIURL(srv.URL+"/api/"))
	return fake, srv, api
}

func mustAdd(t *testing.T, f *slackfake.Server, ch string, m slackfake.Message) {
	t.Helper()
	if err := f.AddMessage(ch, m); err != nil {
		t.Fatal(err)
	}
}

func tss(msgs []slackapi.Message) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.Timestamp)
	}
	return out
}

func TestHistoryPagesNewestFirstWithCursors(t *testing.T) {
	fake, _, api := setup(t)
	for i := 1; i <= 7; i++ {
		mustAdd(t, fake, "C1", slackfake.Message{TS: slackfake.TS(int64(1700000000+i) * 1e6), User: "U1", Text: "m"})
	}
	params := &slackapi.GetConversationHistoryParameters{
		ChannelID: "C1", Oldest: "1700000002.000000", Latest: "1700000006.000000", Inclusive: true, Limit: 2,
	}
	var pages [][]string
	for {
		res, err := api.GetConversationHistory(params)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, tss(res.Messages))
		if res.HasMore != (res.ResponseMetaData.NextCursor != "") {
			t.Fatalf("has_more %v with next_cursor %q", res.HasMore, res.ResponseMetaData.NextCursor)
		}
		if res.ResponseMetaData.NextCursor == "" {
			break
		}
		raw, err := base64.StdEncoding.DecodeString(res.ResponseMetaData.NextCursor)
		if err != nil || !strings.HasPrefix(string(raw), "next_ts:") {
			t.Fatalf("cursor %q is not like Slack's", res.ResponseMetaData.NextCursor)
		}
		params.Cursor = res.ResponseMetaData.NextCursor
	}
	want := [][]string{
		{"1700000006.000000", "1700000005.000000"},
		{"1700000004.000000", "1700000003.000000"},
		{"1700000002.000000"},
	}
	if d := cmp.Diff(want, pages); d != "" {
		t.Errorf("pages (-want +got):\n%s", d)
	}

	// Exclusive bounds leave the edges out.
	res, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{
		ChannelID: "C1", Oldest: "1700000002.000000", Latest: "1700000006.000000", Limit: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"1700000005.000000", "1700000004.000000", "1700000003.000000"}, tss(res.Messages)); d != "" {
		t.Errorf("exclusive (-want +got):\n%s", d)
	}
}

func TestPageSizeCaps(t *testing.T) {
	fake, _, api := setup(t)
	for i := 0; i < 40; i++ {
		mustAdd(t, fake, "C1", slackfake.Message{TS: slackfake.TS(int64(1700000000+i) * 1e6), User: "U1"})
	}
	get := func(limit int) int {
		res, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1", Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Messages)
	}
	if n := get(0); n != 40 {
		t.Errorf("default limit gave %d messages, want all 40", n)
	}
	fake.SetMaxPageSize(slackfake.NonMarketplacePageSize)
	if n := get(100); n != 15 {
		t.Errorf("non-marketplace cap gave %d messages, want 15", n)
	}
	if n := get(5); n != 5 {
		t.Errorf("limit 5 gave %d", n)
	}
}

func TestRepliesParentFirstThenOldestFirst(t *testing.T) {
	fake, _, api := setup(t)
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1482960137.003543", User: "U061F7AUR", Text: "island"})
	for i, ts := range []string{"1483037603.017503", "1483051909.018632", "1483125339.020269"} {
		mustAdd(t, fake, "C1", slackfake.Message{TS: ts, User: "U061F7AUR", Text: []string{"one island", "two island", "three for the land"}[i], ThreadTS: "1482960137.003543"})
	}
	params := &slackapi.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1482960137.003543", Limit: 2}
	var got []string
	for {
		msgs, more, next, err := api.GetConversationReplies(params)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tss(msgs)...)
		if more != (next != "") {
			t.Fatalf("has_more %v next %q", more, next)
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	want := []string{"1482960137.003543", "1483037603.017503", "1483051909.018632", "1483125339.020269"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("replies (-want +got):\n%s", d)
	}

	// A window keeps the parent first and filters the replies.
	msgs, _, _, err := api.GetConversationReplies(&slackapi.GetConversationRepliesParameters{
		ChannelID: "C1", Timestamp: "1482960137.003543", Oldest: "1483051909.018632", Latest: "1483051909.018632", Inclusive: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"1482960137.003543", "1483051909.018632"}, tss(msgs)); d != "" {
		t.Errorf("windowed replies (-want +got):\n%s", d)
	}
	if msgs[0].ReplyCount != 3 || msgs[0].LatestReply != "1483125339.020269" || msgs[1].ParentUserId != "U061F7AUR" {
		t.Errorf("thread fields: %+v / %+v", msgs[0].Msg, msgs[1].Msg)
	}

	if _, _, _, err := api.GetConversationReplies(&slackapi.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1.000000"}); err == nil || err.Error() != "thread_not_found" {
		t.Errorf("unknown thread: %v", err)
	}
}

func TestAuthErrors(t *testing.T) {
	_, srv, _ := setup(t)
	post := func(form url.Values) map[string]any {
		resp, err := http.PostForm(srv.URL+"/api/conversations.history", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	if got := post(url.Values{"channel": {"C1"}}); got["ok"] != false || got["error"] != "not_authed" {
		t.Errorf("no token: %v", got)
	}
	if got := post(url.Values{"channel": {"C1"}, "token": {"xoxb-wrong"}}); got["ok"] != false || got["error"] != "invalid_auth" {
		t.Errorf("wrong token: %v", got)
	}
	if got := post(url.Values{"channel": {"C404"}, "token": {token}}); got["error"] != "channel_not_found" {
		t.Errorf("unknown channel: %v", got)
	}

	// GET with the token in the query and a Bearer header both work.
	resp, err := http.Get(srv.URL + "/api/auth.test?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"ok":true`) || !strings.Contains(string(b), `"url":"https://acme.slack.com/"`) {
		t.Errorf("auth.test by GET: %s", b)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/auth.test", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("auth.test with bearer: %s", b)
	}
}

func TestBadParameters(t *testing.T) {
	fake, _, api := setup(t)
	fake.AddChannel("C1")
	for _, tc := range []struct {
		params slackapi.GetConversationHistoryParameters
		want   string
	}{
		{slackapi.GetConversationHistoryParameters{ChannelID: "C1", Cursor: "not-a-cursor"}, "invalid_cursor"},
		{slackapi.GetConversationHistoryParameters{ChannelID: "C1", Oldest: "yesterday"}, "invalid_ts_oldest"},
		{slackapi.GetConversationHistoryParameters{ChannelID: "C1", Latest: "1.2.3"}, "invalid_ts_latest"},
	} {
		_, err := api.GetConversationHistory(&tc.params)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %s", tc.params, err, tc.want)
		}
	}
}

func TestUsersBotsAndAuth(t *testing.T) {
	fake, _, api := setup(t)
	fake.AddUser("U1", "alice", "Alice Ng", "alice@example.com")
	fake.AddBot("B1", "deploybot")
	u, err := api.GetUserInfo("U1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.Profile.DisplayName != "Alice Ng" || u.Profile.Email != "alice@example.com" {
		t.Errorf("user: %+v", u)
	}
	if _, err := api.GetUserInfo("U404"); err == nil || err.Error() != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
	b, err := api.GetBotInfo(slackapi.GetBotInfoParameters{Bot: "B1"})
	if err != nil || b.Name != "deploybot" {
		t.Errorf("bot: %+v %v", b, err)
	}
	if _, err := api.GetBotInfo(slackapi.GetBotInfoParameters{Bot: "B404"}); err == nil || err.Error() != "bot_not_found" {
		t.Errorf("unknown bot: %v", err)
	}
	fake.SetTeam(slackfake.Team{ID: "T9", Name: "Umbrella", Domain: "umbrella"})
	at, err := api.AuthTest()
	if err != nil || at.URL != "https://umbrella.slack.com/" || at.TeamID != "T9" {
		t.Errorf("auth.test: %+v %v", at, err)
	}
}

func TestKnobs(t *testing.T) {
	fake, _, api := setup(t)
	fake.AddChannel("C1")
	fake.RateLimitNext(1, 7)
	_, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1"})
	var rl *slackapi.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Errorf("RateLimitNext: %v", err)
	}
	fake.FailNext(1, http.StatusServiceUnavailable)
	_, err = api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1"})
	var sc slackapi.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Errorf("FailNext: %v", err)
	}
	if _, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1", Limit: 3}); err != nil {
		t.Errorf("after knobs: %v", err)
	}
	if got := fake.RequestsFor(slackfake.MethodHistory); got != 3 {
		t.Errorf("history requests = %d, want 3", got)
	}
	calls := fake.CallsFor(slackfake.MethodHistory)
	if len(calls) != 3 || calls[2].Form["limit"][0] != "3" || calls[0].Status != 429 || calls[1].Status != 503 {
		t.Errorf("calls: %+v", calls)
	}
	for _, c := range calls {
		if _, ok := c.Form["token"]; ok {
			t.Errorf("call log keeps the token: %+v", c)
		}
	}

	// Only the deadline can end a request that waits an hour: no race.
	fake.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: "C1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency: %v", err)
	}
}

func TestPerMinuteLimit(t *testing.T) {
	fake, _, api := setup(t)
	var mu sync.Mutex
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	fake.SetNow(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fake.NonMarketplace()
	fake.AddChannel("C1")
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1700000000.000001", User: "U1"})
	hist := func() error {
		_, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1"})
		return err
	}
	if err := hist(); err != nil {
		t.Fatal(err)
	}
	// replies has its own budget
	if _, _, _, err := api.GetConversationReplies(&slackapi.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1700000000.000001"}); err != nil {
		t.Fatal(err)
	}
	advance(20 * time.Second)
	var rl *slackapi.RateLimitedError
	if err := hist(); !errors.As(err, &rl) || rl.RetryAfter != 40*time.Second {
		t.Fatalf("second call in the minute: %v", err)
	}
	advance(40 * time.Second)
	if err := hist(); err != nil {
		t.Fatalf("after the minute: %v", err)
	}
	// users.info is not limited
	if _, err := api.GetUserInfo("U1"); err == nil || err.Error() != "user_not_found" {
		t.Fatalf("users.info: %v", err)
	}
}

// TestWireShape checks the fake's JSON against Slack's documented examples
// (testdata/docs_*.json, verbatim from Slack's OpenAPI spec): the same
// envelope keys and, for each message, at least the documented keys.
func TestWireShape(t *testing.T) {
	fake, srv, _ := setup(t)
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1482960137.003543", User: "U061F7AUR", Text: "island"})
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1483037603.017503", User: "U061F7AUR", Text: "one island", ThreadTS: "1482960137.003543"})
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1512085950.000216", User: "U012AB3CDE", Text: "punny"})
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1512104434.000490", User: "U061F7AUR", Text: "shoes"})

	check := func(docFile, method string, form url.Values, ignoreMsgKeys ...string) {
		t.Helper()
		var doc map[string]any
		b, err := os.ReadFile("testdata/" + docFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		form.Set("token", token)
		resp, err := http.PostForm(srv.URL+"/api/"+method, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(keys(doc), keys(got)); d != "" {
			t.Errorf("%s envelope keys (-doc +fake):\n%s", method, d)
		}
		gm := got["messages"].([]any)
		for i, m := range doc["messages"].([]any) {
			if i >= len(gm) {
				break
			}
			have := map[string]bool{}
			for _, k := range keys(gm[i].(map[string]any)) {
				have[k] = true
			}
			for _, k := range keys(m.(map[string]any)) {
				if !have[k] && !contains(ignoreMsgKeys, k) {
					t.Errorf("%s message %d lacks documented key %q", method, i, k)
				}
			}
		}
	}
	check("docs_conversations_history.json", "conversations.history",
		url.Values{"channel": {"C1"}, "oldest": {"1500000000"}, "limit": {"2"}})
	// last_read, subscribed and unread_count are given to user tokens only.
	check("docs_conversations_replies.json", "conversations.replies",
		url.Values{"channel": {"C1"}, "ts": {"1482960137.003543"}, "limit": {"2"}},
		"last_read", "subscribed", "unread_count")
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSeedingErrorsAndEdit(t *testing.T) {
	fake, _, api := setup(t)
	if err := fake.AddMessage("C1", slackfake.Message{TS: "bad"}); err == nil {
		t.Error("malformed ts accepted")
	}
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1700000000.000100", User: "U1", Text: "first"})
	if err := fake.AddMessage("C1", slackfake.Message{TS: "1700000000.000100"}); err == nil {
		t.Error("duplicate ts accepted")
	}
	if err := fake.AddMessage("C1", slackfake.Message{TS: "1700000001.000000", ThreadTS: "1600000000.000000"}); err == nil {
		t.Error("reply to an unknown parent accepted")
	}
	// Out of order seeding still sorts.
	mustAdd(t, fake, "C1", slackfake.Message{TS: "1699999999.000000", User: "U1", Text: "zeroth"})
	if err := fake.EditMessage("C1", "1700000000.000100", "first, edited", "1700000500.000000"); err != nil {
		t.Fatal(err)
	}
	res, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"1700000000.000100", "1699999999.000000"}, tss(res.Messages)); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
	if m := res.Messages[0]; m.Text != "first, edited" || m.Edited == nil || m.Edited.Timestamp != "1700000500.000000" {
		t.Errorf("edited: %+v", m.Msg)
	}
}

func BenchmarkHistoryPage(b *testing.B) {
	fake := slackfake.New(token)
	for i := 0; i < 50000; i++ {
		if err := fake.AddMessage("C1", slackfake.Message{TS: slackfake.TS(int64(1700000000+i) * 1e6), User: "U1", Text: "hello"}); err != nil {
			b.Fatal(err)
		}
	}
	form := url.Values{"token": {token}, "channel": {"C1"}, "limit": {"200"}, "oldest": {"1700020000"}, "latest": {"1700030000"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/conversations.history", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// TestDeleteMessage: deletions look as in Slack: a message or reply
// vanishes; a parent with replies stays as a hidden tombstone, which goes
// with its last reply.
func TestDeleteMessage(t *testing.T) {
	fake, _, api := setup(t)
	ts := func(s int) string { return slackfake.TS(int64(1700000000+s) * 1e6) }
	mustAdd(t, fake, "C1", slackfake.Message{TS: ts(1), User: "U1", Text: "plain"})
	mustAdd(t, fake, "C1", slackfake.Message{TS: ts(2), User: "U1", Text: "parent"})
	mustAdd(t, fake, "C1", slackfake.Message{TS: ts(3), User: "U2", Text: "reply a", ThreadTS: ts(2)})
	mustAdd(t, fake, "C1", slackfake.Message{TS: ts(4), User: "U2", Text: "reply b", ThreadTS: ts(2), Broadcast: true})
	for _, d := range []string{ts(1), ts(2), ts(3)} {
		if err := fake.DeleteMessage("C1", d); err != nil {
			t.Fatal(err)
		}
	}
	history := func() []slackapi.Message {
		t.Helper()
		res, err := api.GetConversationHistory(&slackapi.GetConversationHistoryParameters{ChannelID: "C1"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Messages
	}
	h := history()
	if got := tss(h); !cmp.Equal(got, []string{ts(4), ts(2)}) {
		t.Fatalf("history %v, want the broadcast reply and the tombstone", got)
	}
	if m := h[1].Msg; m.SubType != "tombstone" || !m.Hidden || m.Text != "This message was deleted." || m.User != "USLACKBOT" || m.ReplyCount != 1 {
		t.Errorf("tombstone %+v", m)
	}
	replies, _, _, err := api.GetConversationReplies(&slackapi.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: ts(2)})
	if err != nil || !cmp.Equal(tss(replies), []string{ts(2), ts(4)}) {
		t.Fatalf("replies %v %v, want the tombstone and reply b", tss(replies), err)
	}
	if err := fake.DeleteMessage("C1", ts(4)); err != nil {
		t.Fatal(err)
	}
	if got := tss(history()); len(got) != 0 {
		t.Errorf("history %v after the last reply went, want empty", got)
	}
	if err := fake.DeleteMessage("C1", ts(4)); err == nil {
		t.Error("deleting a deleted message succeeded")
	}
}
