package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/api"
	"github.com/groundwork-dev/groundwork/collectors/generic"
	"github.com/groundwork-dev/groundwork/collectors/prometheus"
	"github.com/groundwork-dev/groundwork/collectors/prometheus/promfake"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// TestServeWiresAListedSource: with sources.prometheus configured, serve
// (newApp and serve, as the command runs them) collects the incident's
// alerts from Prometheus in its queued collection, mounts the Alertmanager
// receiver, whose notification of the same alert then changes nothing, and
// the timeline's source filter knows the source.
func TestServeWiresAListedSource(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const hookSecret, amToken, readTok = "generic-e2e-secret", "am-e2e-token-5c1d", "read-e2e-token-8f2a"
	eval := time.Date(2026, 11, 20, 9, 0, 7, 250e6, time.UTC)
	span := promfake.Span{FiredAt: eval.Add(64 * 30 * time.Second), ResolvedAt: eval.Add(90 * 30 * time.Second)}
	rule := promfake.Rule{Name: "CheckoutErrors", Query: `sum(rate(http_requests_total{code=~"5.."}[5m])) > 5`,
		Labels: map[string]string{"severity": "page"}, Annotations: map[string]string{"summary": "Checkout 5xx above 5/s"}}
	labels := map[string]string{"alertname": "CheckoutErrors", "severity": "page", "service": "checkout"}
	fake := &promfake.Fake{Interval: 30 * time.Second, Now: time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC),
		Rules: []promfake.Rule{rule}, Alerts: []promfake.Alert{{Labels: labels, Annotations: rule.Annotations, Spans: []promfake.Span{span}}}}
	prom := httptest.NewServer(fake)
	defer prom.Close()

	s := pgtest.NewEmpty(t)
	cfg := DefaultConfig()
	cfg.DatabaseURL = s.URL
	cfg.APITokens = []api.Token{{Name: "reader", Token: readTok, Scopes: []string{api.ScopeRead}}}
	cfg.Sources.Plugins[generic.Name].(*generic.Config).WebhookSecret = hookSecret
	pc := cfg.Sources.Plugins[prometheus.Name].(*prometheus.Config)
	pc.APIURL, pc.Webhook.BearerToken = prom.URL, amToken
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	post := func(path string, body []byte, h ...string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}

	hook := []byte(`{"id":"INC-ALERTS","title":"Checkout errors","started_at":"2026-11-20T09:30:00Z","resolved_at":"2026-11-20T10:30:00Z"}`)
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(hook)
	if code, ack := post("/webhooks/incident", hook, "X-Groundwork-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil))); code != 200 {
		t.Fatalf("generic hook: %d %v", code, ack)
	}
	waitFor(t, "the collection", 60*time.Second, func() bool { return allCompleted(collectionJobs(t, s)) })
	evs, err := postgres.New(s.Pool).Timeline(ctx, timeline.TimelineQuery{IncidentID: "INC-ALERTS", Sources: []string{prometheus.Name}})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Kind != timeline.KindAlertFiring || !evs[0].OccurredAt.Equal(span.FiredAt) ||
		evs[1].Kind != timeline.KindAlertResolved || !evs[1].OccurredAt.Equal(span.ResolvedAt) {
		t.Fatalf("collected %+v, want the span's firing and resolved events at its evaluations", evs)
	}

	note := promfake.Notification("groundwork", "http://am:9093", fake.Now, nil, promfake.AlertSpan{Labels: labels,
		Annotations: rule.Annotations, Span: span,
		GeneratorURL: prom.URL + "/graph?g0.expr=" + url.QueryEscape(rule.Query) + "&g0.tab=1"})
	if code, ack := post("/webhooks/alertmanager", note, "Authorization", "Bearer nope"); code != 401 {
		t.Errorf("wrong credentials: %d %v, want 401", code, ack)
	}
	code, ack := post("/webhooks/alertmanager", note, "Authorization", "Bearer "+amToken)
	if code != 200 || ack["status"] != "accepted" || ack["events"] != nil {
		t.Errorf("the notification after collection: %d %v, want accepted with no event changed", code, ack)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/v1/incidents/INC-ALERTS/timeline?source=prometheus", nil)
	req.Header.Set("Authorization", "Bearer "+readTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page api.TimelineJSON
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(page.Events) != 2 {
		t.Errorf("?source=prometheus: %d with %d events, want 200 with 2", resp.StatusCode, len(page.Events))
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
