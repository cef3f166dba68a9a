package github

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v66/github"

	"github.com/groundwork-dev/groundwork/timeline"
)

func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// collectedByID collects the realistic repository and indexes its events.
func collectedByID(t *testing.T) map[string]timeline.Event {
	t.Helper()
	h := newHarness(t)
	seedRealistic(h.fake, "acme/checkout-api")
	got, err := h.collect(t, testWindow("acme/checkout-api"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]timeline.Event{}
	for _, e := range got {
		m[e.ID] = e
	}
	return m
}

// TestLiveEventsMatchCollected normalises webhook deliveries of objects that
// the fake also serves, and compares them with the collected events: live
// capture and collection must agree so that neither duplicates the other.
func TestLiveEventsMatchCollected(t *testing.T) {
	collected := collectedByID(t)
	// same compares a live event with the collected one, leaving out the
	// details only a collection can know.
	same := func(t *testing.T, live timeline.Event, collectionOnly ...string) {
		t.Helper()
		want, ok := collected[live.ID]
		if !ok {
			t.Fatalf("live event %s was not collected", live.ID)
		}
		if len(collectionOnly) > 0 {
			want.Details = maps.Clone(want.Details)
			for _, k := range collectionOnly {
				delete(want.Details, k)
			}
		}
		if diff := cmp.Diff(want, live); diff != "" {
			t.Errorf("live %s differs from collected (-collected +live):\n%s", live.ID, diff)
		}
	}

	t.Run("push", func(t *testing.T) {
		var ev gh.PushEvent
		readFixture(t, "webhook_push.json", &ev)
		repo := ev.GetRepo().GetFullName()
		if len(ev.Commits) != 1 {
			t.Fatalf("commits = %d", len(ev.Commits))
		}
		same(t, NormalizePushCommit(repo, ev.Commits[0]))
		same(t, NormalizePushCommit(repo, ev.GetHeadCommit()))
	})
	t.Run("push of a rebased commit", func(t *testing.T) {
		// The push carries the author date only: everything but
		// occurred_at matches, and collection moves it to the committer
		// date under the same id.
		var ev gh.PushEvent
		readFixture(t, "webhook_push_rebased.json", &ev)
		live := NormalizePushCommit(ev.GetRepo().GetFullName(), ev.Commits[0])
		want := collected[live.ID]
		if want.ID == "" {
			t.Fatalf("live event %s was not collected", live.ID)
		}
		if !live.OccurredAt.Equal(time.Date(2025, 11, 19, 14, 0, 0, 0, time.UTC)) || live.OccurredAt.Location() != time.UTC {
			t.Errorf("live occurred_at = %v, want the author date in UTC", live.OccurredAt)
		}
		live.OccurredAt = want.OccurredAt
		if diff := cmp.Diff(want, live); diff != "" {
			t.Errorf("(-collected +live):\n%s", diff)
		}
	})
	t.Run("deployment_status", func(t *testing.T) {
		var ev gh.DeploymentStatusEvent
		readFixture(t, "webhook_deployment_status.json", &ev)
		live := NormalizeDeploymentStatus(ev.GetRepo().GetFullName(), ev.GetDeployment(), ev.GetDeploymentStatus())
		if live.Kind != timeline.KindDeployFailed || live.Details["rollback"] != true {
			t.Errorf("kind %s, rollback %v; want deploy.failed of a rollback", live.Kind, live.Details["rollback"])
		}
		// What was live before and what the deployment shipped come from
		// the deployment's history, which only a collection reads; the
		// collection updates the live event in place with them.
		for _, k := range []string{timeline.DetailPreviousSHA, timeline.DetailShippedPulls, timeline.DetailShippedCommits} {
			if _, ok := live.Details[k]; ok {
				t.Errorf("the live event has %s, which needs the deployment's history", k)
			}
		}
		same(t, live, timeline.DetailPreviousSHA, timeline.DetailShippedPulls, timeline.DetailShippedCommits)
	})
	t.Run("workflow_run", func(t *testing.T) {
		var ev gh.WorkflowRunEvent
		readFixture(t, "webhook_workflow_run_completed.json", &ev)
		same(t, NormalizeWorkflowRun(ev.GetRepo().GetFullName(), ev.GetWorkflowRun()))
	})
}

func TestDeployKind(t *testing.T) {
	for state, want := range map[string]string{
		"queued":      timeline.KindDeployQueued,
		"in_progress": timeline.KindDeployStarted,
		"success":     timeline.KindDeploySucceeded,
		"failure":     timeline.KindDeployFailed,
		"error":       timeline.KindDeployFailed,
		"inactive":    timeline.KindDeployInactive,
		"pending":     timeline.KindDeployPending,
		"waiting":     "",
	} {
		got, ok := DeployKind(state)
		if got != want || ok != (want != "") {
			t.Errorf("DeployKind(%q) = %q, %v; want %q", state, got, ok, want)
		}
	}
}

func TestIsRollback(t *testing.T) {
	cases := []struct {
		name string
		d    gh.Deployment
		want bool
	}{
		{"plain deploy", gh.Deployment{Task: gh.String("deploy"), Description: gh.String("Deploy request from hubot"), Payload: json.RawMessage(`{}`)}, false},
		{"task", gh.Deployment{Task: gh.String("deploy:rollback")}, true},
		{"description rollback", gh.Deployment{Description: gh.String("Emergency ROLLBACK of checkout")}, true},
		{"description roll back", gh.Deployment{Description: gh.String("roll back to v2")}, true},
		{"description revert", gh.Deployment{Description: gh.String("Revert #1347")}, true},
		{"payload bool", gh.Deployment{Payload: json.RawMessage(`{"rollback": true}`)}, true},
		{"payload string", gh.Deployment{Payload: json.RawMessage(`{"rollback": "true"}`)}, true},
		{"payload false", gh.Deployment{Payload: json.RawMessage(`{"rollback": false}`)}, false},
		{"payload not an object", gh.Deployment{Payload: json.RawMessage(`"rollback"`)}, false},
		{"nothing", gh.Deployment{}, false},
	}
	for _, c := range cases {
		if got := IsRollback(&c.d); got != c.want {
			t.Errorf("%s: IsRollback = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNormalizeCommitFallbacks(t *testing.T) {
	local := time.FixedZone("CET", 3600)
	long := strings.Repeat("word ", 60)
	c := &gh.RepositoryCommit{
		SHA: gh.String("abc"),
		Commit: &gh.Commit{
			Author:  &gh.CommitAuthor{Name: gh.String("Dev"), Email: gh.String("dev@x.test"), Date: &gh.Timestamp{Time: time.Date(2025, 1, 2, 13, 4, 5, 0, local)}},
			Message: gh.String(long + "\nsecond line"),
		},
	}
	e := NormalizeCommit("o/r", c)
	want := time.Date(2025, 1, 2, 12, 4, 5, 0, time.UTC)
	if !e.OccurredAt.Equal(want) || e.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at = %v, want the author date in UTC when there is no committer date", e.OccurredAt)
	}
	if diff := cmp.Diff(&timeline.Actor{ID: "Dev", Name: "Dev", Email: "dev@x.test"}, e.Actor); diff != "" {
		t.Errorf("actor (-want +got):\n%s", diff)
	}
	if n := len([]rune(e.Title)); n > titleLen || strings.ContainsAny(e.Title, "\r\n") {
		t.Errorf("title %q: %d runes", e.Title, n)
	}
	if e.Text != long+"\nsecond line" {
		t.Errorf("text lost the message")
	}
	if e.ID != "github:commit:o/r:abc" || e.Kind != timeline.KindChangeCommit || e.Source != "github" {
		t.Errorf("id/kind/source = %s %s %s", e.ID, e.Kind, e.Source)
	}
}

func TestNormalizePullActor(t *testing.T) {
	merged := &gh.Timestamp{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	p := &gh.PullRequest{Number: gh.Int(7), Title: gh.String("t"), User: &gh.User{Login: gh.String("author")}, MergedAt: merged}
	if a := NormalizePull("o/r", p).Actor; a == nil || a.ID != "author" {
		t.Errorf("actor = %+v, want the author without merged_by", a)
	}
	p.MergedBy = &gh.User{Login: gh.String("merger")}
	e := NormalizePull("o/r", p)
	if e.Actor == nil || e.Actor.ID != "merger" || e.ID != "github:pull:o/r:7" || !e.OccurredAt.Equal(merged.Time) {
		t.Errorf("event = %+v", e)
	}
}

// NUL characters and invalid UTF-8 in a commit message (collected or
// pushed), a pull request title or a release name come out replaced.
func TestNormalizeMakesStorable(t *testing.T) {
	const dirty = "nul\x00 and bad \xff"
	const clean = "nul\uFFFD and bad \uFFFD"
	at := &gh.Timestamp{Time: t0}
	commit := NormalizeCommit("acme/api", &gh.RepositoryCommit{SHA: gh.String("abc123"),
		Commit: &gh.Commit{Message: gh.String(dirty + "\n\nbody\x00"),
			Author:    &gh.CommitAuthor{Name: gh.String("De\x00v"), Email: gh.String("d@acme.test"), Date: at},
			Committer: &gh.CommitAuthor{Name: gh.String("Dev"), Date: at}}})
	push := NormalizePushCommit("acme/api", &gh.HeadCommit{ID: gh.String("abc123"), Message: gh.String(dirty + "\n\nbody\x00"),
		Timestamp: at, Author: &gh.CommitAuthor{Name: gh.String("De\x00v"), Email: gh.String("d@acme.test")}})
	pull := NormalizePull("acme/api", &gh.PullRequest{Number: gh.Int(1), Title: gh.String(dirty), MergedAt: at})
	rel := NormalizeRelease("acme/api", &gh.RepositoryRelease{ID: gh.Int64(9), Name: gh.String(dirty), TagName: gh.String("v1"), PublishedAt: at})
	for _, e := range []timeline.Event{commit, push, pull, rel} {
		if !e.Storable() {
			t.Errorf("%s is not storable: %+v", e.ID, e)
		}
		if !strings.Contains(e.Title, clean) {
			t.Errorf("%s title %q, want it to hold %q", e.ID, e.Title, clean)
		}
	}
	if commit.Text != clean+"\n\nbody\uFFFD" || commit.Actor.Name != "De\uFFFDv" {
		t.Errorf("commit text %q, actor %+v", commit.Text, commit.Actor)
	}
	if push.Text != commit.Text {
		t.Errorf("pushed commit text %q, collected %q", push.Text, commit.Text)
	}
}
