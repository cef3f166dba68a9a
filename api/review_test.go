package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// reviewBundle is a server with everything of the prepared review wired:
// summaries, ETags, the review time zone and a live feed listener.
type reviewBundle struct {
	schema *pgtest.Schema
	store  *postgres.Store
	feed   *postgres.FeedListener
	server *api.Server
	srv    *httptest.Server
	now    time.Time
}

func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func setupReview(t testing.TB, configure ...func(*api.Server)) *reviewBundle {
	t.Helper()
	return setupReviewOn(t, pgtest.New(t), configure...)
}

// setupReviewOn is setupReview on a schema the test made (to open more
// pools on it first).
func setupReviewOn(t testing.TB, s *pgtest.Schema, configure ...func(*api.Server)) *reviewBundle {
	t.Helper()
	st := postgres.New(s.Pool)
	key, err := st.CursorKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := &reviewBundle{schema: s, store: st, feed: postgres.NewFeedListener(s.Pool), now: t0.Add(24 * time.Hour)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.feed.Run(ctx) }()
	review := timeline.DefaultReviewConfig()
	review.Location = london(t)
	b.server = &api.Server{
		Store: st, Cursors: timeline.CursorCodec{Key: key},
		Tokens: []api.Token{
			{Name: "facilitators", Token: readToken, Scopes: []string{"read"}},
			{Name: "writer", Token: writeToken, Scopes: []string{"write"}},
		},
		Summaries: st, Versions: st, Review: review, Feed: b.feed, Annotations: st,
		HeartbeatInterval: 50 * time.Millisecond,
		Metrics:           api.NewMetrics(),
		NowFunc:           func() time.Time { return b.now },
		ReadyFunc:         func(ctx context.Context) error { return st.Ping(ctx) },
	}
	for _, c := range configure {
		c(b.server)
	}
	b.srv = httptest.NewServer(b.server.Handler())
	t.Cleanup(func() {
		b.server.CloseStreams() // and stops the feed hub
		b.srv.CloseClientConnections()
		b.srv.Close()
		cancel()
		<-done
	})
	return b
}

func (b *reviewBundle) incident(t testing.TB, inc timeline.Incident) {
	t.Helper()
	if inc.WindowStart.IsZero() {
		inc.WindowStart, inc.WindowEnd = inc.StartedAt.Add(-2*time.Hour), inc.StartedAt.Add(6*time.Hour)
	}
	if err := b.store.UpsertIncident(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
}

func (b *reviewBundle) events(t testing.TB, evs ...timeline.Event) {
	t.Helper()
	if _, err := b.store.UpsertEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// do sends a request with the read token and the given headers (pairs).
func (b *reviewBundle) do(t testing.TB, method, path string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// fetch GETs path and returns status, headers and body.
func (b *reviewBundle) fetch(t testing.TB, path string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	resp := b.do(t, http.MethodGet, path, nil, headers...)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// checkoutIncident stores a realistic small incident: a deploy, an alert, a
// page to a responder who also writes in Slack (joined by email), an
// acknowledgement and the resolution, plus an overlapping incident and a
// page of the same responder three days earlier.
func checkoutIncident(t testing.TB, b *reviewBundle) timeline.Incident {
	t.Helper()
	resolved := t0.Add(75 * time.Minute)
	inc := timeline.Incident{ID: "PCHECKOUT", Title: "Checkout 5xx | payments", Source: timeline.SourcePagerDuty,
		StartedAt: t0, ResolvedAt: &resolved, URL: "https://acme.pagerduty.com/incidents/PCHECKOUT"}
	b.incident(t, inc)
	b.incident(t, timeline.Incident{ID: "PSEARCH", Title: "Search slow", Source: timeline.SourcePagerDuty, StartedAt: t0.Add(30 * time.Minute)})
	earlier := t0.Add(-72 * time.Hour)
	earlierEnd := earlier.Add(time.Hour)
	b.incident(t, timeline.Incident{ID: "PEARLIER", Title: "Earlier", Source: timeline.SourcePagerDuty, StartedAt: earlier, ResolvedAt: &earlierEnd})
	alice := &timeline.Actor{ID: "PALICE", Name: "Alice Okafor", Email: "alice@acme.test"}
	user := map[string]any{"id": "PALICE", "name": "Alice Okafor", "email": "alice@acme.test"}
	pd := func(id, kind string, at time.Time, actor *timeline.Actor, details map[string]any) timeline.Event {
		return timeline.Event{ID: "pagerduty:log_entry:" + id, IncidentID: "PCHECKOUT", Source: timeline.SourcePagerDuty, Kind: kind,
			OccurredAt: at, Actor: actor, Title: kind, URL: "https://acme.pagerduty.com/incidents/PCHECKOUT/log_entries/" + id, Details: details}
	}
	b.events(t,
		timeline.Event{ID: "github:deployment_status:acme/checkout-api:11", IncidentID: "PCHECKOUT", Source: timeline.SourceGitHub,
			Kind: timeline.KindDeploySucceeded, OccurredAt: t0.Add(-15 * time.Minute), Actor: &timeline.Actor{ID: "octocat", Name: "octocat"},
			Title: "Deploy checkout-api to production: success", URL: "https://github.com/acme/checkout-api/deployments",
			Details: map[string]any{"deployment_id": 7, "repo": "acme/checkout-api", "environment": "production", "sha": "7638417db6d59f3c431d3e1f261cc637155684cd"}},
		timeline.Event{ID: "pagerduty:alert:A1", IncidentID: "PCHECKOUT", Source: timeline.SourcePagerDuty, Kind: timeline.KindAlertTriggered,
			OccurredAt: t0, Title: "5xx rate above 5%"},
		pd("R1", timeline.KindPageTriggered, t0.Add(10*time.Second), nil, map[string]any{"agent_type": "service_reference"}),
		pd("R2", timeline.KindPageNotified, t0.Add(20*time.Second), nil, map[string]any{"user": user}),
		pd("R3", timeline.KindPageAcknowledged, t0.Add(4*time.Minute+10*time.Second), alice, map[string]any{"agent_type": "user_reference"}),
		timeline.Event{ID: "slack:message:C0CHECKOUT:1763629500.000100", IncidentID: "PCHECKOUT", Source: timeline.SourceSlack,
			Kind: timeline.KindChatMessage, OccurredAt: t0.Add(5 * time.Minute),
			Actor: &timeline.Actor{ID: "U0761F5NSP5", Name: "alice", Email: "ALICE@acme.test"}, Title: "looking, rolling back",
			Text: "looking, rolling back", URL: "https://acme.slack.com/archives/C0CHECKOUT/p1763629500000100"},
		pd("R4", timeline.KindPageResolved, resolved, alice, map[string]any{"agent_type": "user_reference"}),
		timeline.Event{ID: "pagerduty:log_entry:RX", IncidentID: "PEARLIER", Source: timeline.SourcePagerDuty, Kind: timeline.KindPageNotified,
			OccurredAt: earlier.Add(time.Minute), Title: "Notified", Details: map[string]any{"user": user}},
	)
	got, err := b.store.Incident(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

func TestIncidentCarriesThePreparedSummary(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	inc := checkoutIncident(t, b)
	status, _, body := b.fetch(t, "/v1/incidents/PCHECKOUT")
	if status != http.StatusOK {
		t.Fatalf("GET incident: %d %s", status, body)
	}
	got := decode[map[string]any](t, body)["summary"]

	// The API serves exactly what PrepareSummary derives from the store.
	want, err := timeline.PrepareSummary(context.Background(), b.store, inc, b.server.Review, b.now)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	if diff := cmp.Diff(decode[any](t, wantJSON), got); diff != "" {
		t.Errorf("summary (-PrepareSummary +API):\n%s", diff)
	}

	// And what it derives is the review a facilitator expects.
	var sum timeline.Summary
	raw, _ := json.Marshal(got)
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	var moments []string
	for _, m := range sum.KeyMoments {
		moments = append(moments, m.Moment)
	}
	if diff := cmp.Diff([]string{"last_deploy_before_first_alert", "first_alert", "triggered", "first_acknowledgement", "resolved"}, moments); diff != "" {
		t.Errorf("key moments (-want +got):\n%s", diff)
	}
	if d := sum.Durations; d.ToAcknowledgeS == nil || *d.ToAcknowledgeS != 240 || d.ToResolveS == nil || *d.ToResolveS != 4500 ||
		d.LastDeployToFirstAlertS == nil || *d.LastDeployToFirstAlertS != 900 {
		t.Errorf("durations = %+v, want 240 s to acknowledge, 4500 s to resolve, 900 s from deploy to alert", d)
	}
	var alice *timeline.Responder
	for i, r := range sum.Responders {
		if r.Name == "Alice Okafor" {
			alice = &sum.Responders[i]
		}
	}
	if alice == nil {
		t.Fatalf("no responder Alice Okafor in %+v", sum.Responders)
	}
	wantIDs := []timeline.Identity{{Source: "pagerduty", ID: "PALICE"}, {Source: "slack", ID: "U0761F5NSP5"}}
	if diff := cmp.Diff(wantIDs, alice.Identities); diff != "" {
		t.Errorf("Alice's identities, joined by email (-want +got):\n%s", diff)
	}
	if alice.PagesInPrior7Days == nil || *alice.PagesInPrior7Days != 1 {
		t.Errorf("Alice's pages in the prior 7 days = %v, want 1", alice.PagesInPrior7Days)
	}
	if o := sum.Context.OverlappingIncidents; len(o) != 1 || o[0].ID != "PSEARCH" {
		t.Errorf("overlapping incidents = %+v, want PSEARCH", o)
	}
	if sum.Context.Timezone != "Europe/London" {
		t.Errorf("timezone = %q", sum.Context.Timezone)
	}
}

func TestIncidentWithoutSummariesHasNullSummary(t *testing.T) {
	t.Parallel()
	b := setupReview(t, func(s *api.Server) { s.Summaries = nil })
	checkoutIncident(t, b)
	status, _, body := b.fetch(t, "/v1/incidents/PCHECKOUT")
	if status != http.StatusOK || decode[map[string]any](t, body)["summary"] != nil {
		t.Errorf("GET incident without Summaries: %d %s, want summary null", status, body)
	}
}

// trickyEvents hold what breaks naive exports: commas, quotes, line breaks,
// pipes, brackets, HTML, formulas and non-ASCII text.
func trickyEvents(inc string) []timeline.Event {
	at := time.Date(2026, 3, 29, 0, 59, 59, 123456789, time.UTC) // one second before London's clocks go forward
	return []timeline.Event{
		{ID: "slack:message:C0CHECKOUT:1774745999.000100", IncidentID: inc, Source: timeline.SourceSlack, Kind: timeline.KindChatMessage,
			OccurredAt: at, Actor: &timeline.Actor{ID: "U1", Name: "José Müller"},
			Title: `p99 "climbing", see | graph`, Text: "p99 \"climbing\", see | graph\nline two\r\nline three: 日本語 ✅ [link](x) <b>bold</b> & more",
			URL: "https://acme.slack.com/archives/C0CHECKOUT/p1774745999000100"},
		{ID: "slack:message:C0CHECKOUT:1774746000.000200", IncidentID: inc, Source: timeline.SourceSlack, Kind: timeline.KindChatMessage,
			OccurredAt: at.Add(time.Second), Actor: &timeline.Actor{ID: "U2", Name: "=HYPERLINK(\"http://evil\")"},
			Title: "=SUM(A1:A9)", Text: "=SUM(A1:A9)", URL: "javascript:alert(1)"},
		{ID: "github:commit:acme/checkout-api:7638417db6d59f3c431d3e1f261cc637155684cd", IncidentID: inc, Source: timeline.SourceGitHub,
			Kind: timeline.KindChangeCommit, OccurredAt: at.Add(2 * time.Second), Title: "Fix (retry) budget",
			URL:     "https://github.com/acme/checkout-api/commit/7638417 (x)",
			Details: map[string]any{"sha": "7638417db6d59f3c431d3e1f261cc637155684cd", "repo": "acme/checkout-api"}},
	}
}

func TestExportFormats(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PEXPORT", Title: "Checkout | payments", StartedAt: time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC),
		URL: "https://acme.pagerduty.com/incidents/PEXPORT"})
	evs := trickyEvents("PEXPORT")
	b.events(t, evs...)

	t.Run("markdown", func(t *testing.T) {
		status, h, body := b.fetch(t, "/v1/incidents/PEXPORT/timeline?format=markdown")
		if status != 200 || h.Get("Content-Type") != "text/markdown; charset=utf-8" {
			t.Fatalf("%d %q %s", status, h.Get("Content-Type"), body)
		}
		want := "## Timeline: [Checkout \\| payments (PEXPORT)](https://acme.pagerduty.com/incidents/PEXPORT)\n\n" +
			"Times are in Europe/London.\n\n" +
			"- **People:** José Müller, joined on their own, 00:59 · =HYPERLINK(\"http://evil\"), joined on their own, 02:00\n\n" +
			"| Time (Europe/London) | Source | Kind | Who | What |\n" +
			"|---|---|---|---|---|\n" +
			"| 2026-03-29 00:59:59 GMT | slack | chat.message | José Müller | [p99 \"climbing\", see \\| graph](https://acme.slack.com/archives/C0CHECKOUT/p1774745999000100)" +
			"<br>p99 \"climbing\", see \\| graph<br>line two<br>line three: 日本語 ✅ \\[link\\](x) &lt;b&gt;bold&lt;/b&gt; &amp; more |\n" +
			"| 2026-03-29 02:00:00 BST | slack | chat.message | =HYPERLINK(\"http://evil\") | =SUM(A1:A9) |\n" +
			"| 2026-03-29 02:00:01 BST | github | change.commit |  | [Fix (retry) budget](https://github.com/acme/checkout-api/commit/7638417%20%28x%29) |\n"
		if diff := cmp.Diff(want, string(body)); diff != "" {
			t.Errorf("markdown (-want +got):\n%s", diff)
		}
	})

	t.Run("csv", func(t *testing.T) {
		status, h, body := b.fetch(t, "/v1/incidents/PEXPORT/timeline?format=csv")
		if status != 200 || h.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("%d %q %s", status, h.Get("Content-Type"), body)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("the CSV does not parse: %v\n%s", err, body)
		}
		if len(rows) != 4 {
			t.Fatalf("%d rows, want a header and 3", len(rows))
		}
		header := rows[0]
		col := func(row []string, name string) string {
			for i, h := range header {
				if h == name {
					return row[i]
				}
			}
			t.Fatalf("no column %s in %v", name, header)
			return ""
		}
		// encoding/csv's reader folds \r\n inside a quoted field to \n; the
		// raw bytes are checked below.
		if got := col(rows[1], "text"); got != strings.ReplaceAll(evs[0].Text, "\r\n", "\n") {
			t.Errorf("text survived as %q, want %q", got, evs[0].Text)
		}
		if got := col(rows[1], "actor_name"); got != "José Müller" {
			t.Errorf("actor_name = %q", got)
		}
		if got := col(rows[1], "occurred_at"); got != "2026-03-29T00:59:59.123456789Z" {
			t.Errorf("occurred_at = %q, want UTC with nanoseconds", got)
		}
		if got := col(rows[2], "title"); got != "'=SUM(A1:A9)" {
			t.Errorf("a formula title became %q, want it defused with an apostrophe", got)
		}
		if got := col(rows[2], "actor_name"); got != `'=HYPERLINK("http://evil")` {
			t.Errorf("a formula name became %q", got)
		}
		if got := decode[map[string]any](t, []byte(col(rows[3], "details")))["repo"]; got != "acme/checkout-api" {
			t.Errorf("details = %q", col(rows[3], "details"))
		}
		if !bytes.Contains(body, []byte("\"p99 \"\"climbing\"\", see | graph\nline two\r\nline three")) {
			t.Errorf("quotes and line breaks not quoted per RFC 4180:\n%s", body)
		}
	})

	t.Run("jsonl", func(t *testing.T) {
		status, h, body := b.fetch(t, "/v1/incidents/PEXPORT/timeline?format=jsonl")
		if status != 200 || h.Get("Content-Type") != "application/x-ndjson; charset=utf-8" {
			t.Fatalf("%d %q %s", status, h.Get("Content-Type"), body)
		}
		_, _, page := b.fetch(t, "/v1/incidents/PEXPORT/timeline")
		want := decode[api.TimelineJSON](t, page).Events
		var got []api.EventJSON
		for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			got = append(got, decode[api.EventJSON](t, []byte(line)))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("jsonl lines differ from the json page (-json +jsonl):\n%s", diff)
		}
		if !strings.Contains(string(body), "日本語 ✅") || !strings.Contains(string(body), "<b>bold</b> & more") {
			t.Errorf("non-ASCII or HTML escaped in jsonl:\n%s", body)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, path := range []string{
			"/v1/incidents/PEXPORT/timeline?format=xml",
			"/v1/incidents/PEXPORT/timeline?format=csv&limit=10",
			"/v1/incidents/PEXPORT/timeline?format=markdown&cursor=abc",
		} {
			if status, _, body := b.fetch(t, path); status != 400 {
				t.Errorf("%s: %d %s, want 400", path, status, body)
			}
		}
		if status, _, _ := b.fetch(t, "/v1/incidents/PNOPE/timeline?format=csv"); status != 404 {
			t.Errorf("export of an unknown incident: %d, want 404", status)
		}
	})
}

// TestExportsStreamEveryPage exports more events than one internal page holds,
// with filters, and checks every format holds each event once, in order.
func TestExportsStreamEveryPage(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	b.incident(t, timeline.Incident{ID: "PBIG", StartedAt: t0})
	var evs []timeline.Event
	for i := 0; i < 2345; i++ {
		src, kind := timeline.SourceSlack, timeline.KindChatMessage
		if i%5 == 0 {
			src, kind = timeline.SourcePagerDuty, timeline.KindPageNotified
		}
		evs = append(evs, timeline.Event{ID: fmt.Sprintf("%s:x:%05d", src, i), IncidentID: "PBIG", Source: src, Kind: kind,
			OccurredAt: t0.Add(time.Duration(i/4) * time.Second), Title: fmt.Sprintf("event %d", i)})
	}
	b.events(t, evs...)
	for _, tc := range []struct {
		query string
		want  int
	}{{"", 2345}, {"&source=slack", 1876}, {"&kind=page.", 469}} {
		_, _, body := b.fetch(t, "/v1/incidents/PBIG/timeline?format=jsonl"+tc.query)
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		last := ""
		seen := map[string]bool{}
		for _, l := range lines {
			e := decode[api.EventJSON](t, []byte(l))
			key := e.OccurredAt + " " + e.ID
			if seen[e.ID] || key <= last {
				t.Fatalf("jsonl%s: %s repeated or out of order", tc.query, e.ID)
			}
			seen[e.ID], last = true, key
		}
		if len(seen) != tc.want {
			t.Errorf("jsonl%s: %d events, want %d", tc.query, len(seen), tc.want)
		}
		_, _, body = b.fetch(t, "/v1/incidents/PBIG/timeline?format=csv"+tc.query)
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil || len(rows) != tc.want+1 {
			t.Errorf("csv%s: %d rows (%v), want %d and a header", tc.query, len(rows), err, tc.want)
		}
		_, _, body = b.fetch(t, "/v1/incidents/PBIG/timeline?format=markdown"+tc.query)
		if n := strings.Count(string(body), "\n| 2026-"); n != tc.want {
			t.Errorf("markdown%s: %d rows, want %d", tc.query, n, tc.want)
		}
	}
}

func TestConditionalGET(t *testing.T) {
	t.Parallel()
	b := setupReview(t)
	checkoutIncident(t, b)
	ctx := context.Background()
	paths := []string{
		"/v1/incidents/PCHECKOUT",
		"/v1/incidents/PCHECKOUT/timeline",
		"/v1/incidents/PCHECKOUT/timeline?limit=2",
		"/v1/incidents/PCHECKOUT/timeline?format=csv",
		"/v1/incidents/PCHECKOUT/timeline?format=markdown",
		"/v1/incidents/PCHECKOUT/timeline?format=jsonl&kind=page.",
	}
	etags := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, p := range paths {
			status, h, body := b.fetch(t, p)
			if status != 200 || h.Get("ETag") == "" {
				t.Fatalf("GET %s: %d, ETag %q: %s", p, status, h.Get("ETag"), body)
			}
			out[p] = h.Get("ETag")
		}
		return out
	}
	// notModified checks every path answers 304 to its own ETag and 200
	// to a stale one.
	check := func(step string, tags map[string]string, want int) {
		t.Helper()
		for p, tag := range tags {
			status, h, body := b.fetch(t, p, "If-None-Match", tag)
			if status != want {
				t.Errorf("%s: GET %s with If-None-Match %s: %d, want %d", step, p, tag, status, want)
			}
			if status == http.StatusNotModified && (len(body) != 0 || h.Get("ETag") != tag) {
				t.Errorf("%s: 304 of %s has a body (%q) or another ETag (%s)", step, p, body, h.Get("ETag"))
			}
		}
	}
	first := etags()
	seen := map[string]bool{}
	for _, tag := range first {
		if seen[tag] {
			t.Errorf("two representations share ETag %s", tag)
		}
		seen[tag] = true
	}
	check("unchanged", first, http.StatusNotModified)

	// Other forms of If-None-Match.
	p := "/v1/incidents/PCHECKOUT/timeline"
	for _, v := range []string{"W/" + first[p], `"other", ` + first[p], "*"} {
		if status, _, _ := b.fetch(t, p, "If-None-Match", v); status != http.StatusNotModified {
			t.Errorf("If-None-Match %s: %d, want 304", v, status)
		}
	}

	// Writing what is already stored changes nothing.
	evs, err := b.store.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PCHECKOUT"})
	if err != nil {
		t.Fatal(err)
	}
	b.events(t, evs...)
	st := timeline.SourceStatus{IncidentID: "PCHECKOUT", Source: timeline.SourceSlack, State: timeline.StateRunning}
	check("identical upsert", first, http.StatusNotModified)

	// A new status changes every ETag.
	if err := b.store.SetSourceStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	check("status changed", first, http.StatusOK)
	second := etags()
	check("after the status change", second, http.StatusNotModified)
	if err := b.store.SetSourceStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	check("the same status again", second, http.StatusNotModified)

	// A changed event changes every ETag.
	e := evs[len(evs)-1]
	e.Title = "Resolved by Alice"
	b.events(t, e)
	check("event changed", second, http.StatusOK)
	third := etags()

	// Another incident's events leave this one's alone.
	b.events(t, timeline.Event{ID: "pagerduty:alert:S1", IncidentID: "PSEARCH", Source: timeline.SourcePagerDuty,
		Kind: timeline.KindAlertTriggered, OccurredAt: t0.Add(31 * time.Minute), Title: "search slow"})
	check("another incident's event", third, http.StatusNotModified)

	// The summary reads the overlapping incidents: a change to one of them
	// changes the incident's ETag, not the timeline's.
	b.incident(t, timeline.Incident{ID: "PSEARCH", Title: "Search slow (renamed)", Source: timeline.SourcePagerDuty, StartedAt: t0.Add(30 * time.Minute)})
	status, _, _ := b.fetch(t, "/v1/incidents/PCHECKOUT", "If-None-Match", third["/v1/incidents/PCHECKOUT"])
	if status != http.StatusOK {
		t.Errorf("after an overlapping incident changed, the incident answered %d, want 200", status)
	}
	status, _, _ = b.fetch(t, "/v1/incidents/PCHECKOUT/timeline", "If-None-Match", third["/v1/incidents/PCHECKOUT/timeline"])
	if status != http.StatusNotModified {
		t.Errorf("after an overlapping incident changed, the timeline answered %d, want 304", status)
	}
}
