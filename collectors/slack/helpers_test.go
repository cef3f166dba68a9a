package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testToken = "xoxb-1111-secret-test-token"

// The incident window of every test: 2025-11-20 09:00–11:00 UTC.
var (
	winStart = time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	winEnd   = time.Date(2025, 11, 20, 11, 0, 0, 0, time.UTC)
)

func window(channels ...string) timeline.Window {
	return timeline.Window{IncidentID: "INC1", Start: winStart, End: winEnd, Channels: channels}
}

// ts is the Slack timestamp of the window start plus d.
func ts(d time.Duration) string { return FormatTS(winStart.Add(d)) }

type bundle struct {
	fake *slackfake.Server
	srv  *httptest.Server
	col  *Collector

	mu    sync.Mutex
	waits []time.Duration
}

func (b *bundle) sleeps() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.waits...)
}

// setup starts a fake and a collector over it whose waits are instant and
// recorded, with an unlimited limiter (a rate.Limiter waits on the real
// clock). cfgFn and optFn adjust the defaults.
func setup(t *testing.T, cfgFn func(*Config), optFn func(*Options)) *bundle {
	t.Helper()
	b := &bundle{fake: slackfake.New(testToken)}
	b.srv = httptest.NewServer(b.fake)
	t.Cleanup(b.srv.Close)
	cfg := Config{Token: testToken, APIURL: b.srv.URL + "/api/", SigningSecret: "signing-secret"}
	if cfgFn != nil {
		cfgFn(&cfg)
	}
	opts := Options{
		ClientOptions: collectors.ClientOptions{
			SleepFunc: func(ctx context.Context, d time.Duration) error {
				b.mu.Lock()
				b.waits = append(b.waits, d)
				b.mu.Unlock()
				return ctx.Err()
			},
		},
		Limiter: rate.NewLimiter(rate.Inf, 1),
	}
	if optFn != nil {
		optFn(&opts)
	}
	col, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.col = col
	return b
}

func (b *bundle) add(t *testing.T, ch string, m slackfake.Message) {
	t.Helper()
	if err := b.fake.AddMessage(ch, m); err != nil {
		t.Fatal(err)
	}
}

// collect runs Collect and returns the events in (occurred_at, id) order.
func (b *bundle) collect(t *testing.T, w timeline.Window) ([]timeline.Event, error) {
	t.Helper()
	var events []timeline.Event
	err := b.col.Collect(context.Background(), w, func(e timeline.Event) error {
		events = append(events, e)
		return nil
	})
	sortEvents(events)
	return events, err
}

func sortEvents(events []timeline.Event) { slices.SortFunc(events, timeline.Compare) }

func ids(events []timeline.Event) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func byID(events []timeline.Event) map[string]timeline.Event {
	m := map[string]timeline.Event{}
	for _, e := range events {
		m[e.ID] = e
	}
	return m
}

// goldenEvent is an event as PRODUCT.md §3 writes it.
type goldenEvent struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	Kind       string          `json:"kind"`
	OccurredAt string          `json:"occurred_at"`
	Actor      *timeline.Actor `json:"actor"`
	Title      string          `json:"title"`
	Text       string          `json:"text"`
	URL        string          `json:"url"`
	Details    map[string]any  `json:"details"`
}

func checkGolden(t *testing.T, name string, events []timeline.Event) {
	t.Helper()
	out := make([]goldenEvent, 0, len(events))
	for _, e := range events {
		out = append(out, goldenEvent{
			ID: e.ID, Source: e.Source, Kind: e.Kind, OccurredAt: e.OccurredAt.Format(time.RFC3339Nano),
			Actor: e.Actor, Title: e.Title, Text: e.Text, URL: e.URL, Details: e.Details,
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", path, d)
	}
}

// seedIncidentChannel fills C0CHECKOUT with a realistic incident channel
// around the window (see TestGoldenIncidentChannel for what must come out).
func seedIncidentChannel(t *testing.T, b *bundle) {
	t.Helper()
	f := b.fake
	f.AddUser("U0ALICE", "alice", "Alice Ng", "alice@acme.test")
	f.AddUserProfile(slackfake.User{ID: "U0BOB", Name: "bob", RealName: "Bob Okafor", Email: "bob@acme.test"})
	f.AddUserProfile(slackfake.User{ID: "U0CAROL", Name: "carol", RealName: "Carol Smith", DisplayName: "carol.s", Email: "carol@acme.test"})
	f.AddUserProfile(slackfake.User{ID: "U0DAVE", Name: "dave", Email: "dave@acme.test"})
	f.AddBot("B0PAGERDUTY", "PagerDuty")
	f.SetChannelName("C0CHECKOUT", "checkout")

	const ch = "C0CHECKOUT"
	h := time.Hour
	m := time.Minute
	// Before the window: a deploy thread that someone answers inside it.
	b.add(t, ch, slackfake.Message{TS: ts(-h), User: "U0ALICE", Text: "deploy of checkout-api v2.3.1 starting"})
	b.add(t, ch, slackfake.Message{TS: ts(-55 * m), User: "U0BOB", Text: "lgtm", ThreadTS: ts(-h)})
	b.add(t, ch, slackfake.Message{TS: ts(-20 * m), User: "U0BOB", Text: "lunch?"})
	b.add(t, ch, slackfake.Message{TS: ts(10*m + 5*time.Second), User: "U0CAROL", Text: "this deploy is the likely cause, see the incident", ThreadTS: ts(-h)})
	// Inside the window.
	b.add(t, ch, slackfake.Message{TS: ts(0), BotID: "B0PAGERDUTY",
		Text: "Triggered: <https://acme.pagerduty.com/incidents/Q1ABC|#4821 Checkout API 5xx rate above 5%>"})
	b.add(t, ch, slackfake.Message{TS: ts(m + 200*time.Microsecond), User: "U0DAVE", Subtype: "channel_join", Text: "<@U0DAVE> has joined the channel"})
	b.add(t, ch, slackfake.Message{TS: ts(3*m + 300*time.Microsecond), User: "U0ALICE",
		Text:      "<@U0BOB> <@U0CAROL|carol> seeing 502s from checkout, looking",
		Reactions: []slackfake.Reaction{{Name: "eyes", Users: []string{"U0BOB", "U0CAROL"}}}})
	b.add(t, ch, slackfake.Message{TS: ts(5*m + 400*time.Microsecond), User: "U0BOB", Text: "error rate started 08:52 &amp; it's only EU"})
	if err := f.EditMessage(ch, ts(5*m+400*time.Microsecond), "error rate started 08:52 &amp; it's only EU &lt;prod-eu&gt;", ts(7*m)); err != nil {
		t.Fatal(err)
	}
	b.add(t, ch, slackfake.Message{TS: "1763632923.000200", User: "U0CAROL", Text: "rolling back to v2.3.0, follow in <#C0DEPLOYS|deploys>"})
	b.add(t, ch, slackfake.Message{TS: ts(63 * m), User: "U0ALICE", Text: "rollback done", ThreadTS: "1763632923.000200"})
	b.add(t, ch, slackfake.Message{TS: ts(65 * m), User: "U0DAVE", Text: "<@U0ALICE> confirmed, errors dropping", ThreadTS: "1763632923.000200", Broadcast: true})
	b.add(t, ch, slackfake.Message{TS: ts(150 * m), User: "U0BOB", Text: "postmortem doc: <https://docs.acme.test/pm/4821>", ThreadTS: "1763632923.000200"})
	b.add(t, ch, slackfake.Message{TS: ts(66*m + 500*time.Microsecond), BotID: "B0DEPLOY", Subtype: "bot_message", Username: "deploy-bot",
		Text: "checkout-api v2.3.0 deployed to prod-eu"})
	b.add(t, ch, slackfake.Message{TS: ts(70*m + 600*time.Microsecond), User: "U0DAVE",
		Files: []slackfake.File{{ID: "F0GRAFANA", Name: "grafana.png", Title: "5xx rate", Mimetype: "image/png", Size: 48213}}})
	b.add(t, ch, slackfake.Message{TS: ts(100*m + 700*time.Microsecond), User: "U0ALICE", Text: "<!here> resolved, thanks all"})
	b.add(t, ch, slackfake.Message{TS: ts(2 * h), User: "U0BOB", Text: "writing up the timeline"})
	// After the window.
	b.add(t, ch, slackfake.Message{TS: ts(2*h + time.Second), User: "U0BOB", Text: "late message"})
}
