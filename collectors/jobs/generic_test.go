package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

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

func instant(ctx context.Context, d time.Duration) error { return ctx.Err() }

// worldCollectors are the three real collectors pointed at w's fakes.
func worldCollectors(t *testing.T, w *fakeworld.World) []collectors.Collector {
	t.Helper()
	opts := collectors.ClientOptions{SleepFunc: instant}
	pd, err := pagerduty.New(pagerduty.Config{Token: fakeworld.PagerDutyToken, APIURL: w.PDURL, WebhookSecret: "x"},
		pagerduty.Options{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := github.New(github.Config{Token: fakeworld.GitHubToken, APIURL: w.GHURL, WebhookSecret: "x"},
		github.Options{ClientOptions: opts, RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: fakeworld.SlackToken, APIURL: w.SlackURL, SigningSecret: "x"}.WithDefaults(),
		slack.Options{ClientOptions: opts, Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return []collectors.Collector{pd, gh, sl}
}

func startWorld(t *testing.T) *fakeworld.World {
	t.Helper()
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// TestGenericIncidentIsCollectedOnceWithoutPagerDuty: the generic hook's
// incident has no PagerDuty side. PagerDuty is skipped (not failed on a
// 404), so the job succeeds on its first attempt and GitHub and Slack are
// read once: within 1.15× the requests of a single collection of the same
// window, measured on a second, identical world.
func TestGenericIncidentIsCollectedOnceWithoutPagerDuty(t *testing.T) {
	t.Parallel()
	world := startWorld(t)
	b := setup(t, 3, worldCollectors(t, world)...)
	started, resolved := time.Date(2025, 11, 20, 9, 55, 0, 0, time.UTC), time.Date(2025, 11, 20, 11, 0, 0, 0, time.UTC)
	inc := timeline.Incident{ID: "INC-GENERIC-7", Title: "Checkout errors", Source: "generic",
		StartedAt: started, ResolvedAt: &resolved, StatusAt: resolved, WindowStart: started.Add(-time.Hour), WindowEnd: resolved.Add(time.Hour),
		Repos: []string{fakeworld.Repo}, Channels: []string{fakeworld.Channel}}
	// What the generic hook records: the incident and its collection.
	if _, err := b.deliveries.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "incident", ID: "hook-1",
		Incidents: []timeline.Incident{inc}, Collect: []timeline.CollectRequest{{IncidentID: inc.ID}}}); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	js := b.waitJobs(t)
	if len(js) != 1 || js[0].State != "completed" || js[0].Attempt != 1 || js[0].Errors != 0 {
		t.Fatalf("jobs = %+v, want one completed on its first attempt", js)
	}
	sts := b.status(t, inc.ID)
	if pd := sts["pagerduty"]; pd.State != timeline.StateSkipped || pd.Error != "" || !strings.Contains(pd.Reason, "generic") {
		t.Errorf("pagerduty status = %+v, want skipped, saying the incident is generic", pd)
	}
	for _, src := range []string{"github", "slack"} {
		if st := sts[src]; st.State != timeline.StateSucceeded || st.EventCount == 0 {
			t.Errorf("%s status = %+v, want succeeded with events", src, st)
		}
	}
	if n := world.PD.Requests(); n != 0 {
		t.Errorf("PagerDuty was asked %d times about a generic incident, want 0", n)
	}

	// The minimum: one collection of the same window, straight through a
	// Runner, against an identical world with fresh collectors.
	stored, err := b.store.Incident(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	ref := startWorld(t)
	refStore := postgres.New(pgtest.New(t).Pool)
	if err := refStore.UpsertIncident(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	reg := &collectors.Registry{}
	for _, c := range worldCollectors(t, ref)[1:] {
		reg.Register(c)
	}
	res := (&collectors.Runner{Registry: reg, Store: refStore}).Run(context.Background(), timeline.Window{
		IncidentID: inc.ID, Start: stored.WindowStart, End: stored.WindowEnd, Repos: stored.Repos, Channels: stored.Channels})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		source   string
		got, min int
	}{
		{"github", world.GH.Requests(), ref.GH.Requests()},
		{"slack", world.Slack.Requests(), ref.Slack.Requests()},
	} {
		ratio := float64(c.got) / float64(c.min)
		t.Logf("%s: %d requests, minimum %d: %.2f×", c.source, c.got, c.min, ratio)
		if c.min == 0 || ratio > 1.15 {
			t.Errorf("%s: %d requests where %d suffice (%.2f×, want at most 1.15×)", c.source, c.got, c.min, ratio)
		}
	}
}
