package collectors_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// fakeClock is the time of the fake Slack's per-minute limit; the
// collector's waits advance it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// cutAt cancels the run's context instead of sending the n-th
// conversations.history request, as a process killed at that moment would
// never send it.
type cutAt struct {
	mu      sync.Mutex
	n, seen int
	cancel  context.CancelFunc
}

func (c *cutAt) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/"+slackfake.MethodHistory) {
		c.mu.Lock()
		c.seen++
		cut := c.n > 0 && c.seen == c.n && c.cancel != nil
		c.mu.Unlock()
		if cut {
			c.cancel()
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// slackWorld is a busy incident channel under Slack's 2025 limits for
// non-Marketplace apps: 15 messages a page, one history and one replies
// request a minute.
type slackWorld struct {
	fake  *slackfake.Server
	url   string
	clock *fakeClock
	win   timeline.Window
}

func newSlackWorld(t *testing.T) *slackWorld {
	t.Helper()
	start := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	w := &slackWorld{fake: slackfake.New("xoxb-resume-token"), clock: &fakeClock{t: start.Add(24 * time.Hour)}}
	w.fake.NonMarketplace()
	w.fake.SetNow(w.clock.Now)
	w.fake.AddChannel("C0BUSY")
	w.fake.AddUserProfile(slackfake.User{ID: "U0ALICE01", Name: "alice", RealName: "Alice", Email: "alice@acme.example"})
	w.fake.AddUserProfile(slackfake.User{ID: "U0BOB0001", Name: "bob", RealName: "Bob", Email: "bob@acme.example"})
	ts := func(d time.Duration) string { return slack.FormatTS(start.Add(d)) }
	for i := range 120 {
		at := time.Duration(i) * time.Minute
		user := []string{"U0ALICE01", "U0BOB0001"}[i%2]
		if err := w.fake.AddMessage("C0BUSY", slackfake.Message{TS: ts(at), User: user, Text: fmt.Sprintf("update %d", i)}); err != nil {
			t.Fatal(err)
		}
		if i%20 == 5 { // a thread now and then
			for j := range 3 {
				if err := w.fake.AddMessage("C0BUSY", slackfake.Message{TS: ts(at + time.Duration(j+1)*10*time.Second),
					User: "U0BOB0001", ThreadTS: ts(at), Text: fmt.Sprintf("reply %d.%d", i, j)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	srv := httptest.NewServer(w.fake)
	t.Cleanup(srv.Close)
	w.url = srv.URL + "/api/"
	w.win = timeline.Window{IncidentID: "PRESUME", Start: start, End: start.Add(2 * time.Hour), Channels: []string{"C0BUSY"}}
	return w
}

// run collects the window once from Slack alone into st; with cut set, the
// run is cancelled instead of sending cut.n-th history request.
func (w *slackWorld) run(t *testing.T, st *postgres.Store, cut *cutAt) collectors.Result {
	t.Helper()
	col, err := slack.New(slack.Config{Token: "xoxb-resume-token", APIURL: w.url, SigningSecret: "x", HistoryPageSize: 15},
		slack.Options{ClientOptions: collectors.ClientOptions{SleepFunc: w.clock.Sleep, NowFunc: w.clock.Now, Base: cut},
			Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	reg := &collectors.Registry{}
	reg.Register(col)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut.cancel = cancel
	r := &collectors.Runner{Registry: reg, Store: st, Checkpoints: st}
	return r.Run(ctx, w.win)
}

// served counts the requests of a method the fake answered (not refused
// for the rate limit).
func (w *slackWorld) served(method string) int {
	n := 0
	for _, c := range w.fake.CallsFor(method) {
		if c.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func newResumeStore(t *testing.T, win timeline.Window) *postgres.Store {
	t.Helper()
	st := postgres.New(pgtest.New(t).Pool)
	if err := st.UpsertIncident(context.Background(), timeline.Incident{ID: win.IncidentID, Source: timeline.SourceGeneric,
		StartedAt: win.Start, WindowStart: win.Start, WindowEnd: win.End, Channels: win.Channels}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSlackCollectionResumesWhereItWasCut: a collection under Slack's
// one-request-a-minute limit is cut off halfway (the process dies); the
// next run continues from the page it was on, so both runs together send
// exactly the history and replies requests of one uninterrupted run, not
// that plus the part already read, and store the same timeline.
func TestSlackCollectionResumesWhereItWasCut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// The minimum: one uninterrupted collection.
	ref := newSlackWorld(t)
	refStore := newResumeStore(t, ref.win)
	refClock := ref.clock.Now()
	if err := ref.run(t, refStore, &cutAt{}).Err(); err != nil {
		t.Fatal(err)
	}
	minHistory, minReplies := ref.served(slackfake.MethodHistory), ref.served(slackfake.MethodReplies)
	refMinutes := ref.clock.Now().Sub(refClock).Minutes()
	want, err := refStore.Timeline(ctx, timeline.TimelineQuery{IncidentID: ref.win.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	if minHistory < 8 || len(want) < 130 {
		t.Fatalf("the reference run read %d history pages and stored %d events; the test needs a long collection", minHistory, len(want))
	}

	w := newSlackWorld(t)
	st := newResumeStore(t, w.win)
	wClock := w.clock.Now()
	// The ninth history request (some refused for the rate limit, some served) never goes out.
	first := w.run(t, st, &cutAt{n: 9})
	if first.Err() == nil {
		t.Fatal("the cut run succeeded; want it cancelled halfway")
	}
	readBefore := w.served(slackfake.MethodHistory)
	partial, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: w.win.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	if readBefore == 0 || readBefore >= minHistory || len(partial) == 0 || len(partial) >= len(want) {
		t.Fatalf("cut run: %d of %d history pages, %d of %d events; want it cut halfway", readBefore, minHistory, len(partial), len(want))
	}
	sts, err := st.SourceStatuses(ctx, w.win.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].State != timeline.StateFailed || sts[0].EventCount != len(partial) {
		t.Errorf("status after the cut = %+v, want failed counting the %d events stored", sts, len(partial))
	}

	second := w.run(t, st, &cutAt{})
	if err := second.Err(); err != nil {
		t.Fatal(err)
	}
	gotHistory, gotReplies := w.served(slackfake.MethodHistory), w.served(slackfake.MethodReplies)
	t.Logf("history pages: %d uninterrupted; %d before the cut + %d after = %d (a restart from scratch: %d); replies: %d vs %d; "+
		"Slack time at one request a minute: %.0f min uninterrupted, %.0f min for both runs",
		minHistory, readBefore, gotHistory-readBefore, gotHistory, readBefore+minHistory, minReplies, gotReplies,
		refMinutes, w.clock.Now().Sub(wClock).Minutes())
	if gotHistory != minHistory || gotReplies != minReplies {
		t.Errorf("both runs sent %d history and %d replies requests; one uninterrupted run sends %d and %d",
			gotHistory, gotReplies, minHistory, minReplies)
	}
	got, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: w.win.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(timeline.Event{}, "Seq")); diff != "" {
		t.Errorf("resumed timeline (-uninterrupted +resumed):\n%s", diff)
	}
	sts, err = st.SourceStatuses(ctx, w.win.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].State != timeline.StateSucceeded || sts[0].EventCount != len(want) {
		t.Errorf("status after the resumed run = %+v, want succeeded with %d events", sts, len(want))
	}
	// The collection is over: its progress is gone, so the next one
	// reads everything again.
	if cps, err := st.Checkpoints(ctx, w.win.IncidentID, timeline.SourceSlack); err != nil || len(cps) != 0 {
		t.Errorf("checkpoints after the collection = %v, %v; want none", cps, err)
	}
}
