package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// groundwork collect against the three fakes, each answering with rate
// limits first, stores exactly the incident's events; a second run changes
// nothing.
func TestCollectCommand(t *testing.T) {
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := pgtest.NewEmpty(t)
	path := writeServeConfig(t, demoConfig(w, s.URL, "127.0.0.1:0"))
	w.PD.RateLimitNext(2, 1)
	w.GH.SetRateLimitWaits(time.Second, time.Second)
	w.GH.RateLimitNext(1, githubfake.Limit429RetryAfter)
	w.GH.RateLimitNext(1, githubfake.LimitPrimary403)
	w.Slack.RateLimitNext(2, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	collect := func() ([]timeline.Event, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"collect", "-config", path, fakeworld.IncidentID}, getenv(nil), &stdout, &stderr)
		if code != 0 {
			t.Fatalf("collect exited %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
		events, err := postgres.New(s.Pool).Timeline(ctx, timeline.TimelineQuery{IncidentID: fakeworld.IncidentID})
		if err != nil {
			t.Fatal(err)
		}
		return events, stdout.String()
	}
	first, out := collect()
	got := map[string]int{}
	for _, e := range first {
		got[e.Kind]++
	}
	if diff := cmp.Diff(fakeworld.Expected, got); diff != "" {
		t.Fatalf("stored kinds (-want +got):\n%s", diff)
	}
	for _, want := range []string{"pagerduty", "github", "slack", "chat.reply", "(total)"} {
		if !strings.Contains(out, want) {
			t.Errorf("collect output lacks %q:\n%s", want, out)
		}
	}
	second, _ := collect()
	if diff := cmp.Diff(first, second); diff != "" {
		t.Fatalf("a second collect changed the timeline (-first +second):\n%s", diff)
	}
	// Each collection ran Groundwork's detectors: the rollback that
	// succeeded is suggested as the repair, once for both runs.
	anns, err := postgres.New(s.Pool).Annotations(ctx, timeline.AnnotationQuery{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 1 || !anns[0].Suggested || anns[0].Marker != timeline.MarkerRepair {
		t.Errorf("suggested annotations after two collections: %+v", anns)
	}
}

// A failing source makes collect exit non-zero, naming it and the reason,
// while the others' events are stored.
func TestCollectCommandSourceFails(t *testing.T) {
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := pgtest.NewEmpty(t)
	path := writeServeConfig(t, demoConfig(w, s.URL, "127.0.0.1:0"))
	w.GH.FailRepo(fakeworld.Repo, 404)

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"collect", "-config", path, fakeworld.IncidentID}, getenv(nil), &stdout, &stderr)
	if code == 0 {
		t.Fatalf("collect exited 0 with a failing source:\n%s", stdout.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "github") || !strings.Contains(msg, "404") {
		t.Errorf("error output does not name the source and the reason:\n%s", msg)
	}
	n, err := postgres.New(s.Pool).Timeline(context.Background(), timeline.TimelineQuery{IncidentID: fakeworld.IncidentID, KindPrefix: "chat."})
	if err != nil || len(n) != 20 {
		t.Errorf("slack events stored: %d (%v), want 20", len(n), err)
	}
}

func TestCollectCommandUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"collect"}, getenv(nil), &stdout, &stderr); code != 2 {
		t.Errorf("collect without an incident exited %d, want 2", code)
	}
	if code := run(context.Background(), []string{"collect", "-since", "yesterday", "P1"}, getenv(nil), &stdout, &stderr); code != 2 {
		t.Errorf("collect with a bad -since exited %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "since") {
		t.Errorf("usage error does not name -since: %s", stderr.String())
	}
}
