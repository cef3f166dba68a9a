package prometheus_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/prometheus"
	"github.com/groundwork-dev/groundwork/collectors/prometheus/promfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The incident: 10:00 to 11:00, its window 09:00 to 11:30.
var (
	winStart = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	winEnd   = time.Date(2026, 11, 20, 11, 30, 0, 0, time.UTC)
	// evals are the rule group's evaluation times: every 30s, offset by
	// 7.345s as Prometheus offsets each group.
	eval0 = time.Date(2026, 11, 20, 0, 0, 7, 345e6, time.UTC)
)

const (
	promToken = "prom-bearer-9d1f"
	interval  = 30 * time.Second
)

// at is the n-th evaluation after hh:mm (the first one at or after it).
func at(hhmm string, n int) time.Time {
	t, err := time.Parse("2006-01-02 15:04", "2026-11-20 "+hhmm)
	if err != nil {
		panic(err)
	}
	k := (t.Sub(eval0) + interval - 1) / interval
	return eval0.Add(k*interval + time.Duration(n)*interval)
}

var (
	latencyRule = promfake.Rule{Name: "HighLatency", For: 5 * time.Minute,
		Query:       `histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5`,
		Labels:      map[string]string{"severity": "page"},
		Annotations: map[string]string{"summary": "Checkout p99 latency above 500ms", "runbook_url": "https://runbooks.acme.example/latency"}}
	diskRule = promfake.Rule{Name: "DiskFull", For: 0,
		Query:       `node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.05`,
		Labels:      map[string]string{"severity": "ticket"},
		Annotations: map[string]string{"summary": "Disk almost full", "description": "{{ $labels.instance }} has {{ $value }} left"}}
)

// world is the fake's alerts: what a checkout outage looks like.
func world(now time.Time) *promfake.Fake {
	lat := map[string]string{"alertname": "HighLatency", "service": "checkout", "severity": "page", "job": "checkout-api"}
	return &promfake.Fake{
		BearerToken: promToken, Interval: interval, Now: now,
		Rules: []promfake.Rule{latencyRule, diskRule},
		Alerts: []promfake.Alert{
			// Fires inside the window, resolves, fires again (flapping).
			{Labels: lat, Annotations: latencyRule.Annotations, Spans: []promfake.Span{
				{FiredAt: at("10:02", 0), ResolvedAt: at("10:20", 0)},
				{FiredAt: at("10:20", 2), ResolvedAt: at("10:41", 0)},
			}},
			// Fired before the window (inside the lookback), resolves in it.
			{Labels: map[string]string{"alertname": "DiskFull", "service": "checkout", "severity": "ticket", "instance": "db-1:9100"},
				Annotations: map[string]string{"summary": "Disk almost full"},
				Spans:       []promfake.Span{{FiredAt: at("07:10", 0), ResolvedAt: at("09:45", 0)}}},
			// Still firing when the window closes.
			{Labels: map[string]string{"alertname": "DiskFull", "service": "checkout", "severity": "ticket", "instance": "db-2:9100"},
				Annotations: map[string]string{"summary": "Disk almost full"},
				Spans:       []promfake.Span{{FiredAt: at("11:10", 0)}}},
			// Another service's alert: not checkout's.
			{Labels: map[string]string{"alertname": "HighLatency", "service": "search", "severity": "page", "job": "search-api"},
				Spans: []promfake.Span{{FiredAt: at("10:05", 0), ResolvedAt: at("10:30", 0)}}},
			// Firing since before the lookback: its start is unknown.
			{Labels: map[string]string{"alertname": "Watchdog", "service": "checkout", "severity": "none"},
				Spans: []promfake.Span{{FiredAt: at("00:00", 1)}}},
		},
	}
}

func newCollector(t *testing.T, fakeURL string, mut ...func(*prometheus.Config)) *prometheus.Collector {
	t.Helper()
	cfg := prometheus.DefaultConfig()
	cfg.APIURL, cfg.BearerToken, cfg.Lookback = fakeURL, promToken, 6*time.Hour
	cfg.Matchers = map[string]string{"PSVC001": `{service="checkout"}`, "PSVC002": `{service=~"search|index"}`}
	for _, m := range mut {
		m(cfg)
	}
	c, err := prometheus.New(cfg, collectors.ClientOptions{SleepFunc: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func collect(t *testing.T, c collectors.Collector, w timeline.Window) []timeline.Event {
	t.Helper()
	var out []timeline.Event
	if err := c.Collect(context.Background(), w, func(e timeline.Event) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, timeline.Compare)
	return out
}

func checkoutWindow() timeline.Window {
	return timeline.Window{IncidentID: "PCHECKOUT", ServiceID: "PSVC001", Start: winStart, End: winEnd}
}

// TestCollectGolden: the window's alert spans of the incident's service,
// each starting at the evaluation it fired at and ending at the one it
// resolved at, with labels and annotations; the golden file holds them.
func TestCollectGolden(t *testing.T) {
	t.Parallel()
	fake := world(winEnd.Add(time.Hour))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	got := collect(t, newCollector(t, srv.URL), checkoutWindow())

	golden(t, "testdata/collected.golden.json", got, srv.URL, "http://prometheus.test")

	var summary []string
	for _, e := range got {
		summary = append(summary, e.Kind+" "+e.OccurredAt.Format("15:04:05.000")+" "+e.Details["alertname"].(string))
	}
	want := []string{
		"alert.resolved 09:45:07.345 DiskFull",
		"alert.firing 10:02:07.345 HighLatency",
		"alert.resolved 10:20:07.345 HighLatency",
		"alert.firing 10:21:07.345 HighLatency",
		"alert.resolved 10:41:07.345 HighLatency",
		"alert.firing 11:10:07.345 DiskFull",
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	for _, q := range fake.Queries() {
		if strings.Contains(q, "search") || !strings.Contains(q, `alertstate="firing"`) {
			t.Errorf("query %q: want firing alerts of checkout only", q)
		}
	}
}

// TestCollectedIDsDoNotDependOnTheStep: a coarse step (longer than the
// evaluation interval) finds the same spans with the same ids and times,
// since starts and ends come from the raw samples.
func TestCollectedIDsDoNotDependOnTheStep(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(world(winEnd.Add(time.Hour)))
	t.Cleanup(srv.Close)
	fine := collect(t, newCollector(t, srv.URL), checkoutWindow())
	coarse := collect(t, newCollector(t, srv.URL, func(c *prometheus.Config) { c.Step = 2 * time.Minute }), checkoutWindow())
	if diff := cmp.Diff(fine, coarse); diff != "" {
		t.Errorf("step 15s vs 2m (-15s +2m):\n%s", diff)
	}
}

// TestCollectScopesByService: another service's incident gets its own
// alerts; a service without a matcher, when others have one, gets none and
// the collector skips it, saying why.
func TestCollectScopesByService(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(world(winEnd.Add(time.Hour)))
	t.Cleanup(srv.Close)
	c := newCollector(t, srv.URL)
	w := checkoutWindow()
	w.ServiceID = "PSVC002"
	got := collect(t, c, w)
	if len(got) != 2 || got[0].Details["labels"].(map[string]any)["service"] != "search" {
		t.Errorf("search's incident: %d events %+v, want the search alert's two", len(got), got)
	}
	w.ServiceID = "PSVC404"
	if reason, skip := c.Skip(w); !skip || !strings.Contains(reason, "PSVC404") {
		t.Errorf("a service without a matcher: Skip = %q, %v; want skipped, naming the service", reason, skip)
	}
	if got := collect(t, c, w); len(got) != 0 {
		t.Errorf("a service without a matcher got %d events", len(got))
	}
	all := newCollector(t, srv.URL, func(c *prometheus.Config) { c.Matchers = nil })
	if _, skip := all.Skip(w); skip || len(collect(t, all, w)) != 8 {
		t.Error("without matchers every incident gets every alert")
	}
}

// TestCollectAuthFailure: a wrong token is refused by Prometheus and the
// collection fails without the token in the error.
func TestCollectAuthFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(world(winEnd))
	t.Cleanup(srv.Close)
	c := newCollector(t, srv.URL, func(c *prometheus.Config) { c.BearerToken = "wrong-token-55aa" })
	err := c.Collect(context.Background(), checkoutWindow(), func(timeline.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token-55aa") {
		t.Errorf("err = %v, want a 401 without the token", err)
	}
}

// TestFingerprintIsAlertmanagers: Alertmanager's own test vectors
// (template/template_test.go, TestData): the webhook's fingerprint of a
// label set is the one the ids use.
func TestFingerprintIsAlertmanagers(t *testing.T) {
	t.Parallel()
	for want, labels := range map[string]map[string]string{
		"9266ef3da838ad95": {"severity": "warning", "job": "foo"},
		"3b15fd163d36582e": {"severity": "critical", "job": "foo"},
		"c7e68cb08e3e67f9": {"severity": "critical", "job": "bar"},
	} {
		if got := prometheus.Fingerprint(labels); got != want {
			t.Errorf("Fingerprint(%v) = %s, want Alertmanager's %s", labels, got, want)
		}
	}
}

// TestConfigValidate: each problem is named by its key.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mut  func(*prometheus.Config)
		want string
	}{
		{"defaults", func(*prometheus.Config) {}, ""},
		{"url", func(c *prometheus.Config) { c.APIURL = "prometheus:9090" }, "api_url: "},
		{"credentials in the url", func(c *prometheus.Config) { c.APIURL = "http://u:p@prom:9090" }, "api_url: holds credentials"},
		{"two kinds of auth", func(c *prometheus.Config) { c.BearerToken, c.BasicAuth.Username = "t", "u" }, "bearer_token: set either"},
		{"password alone", func(c *prometheus.Config) { c.BasicAuth.Password = "p" }, "basic_auth.username: "},
		{"step", func(c *prometheus.Config) { c.Step = 0 }, "step: must be positive"},
		{"matcher", func(c *prometheus.Config) { c.Matchers = map[string]string{"PSVC001": `service="checkout"`} }, "matchers.PSVC001: "},
		{"matcher value", func(c *prometheus.Config) { c.Matchers = map[string]string{"PSVC001": `{service=checkout}`} }, "matchers.PSVC001: "},
		{"regexp", func(c *prometheus.Config) { c.DefaultMatcher = `{service=~"("}` }, "default_matcher: "},
		{"external label", func(c *prometheus.Config) { c.ExternalLabels = map[string]string{"a-b": "x"} }, "external_labels: "},
		{"webhook: both", func(c *prometheus.Config) { c.Webhook.BearerToken, c.Webhook.Username = "t", "u" }, "webhook.bearer_token: "},
		{"webhook: user alone", func(c *prometheus.Config) { c.Webhook.Username = "am" }, "webhook.password: "},
		{"good", func(c *prometheus.Config) {
			c.APIURL, c.Matchers = "https://prom.acme.example/", map[string]string{"P1": `{service="a", env!~'dev|test', team=~` + "`ops.*`" + `}`}
		}, ""},
	} {
		cfg := prometheus.DefaultConfig()
		tc.mut(cfg)
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", tc.name, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error starting %q", tc.name, err, tc.want)
		}
	}
}

// golden compares v, as indented JSON with the replace pairs applied (a
// test server's address), with the file at path (rewritten with -update).
func golden(t *testing.T, path string, v any, replace ...string) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = []byte(strings.NewReplacer(replace...).Replace(string(got)))
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// generatorURL is the link Prometheus sends Alertmanager for a rule, when
// its external URL is base.
func generatorURL(base, expr string) string {
	return base + "/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
}
