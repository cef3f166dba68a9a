package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// jClock is the scenario's clock: the server, the Slack fake's per-minute
// limit and the collector all read it, and it moves only when the test
// says so or the collector sleeps (a rate-limit wait).
type jClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *jClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func (c *jClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

const jChannel = "C0CHECKOUT"

// The scenario's incident: created 10:00, resolved 11:10; its window
// (2h before, 30m after) is 08:00–11:40.
var (
	jCreated  = time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	jResolved = time.Date(2025, 11, 20, 11, 10, 0, 0, time.UTC)
)

// journalScenario is a busy incident channel under Slack's 2025 limits for
// non-Marketplace apps (15 messages a page, 1 request a minute on history
// and replies): every messages top-level messages inside the window from
// 08:00 to 11:05, a thread every threadEvery messages with three replies, a
// few joins, a week of quiet chatter before the window and a thread begun
// before the window and answered inside it.
type journalScenario struct {
	every       time.Duration
	threadEvery int
}

// journalRun is what one run of the scenario measured.
type journalRun struct {
	// virtual is the time from incident.resolved until the timeline is
	// prepared on the scenario's clock (rate-limit waits included); wall is
	// the real time the same took.
	virtual, wall time.Duration
	// history and replies count the upstream calls the collection was
	// served; refused counts those Slack refused for its rate limit.
	history, replies, refused int
	events                    []timeline.Event
}

func (sc journalScenario) seed(t testing.TB, f *slackfake.Server) {
	t.Helper()
	f.SetTeam(slackfake.Team{ID: "T0ACME", Name: "Acme", Domain: "acme"})
	f.AddUserProfile(slackfake.User{ID: "U0ANA", Name: "ana", RealName: "Ana Lima", DisplayName: "ana", Email: "ana@acme.example"})
	f.AddUserProfile(slackfake.User{ID: "U0BEN", Name: "ben", RealName: "Ben Ode", DisplayName: "Ben", Email: "ben@acme.example"})
	f.AddChannel(jChannel)
	add := func(m slackfake.Message) {
		t.Helper()
		if err := f.AddMessage(jChannel, m); err != nil {
			t.Fatal(err)
		}
	}
	start := jCreated.Add(-2 * time.Hour)
	for at := start.Add(-7 * 24 * time.Hour).Add(time.Minute); at.Before(start.Add(-time.Hour)); at = at.Add(110 * time.Minute) {
		add(slackfake.Message{TS: slackfake.TimeTS(at), User: "U0BEN", Text: "quiet-week chatter"})
	}
	oldParent := slackfake.TimeTS(start.Add(-40 * time.Minute))
	add(slackfake.Message{TS: oldParent, User: "U0ANA", Text: "deploy v2.3 going out"})
	add(slackfake.Message{TS: slackfake.TimeTS(start.Add(30 * time.Minute)), User: "U0BEN", Text: "is this the deploy?", ThreadTS: oldParent})
	for i := 0; i < 3; i++ {
		add(slackfake.Message{TS: slackfake.TimeTS(start.Add(time.Duration(i)*time.Hour + 7*time.Second)), User: "U0BEN",
			Subtype: "channel_join", Text: "<@U0BEN> has joined the channel"})
	}
	i := 0
	for at := start.Add(10 * time.Second); at.Before(jCreated.Add(65 * time.Minute)); at = at.Add(sc.every) {
		user := []string{"U0ANA", "U0BEN"}[i%2]
		ts := slackfake.TimeTS(at)
		add(slackfake.Message{TS: ts, User: user, Text: fmt.Sprintf("update %d from <@%s>", i, user)})
		if i%sc.threadEvery == 0 {
			for r := 1; r <= 3; r++ {
				add(slackfake.Message{TS: slackfake.TimeTS(at.Add(time.Duration(r) * 3 * time.Second)), User: "U0ANA",
					Text: fmt.Sprintf("reply %d to %d", r, i), ThreadTS: ts})
			}
		}
		i++
	}
}

// wireMessages returns every message of the channel as Slack's history and
// replies send it (what an Events API delivery carries), oldest first.
func wireMessages(t testing.TB, base string) []json.RawMessage {
	t.Helper()
	top := slackMessages(t, base, "conversations.history", "channel", jChannel, "limit", "999")
	all := append([]json.RawMessage(nil), top...)
	for _, m := range top {
		var v struct {
			TS         string `json:"ts"`
			ReplyCount int    `json:"reply_count"`
		}
		mustDo(t, json.Unmarshal(m, &v))
		if v.ReplyCount > 0 {
			all = append(all, slackMessages(t, base, "conversations.replies", "channel", jChannel, "ts", v.TS, "limit", "999")[1:]...)
		}
	}
	slices.SortFunc(all, func(a, b json.RawMessage) int { return slackTime(t, a).Compare(slackTime(t, b)) })
	return all
}

func slackTime(t testing.TB, m json.RawMessage) time.Time {
	t.Helper()
	var v struct {
		TS string `json:"ts"`
	}
	mustDo(t, json.Unmarshal(m, &v))
	at, err := slack.ParseTS(v.TS)
	mustDo(t, err)
	return at
}

// run plays the scenario. With live set, the serve process's receiver is
// up from 07:30: it heartbeats every 30 s and each message is delivered to
// POST /webhooks/slack, signed, as it is posted; the channel is journaled.
// Without it, nothing is delivered live. Then incident.resolved arrives and
// the collection runs as the job would (plan, then every source), with the
// collector pointed at the fake under the 2025 limits.
func (sc journalScenario) run(t testing.TB, live bool) journalRun {
	t.Helper()
	ctx := context.Background()
	clock := &jClock{t: jCreated.Add(-150 * time.Minute)}
	fake := slackfake.New("xoxb-test")
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	sc.seed(t, fake)
	wire := wireMessages(t, fakeSrv.URL)
	fake.SetNow(clock.Now)
	fake.NonMarketplace()

	b := setupWebhooks(t, func(s *api.Server) { s.NowFunc = clock.Now })
	col, err := slack.New(slack.Config{Token: "xoxb-test", APIURL: fakeSrv.URL + "/api/", SigningSecret: whSlackSecret,
		HistoryPageSize: 15, RequestsPerMinute: 1},
		slack.Options{
			ClientOptions: collectors.ClientOptions{Coverage: b.store, NowFunc: clock.Now, SleepFunc: clock.Sleep},
			// rate.Limiter waits on the real clock; the fake's 429s and
			// Retry-After pace the collector on the scenario's clock.
			Limiter: rate.NewLimiter(rate.Inf, 1),
		})
	mustDo(t, err)
	slackReceiver(b.server).Users = col.NewUserResolver()
	slackReceiver(b.server).WorkspaceFunc = col.WorkspaceURL
	if live {
		b.server.Webhooks.JournalScopeFunc = func(source, scope string) bool { return source == "slack" && scope == jChannel }
		b.server.Webhooks.BreakCoverageFunc = b.store.BreakCoverage
	}

	post := func(path string, body []byte, headers ...string) {
		t.Helper()
		if code, ack := b.post(t, path, body, headers...); code != http.StatusOK {
			t.Fatalf("%s: %d %v", path, code, ack)
		}
	}
	if live {
		// Capture starts at 07:30: what was posted before is not delivered.
		from := clock.Now().Add(30 * time.Minute)
		next := 0
		for next < len(wire) && slackTime(t, wire[next]).Before(from) {
			next++
		}
		for at := from; !at.After(jResolved); at = at.Add(30 * time.Second) {
			for ; next < len(wire) && !slackTime(t, wire[next]).After(at); next++ {
				clock.Set(slackTime(t, wire[next]).Add(time.Second))
				body := slackEvent(t, fmt.Sprint("Ev", next), jChannel, wire[next])
				ts := strconv.FormatInt(clock.Now().Unix(), 10)
				post("/webhooks/slack", body, "X-Slack-Request-Timestamp", ts, "X-Slack-Signature",
					"v0="+mac(whSlackSecret, []byte("v0:"+ts+":"), body))
			}
			clock.Set(at)
			mustDo(t, b.store.Heartbeat(ctx, timeline.SourceSlack, []string{jChannel}, at, 4*time.Minute))
		}
	}

	clock.Set(jResolved.Add(5 * time.Second))
	resolved := clock.Now()
	fake.ResetCounters()
	wallStart := time.Now()
	body := fmt.Appendf(nil, `{"event":{"id":"01RESOLVED","event_type":"incident.resolved","resource_type":"incident",
		"occurred_at":%q,"data":{"id":"QJOURNAL1","type":"incident","title":"Checkout API 5xx","created_at":%q,
		"urgency":"high","service":{"id":"PNE3JZM","type":"service_reference"}}}}`,
		jResolved.Format(time.RFC3339), jCreated.Format(time.RFC3339))
	post("/webhooks/pagerduty", body, pdHeaders(body, "01RESOLVED")...)

	reg := &collectors.Registry{}
	reg.Register(col)
	planner := &collectors.Planner{Registry: reg, Store: b.store, Before: 2 * time.Hour, After: 30 * time.Minute, NowFunc: clock.Now,
		ScopeFunc: b.server.Webhooks.ScopeFunc}
	_, w, err := planner.Plan(ctx, timeline.CollectRequest{IncidentID: "QJOURNAL1"})
	mustDo(t, err)
	res := (&collectors.Runner{Registry: reg, Store: b.store, NowFunc: clock.Now}).Run(ctx, w)
	mustDo(t, res.Err())
	out := journalRun{virtual: clock.Now().Sub(resolved), wall: time.Since(wallStart),
		history: served(fake, slackfake.MethodHistory), replies: served(fake, slackfake.MethodReplies),
		refused: fake.Requests() - served(fake, "")}
	for _, e := range b.timeline(t, "QJOURNAL1") {
		if e.Source == timeline.SourceSlack {
			out.events = append(out.events, e)
		}
	}
	return out
}

// served counts the calls of method ("" for any) that the fake answered
// 200.
func served(f *slackfake.Server, method string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Status == http.StatusOK && (method == "" || c.Method == method) {
			n++
		}
	}
	return n
}

// TestSlackLimitedIncidentPreparedFromJournal: under Slack's 2025 limits
// for non-Marketplace apps, an incident whose messages were delivered live
// (before the incident existed: only incident.resolved declares it here) is
// prepared on incident.resolved with no history or replies call at all,
// and its timeline is the one a full, paced collection gives: the same ids,
// content and order, nothing twice. With live capture off the collection
// still completes, paced.
func TestSlackLimitedIncidentPreparedFromJournal(t *testing.T) {
	t.Parallel()
	sc := journalScenario{every: time.Minute, threadEvery: 12}
	off := sc.run(t, false)
	on := sc.run(t, true)
	t.Logf("live capture on: ready %v after incident.resolved on the scenario's clock (%v real), %d history and %d replies calls",
		on.virtual, on.wall.Round(time.Millisecond), on.history, on.replies)
	t.Logf("live capture off: ready %v after incident.resolved (%v real), %d history and %d replies calls served, %d refused for the rate limit",
		off.virtual, off.wall.Round(time.Millisecond), off.history, off.replies, off.refused)
	if len(off.events) < 200 || off.history < 10 {
		t.Fatalf("the reference collection found %d events in %d history calls: the scenario is too small", len(off.events), off.history)
	}
	if on.history != 0 || on.replies != 0 || on.refused != 0 {
		t.Errorf("with the channel delivered live the collection made %d history and %d replies calls, want none", on.history, on.replies)
	}
	ignore := cmpopts.IgnoreFields(timeline.Event{}, "Seq")
	if diff := cmp.Diff(off.events, on.events, ignore); diff != "" {
		t.Errorf("timeline prepared from the journal differs from a full collection (-collected +journal):\n%s", diff)
	}
}

// BenchmarkLiveJournal measures the target: a busy incident channel
// under Slack's 2025 limits (15 messages a page, 1 request a minute),
// delivered live or not. It reports the time from incident.resolved to the
// prepared timeline on the scenario's clock (rate-limit waits are sleeps the
// clock takes, so the run does not wait them out) with live capture on and
// off, and the collection's upstream calls.
//
//	go test ./api -run '^$' -bench LiveJournal -benchtime 1x
func BenchmarkLiveJournal(b *testing.B) {
	sc := journalScenario{every: 20 * time.Second, threadEvery: 8}
	for range b.N {
		off := sc.run(b, false)
		on := sc.run(b, true)
		if len(on.events) != len(off.events) {
			b.Fatalf("%d events from the journal, %d collected", len(on.events), len(off.events))
		}
		b.ReportMetric(on.virtual.Seconds(), "s-ready-live")
		b.ReportMetric(float64(on.wall.Milliseconds()), "ms-real-live")
		b.ReportMetric(float64(on.history+on.replies), "calls-live")
		b.ReportMetric(off.virtual.Seconds(), "s-ready-paced")
		b.ReportMetric(float64(off.history+off.replies), "calls-paced")
		b.Logf("%d Slack events; live: ready %v after incident.resolved (%v real), %d history + %d replies calls; "+
			"live capture off: ready %v, %d history + %d replies calls served (%d refused for the rate limit)",
			len(on.events), on.virtual, on.wall.Round(time.Millisecond), on.history, on.replies, off.virtual, off.history, off.replies, off.refused)
	}
}

// TestLiveJournalThroughTheReceivers: Slack messages and GitHub pushes of
// journaled scopes are accepted and kept before any incident covers them,
// and join the incident when it is declared; a scope that is not journaled
// is ignored as before; a delivery the store cannot record is refused with
// 503 and cuts its stretch out of the scope's coverage, so that
// collections read it upstream.
func TestLiveJournalThroughTheReceivers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWebhooks(t, func(s *api.Server) {
		s.Webhooks.JournalScopeFunc = func(source, scope string) bool {
			return (source == "slack" && scope == jChannel) || (source == "github" && scope == "acme/checkout-api")
		}
	})
	b.server.Webhooks.BreakCoverageFunc = b.store.BreakCoverage

	msg := func(at time.Time, text string) json.RawMessage {
		return fmt.Appendf(nil, `{"type":"message","user":"U0ANA","text":%q,"ts":%q}`, text, slackfake.TimeTS(at))
	}
	slackPost := func(id string, m json.RawMessage, channel string) (int, map[string]any) {
		t.Helper()
		body := slackEvent(t, id, channel, m)
		return b.post(t, "/webhooks/slack", body, b.slackHeaders(body)...)
	}
	inWindow := t0.Add(10 * time.Minute)
	if code, ack := slackPost("Ev1", msg(inWindow, "checkout 500s"), jChannel); code != 200 || ack["status"] != "accepted" {
		t.Fatalf("journaled message before any incident: %d %v, want accepted", code, ack)
	}
	if code, ack := slackPost("Ev1", msg(inWindow, "checkout 500s"), jChannel); code != 200 || ack["status"] != "duplicate" {
		t.Errorf("the same delivery again: %d %v, want duplicate", code, ack)
	}
	if code, ack := slackPost("Ev2", msg(inWindow, "elsewhere"), "C0RANDOM"); code != 200 || ack["status"] != "ignored" {
		t.Errorf("a channel that is not journaled: %d %v, want ignored", code, ack)
	}
	push := fmt.Appendf(nil, `{"ref":"refs/heads/main","repository":{"full_name":"acme/checkout-api"},"commits":[{"id":"7638417db6d59f3c431d3e1f261cc637155684cd",
		"message":"Raise the pool size","timestamp":%q,"url":"https://github.com/acme/checkout-api/commit/7638417",
		"author":{"name":"Ana Lima","email":"ana@acme.example","username":"ana"},"committer":{"name":"Ana Lima","email":"ana@acme.example","username":"ana"}}]}`,
		t0.Add(-30*time.Minute).Format(time.RFC3339))
	if code, ack := b.post(t, "/webhooks/github", push, ghHeaders(push, "push", "gh-1")...); code != 200 || ack["status"] != "accepted" {
		t.Fatalf("journaled push before any incident: %d %v, want accepted", code, ack)
	}

	hook := fmt.Appendf(nil, `{"id":"INC-J","started_at":%q,"github_repos":["acme/checkout-api"],"slack_channels":[%q]}`,
		t0.Format(time.RFC3339), jChannel)
	if code, ack := b.post(t, "/webhooks/incident", hook, genericHeaders(hook)...); code != 200 {
		t.Fatalf("declaring the incident: %d %v", code, ack)
	}
	want := []string{
		"github:commit:acme/checkout-api:7638417db6d59f3c431d3e1f261cc637155684cd",
		"generic:incident:INC-J:opened",
		"slack:message:" + jChannel + ":" + slackfake.TimeTS(inWindow),
	}
	if diff := cmp.Diff(want, ids(b.timeline(t, "INC-J"))); diff != "" {
		t.Fatalf("the declared incident's timeline (-want +got):\n%s", diff)
	}
	// Later live messages join the open incident directly.
	later := t0.Add(20 * time.Minute)
	if code, ack := slackPost("Ev3", msg(later, "rolling back"), jChannel); code != 200 || ack["events"] != float64(1) {
		t.Errorf("live message for the open incident: %d %v, want one event", code, ack)
	}

	// Coverage: capture ran from t0-1h; then the store goes away and a
	// delivery is refused.
	for at := t0.Add(-time.Hour); !at.After(b.now); at = at.Add(30 * time.Second) {
		mustDo(t, b.store.Heartbeat(ctx, timeline.SourceSlack, []string{jChannel}, at, 4*time.Minute))
	}
	proxy := startProxy(t)
	cfg, err := pgxpool.ParseConfig(b.schema.URL)
	mustDo(t, err)
	host, port, _ := net.SplitHostPort(proxy.addr)
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(p), nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	mustDo(t, err)
	t.Cleanup(pool.Close)
	viaProxy := setupWebhooksOn(t, b, newDeliveries(t, pool))
	proxy.down()
	refusedAt := b.now.Add(-10 * time.Minute)
	body := slackEvent(t, "Ev4", jChannel, msg(refusedAt, "lost?"))
	if code, ack := viaProxy.post(t, "/webhooks/slack", body, b.slackHeaders(body)...); code != http.StatusServiceUnavailable {
		t.Fatalf("delivery with the store down: %d %v, want 503", code, ack)
	}
	spans, err := b.store.Covered(ctx, timeline.SourceSlack, jChannel, t0, b.now, b.now)
	mustDo(t, err)
	gaps := timeline.Gaps(t0, b.now, spans)
	if len(gaps) != 1 || gaps[0].From.After(refusedAt) || gaps[0].To.Before(b.now) {
		t.Errorf("coverage after the refusal: spans %v, gaps %v; want a gap from before %v to now", spans, gaps, refusedAt)
	}
}

// A deletion delivered live reaches a journaled channel's incidents too: the
// journal forgets the message, and a covering incident gets its tombstone,
// whether the message joined it live or from the journal.
func TestJournaledDeletionLeavesTheIncident(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, func(s *api.Server) {
		s.Webhooks.JournalScopeFunc = func(source, scope string) bool { return source == "slack" && scope == jChannel }
	})
	msg := func(at time.Time, text string) json.RawMessage {
		return fmt.Appendf(nil, `{"type":"message","user":"U0ANA","text":%q,"ts":%q}`, text, slackfake.TimeTS(at))
	}
	deleted := func(at time.Time) json.RawMessage {
		ts := slackfake.TimeTS(at)
		return fmt.Appendf(nil, `{"type":"message","subtype":"message_deleted","hidden":true,"deleted_ts":%q,"channel":%q,"ts":%q,"event_ts":%q,"previous_message":{"type":"message","user":"U0ANA","text":"secret","ts":%q}}`,
			ts, jChannel, slackfake.TimeTS(b.now), slackfake.TimeTS(b.now), ts)
	}
	post := func(id string, m json.RawMessage) {
		t.Helper()
		body := slackEvent(t, id, jChannel, m)
		if code, ack := b.post(t, "/webhooks/slack", body, b.slackHeaders(body)...); code != 200 {
			t.Fatalf("delivery %s: %d %v", id, code, ack)
		}
	}
	early, later := t0.Add(5*time.Minute), t0.Add(10*time.Minute)
	post("EvA", msg(early, "token xoxb-pasted-by-mistake"))
	post("EvB", msg(later, "checkout 500s"))
	post("EvC", deleted(early)) // deleted before any incident covers it

	hook := fmt.Appendf(nil, `{"id":"INC-D","started_at":%q,"slack_channels":[%q]}`, t0.Format(time.RFC3339), jChannel)
	if code, ack := b.post(t, "/webhooks/incident", hook, genericHeaders(hook)...); code != 200 {
		t.Fatalf("declaring the incident: %d %v", code, ack)
	}
	want := []string{"generic:incident:INC-D:opened", "slack:message:" + jChannel + ":" + slackfake.TimeTS(later)}
	if diff := cmp.Diff(want, ids(b.timeline(t, "INC-D"))); diff != "" {
		t.Fatalf("timeline after a deletion before the incident (-want +got):\n%s", diff)
	}
	post("EvD", deleted(later)) // deleted while the incident holds it
	if diff := cmp.Diff(want[:1], ids(b.timeline(t, "INC-D"))); diff != "" {
		t.Errorf("timeline after a deletion of a joined message (-want +got):\n%s", diff)
	}
	var n int
	mustDo(t, b.schema.Pool.QueryRow(context.Background(), `SELECT count(*) FROM live_journal WHERE text LIKE '%xoxb%' OR text = 'checkout 500s'`).Scan(&n))
	if n != 0 {
		t.Errorf("the journal still holds %d deleted messages", n)
	}
}
