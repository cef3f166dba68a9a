package collectors_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// instant makes retry and rate-limit waits immediate.
func instant(ctx context.Context, d time.Duration) error { return ctx.Err() }

type runBundle struct {
	world   *fakeworld.World
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
	st := postgres.New(pgtest.New(t).Pool)
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
		world: w, store: st,
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
