package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

func TestRetentionConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(validConfig), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention.WebhookDeliveries.Duration != 30*24*time.Hour || cfg.Retention.Incidents.Duration != 0 {
		t.Errorf("default retention = %+v, want deliveries 30d, incidents kept", cfg.Retention)
	}
	cfg, err = ParseConfig([]byte(validConfig+"retention:\n  webhook_deliveries: 7d\n  incidents: 730d\n"), getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention.WebhookDeliveries.Duration != 7*24*time.Hour || cfg.Retention.Incidents.Duration != 730*24*time.Hour {
		t.Errorf("retention = %+v, want 7d and 730d", cfg.Retention)
	}
	// The printed configuration loads back to the same values.
	again, err := ParseConfig([]byte(cfg.String()), getenv(testEnv))
	if err != nil || again.Retention.WebhookDeliveries.Duration != 7*24*time.Hour || again.Retention.Incidents.Duration != 730*24*time.Hour {
		t.Errorf("retention printed and read back = %+v (%v)", again.Retention, err)
	}
	for raw, key := range map[string]string{
		"  webhook_deliveries: 1d\n":   "retention.webhook_deliveries", // shorter than PagerDuty's retries
		"  webhook_deliveries: 0\n":    "retention.webhook_deliveries", // every redelivery taken for new
		"  webhook_deliveries: soon\n": "retention.webhook_deliveries",
		"  incidents: 2h\n":            "retention.incidents",
		"  incidents: -30d\n":          "retention.incidents",
		"  events: 30d\n":              "retention.events",
	} {
		_, err := ParseConfig([]byte(validConfig+"retention:\n"+raw), getenv(testEnv))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("retention %q: err = %v, want one naming %s", raw, err, key)
		}
	}
}

// TestServeAppliesRetention: a serve process deletes incidents through the
// API with their queued collection cancelled in River, and its River
// leader runs retention: webhook deliveries past
// retention.webhook_deliveries are forgotten, incidents resolved longer
// ago than retention.incidents deleted.
func TestServeAppliesRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, err := fakeworld.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := pgtest.NewEmpty(t)
	cfg := demoConfig(w, s.URL, "127.0.0.1:0")
	cfg.Retention.Incidents = Duration{Duration: 365 * 24 * time.Hour}
	a, err := newApp(ctx, cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv := httptest.NewServer(a.api.Handler())
	defer srv.Close()
	call := func(method, path string) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+demoWriteToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now().UTC()
	for id, resolved := range map[string]time.Time{"PDELETEME": now.Add(-time.Hour), "PANCIENT": now.Add(-400 * 24 * time.Hour),
		"PRECENT": now.Add(-300 * 24 * time.Hour)} {
		if err := a.store.UpsertIncident(ctx, timeline.Incident{ID: id, StartedAt: resolved.Add(-time.Hour), ResolvedAt: &resolved,
			WindowStart: resolved.Add(-3 * time.Hour), WindowEnd: resolved}); err != nil {
			t.Fatal(err)
		}
	}
	// Deleted through the API while its collection waits in the queue.
	if st := call("POST", "/v1/incidents/PDELETEME/collect"); st != http.StatusAccepted {
		t.Fatalf("collect: %d", st)
	}
	if st := call("DELETE", "/v1/incidents/PDELETEME"); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d", st)
	}
	var state string
	if err := s.Pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE kind = $1`, jobs.Kind).Scan(&state); err != nil || state != "cancelled" {
		t.Errorf("the deleted incident's queued collection is %q (%v), want cancelled", state, err)
	}
	for _, id := range []string{"old", "fresh"} {
		if _, err := a.deliveries.RecordDelivery(ctx, timeline.Delivery{Receiver: "pagerduty", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE webhook_deliveries SET received_at = now() - interval '31 days' WHERE id = 'old'`); err != nil {
		t.Fatal(err)
	}

	if err := a.startJobs(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.stopJobs(10 * time.Second)
	waitFor(t, "the retention job", 60*time.Second, func() bool {
		var n int
		err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, jobs.RetentionKind).Scan(&n)
		return err == nil && n > 0
	})
	var deliveries []string
	rows, err := s.Pool.Query(ctx, `SELECT id FROM webhook_deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		deliveries = append(deliveries, id)
	}
	if strings.Join(deliveries, ",") != "fresh" {
		t.Errorf("deliveries kept: %v, want only the fresh one", deliveries)
	}
	for id, want := range map[string]bool{"PDELETEME": false, "PANCIENT": false, "PRECENT": true} {
		if _, err := a.store.Incident(ctx, id); (err == nil) != want {
			t.Errorf("incident %s kept = %v, want %v", id, err == nil, want)
		}
	}
}
