package collectors_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// instant makes retry and rate-limit waits immediate.
func instant(ctx context.Context, d time.Duration) error { return ctx.Err() }

type runBundle struct {
	world   *fakeworld.World
	schema  *pgtest.Schema
	store   *postgres.Store
	runner  *collectors.Runner
	planner *collectors.Planner
}

func setupRun(t *testing.T) runBundle {
	t.Helper()
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	schema := pgtest.New(t)
	st := postgres.New(schema.Pool)
	reg := &collectors.Registry{}
	pd, err := pagerduty.New(pagerduty.Config{Token: fakeworld.PagerDutyToken, APIURL: w.PDURL, WebhookSecret: "x"},
		pagerduty.Options{ClientOptions: collectors.ClientOptions{SleepFunc: instant}})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := github.New(github.Config{Token: fakeworld.GitHubToken, APIURL: w.GHURL, WebhookSecret: "x"},
		github.Options{ClientOptions: collectors.ClientOptions{SleepFunc: instant}, RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: fakeworld.SlackToken, APIURL: w.SlackURL, SigningSecret: "x"}.WithDefaults(),
		slack.Options{ClientOptions: collectors.ClientOptions{SleepFunc: instant}, Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	reg.Register(pd)
	reg.Register(gh)
	reg.Register(sl)
	return runBundle{
		world: w, schema: schema, store: st,
		runner: &collectors.Runner{Registry: reg, Store: st, Secrets: []string{fakeworld.PagerDutyToken, fakeworld.GitHubToken, fakeworld.SlackToken}},
		planner: &collectors.Planner{Registry: reg, Store: st, Before: 2 * time.Hour, After: 30 * time.Minute,
			ScopeFunc: func(string) ([]string, []string) { return []string{fakeworld.Repo}, []string{fakeworld.Channel} }},
	}
}

func (b runBundle) collect(t *testing.T) (collectors.Result, []timeline.Event) {
	t.Helper()
	ctx := context.Background()
	_, w, err := b.planner.Plan(ctx, timeline.CollectRequest{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	res := b.runner.Run(ctx, w)
	events, err := b.store.Timeline(ctx, timeline.TimelineQuery{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	return res, events
}

func kindCounts(events []timeline.Event) map[string]int {
	out := map[string]int{}
	for _, e := range events {
		out[e.Kind]++
	}
	return out
}

// A full collection stores exactly the events the world holds; a second run
// gives the same ids and the same seqs: nothing changed upstream, so nothing
// changes in the store.
func TestCollectAllSourcesTwice(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	res, first := b.collect(t)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fakeworld.Expected, kindCounts(first)); diff != "" {
		t.Fatalf("kinds stored (-want +got):\n%s", diff)
	}
	inc, err := b.store.Incident(context.Background(), fakeworld.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range first {
		if e.Source != timeline.SourcePagerDuty && !(timeline.Window{Start: inc.WindowStart, End: inc.WindowEnd}).Contains(e.OccurredAt) {
			t.Errorf("%s at %v is outside the window %v..%v", e.ID, e.OccurredAt, inc.WindowStart, inc.WindowEnd)
		}
	}
	res, second := b.collect(t)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("second run changed the timeline (-first +second):\n%s", diff)
	}
	sts, err := b.store.SourceStatuses(context.Background(), fakeworld.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.State != timeline.StateSucceeded || st.FinishedAt == nil || st.EventCount == 0 {
			t.Errorf("status %+v, want succeeded with a count and a finish time", st)
		}
	}
}

// When one source fails, the others' events are stored and the failure is
// recorded with its reason, and no secret.
func TestOneSourceFailing(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.world.Slack.FailNext(1000, http.StatusInternalServerError)
	res, events := b.collect(t)
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "slack") {
		t.Fatalf("err = %v, want a failure naming slack", err)
	}
	got := kindCounts(events)
	for kind, n := range fakeworld.Expected {
		switch {
		case strings.HasPrefix(kind, "chat."):
			if got[kind] != 0 {
				t.Errorf("%s: %d stored from a failing source", kind, got[kind])
			}
		case got[kind] != n:
			t.Errorf("%s: %d stored, want %d: one source's failure must not cost the others", kind, got[kind], n)
		}
	}
	sts, _ := b.store.SourceStatuses(context.Background(), fakeworld.IncidentID)
	states := map[string]timeline.SourceStatus{}
	for _, st := range sts {
		states[st.Source] = st
	}
	if st := states["slack"]; st.State != timeline.StateFailed || !strings.Contains(st.Error, "500") {
		t.Errorf("slack status %+v, want failed with the reason", st)
	}
	for _, src := range []string{"pagerduty", "github"} {
		if states[src].State != timeline.StateSucceeded {
			t.Errorf("%s status %+v, want succeeded", src, states[src])
		}
	}
	for _, st := range sts {
		if strings.Contains(st.Error, fakeworld.SlackToken) {
			t.Errorf("status error leaks the token: %s", st.Error)
		}
	}
}

// A Slack message, a PagerDuty note and a GitHub commit message holding NUL
// characters and invalid UTF-8 are collected and stored with the rest, the
// characters replaced; before, Postgres refused the whole batch of 500 on
// every retry. (encoding/json already turns invalid UTF-8 into U+FFFD on
// both sides of the wire, so the NUL is what reaches the normalisers here;
// their own tests feed them invalid UTF-8 directly.)
func TestNULAndInvalidUTF8AreStoredWithTheRest(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	at := time.Date(2025, 11, 20, 10, 30, 0, 0, time.UTC)
	const dirty = "nul\x00 and bad \xff byte"
	if err := b.world.Slack.AddMessage(fakeworld.Channel, slackfake.Message{
		TS: fmt.Sprintf("%d.000042", at.Unix()), User: "U0SAMOK01", Text: dirty,
	}); err != nil {
		t.Fatal(err)
	}
	b.world.PD.AddNote(pagerdutyfake.Note{ID: "PNOTENUL", IncidentID: fakeworld.IncidentID,
		User: pagerdutyfake.UserRef("POKASAM", "Sam Okafor"), Content: dirty, CreatedAt: at})
	b.world.GH.AddCommit(fakeworld.Repo, githubfake.Commit{Message: dirty + "\n\nbody\x00", AuthorName: "Sam",
		AuthorEmail: "sam@acme.example", AuthorDate: at, CommitterDate: at})

	res, events := b.collect(t)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(fakeworld.Expected)
	want[timeline.KindChatMessage]++
	want[timeline.KindPageAnnotated]++
	want[timeline.KindChangeCommit]++
	if d := cmp.Diff(want, kindCounts(events)); d != "" {
		t.Fatalf("kinds stored (-want +got):\n%s", d)
	}
	found := 0
	for _, e := range events {
		if strings.Contains(e.Text, "nul\uFFFD and bad \uFFFD byte") {
			found++
		}
		for _, s := range []string{e.Title, e.Text} {
			if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
				t.Errorf("%s stored with %q", e.ID, s)
			}
		}
	}
	if found != 3 {
		t.Errorf("%d events carry the replaced text, want 3 (message, note, commit)", found)
	}
	for _, s := range res.Sources {
		if s.Unstorable != 0 {
			t.Errorf("%s skipped %d events", s.Source, s.Unstorable)
		}
	}
}

// emitting is a collector that sends a fixed list of events.
type emitting struct {
	name   string
	events []timeline.Event
}

func (c emitting) Name() string { return c.name }

func (c emitting) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	for _, e := range c.events {
		if err := emit(e); err != nil {
			return err
		}
	}
	return nil
}

// An event the store cannot keep even made storable is reported and left
// out; the source's other events are stored and it succeeds.
func TestUnstorableEventIsSkippedNotFatal(t *testing.T) {
	t.Parallel()
	st := postgres.New(pgtest.New(t).Pool)
	ctx := context.Background()
	at := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := st.UpsertIncident(ctx, timeline.Incident{ID: "INC1", Source: timeline.SourceGeneric, StartedAt: at,
		WindowStart: at, WindowEnd: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var events []timeline.Event
	for i := range 5 {
		events = append(events, timeline.Event{ID: fmt.Sprintf("slack:message:C1:%d", i), Source: timeline.SourceSlack,
			Kind: timeline.KindChatMessage, OccurredAt: at.Add(time.Duration(i) * time.Minute), Title: "ok"})
	}
	events[2].Details = map[string]any{"ratio": math.Inf(1)}
	reg := &collectors.Registry{}
	reg.Register(emitting{name: timeline.SourceSlack, events: events})
	r := &collectors.Runner{Registry: reg, Store: st, BatchSize: 2}
	res := r.Run(ctx, timeline.Window{IncidentID: "INC1", Start: at, End: at.Add(time.Hour)})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if s := res.Sources[0]; s.Events != 4 || s.Unstorable != 1 || s.Kinds[timeline.KindChatMessage] != 4 {
		t.Errorf("result %+v, want 4 events and 1 skipped", s)
	}
	stored, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "INC1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 4 {
		t.Errorf("stored %d events, want 4", len(stored))
	}
	sts, err := st.SourceStatuses(ctx, "INC1")
	if err != nil || len(sts) != 1 || sts[0].State != timeline.StateSucceeded || sts[0].EventCount != 4 {
		t.Errorf("status %+v, %v; want succeeded with 4 events", sts, err)
	}
}

// A source that cannot know the incident is skipped: it is not asked, its
// status says why, and the run is no failure.
func TestSourcesWithNothingInScopeAreSkipped(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.planner.ScopeFunc = nil // no repositories, no channels
	ctx := context.Background()
	_, w, err := b.planner.Plan(ctx, timeline.CollectRequest{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	if w.IncidentSource != timeline.SourcePagerDuty {
		t.Errorf("window source = %q, want pagerduty", w.IncidentSource)
	}
	res := b.runner.Run(ctx, w)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	sts, err := b.store.SourceStatuses(ctx, fakeworld.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range sts {
		got[st.Source] = st.State
		if st.State == timeline.StateSkipped && (st.Reason == "" || st.Error != "" || st.FinishedAt == nil) {
			t.Errorf("%s: %+v, want a reason, no error and a finish time", st.Source, st)
		}
	}
	want := map[string]string{"pagerduty": timeline.StateSucceeded, "github": timeline.StateSkipped, "slack": timeline.StateSkipped}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	for _, s := range res.Sources {
		if (s.Source == "github" || s.Source == "slack") && !strings.Contains(s.Skipped, "scope") {
			t.Errorf("%s: skipped = %q, want the reason", s.Source, s.Skipped)
		}
	}
	if n := b.world.GH.Requests() + b.world.Slack.Requests(); n != 0 {
		t.Errorf("skipped sources were asked %d times", n)
	}
}

// cutShort is a collector that emits n events and then waits on a slow
// upstream until its context ends.
type cutShort struct {
	n       int
	emitted chan struct{}
}

func (c *cutShort) Name() string { return timeline.SourceSlack }

func (c *cutShort) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	for i := range c.n {
		at := w.Start.Add(time.Duration(i) * time.Minute)
		if err := emit(timeline.Event{ID: fmt.Sprintf("slack:message:C1:%d.000001", at.Unix()), Kind: timeline.KindChatMessage,
			OccurredAt: at, Title: "message"}); err != nil {
			return err
		}
	}
	close(c.emitted)
	<-ctx.Done()
	return ctx.Err()
}

// TestCutShortRunStoresWhatItFetched: a run stopped by its timeout or a
// shutdown still stores the events it fetched (the last batch gets a
// context of its own), and the status counts exactly what was stored.
func TestCutShortRunStoresWhatItFetched(t *testing.T) {
	t.Parallel()
	st := postgres.New(pgtest.New(t).Pool)
	start := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	win := timeline.Window{IncidentID: "PCUT", Start: start, End: start.Add(time.Hour)}
	if err := st.UpsertIncident(context.Background(), timeline.Incident{ID: "PCUT", Source: timeline.SourceGeneric,
		StartedAt: start, WindowStart: win.Start, WindowEnd: win.End}); err != nil {
		t.Fatal(err)
	}
	src := &cutShort{n: 7, emitted: make(chan struct{})}
	reg := &collectors.Registry{}
	reg.Register(src)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-src.emitted; cancel() }()
	res := (&collectors.Runner{Registry: reg, Store: st}).Run(ctx, win)
	if res.Err() == nil || res.Sources[0].Events != 7 {
		t.Fatalf("result = %+v, want a cancelled run counting its 7 events", res.Sources)
	}
	events, err := st.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: "PCUT"})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := st.SourceStatuses(context.Background(), "PCUT")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 7 || len(sts) != 1 || sts[0].State != timeline.StateFailed || sts[0].EventCount != 7 {
		t.Errorf("%d events stored, status %+v; want the 7 fetched stored, and counted, in a failed status", len(events), sts)
	}
}

// countingSource emits one event per call, or fails while fail is set.
type countingSource struct {
	name  string
	calls int
	fail  bool
}

func (c *countingSource) Name() string { return c.name }

func (c *countingSource) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	c.calls++
	if c.fail {
		return errors.New("upstream is down")
	}
	return emit(timeline.Event{ID: c.name + ":thing:1", Source: c.name, Kind: timeline.KindChatMessage, OccurredAt: w.Start, Title: "thing"})
}

// TestRetryCollectsOnlyWhatIsLeft: with checkpoints, a retry of the same
// window collects only the sources that had not finished; a collection of
// another window, or after the collection ended, collects everything again.
func TestRetryCollectsOnlyWhatIsLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := postgres.New(pgtest.New(t).Pool)
	start := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	win := timeline.Window{IncidentID: "PRETRY", Start: start, End: start.Add(time.Hour)}
	if err := st.UpsertIncident(ctx, timeline.Incident{ID: "PRETRY", Source: timeline.SourceGeneric,
		StartedAt: start, WindowStart: win.Start, WindowEnd: win.End}); err != nil {
		t.Fatal(err)
	}
	done, down := &countingSource{name: "github"}, &countingSource{name: "slack", fail: true}
	reg := &collectors.Registry{}
	reg.Register(done)
	reg.Register(down)
	r := &collectors.Runner{Registry: reg, Store: st, Checkpoints: st}
	if err := r.Run(ctx, win).Err(); err == nil {
		t.Fatal("the first run succeeded; want slack failing")
	}
	down.fail = false
	res := r.Run(ctx, win)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if done.calls != 1 || down.calls != 2 || !res.Sources[0].AlreadyCollected || res.Sources[0].Events != 1 {
		t.Errorf("calls github %d, slack %d, result %+v; want github collected once and skipped by the retry", done.calls, down.calls, res.Sources)
	}
	// The collection ended: a new one reads every source again.
	if err := r.Run(ctx, win).Err(); err != nil || done.calls != 2 {
		t.Errorf("a new collection: %v, github collected %d times; want 2", err, done.calls)
	}
	// Progress of another window does not count.
	down.fail = true
	_ = r.Run(ctx, win)
	down.fail = false
	wider := win
	wider.End = win.End.Add(time.Hour)
	if err := r.Run(ctx, wider).Err(); err != nil || done.calls != 4 {
		t.Errorf("a wider window: %v, github collected %d times; want 4", err, done.calls)
	}
}
