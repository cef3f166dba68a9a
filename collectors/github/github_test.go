package github

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testToken = "ghp_T0KEN-not-a-real-one-9f8e7d6c5b4a"

// t0 is the start of the test window; the window is three hours long.
var t0 = time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)

func testWindow(repos ...string) timeline.Window {
	return timeline.Window{IncidentID: "INC1", Start: t0, End: t0.Add(3 * time.Hour), Repos: repos}
}

// sleeps records the waits the transport and the gate ask for and returns at
// once; advance, when set, moves a shared clock forward by each wait.
type sleeps struct {
	mu      sync.Mutex
	waits   []time.Duration
	advance func(time.Duration)
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	adv := s.advance
	s.mu.Unlock()
	if adv != nil {
		adv(d)
	}
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// clock is a settable clock shared by the fake and the collector.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	fake     *githubfake.Server
	url      string
	sleeps   *sleeps
	clock    *clock
	progress *collectors.Progress
	col      *Collector
}

// newHarness serves a fake GitHub and builds a collector for it. The
// collector runs one listing at a time unless opts say otherwise, so that
// injected faults hit a known request.
// knowRepos looks the repositories up once, as an earlier collection
// would have, so that the failures a test injects next hit the listings.
func (h *harness) knowRepos(t *testing.T, repos ...string) {
	t.Helper()
	for _, r := range repos {
		ref, err := parseRepo(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.col.canonical(context.Background(), ref); err != nil {
			t.Fatal(err)
		}
	}
}

func newHarness(t *testing.T, opts ...func(*Options)) *harness {
	t.Helper()
	h := &harness{
		fake:     githubfake.New(testToken),
		sleeps:   &sleeps{},
		clock:    &clock{t: t0.Add(30 * 24 * time.Hour)},
		progress: &collectors.Progress{},
	}
	h.fake.SetNow(h.clock.Now)
	srv := httptest.NewServer(h.fake)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	o := Options{
		ClientOptions: collectors.ClientOptions{
			Observer:  h.progress,
			SleepFunc: h.sleeps.sleep,
			NowFunc:   h.clock.Now,
		},
		Concurrency:       1,
		RequestsPerSecond: -1,
	}
	for _, f := range opts {
		f(&o)
	}
	col, err := New(Config{Token: testToken, APIURL: srv.URL, WebhookSecret: "s"}, o)
	if err != nil {
		t.Fatal(err)
	}
	h.col = col
	return h
}

func (h *harness) collect(t *testing.T, w timeline.Window) ([]timeline.Event, error) {
	t.Helper()
	var got []timeline.Event
	err := h.col.Collect(context.Background(), w, func(e timeline.Event) error {
		if err := (timeline.Event{ID: e.ID, IncidentID: "x", Source: e.Source, Kind: e.Kind, OccurredAt: e.OccurredAt}).Validate(); err != nil {
			t.Errorf("emitted an invalid event: %v", err)
		}
		got = append(got, e)
		return nil
	})
	sortEvents(got)
	return got, err
}

func sortEvents(es []timeline.Event) { slices.SortFunc(es, timeline.Compare) }

func ids(es []timeline.Event) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

func countKinds(es []timeline.Event) map[string]int {
	m := map[string]int{}
	for _, e := range es {
		m[e.Kind]++
	}
	return m
}

func TestCommitsFollowLinkPages(t *testing.T) {
	h := newHarness(t)
	for i := range 250 {
		h.fake.AddCommit("acme/api", githubfake.Commit{
			Message: fmt.Sprintf("change %d", i), AuthorLogin: "mona", AuthorName: "Mona", AuthorEmail: "mona@acme.test",
			AuthorDate: t0.Add(time.Duration(i) * 30 * time.Second),
		})
	}
	got, err := h.collect(t, testWindow("acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	if n := countKinds(got)[timeline.KindChangeCommit]; n != 250 {
		t.Errorf("got %d commits, want 250", n)
	}
	if n := h.fake.RequestsTo("GET", "/repos/acme/api/commits"); n != 3 {
		t.Errorf("commit pages requested = %d, want 3", n)
	}
	var pages []string
	for _, r := range h.fake.Log() {
		if r.Path == "/repos/acme/api/commits" {
			pages = append(pages, r.Query.Get("page")+"/"+r.Query.Get("per_page")+"/"+r.Query.Get("since")+"/"+r.Query.Get("until"))
		}
	}
	want := []string{
		"/100/2025-11-20T10:00:00Z/2025-11-20T13:00:00Z",
		"2/100/2025-11-20T10:00:00Z/2025-11-20T13:00:00Z",
		"3/100/2025-11-20T10:00:00Z/2025-11-20T13:00:00Z",
	}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Errorf("commit requests (-want +got):\n%s", diff)
	}
}

// TestWindowEdges seeds every kind of object exactly at both ends of the
// window and one second outside them.
func TestWindowEdges(t *testing.T) {
	h := newHarness(t)
	w := testWindow("acme/api")
	at := map[string]time.Time{
		"before": w.Start.Add(-time.Second),
		"start":  w.Start,
		"end":    w.End,
		"after":  w.End.Add(time.Second),
	}
	names := []string{"before", "start", "end", "after"}
	var want []string
	for _, name := range names {
		tm := at[name]
		in := name == "start" || name == "end"
		sha := h.fake.AddCommit("acme/api", githubfake.Commit{Message: "commit " + name, AuthorName: "Dev", AuthorEmail: "dev@acme.test",
			AuthorDate: tm.Add(-time.Hour), CommitterDate: tm})
		n := h.fake.AddPull("acme/api", githubfake.Pull{Title: "pull " + name, User: "mona", CreatedAt: tm.Add(-24 * time.Hour), MergedAt: tm})
		dep := h.fake.AddDeployment("acme/api", githubfake.Deployment{Creator: "hubot", CreatedAt: tm.Add(-time.Minute)})
		st, err := h.fake.AddDeploymentStatus("acme/api", dep, githubfake.DeploymentStatus{State: "success", CreatedAt: tm})
		if err != nil {
			t.Fatal(err)
		}
		rel := h.fake.AddRelease("acme/api", githubfake.Release{TagName: "v-" + name, Author: "mona", CreatedAt: tm.Add(-time.Minute), PublishedAt: tm})
		// Runs are found by created_at and kept by updated_at: the created
		// time is inside the window for all four.
		run := h.fake.AddWorkflowRun("acme/api", githubfake.WorkflowRun{Name: "CI", Actor: "mona",
			CreatedAt: w.Start.Add(time.Hour), UpdatedAt: tm})
		if name == "before" {
			// A run created before the window that completes inside it
			// is found: runs are listed from the lookback before it.
			early := h.fake.AddWorkflowRun("acme/api", githubfake.WorkflowRun{Name: "CI", Actor: "mona", CreatedAt: tm, UpdatedAt: w.Start.Add(time.Minute)})
			want = append(want, WorkflowRunID("acme/api", early))
			// One created before the lookback is not asked for.
			h.fake.AddWorkflowRun("acme/api", githubfake.WorkflowRun{Name: "CI", Actor: "mona",
				CreatedAt: w.Start.Add(-DefaultWorkflowRunLookback - time.Second), UpdatedAt: w.Start.Add(2 * time.Minute)})
		}
		if in {
			want = append(want,
				CommitID("acme/api", sha), PullID("acme/api", n), DeploymentStatusID("acme/api", st),
				ReleaseID("acme/api", rel), WorkflowRunID("acme/api", run))
		}
	}
	got, err := h.collect(t, w)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("event ids (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if !w.Contains(e.OccurredAt) || e.OccurredAt.Location() != time.UTC {
			t.Errorf("%s: occurred_at %v outside the window or not UTC", e.ID, e.OccurredAt)
		}
	}
}

// TestWorkflowRunsCreatedBeforeTheWindow: GitHub lists runs by creation
// time, so a run created before the window that completes inside it is found
// by looking back workflow_run_lookback; it is kept by its completion.
func TestWorkflowRunsCreatedBeforeTheWindow(t *testing.T) {
	h := newHarness(t)
	col, err := New(Config{Token: testToken, APIURL: h.url, WebhookSecret: "s", WorkflowRunLookback: "2h"},
		Options{ClientOptions: collectors.ClientOptions{SleepFunc: h.sleeps.sleep}, RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	h.col = col
	w := testWindow("acme/api")
	run := func(created, completed time.Duration) int64 {
		return h.fake.AddWorkflowRun("acme/api", githubfake.WorkflowRun{Name: "Deploy", Actor: "mona",
			CreatedAt: w.Start.Add(created), RunStartedAt: w.Start.Add(created), UpdatedAt: w.Start.Add(completed)})
	}
	longRun := run(-90*time.Minute, 10*time.Minute)
	run(-3*time.Hour, 10*time.Minute)  // created before the lookback
	run(-90*time.Minute, -time.Minute) // completed before the window
	inside := run(time.Hour, 2*time.Hour)
	run(time.Hour, w.End.Sub(w.Start)+time.Second) // completed after the window
	got, err := h.collect(t, w)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{WorkflowRunID("acme/api", longRun), WorkflowRunID("acme/api", inside)}
	sort.Strings(want)
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("runs collected (-want +got):\n%s", diff)
	}
	for _, r := range h.fake.Log() {
		if r.Path == "/repos/acme/api/actions/runs" && r.Query.Get("created") != "2025-11-20T08:00:00Z..2025-11-20T13:00:00Z" {
			t.Errorf("created = %q, want the window from 2h before it", r.Query.Get("created"))
		}
	}
	if _, err := (Config{Token: "t", WebhookSecret: "s", WorkflowRunLookback: "a day"}).RunLookback(); err == nil ||
		!strings.Contains(err.Error(), "sources.github.workflow_run_lookback") {
		t.Errorf("a malformed lookback: err = %v, want it to name the key", err)
	}
}

// TestIDsUseGitHubsSpellingOfTheRepository: the configuration may spell a
// repository in any case (GitHub matches it so); every id is built from the
// repository's full_name as GitHub gives it, so live capture and collection
// agree, and one repository written twice is read once.
func TestIDsUseGitHubsSpellingOfTheRepository(t *testing.T) {
	h := newHarness(t)
	seedRealistic(h.fake, "Codertocat/Hello-World")
	got, err := h.collect(t, testWindow("codertocat/hello-world", "CODERTOCAT/Hello-World"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("nothing collected")
	}
	kinds := map[string]bool{}
	for _, e := range got {
		kinds[e.Kind] = true
		if !strings.Contains(e.ID, ":Codertocat/Hello-World:") || e.Details["repo"] != "Codertocat/Hello-World" {
			t.Errorf("%s: details.repo %v, want GitHub's spelling Codertocat/Hello-World", e.ID, e.Details["repo"])
		}
	}
	for _, k := range []string{timeline.KindChangeCommit, timeline.KindChangeMerged, timeline.KindChangeRelease, timeline.KindCICompleted, timeline.KindDeploySucceeded} {
		if !kinds[k] {
			t.Errorf("no %s collected (kinds %v)", k, kinds)
		}
	}
	if len(ids(got)) != len(got) {
		t.Error("duplicate events")
	}
	if n := h.fake.RequestsTo("GET", "/repos/codertocat/hello-world/commits") + h.fake.RequestsTo("GET", "/repos/CODERTOCAT/Hello-World/commits") +
		h.fake.RequestsTo("GET", "/repos/Codertocat/Hello-World/commits"); n != 1 {
		t.Errorf("commit listings = %d, want 1: the repository is read once", n)
	}
	// A second collection asks GitHub for the spelling no more.
	if _, err := h.collect(t, testWindow("codertocat/hello-world")); err != nil {
		t.Fatal(err)
	}
	lookups := 0
	for _, r := range h.fake.Log() {
		if strings.Count(r.Path, "/") == 3 && strings.HasPrefix(r.Path, "/repos/") {
			lookups++
		}
	}
	if lookups != 1 {
		t.Errorf("repository lookups = %d, want 1 (then cached)", lookups)
	}
}

func TestPullPagingStopsBeforeWindow(t *testing.T) {
	h := newHarness(t)
	w := testWindow("acme/api")
	for i := range 150 {
		m := w.Start.Add(time.Duration(i) * time.Minute)
		h.fake.AddPull("acme/api", githubfake.Pull{Title: "in window", User: "mona", CreatedAt: m.Add(-time.Hour), MergedAt: m})
	}
	// Closed without merge inside the window: listed, not emitted.
	h.fake.AddPull("acme/api", githubfake.Pull{Title: "abandoned", User: "mona", CreatedAt: w.Start.Add(-time.Hour), ClosedAt: w.Start.Add(time.Hour)})
	// Merged after the window but updated inside the listing order first.
	h.fake.AddPull("acme/api", githubfake.Pull{Title: "later", User: "mona", CreatedAt: w.Start, MergedAt: w.End.Add(time.Hour)})
	for i := range 400 {
		m := w.Start.Add(-time.Duration(i+1) * time.Hour)
		h.fake.AddPull("acme/api", githubfake.Pull{Title: "old", User: "mona", CreatedAt: m.Add(-time.Hour), MergedAt: m})
	}
	got, err := h.collect(t, w)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKinds(got)[timeline.KindChangeMerged]; n != 150 {
		t.Errorf("merged pulls = %d, want 150", n)
	}
	// 152 pulls updated inside the window or later, then the old ones: the
	// second page holds the first pull updated before the window.
	if n := h.fake.RequestsTo("GET", "/repos/acme/api/pulls"); n != 2 {
		t.Errorf("pull pages requested = %d, want 2 (of 6)", n)
	}
	for _, r := range h.fake.Log() {
		if r.Path == "/repos/acme/api/pulls" {
			q := r.Query
			if q.Get("state") != "closed" || q.Get("sort") != "updated" || q.Get("direction") != "desc" || q.Get("per_page") != "100" {
				t.Errorf("pull listing query = %v", q)
			}
		}
	}
}

func TestDeploymentStatuses(t *testing.T) {
	h := newHarness(t)
	w := testWindow("acme/api")
	type st struct {
		state, kind string
	}
	// One deployment per state, each with its status inside the window.
	cases := []st{
		{"queued", timeline.KindDeployQueued},
		{"in_progress", timeline.KindDeployStarted},
		{"success", timeline.KindDeploySucceeded},
		{"failure", timeline.KindDeployFailed},
		{"error", timeline.KindDeployFailed},
		{"inactive", timeline.KindDeployInactive},
		{"pending", timeline.KindDeployPending},
	}
	want := map[string]string{}
	for i, c := range cases {
		d := h.fake.AddDeployment("acme/api", githubfake.Deployment{
			SHA: fmt.Sprintf("%040d", i), Ref: "main", Environment: "production", Creator: "hubot",
			CreatedAt: w.Start.Add(time.Duration(i) * time.Minute),
		})
		id, err := h.fake.AddDeploymentStatus("acme/api", d, githubfake.DeploymentStatus{
			State: c.state, Creator: "deploy-bot", Description: "status " + c.state,
			CreatedAt: w.Start.Add(time.Duration(i)*time.Minute + 10*time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
		want[DeploymentStatusID("acme/api", id)] = c.kind
	}
	// A rollback with a status outside the window too.
	rb := h.fake.AddDeployment("acme/api", githubfake.Deployment{
		SHA: strings.Repeat("a", 40), Ref: "v1.2.2", Task: "deploy:rollback", Environment: "production",
		Description: "Roll back checkout", Creator: "alice", CreatedAt: w.Start.Add(time.Hour),
	})
	rbIn, _ := h.fake.AddDeploymentStatus("acme/api", rb, githubfake.DeploymentStatus{State: "success", Creator: "alice", CreatedAt: w.Start.Add(time.Hour + time.Minute)})
	h.fake.AddDeploymentStatus("acme/api", rb, githubfake.DeploymentStatus{State: "inactive", CreatedAt: w.End.Add(time.Hour)})
	want[DeploymentStatusID("acme/api", rbIn)] = timeline.KindDeploySucceeded
	// A deployment entirely before the window: its statuses are not read,
	// and listing stops there (the older ones behind it are not listed).
	old := h.fake.AddDeployment("acme/api", githubfake.Deployment{Creator: "hubot", CreatedAt: w.Start.Add(-48 * time.Hour)})
	h.fake.AddDeploymentStatus("acme/api", old, githubfake.DeploymentStatus{State: "success", CreatedAt: w.Start.Add(-47 * time.Hour)})
	for i := range 150 {
		h.fake.AddDeployment("acme/api", githubfake.Deployment{Creator: "hubot", CreatedAt: w.Start.Add(-time.Duration(100+i) * time.Hour)})
	}
	// A deployment created after the window: its statuses are not read.
	late := h.fake.AddDeployment("acme/api", githubfake.Deployment{Creator: "hubot", CreatedAt: w.End.Add(time.Minute)})
	h.fake.AddDeploymentStatus("acme/api", late, githubfake.DeploymentStatus{State: "success", CreatedAt: w.End.Add(2 * time.Minute)})

	got, err := h.collect(t, w)
	if err != nil {
		t.Fatal(err)
	}
	gotKinds := map[string]string{}
	for _, e := range got {
		if strings.HasPrefix(e.Kind, "deploy.") {
			gotKinds[e.ID] = e.Kind
		}
	}
	if diff := cmp.Diff(want, gotKinds); diff != "" {
		t.Errorf("deploy kinds by id (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if e.ID != DeploymentStatusID("acme/api", rbIn) {
			if _, ok := e.Details["rollback"]; ok {
				t.Errorf("%s marked as rollback", e.ID)
			}
			continue
		}
		wantDetails := map[string]any{
			"repo": "acme/api", "deployment_id": rb, "state": "success", "environment": "production",
			"sha": strings.Repeat("a", 40), "ref": "v1.2.2", "task": "deploy:rollback", "creator": "alice", "rollback": true,
			// What was live before, from the listing; the fake holds no such
			// commits, so what it shipped is unknown (no shipped_* keys).
			"previous_sha": "0000000000000000000000000000000000000006",
		}
		if diff := cmp.Diff(wantDetails, e.Details); diff != "" {
			t.Errorf("rollback details (-want +got):\n%s", diff)
		}
		if e.Actor == nil || e.Actor.ID != "alice" {
			t.Errorf("rollback actor = %+v, want alice", e.Actor)
		}
	}
	if n := h.fake.RequestsTo("GET", "/repos/acme/api/deployments"); n != 1 {
		t.Errorf("deployment pages requested = %d, want 1 (of 2)", n)
	}
	for _, d := range []int64{old, late} {
		if n := h.fake.RequestsTo("GET", fmt.Sprintf("/repos/acme/api/deployments/%d/statuses", d)); n != 0 {
			t.Errorf("statuses of deployment %d requested %d times, want 0", d, n)
		}
	}
}

func TestWorkflowRunsSplitAbove1000(t *testing.T) {
	h := newHarness(t)
	w := testWindow("acme/api")
	for i := range 2500 {
		c := w.Start.Add(time.Duration(i) * 4 * time.Second)
		h.fake.AddWorkflowRun("acme/api", githubfake.WorkflowRun{Name: "CI", Actor: "mona", CreatedAt: c, UpdatedAt: c.Add(3 * time.Second)})
	}
	// Not completed: filtered out by status=completed.
	h.fake.AddWorkflowRun("acme/api", githubfake.WorkflowRun{Name: "CI", Status: "in_progress", Actor: "mona", CreatedAt: w.Start.Add(time.Minute)})
	got, err := h.collect(t, w)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKinds(got)[timeline.KindCICompleted]; n != 2500 {
		t.Errorf("completed runs = %d, want 2500", n)
	}
	if len(ids(got)) != len(got) {
		t.Errorf("duplicate events")
	}
	ranges := map[string]bool{}
	for _, r := range h.fake.Log() {
		if r.Path == "/repos/acme/api/actions/runs" {
			if r.Query.Get("status") != "completed" {
				t.Errorf("status = %q", r.Query.Get("status"))
			}
			ranges[r.Query.Get("created")] = true
		}
	}
	if !ranges["2025-11-19T10:00:00Z..2025-11-20T13:00:00Z"] || len(ranges) < 3 {
		t.Errorf("created ranges asked = %v, want the window (from the lookback before it) and its halves", ranges)
	}
}

func TestRateLimitWaits(t *testing.T) {
	cases := []struct {
		name string
		mode githubfake.RateLimitMode
		want time.Duration
	}{
		{"429 retry-after", githubfake.Limit429RetryAfter, 30 * time.Second},
		{"403 remaining 0", githubfake.LimitPrimary403, 2 * time.Minute},
		{"429 remaining 0", githubfake.LimitPrimary429, 2 * time.Minute},
		{"secondary 403", githubfake.LimitSecondary403, time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.AddCommit("acme/api", githubfake.Commit{Message: "fix", AuthorName: "Dev", AuthorEmail: "d@acme.test", AuthorDate: t0.Add(time.Hour)})
			h.knowRepos(t, "acme/api")
			h.fake.RateLimitNext(1, c.mode)
			got, err := h.collect(t, testWindow("acme/api"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Errorf("events = %d, want 1", len(got))
			}
			if diff := cmp.Diff([]time.Duration{c.want}, h.sleeps.all()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if n := h.fake.RequestsTo("GET", "/repos/acme/api/commits"); n != 2 {
				t.Errorf("commit requests = %d, want 2", n)
			}
			if p := h.progress.Snapshot(); len(p) != 1 || p[0].RateLimitWaits != 1 {
				t.Errorf("progress = %+v, want one rate-limit wait", p)
			}
		})
	}
}

// TestExhaustedBudgetWaitsForReset: the answer that spends the budget says
// "0 remaining"; go-github would fail every later call at once until the
// reset. The collector waits for the reset instead, without sending a
// request that would be refused.
func TestExhaustedBudgetWaitsForReset(t *testing.T) {
	h := newHarness(t)
	// go-github compares the reset with the real clock: start there.
	h.clock.t = time.Now().UTC().Truncate(time.Second)
	h.sleeps.advance = h.clock.Advance
	h.fake.AddCommit("acme/api", githubfake.Commit{Message: "fix", AuthorName: "Dev", AuthorEmail: "d@acme.test", AuthorDate: t0.Add(time.Hour)})
	h.fake.SetBudget(3, 10*time.Minute)
	got, err := h.collect(t, testWindow("acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("events = %d, want 1", len(got))
	}
	if diff := cmp.Diff([]time.Duration{10 * time.Minute}, h.sleeps.all()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if n := h.fake.RateLimited(); n != 0 {
		t.Errorf("requests refused = %d, want 0", n)
	}
	if n := h.fake.Requests(); n != 6 {
		t.Errorf("requests = %d, want 6 (the repository, then one per listing)", n)
	}
}

func TestLongRateLimitIsReturned(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxRateLimitWait = time.Minute })
	h.fake.AddRepo("acme/api")
	h.knowRepos(t, "acme/api")
	h.fake.SetRateLimitWaits(30*time.Second, time.Hour)
	h.fake.RateLimitNext(1, githubfake.LimitPrimary403)
	_, err := h.collect(t, testWindow("acme/api"))
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want a *collectors.RateLimitError of 1h", err)
	}
	if !strings.Contains(err.Error(), "acme/api: commits") {
		t.Errorf("err = %v, want it to name the repository and listing", err)
	}
}

func TestPlain403FailsWithoutRetry(t *testing.T) {
	h := newHarness(t)
	h.fake.AddCommit("acme/api", githubfake.Commit{Message: "fix", AuthorName: "Dev", AuthorEmail: "d@acme.test", AuthorDate: t0.Add(time.Hour)})
	h.knowRepos(t, "acme/api")
	h.fake.FailNext(1, 403)
	_, err := h.collect(t, testWindow("acme/api"))
	if err == nil || !strings.Contains(err.Error(), "acme/api: commits") || !strings.Contains(err.Error(), "403 Resource not accessible by integration") {
		t.Fatalf("err = %v, want the commits listing's 403", err)
	}
	if n := h.fake.RequestsTo("GET", "/repos/acme/api/commits"); n != 1 {
		t.Errorf("commit requests = %d, want 1 (no retry)", n)
	}
	if w := h.sleeps.all(); len(w) != 0 {
		t.Errorf("waits = %v, want none", w)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	h := newHarness(t)
	h.fake.AddCommit("acme/api", githubfake.Commit{Message: "fix", AuthorName: "Dev", AuthorEmail: "d@acme.test", AuthorDate: t0.Add(time.Hour)})
	h.knowRepos(t, "acme/api")
	h.fake.FailNext(2, 502)
	got, err := h.collect(t, testWindow("acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("events = %d, want 1", len(got))
	}
	if n := h.fake.RequestsTo("GET", "/repos/acme/api/commits"); n != 3 {
		t.Errorf("commit requests = %d, want 3", n)
	}
	if w := h.sleeps.all(); len(w) != 2 {
		t.Errorf("backoff waits = %v, want 2", w)
	}
}

func TestOneRepoFailingKeepsTheOthers(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Concurrency = 4 })
	seedRealistic(h.fake, "acme/api")
	seedRealistic(h.fake, "acme/locked")
	h.fake.FailRepo("acme/locked", 403)
	w := testWindow("acme/api", "acme/gone", "acme/locked", "not-a-repo")
	got, err := h.collect(t, w)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"acme/gone: the repository does not exist, or the token cannot read it",
		"acme/locked: looking the repository up", "403 Resource not accessible", `"not-a-repo" is not owner/name`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err lacks %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "acme/api") {
		t.Errorf("err names the good repository:\n%v", err)
	}
	// The good repository's events are all there.
	single := newHarness(t)
	seedRealistic(single.fake, "acme/api")
	want, err := single.collect(t, testWindow("acme/api"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Errorf("events of the good repository (-want +got):\n%s", diff)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	h := newHarness(t)
	wrong, err := New(Config{Token: testToken + "-wrong", APIURL: h.url}, Options{ClientOptions: collectors.ClientOptions{SleepFunc: h.sleeps.sleep}, RequestsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.AddRepo("acme/api")
	err = wrong.Collect(context.Background(), testWindow("acme/api", "acme/missing"), func(timeline.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "401 Bad credentials") {
		t.Fatalf("err = %v, want 401", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error contains the token: %v", err)
	}
	// And through the guard, should any error ever quote it.
	red := h.col.redact(fmt.Errorf("GET https://x/?access_token=%s: boom: %w", testToken, &collectors.RateLimitError{Source: "github"}))
	var rl *collectors.RateLimitError
	if strings.Contains(red.Error(), testToken) || !errors.As(red, &rl) {
		t.Errorf("redact gave %q (chain kept: %v)", red, errors.As(red, &rl))
	}
}

func TestEmitErrorStopsAndIsReturned(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Concurrency = 3 })
	seedRealistic(h.fake, "acme/api")
	seedRealistic(h.fake, "acme/web")
	boom := errors.New("store is down")
	calls := 0
	err := h.col.Collect(context.Background(), testWindow("acme/api", "acme/web"), func(timeline.Event) error {
		calls++
		return boom
	})
	if err != boom {
		t.Fatalf("err = %v, want the emit error unchanged", err)
	}
	if calls != 1 {
		t.Errorf("emit called %d times after failing", calls)
	}
}

func TestCancelledContext(t *testing.T) {
	h := newHarness(t)
	seedRealistic(h.fake, "acme/api")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.col.Collect(ctx, testWindow("acme/api"), func(timeline.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEmptyRepository(t *testing.T) {
	h := newHarness(t)
	h.fake.AddRepo("acme/empty")
	got, err := h.collect(t, testWindow("acme/empty"))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %d events, err %v; want none and no error", len(got), err)
	}
}

// seedRealistic gives repo an incident's worth of activity around the test
// window: a bad change merged and deployed, the alert, a failed CI run, a
// rollback, the fix, a release, plus older and later noise.
func seedRealistic(f *githubfake.Server, repo string) {
	f.AddUser(githubfake.User{Login: "mona", Name: "Mona Lisa", Email: "mona@acme.test"})
	f.AddUser(githubfake.User{Login: "github-actions[bot]", Bot: true})
	ws := t0
	// Older history, outside the window.
	for i := range 5 {
		f.AddCommit(repo, githubfake.Commit{
			SHA:     fmt.Sprintf("%040x", 0xa000+i),
			Message: fmt.Sprintf("Tidy module %d", i), AuthorLogin: "ravi", AuthorName: "Ravi Patel", AuthorEmail: "ravi@acme.test",
			AuthorDate: ws.Add(-time.Duration(i+3) * time.Hour),
		})
	}
	bad := f.AddCommit(repo, githubfake.Commit{
		SHA:     "7638417db6d59f3c431d3e1f261cc637155684cd",
		Message: "Cache cart totals in Redis\n\nCuts p99 of /cart by half; totals are invalidated on write.",
		// Authored yesterday, rebased and committed inside the window.
		AuthorLogin: "mona", AuthorName: "Mona Lisa", AuthorEmail: "mona@acme.test", AuthorDate: ws.Add(-20 * time.Hour),
		CommitterLogin: "web-flow", CommitterName: "GitHub", CommitterEmail: "noreply@github.com", CommitterDate: ws.Add(15 * time.Minute),
		Parents: []string{fmt.Sprintf("%040x", 0xa000)},
	})
	f.AddPull(repo, githubfake.Pull{
		Number: 1347, Title: "Cache cart totals in Redis", Body: "Cuts p99 of /cart by half.", User: "mona",
		Head: "mona/cart-cache", Base: "main", HeadSHA: "0123456789abcdef0123456789abcdef01234567", MergeCommitSHA: bad,
		CreatedAt: ws.Add(-26 * time.Hour), MergedAt: ws.Add(15 * time.Minute),
	})
	f.AddPull(repo, githubfake.Pull{Number: 1350, Title: "Try a bigger pool", User: "ravi", CreatedAt: ws.Add(-2 * time.Hour), ClosedAt: ws.Add(80 * time.Minute)})
	f.AddPull(repo, githubfake.Pull{Number: 1340, Title: "Old change", User: "ravi", CreatedAt: ws.Add(-72 * time.Hour), MergedAt: ws.Add(-50 * time.Hour)})
	f.AddWorkflowRun(repo, githubfake.WorkflowRun{
		ID: 30433642, Name: "Build", HeadSHA: bad, HeadBranch: "main", Event: "push", RunNumber: 562,
		Actor: "mona", TriggeringActor: "mona", CreatedAt: ws.Add(15*time.Minute + 5*time.Second), UpdatedAt: ws.Add(24 * time.Minute),
	})
	dep := f.AddDeployment(repo, githubfake.Deployment{
		ID: 145988746, SHA: bad, Ref: "main", Environment: "production", Description: "Deploy request from hubot",
		Creator: "hubot", CreatedAt: ws.Add(26 * time.Minute), ProductionEnvironment: true,
	})
	for i, s := range []string{"queued", "in_progress", "success"} {
		f.AddDeploymentStatus(repo, dep, githubfake.DeploymentStatus{
			ID: int64(209916250 + i), State: s, Creator: "hubot", Description: map[string]string{"queued": "", "in_progress": "Rolling out", "success": "Deployment finished successfully."}[s],
			TargetURL: "https://deploy.acme.test/runs/42", CreatedAt: ws.Add(time.Duration(26+2*i) * time.Minute),
		})
	}
	f.AddWorkflowRun(repo, githubfake.WorkflowRun{
		ID: 30433700, Name: "Smoke tests", HeadSHA: bad, Event: "deployment_status", Conclusion: "failure", RunNumber: 88,
		Actor: "hubot", CreatedAt: ws.Add(31 * time.Minute), UpdatedAt: ws.Add(38 * time.Minute),
	})
	rb := f.AddDeployment(repo, githubfake.Deployment{
		ID: 145988800, SHA: fmt.Sprintf("%040x", 0xa000), Ref: "v2.14.0", Task: "deploy:rollback", Environment: "production",
		Description: "Rollback to v2.14.0", Creator: "mona", CreatedAt: ws.Add(70 * time.Minute), ProductionEnvironment: true,
	})
	f.AddDeploymentStatus(repo, rb, githubfake.DeploymentStatus{ID: 209916300, State: "in_progress", Creator: "mona", CreatedAt: ws.Add(71 * time.Minute)})
	f.AddDeploymentStatus(repo, rb, githubfake.DeploymentStatus{ID: 209916301, State: "error", Creator: "mona", Description: "Health check timed out", CreatedAt: ws.Add(75 * time.Minute)})
	f.AddDeploymentStatus(repo, rb, githubfake.DeploymentStatus{ID: 209916302, State: "success", Creator: "mona", Description: "Rolled back", CreatedAt: ws.Add(82 * time.Minute)})
	f.AddDeploymentStatus(repo, dep, githubfake.DeploymentStatus{ID: 209916303, State: "inactive", Creator: "hubot", CreatedAt: ws.Add(82 * time.Minute)})
	fix := f.AddCommit(repo, githubfake.Commit{
		SHA:     "e5bd3914e2e596debea16f433f57875b5b90bcd6",
		Message: "Invalidate cart totals on promo change", AuthorName: "Contractor", AuthorEmail: "dev@contractor.test",
		AuthorDate: ws.Add(110 * time.Minute),
	})
	f.AddRelease(repo, githubfake.Release{
		ID: 1, TagName: "v2.14.1", Name: "v2.14.1", Body: "Fixes cart totals after promo changes.", TargetCommitish: fix,
		Author: "mona", CreatedAt: ws.Add(130 * time.Minute), PublishedAt: ws.Add(131 * time.Minute),
	})
	f.AddRelease(repo, githubfake.Release{ID: 2, TagName: "v2.15.0", Name: "Next", Draft: true, Author: "mona", CreatedAt: ws.Add(140 * time.Minute)})
	f.AddRelease(repo, githubfake.Release{ID: 3, TagName: "v2.14.0", Author: "ravi", CreatedAt: ws.Add(-30 * time.Hour), PublishedAt: ws.Add(-30 * time.Hour)})
	// After the window.
	f.AddCommit(repo, githubfake.Commit{Message: "Follow-up", AuthorLogin: "mona", AuthorName: "Mona Lisa", AuthorEmail: "mona@acme.test", AuthorDate: ws.Add(5 * time.Hour)})
}

// goldenEvent is the JSON shape of PRODUCT.md §3 (without incident_id and
// seq, which the runner and the store add).
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

func goldenJSON(t *testing.T, es []timeline.Event) []byte {
	t.Helper()
	out := make([]goldenEvent, 0, len(es))
	for _, e := range es {
		out = append(out, goldenEvent{
			ID: e.ID, Source: e.Source, Kind: e.Kind, OccurredAt: e.OccurredAt.Format(time.RFC3339Nano),
			Actor: e.Actor, Title: e.Title, Text: e.Text, URL: e.URL, Details: e.Details,
		})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestGoldenRealisticRepo(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Concurrency = 5 })
	seedRealistic(h.fake, "acme/checkout-api")
	got, err := h.collect(t, testWindow("acme/checkout-api"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "collect_checkout_api.golden.json", goldenJSON(t, got))
}

type cancelOnRequest struct{ cancel context.CancelFunc }

func (c cancelOnRequest) Request(string)                    { c.cancel() }
func (c cancelOnRequest) RateLimited(string, time.Duration) {}

// TestCancelStopsSlowRequests: a request in flight to a slow GitHub ends as
// soon as the context does.
func TestCancelStopsSlowRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newHarness(t, func(o *Options) { o.Observer = cancelOnRequest{cancel}; o.Concurrency = 5 })
	seedRealistic(h.fake, "acme/api")
	h.fake.SetLatency(time.Hour)
	err := h.col.Collect(ctx, testWindow("acme/api"), func(timeline.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
