package prometheus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/prometheus"
	"github.com/groundwork-dev/groundwork/collectors/prometheus/promfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

const amToken = "am-webhook-token-71c4"

// e2e is the api serving the Alertmanager receiver over a real store,
// beside a fake Prometheus, as serve wires them.
type e2e struct {
	store *postgres.Store
	srv   *httptest.Server
	prom  *httptest.Server
	fake  *promfake.Fake
	cfg   *prometheus.Config
}

func setupE2E(t *testing.T, mut ...func(*prometheus.Config)) *e2e {
	t.Helper()
	ctx := context.Background()
	s := pgtest.New(t)
	b := &e2e{store: postgres.New(s.Pool), fake: world(winEnd.Add(time.Hour))}
	b.prom = httptest.NewServer(b.fake)
	t.Cleanup(b.prom.Close)
	cfg := prometheus.DefaultConfig()
	cfg.APIURL, cfg.BearerToken, cfg.Lookback = b.prom.URL, promToken, 6*time.Hour
	cfg.Matchers = map[string]string{"PSVC001": `{service="checkout"}`, "PSVC002": `{service=~"search|index"}`}
	cfg.ExternalLabels = map[string]string{"cluster": "eu-west-1"}
	cfg.Webhook.BearerToken = amToken
	for _, m := range mut {
		m(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b.cfg = cfg
	server := &api.Server{
		Store: b.store, Deliveries: &postgres.Deliveries{Store: b.store},
		Webhooks:  api.WebhookConfig{Before: time.Hour, After: 30 * time.Minute},
		Receivers: prometheus.Source.Receivers(cfg, nil, collectors.ClientOptions{}),
		Sources:   []string{prometheus.Name},
		NowFunc:   func() time.Time { return winEnd },
	}
	b.srv = httptest.NewServer(server.Handler())
	t.Cleanup(b.srv.Close)
	for id, svc := range map[string]string{"PCHECKOUT": "PSVC001", "PSEARCH": "PSVC002"} {
		resolved := time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)
		if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: id, ServiceID: svc, Source: "pagerduty",
			StartedAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), ResolvedAt: &resolved,
			WindowStart: winStart, WindowEnd: winEnd}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *e2e) post(t *testing.T, body []byte, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.28.1")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (b *e2e) timeline(t *testing.T, id string) []timeline.Event {
	t.Helper()
	evs, err := b.store.Timeline(context.Background(), timeline.TimelineQuery{IncidentID: id})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// notify posts what Alertmanager would send at moment at for the fake's
// alerts of name, as the fake's Prometheus sent them.
func (b *e2e) notify(t *testing.T, at time.Time, alertname string) (int, map[string]any) {
	t.Helper()
	rule := map[string]promfake.Rule{latencyRule.Name: latencyRule, diskRule.Name: diskRule}[alertname]
	var spans []promfake.AlertSpan
	for _, a := range b.fake.Alerts {
		if a.Labels["alertname"] != alertname {
			continue
		}
		for _, sp := range a.Spans {
			if sp.FiredAt.After(at) {
				continue
			}
			spans = append(spans, promfake.AlertSpan{Labels: a.Labels, Annotations: a.Annotations,
				GeneratorURL: generatorURL(b.prom.URL, rule.Query), Span: sp})
		}
	}
	body := promfake.Notification("groundwork", "http://alertmanager.acme.example:9093", at, b.cfg.ExternalLabels, spans...)
	return b.post(t, body, "Authorization", "Bearer "+amToken)
}

// TestLiveAndCollectedAlertsAreTheSame: Alertmanager's notifications,
// received through the api as serve mounts them, store each span's events
// under the ids, times and content collection gives them: the collection
// that follows adds nothing and changes nothing. Each incident gets only
// its service's alerts.
func TestLiveAndCollectedAlertsAreTheSame(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupE2E(t)

	// Live: the notifications Alertmanager sends as the alerts fire and
	// resolve (firing first, then resolved, then repeated).
	for _, n := range []struct {
		at   time.Time
		name string
	}{
		{at("10:02", 1), "HighLatency"}, {at("10:20", 1), "HighLatency"}, {at("10:41", 1), "HighLatency"},
		{at("10:41", 1), "HighLatency"}, {at("11:10", 1), "DiskFull"},
	} {
		if status, body := b.notify(t, n.at, n.name); status != 200 {
			t.Fatalf("notification at %s: %d %v", n.at.Format("15:04:05"), status, body)
		}
	}
	live := b.timeline(t, "PCHECKOUT")
	if len(live) == 0 {
		t.Fatal("nothing captured live")
	}
	search := b.timeline(t, "PSEARCH")
	for _, e := range search {
		if e.Details["labels"].(map[string]any)["service"] != "search" {
			t.Errorf("the search incident got %s, not search's", e.ID)
		}
	}
	if len(search) != 2 {
		t.Errorf("the search incident got %d events, want its alert's 2", len(search))
	}
	for _, e := range live {
		if e.Details["labels"].(map[string]any)["service"] != "checkout" {
			t.Errorf("the checkout incident got %s, not checkout's", e.ID)
		}
	}

	// Collection of the same window.
	c := newCollector(t, b.prom.URL, func(cfg *prometheus.Config) { cfg.ExternalLabels = b.cfg.ExternalLabels })
	reg := &collectors.Registry{}
	reg.Register(c)
	res := (&collectors.Runner{Registry: reg, Store: b.store}).Run(ctx, checkoutWindow())
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	after := b.timeline(t, "PCHECKOUT")
	ids := func(evs []timeline.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	// Live saw every span the collector sees in the window, except the
	// resolved DiskFull on db-1 whose notification came before: collected
	// only.
	var liveIDs = ids(live)
	for _, e := range after {
		if !slices.Contains(liveIDs, e.ID) && !strings.HasPrefix(e.ID, "prometheus:alert:DiskFull:c2ad07e90124166f:") {
			t.Errorf("collection added %s, which live capture should have stored under the same id", e.ID)
		}
	}
	if len(after) != res.Sources[0].Events || len(after) != 6 {
		t.Errorf("%d events after collection, collected %d, want 6 (no duplicates)", len(after), res.Sources[0].Events)
	}
	byID := map[string]timeline.Event{}
	for _, e := range after {
		byID[e.ID] = e
	}
	for _, e := range live {
		got := byID[e.ID]
		if got.Seq != e.Seq {
			t.Errorf("%s: collection changed the live event (seq %d -> %d):\n%s", e.ID, e.Seq, got.Seq, cmp.Diff(e, got))
		}
	}
}

// TestAlertmanagerNormalisationGolden: a notification shaped like
// Alertmanager's (one firing, one resolved alert, labels from
// Alertmanager's own template tests, whose fingerprints it gives) becomes
// these live events.
func TestAlertmanagerNormalisationGolden(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/alertmanager-notification.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := prometheus.DefaultConfig()
	cfg.Webhook.BearerToken = amToken
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/webhooks/alertmanager", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+amToken)
	d, err := prometheus.NewReceiver(cfg, collectors.ClientOptions{}).Receive(context.Background(), r, body)
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		Alerts []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	for _, a := range n.Alerts {
		found := false
		for _, e := range d.Live {
			found = found || e.Details["fingerprint"] == a.Fingerprint
		}
		if !found {
			t.Errorf("no event has Alertmanager's fingerprint %s", a.Fingerprint)
		}
	}
	golden(t, "testdata/alertmanager-notification.golden.json", d.Live)
	if !d.Scope.AnyPlace || d.AcceptFunc == nil {
		t.Error("live alerts must be offered to incidents of any place, filtered by service")
	}
}

// TestAlertmanagerReceiverRefusals: Alertmanager's http_config credentials
// (authorization Bearer, or basic_auth) are checked before the body is
// read; wrong or missing ones are 401, a body that is not a version 4
// notification is 400, and nothing is stored.
func TestAlertmanagerReceiverRefusals(t *testing.T) {
	t.Parallel()
	b := setupE2E(t)
	basic := setupE2E(t, func(c *prometheus.Config) {
		c.Webhook.BearerToken, c.Webhook.Username, c.Webhook.Password = "", "alertmanager", "am-basic-pass-0e2b"
	})
	unconfigured := setupE2E(t, func(c *prometheus.Config) { c.Webhook = prometheus.WebhookConfig{} })
	good := promfake.Notification("groundwork", "http://am:9093", at("10:03", 0), nil, promfake.AlertSpan{
		Labels: map[string]string{"alertname": "HighLatency", "service": "checkout"}, Span: promfake.Span{FiredAt: at("10:02", 0)}})
	basicAuth := func(u, p string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	for _, tc := range []struct {
		name   string
		b      *e2e
		body   []byte
		auth   string
		ct     string
		status int
		code   string
	}{
		{"not configured", unconfigured, good, "Bearer " + amToken, "", 401, "webhook_not_configured"},
		{"no credentials", b, good, "", "", 401, "bad_signature"},
		{"wrong bearer", b, good, "Bearer nope", "", 401, "bad_signature"},
		{"basic instead of bearer", b, good, basicAuth("alertmanager", amToken), "", 401, "bad_signature"},
		{"wrong basic password", basic, good, basicAuth("alertmanager", "nope"), "", 401, "bad_signature"},
		{"bearer instead of basic", basic, good, "Bearer am-basic-pass-0e2b", "", 401, "bad_signature"},
		{"not JSON", b, good, "Bearer " + amToken, "text/plain", 415, "unsupported_media_type"},
		{"not a notification", b, []byte(`[1,2]`), "Bearer " + amToken, "", 400, "malformed_body"},
		{"another version", b, bytes.Replace(good, []byte(`"version":"4"`), []byte(`"version":"3"`), 1), "Bearer " + amToken, "", 400, "malformed_body"},
		{"no alertname", b, bytes.Replace(good, []byte(`"alertname":"HighLatency",`), nil, 1), "Bearer " + amToken, "", 400, "malformed_body"},
		{"basic, right", basic, good, basicAuth("alertmanager", "am-basic-pass-0e2b"), "", 200, ""},
		{"bearer, right", b, good, "Bearer " + amToken, "", 200, ""},
	} {
		headers := []string{}
		if tc.auth != "" {
			headers = append(headers, "Authorization", tc.auth)
		}
		if tc.ct != "" {
			headers = append(headers, "Content-Type", tc.ct)
		}
		status, body := tc.b.post(t, tc.body, headers...)
		code := ""
		if e, ok := body["error"].(map[string]any); ok {
			code, _ = e["code"].(string)
			if msg, _ := e["message"].(string); strings.Contains(msg, amToken) || strings.Contains(msg, "am-basic-pass") {
				t.Errorf("%s: the answer shows a secret: %s", tc.name, msg)
			}
		}
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
		if tc.status != 200 && len(tc.b.timeline(t, "PCHECKOUT")) != 0 {
			t.Errorf("%s: a refused delivery stored events", tc.name)
		}
	}
}
