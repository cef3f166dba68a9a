package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/generic"
	"github.com/groundwork-dev/groundwork/collectors/github"
	"github.com/groundwork-dev/groundwork/collectors/github/githubfake"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// Secrets of the receivers under test. The PagerDuty and Slack ones are
// those of the vendors' published test vectors.
const (
	whPagerDutySecret = "lDQHScfUeXUKaQRNF+8XIiDKZ7XX3itBAYzwU0TARw8lJqRnkKl2iB1anSb0Z+IK"
	whGitHubSecret    = "It's a Secret to Everybody"
	whSlackSecret     = "8f742231b10e8888abcd99yyyzzz85a5"
	whGenericSecret   = "generic-hook-secret-for-tests"
)

// whBundle is a server with its webhooks wired to a real store and a real
// River queue (nothing works the jobs: the tests look at what was queued).
type whBundle struct {
	schema     *pgtest.Schema
	store      *postgres.Store
	deliveries *postgres.Deliveries
	server     *api.Server
	srv        *httptest.Server
	now        time.Time
}

// newDeliveries queues collection jobs on pool with River.
func newDeliveries(t testing.TB, pool *pgxpool.Pool) *postgres.Deliveries {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &postgres.Deliveries{
		Store: postgres.New(pool), Queue: jobs.Queue{Client: client}, Sources: []string{"pagerduty", "github", "slack"},
	}
}

func setupWebhooks(t testing.TB, configure ...func(*api.Server)) *whBundle {
	t.Helper()
	s := pgtest.New(t)
	b := &whBundle{schema: s, store: postgres.New(s.Pool), deliveries: newDeliveries(t, s.Pool), now: t0.Add(2 * time.Hour)}
	b.server = &api.Server{
		Store: b.store, Deliveries: b.deliveries, Metrics: api.NewMetrics(),
		Tokens: []api.Token{
			{Name: "facilitators", Token: readToken, Scopes: []string{"read"}},
			{Name: "automation", Token: writeToken, Scopes: []string{"read", "write"}},
		},
		NowFunc:   func() time.Time { return b.now },
		Receivers: testReceivers(),
		Webhooks: api.WebhookConfig{
			Before: 2 * time.Hour, After: 30 * time.Minute,
			// The receivers' one-second budget is a wall-clock promise to
			// the senders; on a machine whose cores are busy a test must
			// not depend on meeting it (no test here measures it).
			Timeout: 30 * time.Second,
			ScopeFunc: func(service string) ([]string, []string) {
				if service == "PNE3JZM" {
					return []string{"acme/checkout-api"}, []string{"C0CHECKOUT"}
				}
				return []string{"acme/infra"}, nil
			},
		},
	}
	for _, c := range configure {
		c(b.server)
	}
	b.srv = httptest.NewServer(b.server.Handler())
	t.Cleanup(b.srv.Close)
	return b
}

// testSources are the sources cmd lists, as the timeline's source filter
// knows them (Server.Sources).
var testSources = []string{"pagerduty", "github", "slack", "generic", "prometheus"}

// testReceivers are the sources' receivers, as cmd mounts them, with the
// tests' secrets.
func testReceivers() []collectors.WebhookReceiver {
	return []collectors.WebhookReceiver{
		pagerduty.NewReceiver(&pagerduty.Config{WebhookSecret: whPagerDutySecret}),
		github.NewReceiver(&github.Config{WebhookSecret: whGitHubSecret}),
		slack.NewReceiver(&slack.Config{SigningSecret: whSlackSecret}, nil, collectors.ClientOptions{}),
		generic.NewReceiver(&generic.Config{WebhookSecret: whGenericSecret}),
	}
}

// slackReceiver is s's Slack receiver, whose lookups a test may set before
// it receives anything.
func slackReceiver(s *api.Server) *slack.Receiver {
	for _, r := range s.Receivers {
		if sr, ok := r.(*slack.Receiver); ok {
			return sr
		}
	}
	panic("no slack receiver")
}

// withReceiver replaces s's receiver of rcv's name by rcv.
func withReceiver(s *api.Server, rcv collectors.WebhookReceiver) {
	for i, have := range s.Receivers {
		if have.Name() == rcv.Name() {
			s.Receivers[i] = rcv
			return
		}
	}
	s.Receivers = append(s.Receivers, rcv)
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/webhooks/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mac(secret string, parts ...[]byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

func pdHeaders(body []byte, id string) []string {
	return []string{"X-PagerDuty-Signature", "v1=" + mac(whPagerDutySecret, body), "X-Webhook-Id", id}
}

func ghHeaders(body []byte, event, id string) []string {
	return []string{"X-Hub-Signature-256", "sha256=" + mac(whGitHubSecret, body), "X-GitHub-Event", event, "X-GitHub-Delivery", id}
}

func (b *whBundle) slackHeaders(body []byte) []string {
	ts := strconv.FormatInt(b.now.Unix(), 10)
	return []string{"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", "v0=" + mac(whSlackSecret, []byte("v0:"+ts+":"), body)}
}

func genericHeaders(body []byte) []string {
	return []string{"X-Groundwork-Signature", "sha256=" + mac(whGenericSecret, body)}
}

// post sends body to path with header pairs and returns the status and the
// decoded JSON answer.
func (b *whBundle) post(t testing.TB, path string, body []byte, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s answered %d with a body that is not JSON: %q", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func errorMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

type whJob struct {
	ID       int64
	State    string
	Incident string
}

func (b *whBundle) jobs(t testing.TB) []whJob {
	t.Helper()
	rows, err := b.schema.Pool.Query(context.Background(), `SELECT id, state::text, args->>'incident_id' FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[whJob])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *whBundle) timeline(t testing.TB, incidentID string) []timeline.Event {
	t.Helper()
	evs, err := b.store.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: incidentID})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestWebhookSignaturesWithOfficialVectors(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	pdBody := testdata(t, "webhook_v3_incident_priority_updated_gopagerduty_testvector.json")
	const pdValid = "v1=0c0b9495b893a39e70d1fea2fe11fbe0a825f88b9f67846f6cc07dd2bc5476cd"
	const pdMismatch = "v1=7020c8a7ec668a9b7012bc3dd82e483394b038f4230acc6785efbf2a7d8bcaf5"
	tampered := bytes.Replace(pdBody, []byte("A little bump"), []byte("A little dump"), 1)
	ghBody := []byte("Hello, World!")
	const ghValid = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

	for _, tc := range []struct {
		name    string
		path    string
		body    []byte
		headers []string
		want    int
		status  string
	}{
		{"pagerduty vector", "/webhooks/pagerduty", pdBody, []string{"X-PagerDuty-Signature", pdValid}, 200, "ignored"},
		{"pagerduty mismatch", "/webhooks/pagerduty", pdBody, []string{"X-PagerDuty-Signature", pdMismatch}, 401, ""},
		{"pagerduty rotated: new secret second", "/webhooks/pagerduty", pdBody, []string{"X-PagerDuty-Signature", pdMismatch + "," + pdValid}, 200, "ignored"},
		{"pagerduty rotated, spaced", "/webhooks/pagerduty", pdBody, []string{"X-PagerDuty-Signature", pdMismatch + ", " + pdValid}, 200, "ignored"},
		{"pagerduty tampered body", "/webhooks/pagerduty", tampered, []string{"X-PagerDuty-Signature", pdValid}, 401, ""},
		{"pagerduty unsigned", "/webhooks/pagerduty", pdBody, nil, 401, ""},
		{"pagerduty wrong scheme", "/webhooks/pagerduty", pdBody, []string{"X-PagerDuty-Signature", strings.Replace(pdValid, "v1=", "v0=", 1)}, 401, ""},
		// The GitHub docs' vector signs a body that is no event, so a ping
		// (which is not parsed) shows it verifies.
		{"github vector", "/webhooks/github", ghBody, []string{"X-Hub-Signature-256", ghValid, "X-GitHub-Event", "ping"}, 200, "ignored"},
		{"github vector, parsed as a push", "/webhooks/github", ghBody, []string{"X-Hub-Signature-256", ghValid, "X-GitHub-Event", "push"}, 400, ""},
		{"github tampered", "/webhooks/github", []byte("Hello, World?"), []string{"X-Hub-Signature-256", ghValid, "X-GitHub-Event", "ping"}, 401, ""},
		{"github SHA-1 only", "/webhooks/github", ghBody, []string{"X-Hub-Signature", "sha1=" + mac(whGitHubSecret, ghBody), "X-GitHub-Event", "ping"}, 401, ""},
		{"github unsigned", "/webhooks/github", ghBody, []string{"X-GitHub-Event", "ping"}, 401, ""},
		{"generic unsigned", "/webhooks/incident", []byte(`{}`), nil, 401, ""},
		{"generic wrong secret", "/webhooks/incident", []byte(`{}`), []string{"X-Groundwork-Signature", "sha256=" + mac("old-secret", []byte(`{}`))}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.post(t, tc.path, tc.body, tc.headers...)
			if code != tc.want {
				t.Fatalf("status %d (%v), want %d", code, body, tc.want)
			}
			if tc.status != "" && body["status"] != tc.status {
				t.Errorf("answer %v, want status %q", body, tc.status)
			}
			if code == 401 && errorCode(body) != "bad_signature" {
				t.Errorf("error %v, want code bad_signature", body)
			}
		})
	}
}

func TestSlackSignaturesAndTimestamps(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	// Slack's docs vector signs a slash-command form: it verifies (the
	// answer is 400, not 401) and is then refused as no Events API body.
	docsBody := testdata(t, "slack_docs_vector_body.txt")
	docsHeaders := []string{"X-Slack-Request-Timestamp", "1531420618",
		"X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}
	// slack-go's signed Events API example: an app_mention, ignored.
	mention := testdata(t, "events_api_app_mention_slackgo_signed.json")
	mentionHeaders := []string{"X-Slack-Request-Timestamp", "1531431954",
		"X-Slack-Signature", "v0=adada4ed31709aef585c2580ca3267678c6a8eaeb7e0c1aca3ee57b656886b2c"}
	for _, tc := range []struct {
		name    string
		now     time.Time
		body    []byte
		headers []string
		secret  string
		want    int
	}{
		{"docs vector", time.Unix(1531420618, 0).Add(10 * time.Second), docsBody, docsHeaders, whSlackSecret, 400},
		{"docs vector, 4m59s late", time.Unix(1531420618, 0).Add(5*time.Minute - time.Second), docsBody, docsHeaders, whSlackSecret, 400},
		{"docs vector, stale", time.Unix(1531420618, 0).Add(5*time.Minute + time.Second), docsBody, docsHeaders, whSlackSecret, 401},
		{"docs vector, from the future", time.Unix(1531420618, 0).Add(-6 * time.Minute), docsBody, docsHeaders, whSlackSecret, 401},
		{"docs vector, tampered", time.Unix(1531420618, 0), append([]byte("x"), docsBody...), docsHeaders, whSlackSecret, 401},
		{"slack-go vector", time.Unix(1531431954, 0), mention, mentionHeaders, "e6b19c573432dcc6b075501d51b51bb8", 200},
		{"slack-go vector, rotated secret", time.Unix(1531431954, 0), mention, mentionHeaders, whSlackSecret, 401},
		{"unsigned", time.Unix(1531431954, 0), mention, nil, "e6b19c573432dcc6b075501d51b51bb8", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setupWebhooks(t, func(s *api.Server) {
				withReceiver(s, slack.NewReceiver(&slack.Config{SigningSecret: collectors.Secret(tc.secret)}, nil, collectors.ClientOptions{}))
				s.NowFunc = func() time.Time { return tc.now }
			})
			if code, body := b.post(t, "/webhooks/slack", tc.body, tc.headers...); code != tc.want {
				t.Errorf("status %d (%v), want %d", code, body, tc.want)
			}
		})
	}
	// url_verification is answered with its challenge.
	body := testdata(t, "events_api_url_verification.json")
	code, answer := b.post(t, "/webhooks/slack", body, b.slackHeaders(body)...)
	if code != 200 || answer["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification: %d %v, want the challenge echoed", code, answer)
	}
}

func TestWebhookBadBodies(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, func(s *api.Server) { s.Webhooks.MaxBody = 4096 })
	big := bytes.Repeat([]byte("x"), 4097)
	notJSON := []byte("{not json")
	generic := func(s string) []byte { return []byte(s) }
	for _, tc := range []struct {
		name    string
		path    string
		body    []byte
		headers []string
		want    int
		message string
	}{
		{"oversized pagerduty", "/webhooks/pagerduty", big, pdHeaders(big, "1"), 413, ""},
		{"oversized github", "/webhooks/github", big, ghHeaders(big, "push", "1"), 413, ""},
		{"oversized slack", "/webhooks/slack", big, b.slackHeaders(big), 413, ""},
		{"oversized generic", "/webhooks/incident", big, genericHeaders(big), 413, ""},
		{"pagerduty not json", "/webhooks/pagerduty", notJSON, pdHeaders(notJSON, "2"), 400, ""},
		{"pagerduty no event", "/webhooks/pagerduty", []byte(`{}`), pdHeaders([]byte(`{}`), "3"), 400, "event.event_type"},
		{"github not json", "/webhooks/github", notJSON, ghHeaders(notJSON, "deployment_status", "2"), 400, ""},
		{"github no event header", "/webhooks/github", []byte(`{}`), []string{"X-Hub-Signature-256", "sha256=" + mac(whGitHubSecret, []byte(`{}`))}, 400, "X-GitHub-Event"},
		{"slack not json", "/webhooks/slack", notJSON, b.slackHeaders(notJSON), 400, ""},
		{"generic unknown field", "/webhooks/incident", generic(`{"id":"I1","started_at":"2026-11-20T09:00:00Z","severity":"sev1"}`),
			genericHeaders(generic(`{"id":"I1","started_at":"2026-11-20T09:00:00Z","severity":"sev1"}`)), 400, `"severity"`},
		{"generic no id", "/webhooks/incident", generic(`{"started_at":"2026-11-20T09:00:00Z"}`),
			genericHeaders(generic(`{"started_at":"2026-11-20T09:00:00Z"}`)), 400, "id: required"},
		{"generic bad time", "/webhooks/incident", generic(`{"id":"I1","started_at":"yesterday"}`),
			genericHeaders(generic(`{"id":"I1","started_at":"yesterday"}`)), 400, "started_at"},
		{"generic ends before it starts", "/webhooks/incident", generic(`{"id":"I1","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T08:00:00Z"}`),
			genericHeaders(generic(`{"id":"I1","started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T08:00:00Z"}`)), 400, "resolved_at"},
		{"generic bad repo", "/webhooks/incident", generic(`{"id":"I1","started_at":"2026-11-20T09:00:00Z","github_repos":["checkout"]}`),
			genericHeaders(generic(`{"id":"I1","started_at":"2026-11-20T09:00:00Z","github_repos":["checkout"]}`)), 400, "github_repos"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.post(t, tc.path, tc.body, tc.headers...)
			if code != tc.want || !strings.Contains(errorMessage(body), tc.message) {
				t.Errorf("status %d (%v), want %d naming %q", code, body, tc.want, tc.message)
			}
		})
	}
	if js := b.jobs(t); len(js) != 0 {
		t.Errorf("bad deliveries queued %v", js)
	}
	if got := counted(t, b.server.Metrics, "incident", "malformed"); got != 5 {
		t.Errorf("malformed generic deliveries counted %v, want 5", got)
	}
	if got := counted(t, b.server.Metrics, "github", "too_large"); got != 1 {
		t.Errorf("oversized github deliveries counted %v, want 1", got)
	}
}

// TestPagerDutyResolvedQueuesOneJob: a resolved incident is recorded at once
// and its collection queued; the same delivery again, several times and
// concurrently, changes nothing, and other deliveries about the incident
// join its queued job.
func TestPagerDutyResolvedQueuesOneJob(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	body := testdata(t, "webhook_v3_incident_resolved.json")
	code, ack := b.post(t, "/webhooks/pagerduty", body, pdHeaders(body, "delivery-1")...)
	if code != 200 || ack["status"] != "accepted" {
		t.Fatalf("first delivery: %d %v", code, ack)
	}
	var wg sync.WaitGroup
	statuses := make(chan string, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "delivery-1" // a redelivery
			if i%2 == 1 {
				id = fmt.Sprintf("delivery-%d", 2+i) // another event about the incident
			}
			code, ack := b.post(t, "/webhooks/pagerduty", body, pdHeaders(body, id)...)
			if code != 200 {
				t.Errorf("delivery %s: %d %v", id, code, ack)
			}
			statuses <- fmt.Sprint(ack["status"])
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[string]int{}
	for s := range statuses {
		count[s]++
	}
	if diff := cmp.Diff(map[string]int{"duplicate": 5, "accepted": 5}, count); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	js := b.jobs(t)
	if len(js) != 1 || js[0].Incident != "Q2CKYRLH85UNN4" || js[0].State != "available" {
		t.Fatalf("jobs = %+v, want one queued collection of Q2CKYRLH85UNN4", js)
	}
	inc, err := b.store.Incident(context.Background(), "Q2CKYRLH85UNN4")
	if err != nil {
		t.Fatal(err)
	}
	wantStart := time.Date(2025, 4, 7, 3, 47, 13, 0, time.UTC)
	wantEnd := time.Date(2025, 4, 7, 3, 49, 36, 358e6, time.UTC)
	if inc.Title != "Test" || inc.ServiceID != "PNE3JZM" || !inc.StartedAt.Equal(wantStart) || inc.ResolvedAt == nil ||
		!inc.ResolvedAt.Equal(wantEnd) || !inc.WindowStart.Equal(wantStart.Add(-2*time.Hour)) ||
		!inc.WindowEnd.Equal(wantEnd.Add(30*time.Minute)) || !cmp.Equal(inc.Repos, []string{"acme/checkout-api"}) {
		t.Errorf("incident = %+v", inc)
	}
	sts, err := b.store.SourceStatuses(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.State != timeline.StatePending {
			t.Errorf("status %+v, want pending until collected", st)
		}
	}
	if len(sts) != 3 {
		t.Errorf("%d statuses, want one per source", len(sts))
	}
	if got := counted(t, b.server.Metrics, "pagerduty", "duplicate"); got != 5 {
		t.Errorf("duplicate deliveries counted %v, want 5", got)
	}
	// Other event types are acknowledged and ignored without a trace.
	ping := testdata(t, "webhook_v3_pagey_ping.json")
	if code, ack := b.post(t, "/webhooks/pagerduty", ping, pdHeaders(ping, "ping-1")...); code != 200 || ack["status"] != "ignored" {
		t.Errorf("pagey.ping: %d %v, want 200 ignored", code, ack)
	}
}

// counted reads groundwork_webhook_deliveries_total{receiver, outcome}.
func counted(t testing.TB, m *api.Metrics, receiver, outcome string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "groundwork_webhook_deliveries_total" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["receiver"] == receiver && labels["outcome"] == outcome {
				return metric.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestGenericHookStoresTheIncidentAndQueuesCollection(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	body := []byte(`{"id":"INC-7","title":"Checkout down","started_at":"2026-11-20T09:00:00+01:00",
		"resolved_at":"2026-11-20T09:45:00Z","github_repos":["acme/checkout-api"],"slack_channels":["C0CHECKOUT"]}`)
	code, ack := b.post(t, "/webhooks/incident", body, genericHeaders(body)...)
	if code != 200 || ack["status"] != "accepted" || ack["events"] != float64(2) {
		t.Fatalf("delivery: %d %v, want accepted with two events", code, ack)
	}
	if code, ack := b.post(t, "/webhooks/incident", body, genericHeaders(body)...); code != 200 || ack["status"] != "duplicate" {
		t.Errorf("repeat: %d %v, want duplicate", code, ack)
	}
	inc, err := b.store.Incident(context.Background(), "INC-7")
	if err != nil {
		t.Fatal(err)
	}
	if inc.Source != "generic" || inc.Title != "Checkout down" || !inc.StartedAt.Equal(t0.Add(-time.Hour)) ||
		!cmp.Equal(inc.Repos, []string{"acme/infra", "acme/checkout-api"}) || !cmp.Equal(inc.Channels, []string{"C0CHECKOUT"}) {
		t.Errorf("incident = %+v", inc)
	}
	var got []string
	for _, e := range b.timeline(t, "INC-7") {
		got = append(got, e.ID+" "+e.Kind+" "+e.OccurredAt.Format(time.RFC3339))
	}
	want := []string{
		"generic:incident:INC-7:opened incident.opened 2026-11-20T08:00:00Z",
		"generic:incident:INC-7:closed incident.closed 2026-11-20T09:45:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if js := b.jobs(t); len(js) != 1 || js[0].Incident != "INC-7" {
		t.Errorf("jobs = %+v, want one for INC-7", js)
	}
}

func TestCollectEndpoint(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	do := func(token, id, body string) (int, map[string]any) {
		t.Helper()
		return b.post(t, "/v1/incidents/"+id+"/collect", []byte(body), "Authorization", "Bearer "+token)
	}
	code, ack := do(writeToken, "PABC123", "")
	if code != http.StatusAccepted || ack["incident_id"] != "PABC123" || ack["status"] != "queued" || ack["job_id"] == nil {
		t.Fatalf("collect: %d %v", code, ack)
	}
	first := ack["job_id"]
	code, ack = do(writeToken, "PABC123", `{"started_at":"2026-11-20T09:00:00Z","github_repos":["acme/infra"],"title":"Checkout"}`)
	if code != http.StatusAccepted || ack["job_id"] != first {
		t.Errorf("second collect while queued: %d %v, want the queued job %v", code, ack, first)
	}
	var args string
	// The job runs the request its delivery store keeps for it: the first
	// with the second merged in.
	if err := b.schema.Pool.QueryRow(context.Background(), `SELECT request::text FROM collection_jobs`).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if want := `{"title": "Checkout", "started_at": "2026-11-20T09:00:00Z", "incident_id": "PABC123", "github_repos": ["acme/infra"]}`; args != want {
		t.Errorf("job args = %s, want %s", args, want)
	}
	for _, tc := range []struct {
		name, token, body string
		want              int
		message           string
	}{
		{"read scope", readToken, "", 403, ""},
		{"no token", "nope", "", 401, ""},
		{"bad time", writeToken, `{"started_at":"soon"}`, 400, "started_at"},
		{"unknown field", writeToken, `{"since":"2026-11-20T09:00:00Z"}`, 400, `"since"`},
		{"wrong type", writeToken, `{"github_repos":"acme/api"}`, 400, "github_repos"},
		{"bad channel", writeToken, `{"slack_channels":["#checkout"]}`, 400, "slack_channels"},
		{"ends before it starts", writeToken, `{"started_at":"2026-11-20T09:00:00Z","resolved_at":"2026-11-20T08:00:00Z"}`, 400, "resolved_at"},
		{"not json", writeToken, `{`, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.token, "PABC123", tc.body)
			if code != tc.want || !strings.Contains(errorMessage(body), tc.message) {
				t.Errorf("status %d (%v), want %d naming %q", code, body, tc.want, tc.message)
			}
		})
	}
	if js := b.jobs(t); len(js) != 1 {
		t.Errorf("jobs = %+v, want still one", js)
	}
}

// pgProxy forwards TCP connections to Postgres until it is taken down, so
// a test can make the database unreachable for one server without touching
// the machine's Postgres.
type pgProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T) *pgProxy {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{target: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), conns: map[net.Conn]bool{}}
	p.up(t, "127.0.0.1:0")
	t.Cleanup(p.down)
	return p
}

func (p *pgProxy) up(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// down refuses new connections and cuts the open ones.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// TestDatabaseDownIs503ThenTheRetryIsProcessed: while the database cannot
// be reached, deliveries are answered 503 (PagerDuty retries those, and
// drops any other 4xx); the sender's retry after recovery goes through.
func TestDatabaseDownIs503ThenTheRetryIsProcessed(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	proxy := startProxy(t)
	cfg, err := pgxpool.ParseConfig(b.schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(proxy.addr)
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(p), nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	viaProxy := setupWebhooksOn(t, b, newDeliveries(t, pool))

	body := testdata(t, "webhook_v3_incident_resolved.json")
	headers := pdHeaders(body, "delivery-during-outage")
	if code, ack := viaProxy.post(t, "/webhooks/pagerduty", []byte(`{"event":{"event_type":"pagey.ping"}}`),
		pdHeaders([]byte(`{"event":{"event_type":"pagey.ping"}}`), "warm")...); code != 200 {
		t.Fatalf("before the outage: %d %v", code, ack)
	}
	proxy.down()
	for _, path := range []string{"/webhooks/pagerduty"} {
		code, ack := viaProxy.post(t, path, body, headers...)
		if code != http.StatusServiceUnavailable || errorCode(ack) != "unavailable" {
			t.Fatalf("during the outage: %d %v, want 503 unavailable", code, ack)
		}
	}
	gbody := []byte(`{"id":"INC-9","started_at":"2026-11-20T09:00:00Z"}`)
	if code, ack := viaProxy.post(t, "/webhooks/incident", gbody, genericHeaders(gbody)...); code != http.StatusServiceUnavailable {
		t.Errorf("generic hook during the outage: %d %v, want 503", code, ack)
	}
	if js := b.jobs(t); len(js) != 0 {
		t.Fatalf("jobs after refused deliveries: %+v", js)
	}
	proxy.up(t, proxy.addr)
	code, ack := viaProxy.post(t, "/webhooks/pagerduty", body, headers...)
	if code != 200 || ack["status"] != "accepted" {
		t.Fatalf("retry after recovery: %d %v, want accepted", code, ack)
	}
	if js := b.jobs(t); len(js) != 1 || js[0].Incident != "Q2CKYRLH85UNN4" {
		t.Errorf("jobs after the retry: %+v, want one", js)
	}
	if got := counted(t, viaProxy.server.Metrics, "pagerduty", "unavailable"); got != 1 {
		t.Errorf("unavailable deliveries counted %v, want 1", got)
	}
}

// setupWebhooksOn serves b's configuration with another delivery store.
func setupWebhooksOn(t *testing.T, b *whBundle, d *postgres.Deliveries) *whBundle {
	t.Helper()
	c := *b
	c.server = &api.Server{Store: b.server.Store, Tokens: b.server.Tokens, NowFunc: b.server.NowFunc,
		Webhooks: b.server.Webhooks, Receivers: b.server.Receivers, Deliveries: d, Metrics: api.NewMetrics()}
	c.deliveries = d
	c.srv = httptest.NewServer(c.server.Handler())
	t.Cleanup(c.srv.Close)
	return &c
}

// TestLiveCaptureThenCollectionGivesNoDuplicates: deploys, CI runs, pushed
// commits and chat captured live from webhooks carry the ids and content the
// collectors give the same objects, so a later collection adds nothing and
// changes nothing; a later edit updates the message in place.
func TestLiveCaptureThenCollectionGivesNoDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const repo, channel = "acme/checkout-api", "C0CHECKOUT"
	ghFake := githubfake.New("gh-token")
	ghSrv := httptest.NewServer(ghFake)
	t.Cleanup(ghSrv.Close)
	slFake := slackfake.New("xoxb-test")
	slSrv := httptest.NewServer(slFake)
	t.Cleanup(slSrv.Close)

	slFake.SetTeam(slackfake.Team{ID: "T0ACME", Name: "Acme", Domain: "acme"})
	slFake.AddUserProfile(slackfake.User{ID: "U0ANA", Name: "ana", RealName: "Ana Lima", DisplayName: "ana", Email: "ana@acme.example"})
	slFake.AddChannel(channel)
	parentTS, replyTS := slackfake.TimeTS(t0.Add(10*time.Minute)), slackfake.TimeTS(t0.Add(12*time.Minute))
	mustDo(t, slFake.AddMessage(channel, slackfake.Message{TS: parentTS, User: "U0ANA", Text: "checkout is throwing 500s, <@U0ANA> looking"}))
	mustDo(t, slFake.AddMessage(channel, slackfake.Message{TS: replyTS, User: "U0ANA", Text: "rolling back", ThreadTS: parentTS}))

	ghFake.AddRepo("acme/infra") // the default scope
	ghFake.AddUser(githubfake.User{Login: "ana", Name: "Ana Lima", Email: "ana@acme.example"})
	sha := ghFake.AddCommit(repo, githubfake.Commit{Message: "Raise the pool size\n\nFixes the 500s.", AuthorLogin: "ana",
		AuthorName: "Ana Lima", AuthorEmail: "ana@acme.example", AuthorDate: t0.Add(-30 * time.Minute)})
	dep := ghFake.AddDeployment(repo, githubfake.Deployment{SHA: sha, Ref: "main", Creator: "ana", CreatedAt: t0.Add(5 * time.Minute)})
	if _, err := ghFake.AddDeploymentStatus(repo, dep, githubfake.DeploymentStatus{State: "success", CreatedAt: t0.Add(6 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ghFake.AddWorkflowRun(repo, githubfake.WorkflowRun{Name: "CI", HeadSHA: sha, Status: "completed", Conclusion: "success",
		Actor: "ana", CreatedAt: t0.Add(2 * time.Minute), UpdatedAt: t0.Add(8 * time.Minute), RunStartedAt: t0.Add(2 * time.Minute)})

	ghCol, err := github.New(github.Config{Token: "gh-token", APIURL: ghSrv.URL + "/", WebhookSecret: whGitHubSecret}, github.Options{})
	if err != nil {
		t.Fatal(err)
	}
	slCol, err := slack.New(slack.Config{Token: "xoxb-test", APIURL: slSrv.URL + "/api/", SigningSecret: whSlackSecret},
		slack.Options{Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := setupWebhooks(t, func(s *api.Server) {
		withReceiver(s, slack.NewReceiver(&slack.Config{SigningSecret: whSlackSecret}, slCol, collectors.ClientOptions{}))
	})
	declare := func(id, repo, channel string, start time.Time) {
		t.Helper()
		body := fmt.Appendf(nil, `{"id":%q,"started_at":%q,"resolved_at":%q,"github_repos":[%q],"slack_channels":[%q]}`,
			id, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339), repo, channel)
		if code, ack := b.post(t, "/webhooks/incident", body, genericHeaders(body)...); code != 200 {
			t.Fatalf("declaring %s: %d %v", id, code, ack)
		}
	}
	declare("INC", repo, channel, t0)
	declare("ELSEWHERE", "acme/web", "C0WEB", t0)
	declare("LATER", repo, channel, t0.Add(48*time.Hour))

	// Webhook payloads carry the objects in the REST API's wire format,
	// so they are built from the fake's own answers.
	deployment := ghGet(t, ghSrv.URL+"/repos/"+repo+"/deployments")[0]
	status := ghGet(t, fmt.Sprintf("%s/repos/%s/deployments/%d/statuses", ghSrv.URL, repo, dep))[0]
	var runs struct {
		WorkflowRuns []json.RawMessage `json:"workflow_runs"`
	}
	ghGetInto(t, ghSrv.URL+"/repos/"+repo+"/actions/runs", &runs)
	var commits []struct {
		SHA     string `json:"sha"`
		HTMLURL string `json:"html_url"`
		Commit  struct {
			Message           string `json:"message"`
			Author, Committer struct {
				Name, Email, Date string
			}
		} `json:"commit"`
		Author, Committer struct {
			Login string `json:"login"`
		}
	}
	ghGetInto(t, ghSrv.URL+"/repos/"+repo+"/commits", &commits)
	c := commits[0]
	repoJSON := fmt.Sprintf(`{"full_name":%q,"name":"checkout-api"}`, repo)
	ghDeliveries := []struct{ event, body string }{
		{"deployment_status", fmt.Sprintf(`{"action":"created","deployment_status":%s,"deployment":%s,"repository":%s}`, status, deployment, repoJSON)},
		{"workflow_run", fmt.Sprintf(`{"action":"completed","workflow_run":%s,"repository":%s}`, runs.WorkflowRuns[0], repoJSON)},
		{"push", fmt.Sprintf(`{"ref":"refs/heads/main","commits":[{"id":%q,"message":%q,"timestamp":%q,"url":%q,
			"author":{"name":%q,"email":%q,"username":%q},"committer":{"name":%q,"email":%q,"username":%q}}],"repository":%s}`,
			c.SHA, c.Commit.Message, c.Commit.Author.Date, c.HTMLURL, c.Commit.Author.Name, c.Commit.Author.Email, c.Author.Login,
			c.Commit.Committer.Name, c.Commit.Committer.Email, c.Committer.Login, repoJSON)},
	}
	for i, d := range ghDeliveries {
		code, ack := b.post(t, "/webhooks/github", []byte(d.body), ghHeaders([]byte(d.body), d.event, fmt.Sprint("gh-", i))...)
		if code != 200 || ack["status"] != "accepted" || ack["events"] != float64(1) {
			t.Fatalf("%s delivery: %d %v, want one event accepted", d.event, code, ack)
		}
	}
	history := slackMessages(t, slSrv.URL, "conversations.history", "channel", channel)
	replies := slackMessages(t, slSrv.URL, "conversations.replies", "channel", channel, "ts", parentTS)
	for i, m := range []json.RawMessage{history[0], replies[1]} {
		body := slackEvent(t, fmt.Sprint("Ev", i), channel, m)
		if code, ack := b.post(t, "/webhooks/slack", body, b.slackHeaders(body)...); code != 200 || ack["status"] != "accepted" {
			t.Fatalf("slack message %d: %d %v", i, code, ack)
		}
	}
	// A push to a repository no incident covers is acknowledged and ignored.
	other := strings.Replace(ghDeliveries[2].body, repoJSON, `{"full_name":"acme/unrelated"}`, 1)
	if code, ack := b.post(t, "/webhooks/github", []byte(other), ghHeaders([]byte(other), "push", "gh-other")...); code != 200 || ack["status"] != "ignored" {
		t.Errorf("push to an unrelated repo: %d %v, want ignored", code, ack)
	}
	for _, id := range []string{"ELSEWHERE", "LATER"} {
		if evs := b.timeline(t, id); len(evs) != 2 {
			t.Errorf("%s got live events of another scope or window: %d events", id, len(evs))
		}
	}

	live := b.timeline(t, "INC")
	wantIDs := []string{
		"generic:incident:INC:opened",
		"github:deployment_status:" + repo + ":" + fmt.Sprint(jsonID(t, status)),
		"github:workflow_run:" + repo + ":" + fmt.Sprint(jsonID(t, runs.WorkflowRuns[0])),
		"github:commit:" + repo + ":" + sha,
		"slack:message:" + channel + ":" + parentTS,
		"slack:message:" + channel + ":" + replyTS,
		"generic:incident:INC:closed",
	}
	if diff := cmp.Diff(sortedIDs(wantIDs), sortedIDs(ids(live))); diff != "" {
		t.Fatalf("live events (-want +got):\n%s", diff)
	}

	reg := &collectors.Registry{}
	reg.Register(ghCol)
	reg.Register(slCol)
	collect := func() {
		t.Helper()
		planner := &collectors.Planner{Registry: reg, Store: b.store, Before: 2 * time.Hour, After: 30 * time.Minute}
		_, w, err := planner.Plan(ctx, timeline.CollectRequest{IncidentID: "INC"})
		if err != nil {
			t.Fatal(err)
		}
		if err := (&collectors.Runner{Registry: reg, Store: b.store}).Run(ctx, w).Err(); err != nil {
			t.Fatal(err)
		}
	}
	collect()
	sts, err := b.store.SourceStatuses(ctx, "INC")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, st := range sts {
		counts[st.Source+" "+st.State] = st.EventCount
	}
	if diff := cmp.Diff(map[string]int{"github succeeded": 3, "slack succeeded": 2, "pagerduty pending": 0}, counts); diff != "" {
		t.Fatalf("the collection did not find the captured objects (-want +got):\n%s", diff)
	}
	// Same ids, same content, same seq: the collection found nothing new.
	if diff := cmp.Diff(live, b.timeline(t, "INC")); diff != "" {
		t.Errorf("collection after live capture changed the timeline (-live +collected):\n%s", diff)
	}

	// An edit, captured live, updates the message in place.
	mustDo(t, slFake.EditMessage(channel, parentTS, "checkout is throwing 500s since the deploy", slackfake.TimeTS(t0.Add(20*time.Minute))))
	edited := slackMessages(t, slSrv.URL, "conversations.history", "channel", channel)[0]
	changed := fmt.Appendf(nil, `{"type":"event_callback","event_id":"EvEdit","event":{"type":"message","subtype":"message_changed","hidden":true,
		"channel":%q,"ts":%q,"event_ts":%q,"message":%s}}`, channel, slackfake.TimeTS(t0.Add(20*time.Minute)), slackfake.TimeTS(t0.Add(20*time.Minute)), edited)
	if code, ack := b.post(t, "/webhooks/slack", changed, b.slackHeaders(changed)...); code != 200 || ack["status"] != "accepted" {
		t.Fatalf("edit: %d %v", code, ack)
	}
	after := b.timeline(t, "INC")
	if len(after) != len(live) {
		t.Fatalf("%d events after the edit, want %d", len(after), len(live))
	}
	for i := range after {
		if after[i].ID != "slack:message:"+channel+":"+parentTS {
			continue
		}
		if after[i].Text != "checkout is throwing 500s since the deploy" || after[i].Seq <= live[i].Seq {
			t.Errorf("edited message = %+v, want the new text under a new seq (was %d)", after[i], live[i].Seq)
		}
	}
	collect()
	if diff := cmp.Diff(after, b.timeline(t, "INC")); diff != "" {
		t.Errorf("collection after the live edit changed the timeline (-live +collected):\n%s", diff)
	}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ghGetInto(t testing.TB, url string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer gh-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func ghGet(t testing.TB, url string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	ghGetInto(t, url, &out)
	return out
}

func jsonID(t testing.TB, raw json.RawMessage) int64 {
	t.Helper()
	var v struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

// slackMessages calls a Slack history method of the fake and returns its
// messages as sent.
func slackMessages(t testing.TB, base, method string, form ...string) []json.RawMessage {
	t.Helper()
	vals := url.Values{"token": {"xoxb-test"}}
	for i := 0; i+1 < len(form); i += 2 {
		vals.Set(form[i], form[i+1])
	}
	resp, err := http.PostForm(base+"/api/"+method, vals)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK       bool              `json:"ok"`
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("%s: %v %+v", method, err, out)
	}
	return out.Messages
}

// slackEvent wraps a message as an Events API message event of channel.
func slackEvent(t testing.TB, eventID, channel string, msg json.RawMessage) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	m["channel"], m["channel_type"], m["event_ts"] = channel, "channel", m["ts"]
	ev, err := json.Marshal(map[string]any{"type": "event_callback", "event_id": eventID, "team_id": "T0ACME", "event": m})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func ids(evs []timeline.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func sortedIDs(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestVendorPayloadsAreCaptured feeds the vendors' own example deliveries.
func TestVendorPayloadsAreCaptured(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	declare := func(id, repo, channel string, start time.Time) {
		t.Helper()
		end := start.Add(time.Hour)
		_, err := b.deliveries.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "test", Incidents: []timeline.Incident{{
			ID: id, Source: "generic", StartedAt: start, ResolvedAt: &end,
			WindowStart: start.Add(-time.Hour), WindowEnd: end, Repos: []string{repo}, Channels: []string{channel}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	declare("HELLO", "Codertocat/Hello-World", "C123ABC456", time.Date(2019, 5, 15, 15, 0, 0, 0, time.UTC))
	declare("OCTO", "octo-org/octo-repo", "C0NONE", time.Date(2020, 10, 5, 16, 0, 0, 0, time.UTC))
	declare("SLACK", "acme/none", "C123ABC456", time.Date(2012, 12, 14, 20, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		file, event, status string
	}{
		{"webhook_push.json", "push", "accepted"},
		{"webhook_push_tag_deleted.json", "push", "ignored"},
		{"webhook_deployment_status.json", "deployment_status", "accepted"},
		{"webhook_workflow_run_completed.json", "workflow_run", "accepted"},
	} {
		body := testdata(t, tc.file)
		if code, ack := b.post(t, "/webhooks/github", body, ghHeaders(body, tc.event, tc.file)...); code != 200 || ack["status"] != tc.status {
			t.Errorf("%s: %d %v, want %s", tc.file, code, ack, tc.status)
		}
	}
	body := testdata(t, "events_api_message_channels.json")
	if code, ack := b.post(t, "/webhooks/slack", body, b.slackHeaders(body)...); code != 200 || ack["status"] != "accepted" {
		t.Errorf("slack message: %d %v, want accepted", code, ack)
	}
	got := map[string][]string{}
	for _, inc := range []string{"HELLO", "OCTO", "SLACK"} {
		got[inc] = ids(b.timeline(t, inc))
	}
	want := map[string][]string{
		"HELLO": {"github:commit:Codertocat/Hello-World:6113728f27ae82c7b1a177c8d03f9e96e0adf246",
			"github:deployment_status:Codertocat/Hello-World:209916254"},
		"OCTO":  {"github:workflow_run:octo-org/octo-repo:289782451"},
		"SLACK": {"slack:message:C123ABC456:1355517523.000005"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("captured events (-want +got):\n%s", diff)
	}
}

// stuckSlack is a Slack that never answers: lookups wait until they are
// given up.
type stuckSlack struct{}

func (stuckSlack) User(ctx context.Context, id string) (timeline.Actor, error) {
	<-ctx.Done()
	return timeline.Actor{}, ctx.Err()
}

func (stuckSlack) Bot(ctx context.Context, id string) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

// TestSlackReceiverDoesNotWaitForSlack: when Slack's API hangs, a message
// is still captured at once, with the user id standing in for the name
// until a collection fills it in.
func TestSlackReceiverDoesNotWaitForSlack(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, func(s *api.Server) {
		r := slackReceiver(s)
		r.Users = stuckSlack{}
		r.WorkspaceFunc = func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }
		r.LookupBudget = 50 * time.Millisecond
	})
	end := time.Unix(1355517523, 0).Add(time.Hour)
	if _, err := b.deliveries.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "test", Incidents: []timeline.Incident{{
		ID: "INC", Source: "generic", StartedAt: time.Unix(1355517523, 0), ResolvedAt: &end,
		WindowStart: time.Unix(1355517523, 0).Add(-time.Hour), WindowEnd: end, Channels: []string{"C123ABC456"}}}}); err != nil {
		t.Fatal(err)
	}
	body := testdata(t, "events_api_message_channels.json")
	if code, ack := b.post(t, "/webhooks/slack", body, b.slackHeaders(body)...); code != 200 || ack["status"] != "accepted" {
		t.Fatalf("message: %d %v, want accepted", code, ack)
	}
	evs := b.timeline(t, "INC")
	if len(evs) != 1 || evs[0].Actor == nil || *evs[0].Actor != (timeline.Actor{ID: "U123ABC456", Name: "U123ABC456"}) || evs[0].URL != "" {
		t.Errorf("captured %+v, want the message with the user id as name and no permalink yet", evs)
	}
}
