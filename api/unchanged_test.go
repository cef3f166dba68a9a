package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// TestUnchangedIncidentKeepsItsVersion: the incident's one merge rule
// writes its row only when a column changes. A resolved incident delivered
// again (a new delivery of the same state) and planned again (a collection
// reading PagerDuty's view of it, the same) keeps its updated_at and the
// API's ETag, whatever the clocks say; a real change moves both.
func TestUnchangedIncidentKeepsItsVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := func(hms string) time.Time {
		tm, err := time.Parse(time.RFC3339, "2026-11-20T"+hms+"Z")
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	clock := &testClock{t: at("11:13:00")}
	b := setupReal(t, clock, func(s *api.Server) { s.Versions = s.Store.(api.VersionStore) })

	// PagerDuty's API tells the same as the resolved webhook.
	fake := pagerdutyfake.New("pd-token")
	fake.WebBase = "https://aldaviva.pagerduty.com"
	resolved := at("11:12:30")
	fake.AddIncident(pagerdutyfake.Incident{ID: "Q1CHK5XX", Number: 37, Title: "Test", Status: "resolved", Urgency: "low",
		IncidentKey: "dfead9d88e0649e8b7dee514b1875756", CreatedAt: at("10:00:00"), ResolvedAt: &resolved,
		LastStatusChangeAt: resolved, Service: pagerdutyfake.ServiceRef("PSVC001", "Webhook Tester")})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	pd, err := pagerduty.New(pagerduty.Config{Token: "pd-token", APIURL: srv.URL, WebhookSecret: "unused"}, pagerduty.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := &collectors.Registry{}
	reg.Register(pd)
	planner := &collectors.Planner{Registry: reg, Store: b.store, Before: 2 * time.Hour, After: 30 * time.Minute,
		ScopeFunc: realScope, NowFunc: clock.Now}

	body := realFile(t, "pagerduty/ADAPTED-resolved-Q1CHK5XX.json")
	deliver := func(id string) string {
		t.Helper()
		code, ack := b.post(t, "/webhooks/pagerduty", body, pdHeaders(body, id)...)
		if code != http.StatusOK {
			t.Fatalf("delivery %s: %d %v", id, code, ack)
		}
		return ack["status"].(string)
	}
	plan := func() {
		t.Helper()
		if _, _, err := planner.Plan(ctx, timeline.CollectRequest{IncidentID: "Q1CHK5XX"}); err != nil {
			t.Fatal(err)
		}
	}
	state := func() (time.Time, string) {
		t.Helper()
		inc, err := b.store.Incident(ctx, "Q1CHK5XX")
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		etag := b.getJSON(t, "/v1/incidents/Q1CHK5XX", &v).Get("ETag")
		if etag == "" {
			t.Fatal("a resolved incident without an ETag")
		}
		return inc.UpdatedAt, etag
	}

	if s := deliver("first"); s != "accepted" {
		t.Fatalf("first delivery: %s", s)
	}
	updated, etag := state()
	for _, step := range []struct {
		name string
		do   func()
	}{
		{"the same delivery again", func() {
			if s := deliver("first"); s != "duplicate" {
				t.Errorf("the same delivery id: %s, want duplicate", s)
			}
		}},
		{"another delivery of the same state", func() { deliver("second") }},
		{"a plan from PagerDuty's view", plan},
		{"a plan an hour later", func() { clock.Set(at("12:13:00")); plan() }},
		{"another delivery a day later", func() { clock.Set(at("11:13:00").Add(24 * time.Hour)); deliver("third") }},
		{"a plan a day later", plan},
	} {
		step.do()
		u, e := state()
		if !u.Equal(updated) || e != etag {
			t.Errorf("%s: updated_at %s → %s, ETag %s → %s; want both unchanged", step.name,
				updated.Format(time.RFC3339Nano), u.Format(time.RFC3339Nano), etag, e)
		}
		updated, etag = u, e
	}

	if n := fake.RequestsMatching("GET /incidents/{id}"); n != 3 {
		t.Errorf("the plans read the incident from PagerDuty %d times, want 3", n)
	}

	// A change the incident really has moves both: PagerDuty renames it.
	inc, _ := b.store.Incident(ctx, "Q1CHK5XX")
	fake.AddIncident(pagerdutyfake.Incident{ID: "Q1CHK5XX", Number: 37, Title: "Checkout API errors", Status: "resolved",
		Urgency: "low", CreatedAt: at("10:00:00"), ResolvedAt: &resolved, LastStatusChangeAt: resolved,
		Service: pagerdutyfake.ServiceRef("PSVC001", "Webhook Tester")})
	plan()
	if u, e := state(); !u.After(inc.UpdatedAt) || e == etag {
		t.Errorf("after a rename: updated_at %s → %s, ETag %s → %s; want both moved", inc.UpdatedAt, u, etag, e)
	}
}
