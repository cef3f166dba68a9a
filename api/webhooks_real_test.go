package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/timeline"
)

// The real deliveries under testdata/webhooks-real (see its README): what
// GitHub and PagerDuty send, replayed through the receivers.
const realDir = "testdata/webhooks-real/"

// aldavivaSecret signed the deliveries Aldaviva/PagerDuty captured.
const aldavivaSecret = "HvPtlQNKMPpHSSqJpCdndXfo7HnGXa1pnH6w5axpxLFn9aRBNBGh4e8/HlonK5mz"

func realFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(realDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClock is a settable clock shared by the server and its workers.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// realScope is the configuration the real payloads are tested under:
// Aldaviva's "Webhook Tester" service maps to the repository and channel of
// its payloads' world, PSVC001 to the checkout API's.
func realScope(service string) ([]string, []string) {
	switch service {
	case "PNE3JZM":
		return []string{"Codertocat/Hello-World"}, []string{"C111"}
	case "PSVC001":
		return []string{"acme/checkout-api"}, []string{"C0CHECKOUT"}
	}
	return nil, nil
}

// setupReal is a webhook bundle under realScope whose clock is clock.
func setupReal(t *testing.T, clock *testClock, configure ...func(*api.Server)) *whBundle {
	t.Helper()
	return setupWebhooks(t, append([]func(*api.Server){func(s *api.Server) {
		s.NowFunc = clock.Now
		s.Webhooks.ScopeFunc = realScope
	}}, configure...)...)
}

// declareGeneric stores an incident of the generic hook with the window the
// hook would give it ([started-2h, resolved+30m]).
func declareGeneric(t *testing.T, b *whBundle, id string, repos []string, started, resolved time.Time) {
	t.Helper()
	start, end := timeline.WindowFor(started, &resolved, 2*time.Hour, 30*time.Minute, resolved)
	_, err := b.deliveries.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "setup", Incidents: []timeline.Incident{{
		ID: id, Source: timeline.SourceGeneric, StartedAt: started, ResolvedAt: &resolved, StatusAt: resolved,
		WindowStart: start, WindowEnd: end, Repos: repos}}})
	if err != nil {
		t.Fatal(err)
	}
}

// stored lists "incident id kind occurred_at" of every event of incidents.
func (b *whBundle) stored(t *testing.T, incidents ...string) []string {
	t.Helper()
	var out []string
	for _, inc := range incidents {
		for _, e := range b.timeline(t, inc) {
			out = append(out, inc+" "+e.ID+" "+e.Kind+" "+e.OccurredAt.Format(time.RFC3339Nano))
		}
	}
	sort.Strings(out)
	return out
}

// coversEveryFile fails unless the table names every file of dir.
func coversEveryFile(t *testing.T, dir string, named map[string]bool) {
	t.Helper()
	entries, err := os.ReadDir(realDir + dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !named[e.Name()] {
			t.Errorf("%s%s is in no test case", dir, e.Name())
		}
	}
}

// The incidents the GitHub payloads fall in (testdata/webhooks-real/README.md).
var realGitHubIncidents = []struct {
	id                string
	repo              string
	started, resolved time.Time
}{
	{"RP-GH-2019", "Codertocat/Hello-World", time.Date(2019, 5, 15, 15, 0, 0, 0, time.UTC), time.Date(2019, 5, 15, 15, 30, 0, 0, time.UTC)},
	// The configuration spells the repository in lower case.
	{"RP-GH-CASE", "codertocat/hello-world", time.Date(2019, 5, 15, 15, 0, 0, 0, time.UTC), time.Date(2019, 5, 15, 15, 30, 0, 0, time.UTC)},
	// The window starts exactly at the deployment status, 15:20:55Z.
	{"RP-GH-EDGE", "Codertocat/Hello-World", time.Date(2019, 5, 15, 17, 20, 55, 0, time.UTC), time.Date(2019, 5, 15, 17, 30, 0, 0, time.UTC)},
	{"RP-GH-2022", "Codertocat/Hello-World", time.Date(2022, 1, 3, 1, 0, 0, 0, time.UTC), time.Date(2022, 1, 3, 2, 0, 0, 0, time.UTC)},
	{"RP-GH-2020", "octo-org/octo-repo", time.Date(2020, 10, 5, 16, 0, 0, 0, time.UTC), time.Date(2020, 10, 5, 17, 0, 0, 0, time.UTC)},
	{"RP-GH-2018", "binkkatal/sample_app", time.Date(2018, 6, 29, 14, 0, 0, 0, time.UTC), time.Date(2018, 6, 29, 15, 0, 0, 0, time.UTC)},
	{"RP-GH-2015", "baxterthehacker/public-repo", time.Date(2015, 5, 5, 23, 0, 0, 0, time.UTC), time.Date(2015, 5, 5, 23, 45, 0, 0, time.UTC)},
}

// TestRealGitHubDeliveries replays every GitHub delivery of the real
// payloads, signed with the test secret, to a receiver whose incidents are
// set up as the README lists them, and checks exactly what it stored: the
// PRODUCT.md id, kind and time under GitHub's own spelling of the
// repository, in every incident whose repositories (in any case) and window
// hold it, and nothing for the events that are not captured.
func TestRealGitHubDeliveries(t *testing.T) {
	t.Parallel()
	const (
		deploy2019 = "github:deployment_status:Codertocat/Hello-World:209916254 deploy.succeeded 2019-05-15T15:20:55Z"
		commit2019 = "github:commit:Codertocat/Hello-World:6113728f27ae82c7b1a177c8d03f9e96e0adf246 change.commit 2019-05-15T15:19:25Z"
		run2020    = "github:workflow_run:octo-org/octo-repo:289782451 ci.completed "
	)
	cases := []struct {
		file, event, status string
		stored              []string
	}{
		// +05:30 timestamps, an integer created_at: the commit lands in UTC.
		{"goplayground-push.json", "push", "accepted", []string{
			"RP-GH-2018 github:commit:binkkatal/sample_app:fd489864e7642b48eaad6e3f155c10e46810ec72 change.commit 2018-06-29T14:04:13Z"}},
		// Hand-edited action; the run's status says it completed, which is
		// what the collector goes by too.
		{"goplayground-workflow_run.json", "workflow_run", "accepted", []string{
			"RP-GH-2015 github:workflow_run:baxterthehacker/public-repo:565676767 ci.completed 2015-05-05T23:40:30Z"}},
		{"octokit-check_run-completed.json", "check_run", "ignored", nil},
		{"octokit-deployment-payload.json", "deployment", "ignored", nil},
		{"octokit-deployment_status-gh-pages.json", "deployment_status", "accepted", []string{
			"RP-GH-2022 github:deployment_status:Codertocat/Hello-World:209916254 deploy.started 2022-01-03T01:28:40Z"}},
		{"octokit-deployment_status-payload.json", "deployment_status", "accepted", []string{
			"RP-GH-2019 " + deploy2019, "RP-GH-CASE " + deploy2019, "RP-GH-EDGE " + deploy2019}},
		{"octokit-deployment_status-with-installation.json", "deployment_status", "accepted", []string{
			"RP-GH-2019 " + deploy2019, "RP-GH-CASE " + deploy2019, "RP-GH-EDGE " + deploy2019}},
		{"octokit-issues-opened.json", "issues", "ignored", nil},
		{"octokit-ping-payload.json", "ping", "ignored", nil},
		{"octokit-ping-with-organization.json", "ping", "ignored", nil},
		{"octokit-pull_request-closed.json", "pull_request", "ignored", nil}, // closed, not merged
		{"octokit-push-payload.json", "push", "ignored", nil},                // a tag deleted: no commits
		{"octokit-push-with-new-branch.json", "push", "accepted", []string{"RP-GH-2019 " + commit2019, "RP-GH-CASE " + commit2019}},
		{"octokit-push-with-no-username-committer.json", "push", "accepted", []string{"RP-GH-2019 " + commit2019, "RP-GH-CASE " + commit2019}},
		{"octokit-release-published.json", "release", "accepted", []string{
			"RP-GH-2019 github:release:Codertocat/Hello-World:17372790 change.release 2019-05-15T15:20:53Z",
			"RP-GH-CASE github:release:Codertocat/Hello-World:17372790 change.release 2019-05-15T15:20:53Z"}},
		{"octokit-star-created.json", "star", "ignored", nil},
		{"octokit-workflow_job-completed.success.with-organization.json", "workflow_job", "ignored", nil},
		{"octokit-workflow_run-completed.json", "workflow_run", "accepted", []string{"RP-GH-2020 " + run2020 + "2020-10-05T16:33:49Z"}},
		{"octokit-workflow_run-completed.with-pull-requests.json", "workflow_run", "accepted", []string{"RP-GH-2020 " + run2020 + "2020-10-05T16:33:49Z"}},
		{"octokit-workflow_run-requested.json", "workflow_run", "ignored", nil}, // queued
		// Requested and at once completed with action_required (it waits
		// for approval): the collector lists it as completed too.
		{"octokit-workflow_run-requested.with-conclusion.json", "workflow_run", "accepted", []string{"RP-GH-2020 " + run2020 + "2020-10-05T16:33:24Z"}},
	}
	named := map[string]bool{}
	var ids []string
	for _, inc := range realGitHubIncidents {
		ids = append(ids, inc.id)
	}
	for _, tc := range cases {
		named[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			b := setupReal(t, &testClock{t: t0})
			for _, inc := range realGitHubIncidents {
				declareGeneric(t, b, inc.id, []string{inc.repo}, inc.started, inc.resolved)
			}
			body := realFile(t, "github/"+tc.file)
			code, ack := b.post(t, "/webhooks/github", body, ghHeaders(body, tc.event, "delivery-"+tc.file)...)
			if code != http.StatusOK || ack["status"] != tc.status {
				t.Fatalf("%d %v, want 200 %s", code, ack, tc.status)
			}
			if tc.status == "accepted" && ack["events"] != float64(len(tc.stored)) {
				t.Errorf("ack counts %v events, want %d", ack["events"], len(tc.stored))
			}
			want := append([]string(nil), tc.stored...)
			sort.Strings(want)
			if diff := cmp.Diff(want, b.stored(t, ids...)); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if js := b.jobs(t); len(js) != 0 {
				t.Errorf("jobs = %+v, want none: live capture queues nothing", js)
			}
			// Delivered again: nothing changes.
			if code, ack := b.post(t, "/webhooks/github", body, ghHeaders(body, tc.event, "delivery-"+tc.file)...); code != http.StatusOK ||
				(tc.status == "accepted" && ack["status"] != "duplicate") {
				t.Errorf("redelivery: %d %v, want 200 duplicate", code, ack)
			}
		})
	}
	coversEveryFile(t, "github/", named)
}

// TestGitHubContentTypes: a webhook set to application/x-www-form-urlencoded
// (a GitHub setting) is accepted, its signature checked over the form; any
// other content type is refused with 415 and told what to choose.
func TestGitHubContentTypes(t *testing.T) {
	t.Parallel()
	b := setupReal(t, &testClock{t: t0})
	for _, inc := range realGitHubIncidents {
		declareGeneric(t, b, inc.id, []string{inc.repo}, inc.started, inc.resolved)
	}
	payload := realFile(t, "github/octokit-deployment_status-payload.json")
	form := []byte(url.Values{"payload": {string(payload)}}.Encode())
	send := func(body []byte, contentType string, headers ...string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/github", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
		}
		return resp.StatusCode, out
	}
	code, ack := send(form, "application/x-www-form-urlencoded", ghHeaders(form, "deployment_status", "form-1")...)
	if code != http.StatusOK || ack["status"] != "accepted" || ack["events"] != float64(3) {
		t.Fatalf("form-encoded: %d %v, want the deployment status accepted for 3 incidents", code, ack)
	}
	if got := b.stored(t, "RP-GH-CASE"); len(got) != 1 || !strings.Contains(got[0], "github:deployment_status:Codertocat/Hello-World:209916254") {
		t.Errorf("RP-GH-CASE holds %v", got)
	}
	// The signature covers the form as sent, not the payload inside it.
	if code, ack := send(form, "application/x-www-form-urlencoded", ghHeaders(payload, "deployment_status", "form-2")...); code != http.StatusUnauthorized {
		t.Errorf("form signed as its payload: %d %v, want 401", code, ack)
	}
	empty := []byte("zen=hi")
	if code, ack := send(empty, "application/x-www-form-urlencoded", ghHeaders(empty, "push", "form-3")...); code != http.StatusBadRequest ||
		!strings.Contains(errorMessage(ack), "payload") {
		t.Errorf("form without payload: %d %v, want 400 naming payload", code, ack)
	}
	code, ack = send(payload, "text/plain", ghHeaders(payload, "deployment_status", "text-1")...)
	if code != http.StatusUnsupportedMediaType || !strings.Contains(errorMessage(ack), "application/json") {
		t.Errorf("text/plain: %d %v, want 415 saying to choose application/json", code, ack)
	}
	if code, ack := send(payload, "application/json; charset=utf-8", ghHeaders(payload, "deployment_status", "json-1")...); code != http.StatusOK {
		t.Errorf("JSON with a charset: %d %v, want 200", code, ack)
	}
}

// TestRealPagerDutyDeliveries replays every PagerDuty delivery of the real
// payloads, with the signature captured beside it (verbatim, under the
// secret it was made with) where there is one, and checks the outcome: an
// incident opened or resolved with its window and scope, a collection
// queued only on resolution, nothing for other events, 401 for the
// mismatched vector.
func TestRealPagerDutyDeliveries(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)
	type incident struct {
		id, status, windowStart, windowEnd, resolvedAt, service string
		repos, channels                                         []string
	}
	aldaviva := func(status, end, resolved string) *incident {
		return &incident{"Q2CKYRLH85UNN4", status, "2025-04-07T01:47:13Z", end, resolved, "PNE3JZM", []string{"Codertocat/Hello-World"}, []string{"C111"}}
	}
	q1 := func(status, end, resolved string) *incident {
		return &incident{"Q1CHK5XX", status, "2026-11-20T08:00:00Z", end, resolved, "PSVC001", []string{"acme/checkout-api"}, []string{"C0CHECKOUT"}}
	}
	nowS := now.Format(time.RFC3339Nano)
	cases := []struct {
		file, sig, secret string
		code              int
		status            string
		incident          *incident
		jobs              int
	}{
		{"aldaviva-pagey.ping.json", "aldaviva-pagey.ping.sig", aldavivaSecret, 200, "ignored", nil, 0},
		{"aldaviva-incident.triggered.json", "aldaviva-incident.triggered.sig", aldavivaSecret, 200, "accepted", aldaviva("open", nowS, ""), 0},
		{"aldaviva-incident.acknowledged.json", "aldaviva-incident.acknowledged.sig", aldavivaSecret, 200, "accepted", aldaviva("open", nowS, ""), 0},
		{"aldaviva-incident.annotated.json", "aldaviva-incident.annotated.sig", aldavivaSecret, 200, "ignored", nil, 0},
		{"aldaviva-incident.resolved.json", "aldaviva-incident.resolved.sig", aldavivaSecret, 200, "accepted",
			aldaviva("resolved", "2025-04-07T04:19:36.358Z", "2025-04-07T03:49:36.358Z"), 1},
		{"gopagerduty-testvector-incident.priority_updated.json", "gopagerduty-testvector-incident.priority_updated.sig", whPagerDutySecret, 200, "ignored", nil, 0},
		{"gopagerduty-testvector-incident.priority_updated.json", "gopagerduty-testvector-mismatch.sig", whPagerDutySecret, 401, "", nil, 0},
		{"pddocs-incident.priority_updated.json", "", whPagerDutySecret, 200, "ignored", nil, 0},
		{"pddocs-service.updated.json", "", whPagerDutySecret, 200, "ignored", nil, 0},
		{"ADAPTED-reopened-Q1CHK5XX.json", "", whPagerDutySecret, 200, "accepted", q1("open", nowS, ""), 0},
		{"ADAPTED-resolved-Q1CHK5XX.json", "", whPagerDutySecret, 200, "accepted", q1("resolved", "2026-11-20T11:42:30Z", "2026-11-20T11:12:30Z"), 1},
		{"ADAPTED-resolved2-Q1CHK5XX.json", "", whPagerDutySecret, 200, "accepted", q1("resolved", "2026-11-20T13:00:00Z", "2026-11-20T12:30:00Z"), 1},
	}
	named := map[string]bool{}
	for _, tc := range cases {
		named[tc.file], named[tc.sig] = true, tc.sig != ""
		t.Run(tc.file+" "+tc.sig, func(t *testing.T) {
			t.Parallel()
			b := setupReal(t, &testClock{t: now}, func(s *api.Server) {
				withReceiver(s, pagerduty.NewReceiver(&pagerduty.Config{WebhookSecret: collectors.Secret(tc.secret)}))
				s.Versions = s.Store.(api.VersionStore)
			})
			body := realFile(t, "pagerduty/"+tc.file)
			sig := "v1=" + mac(tc.secret, body)
			if tc.sig != "" {
				sig = string(realFile(t, "pagerduty/"+tc.sig)) // verbatim
			}
			code, ack := b.post(t, "/webhooks/pagerduty", body, "X-PagerDuty-Signature", sig)
			if code != tc.code || (tc.status != "" && ack["status"] != tc.status) {
				t.Fatalf("%d %v, want %d %s", code, ack, tc.code, tc.status)
			}
			if code == http.StatusUnauthorized && errorCode(ack) != "bad_signature" {
				t.Errorf("error %v, want bad_signature", ack)
			}
			js := b.jobs(t)
			if len(js) != tc.jobs {
				t.Errorf("jobs = %+v, want %d", js, tc.jobs)
			}
			var list struct {
				Incidents []map[string]any `json:"incidents"`
			}
			b.getJSON(t, "/v1/incidents", &list)
			if tc.incident == nil {
				if len(list.Incidents) != 0 {
					t.Errorf("incidents = %v, want none", list.Incidents)
				}
				return
			}
			w := tc.incident
			for _, j := range js {
				if j.Incident != w.id {
					t.Errorf("job %+v is not for %s", j, w.id)
				}
			}
			var got map[string]any
			h := b.getJSON(t, "/v1/incidents/"+w.id, &got)
			var resolved any
			if w.resolvedAt != "" {
				resolved = w.resolvedAt
			}
			want := map[string]any{"id": w.id, "status": w.status, "resolved_at": resolved, "service_id": w.service, "source": "pagerduty",
				"window":       map[string]any{"start": w.windowStart, "end": w.windowEnd},
				"github_repos": toAny(w.repos), "slack_channels": toAny(w.channels)}
			for k := range got {
				if _, ok := want[k]; !ok {
					delete(got, k)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GET /v1/incidents/%s (-want +got):\n%s", w.id, diff)
			}
			if etag := h.Get("ETag"); (etag == "") != (w.status == "open") {
				t.Errorf("ETag %q for an incident that is %s: want one exactly when resolved", etag, w.status)
			}
		})
	}
	coversEveryFile(t, "pagerduty/", named)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// getJSON GETs path with the read token into v and returns the headers.
func (b *whBundle) getJSON(t *testing.T, path string, v any) http.Header {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.Header
}

// startCollecting works the bundle's collection jobs with a River client
// whose sources are reg's (none: the job only plans and completes).
func startCollecting(t *testing.T, b *whBundle, clock *testClock) {
	t.Helper()
	reg := &collectors.Registry{}
	workers := river.NewWorkers()
	river.AddWorker(workers, &jobs.Worker{
		Planner: &collectors.Planner{Registry: reg, Store: b.store, Before: 2 * time.Hour, After: 30 * time.Minute,
			ScopeFunc: realScope, NowFunc: clock.Now},
		Runner:       &collectors.Runner{Registry: reg, Store: b.store},
		StartRunFunc: b.deliveries.StartRun,
		JobTimeout:   time.Minute,
	})
	client, err := river.NewClient(riverpgxv5.New(b.schema.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.StopAndCancel(ctx)
	})
}

// waitCompleted waits (a hang guard, not a timing assertion) until n jobs
// exist and all are completed.
func (b *whBundle) waitCompleted(t *testing.T, n int) []whJob {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		js := b.jobs(t)
		done := len(js) == n
		for _, j := range js {
			done = done && j.State == "completed"
		}
		if done {
			return js
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs = %+v, want %d completed", js, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIncidentLifecycleWithLiveMessages plays one incident's life through
// the receivers: triggered → a live Slack message → resolved → reopened → a
// live message → resolved again. The incident is open (window up to now)
// from the trigger, so the live messages land as they happen; the first
// resolve closes it and its collection runs; the reopen makes it open again
// and its window grows; the second resolve queues a new collection.
func TestIncidentLifecycleWithLiveMessages(t *testing.T) {
	t.Parallel()
	at := func(hms string) time.Time {
		tm, err := time.Parse(time.RFC3339, "2026-11-20T"+hms+"Z")
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	clock := &testClock{t: at("10:00:05")}
	b := setupReal(t, clock, func(s *api.Server) { s.Versions = s.Store.(api.VersionStore) })
	startCollecting(t, b, clock)

	type view struct {
		Status     string  `json:"status"`
		ResolvedAt *string `json:"resolved_at"`
		Window     struct {
			Start, End string
		} `json:"window"`
	}
	check := func(step, status, end string, resolved *string) {
		t.Helper()
		var v view
		h := b.getJSON(t, "/v1/incidents/Q1CHK5XX", &v)
		if v.Status != status || v.Window.Start != "2026-11-20T08:00:00Z" || v.Window.End != end || !cmp.Equal(v.ResolvedAt, resolved) {
			t.Errorf("%s: %+v (resolved_at %v), want %s, window [08:00, %s], resolved_at %v", step, v, deref(v.ResolvedAt), status, end, deref(resolved))
		}
		if (h.Get("ETag") == "") != (status == "open") {
			t.Errorf("%s: ETag %q while %s", step, h.Get("ETag"), status)
		}
	}
	pd := func(step string, body []byte) {
		t.Helper()
		if code, ack := b.post(t, "/webhooks/pagerduty", body, pdHeaders(body, step)...); code != 200 || ack["status"] != "accepted" {
			t.Fatalf("%s: %d %v, want accepted", step, code, ack)
		}
	}
	slackAt := func(step string, body []byte, want string) {
		t.Helper()
		ts := strconv.FormatInt(clock.Now().Unix(), 10)
		code, ack := b.post(t, "/webhooks/slack", body, "X-Slack-Request-Timestamp", ts,
			"X-Slack-Signature", "v0="+mac(whSlackSecret, []byte("v0:"+ts+":"), body))
		if code != 200 || ack["status"] != want {
			t.Fatalf("%s: %d %v, want %s", step, code, ack, want)
		}
	}
	// A message at another time: the reopened-period message with its ts
	// and event id changed.
	message := func(ts, eventID string) []byte {
		body := realFile(t, "slack/ADAPTED-slackweb-messageExample-reopened-period.json")
		body = bytes.ReplaceAll(body, []byte("1795176600.000100"), []byte(ts))
		return bytes.ReplaceAll(body, []byte("Ev043T7REOPN"), []byte(eventID))
	}

	// Triggered: no payload of this incident's trigger exists, so it is
	// Aldaviva's captured trigger with the README's edits for Q1CHK5XX.
	trigger := realFile(t, "pagerduty/aldaviva-incident.triggered.json")
	for old, repl := range map[string]string{"Q2CKYRLH85UNN4": "Q1CHK5XX", "PNE3JZM": "PSVC001",
		"2025-04-07T03:47:13Z": "2026-11-20T10:00:00Z", "2025-04-07T03:47:13.414Z": "2026-11-20T10:00:00.000Z"} {
		trigger = bytes.ReplaceAll(trigger, []byte(old), []byte(repl))
	}
	pd("triggered", trigger)
	check("triggered", "open", "2026-11-20T10:00:05Z", nil)
	if js := b.jobs(t); len(js) != 0 {
		t.Fatalf("jobs after the trigger = %+v, want none until it resolves", js)
	}

	clock.Set(at("10:30:05"))
	slackAt("a message while open", message("1795170600.000100", "Ev043T7OPEN1"), "accepted")
	check("an hour later, still open", "open", "2026-11-20T10:30:05Z", nil)

	clock.Set(at("11:13:00"))
	pd("resolved", realFile(t, "pagerduty/ADAPTED-resolved-Q1CHK5XX.json"))
	first := b.waitCompleted(t, 1)
	resolved1 := "2026-11-20T11:12:30Z"
	check("resolved", "resolved", "2026-11-20T11:42:30Z", &resolved1)

	clock.Set(at("11:50:05"))
	slackAt("a message after the window, before the reopen", message("1795175400.000100", "Ev043T7GAP01"), "ignored")

	clock.Set(at("12:00:05"))
	pd("reopened", realFile(t, "pagerduty/ADAPTED-reopened-Q1CHK5XX.json"))
	check("reopened", "open", "2026-11-20T12:00:05Z", nil)

	clock.Set(at("12:10:05"))
	slackAt("a message while reopened", realFile(t, "slack/ADAPTED-slackweb-messageExample-reopened-period.json"), "accepted")
	// The first resolve, delivered again late under another id (PagerDuty
	// retries), does not close the reopened incident.
	late := realFile(t, "pagerduty/ADAPTED-resolved-Q1CHK5XX.json")
	if code, ack := b.post(t, "/webhooks/pagerduty", late, pdHeaders(late, "resolved-late-retry")...); code != 200 {
		t.Fatalf("late resolve: %d %v", code, ack)
	}
	check("a late copy of the first resolve", "open", "2026-11-20T12:10:05Z", nil)
	b.waitCompleted(t, 2) // that copy asked for a collection too; it ran

	clock.Set(at("12:30:05"))
	pd("resolved again", realFile(t, "pagerduty/ADAPTED-resolved2-Q1CHK5XX.json"))
	js := b.waitCompleted(t, 3)
	if js[2].ID == first[0].ID || js[2].Incident != "Q1CHK5XX" {
		t.Errorf("jobs = %+v, want a new collection of Q1CHK5XX for the second resolve", js)
	}
	resolved2 := "2026-11-20T12:30:00Z"
	check("resolved again", "resolved", "2026-11-20T13:00:00Z", &resolved2)

	want := []string{
		"Q1CHK5XX slack:message:C0CHECKOUT:1795170600.000100 chat.message 2026-11-20T10:30:00.0001Z",
		"Q1CHK5XX slack:message:C0CHECKOUT:1795176600.000100 chat.message 2026-11-20T12:10:00.0001Z",
	}
	if diff := cmp.Diff(want, b.stored(t, "Q1CHK5XX")); diff != "" {
		t.Errorf("live messages (-want +got):\n%s", diff)
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestGenericHookOpensThenResolves: a generic hook without resolved_at opens
// the incident (no collection yet) and live events join it; the same
// incident's hook with resolved_at closes it and queues its collection.
func TestGenericHookOpensThenResolves(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Date(2019, 5, 15, 15, 25, 0, 0, time.UTC)}
	b := setupReal(t, clock)
	open := []byte(`{"id":"RP-OPEN","title":"Hello World is down","started_at":"2019-05-15T15:10:00Z","github_repos":["codertocat/hello-world"]}`)
	if code, ack := b.post(t, "/webhooks/incident", open, genericHeaders(open)...); code != 200 || ack["status"] != "accepted" || ack["job_ids"] != nil {
		t.Fatalf("open hook: %d %v, want accepted without a job", code, ack)
	}
	inc, err := b.store.Incident(context.Background(), "RP-OPEN")
	if err != nil {
		t.Fatal(err)
	}
	if !inc.Open() || !inc.WindowEnd.Equal(clock.Now()) {
		t.Errorf("incident = %+v, want open up to now", inc)
	}
	push := realFile(t, "github/octokit-push-with-new-branch.json")
	if code, ack := b.post(t, "/webhooks/github", push, ghHeaders(push, "push", "p-1")...); code != 200 || ack["status"] != "accepted" {
		t.Fatalf("push during the open incident: %d %v", code, ack)
	}
	clock.Set(time.Date(2019, 5, 15, 16, 0, 0, 0, time.UTC))
	closed := []byte(`{"id":"RP-OPEN","title":"Hello World is down","started_at":"2019-05-15T15:10:00Z","resolved_at":"2019-05-15T15:50:00Z","github_repos":["codertocat/hello-world"]}`)
	if code, ack := b.post(t, "/webhooks/incident", closed, genericHeaders(closed)...); code != 200 || ack["status"] != "accepted" || ack["job_ids"] == nil {
		t.Fatalf("resolve hook: %d %v, want accepted with a job", code, ack)
	}
	want := []string{
		"RP-OPEN generic:incident:RP-OPEN:closed incident.closed 2019-05-15T15:50:00Z",
		"RP-OPEN generic:incident:RP-OPEN:opened incident.opened 2019-05-15T15:10:00Z",
		"RP-OPEN github:commit:Codertocat/Hello-World:6113728f27ae82c7b1a177c8d03f9e96e0adf246 change.commit 2019-05-15T15:19:25Z",
	}
	if diff := cmp.Diff(want, b.stored(t, "RP-OPEN")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if js := b.jobs(t); len(js) != 1 {
		t.Errorf("jobs = %+v, want one, queued by the resolve", js)
	}
	if got, err := b.store.Incident(context.Background(), "RP-OPEN"); err != nil || got.Open() ||
		!got.WindowEnd.Equal(time.Date(2019, 5, 15, 16, 20, 0, 0, time.UTC)) {
		t.Errorf("incident = %+v, %v; want resolved with its window ending 30m after", got, err)
	}
}
