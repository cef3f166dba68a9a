package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
)

// TestPeriodicRetention: the periodic retention job, queued by River's
// leader when the client starts, forgets webhook deliveries older than
// retention.webhook_deliveries (a redelivery of a newer one is still
// recognised) and deletes the incidents resolved longer ago than
// retention.incidents, keeping newer ones and open ones however old.
func TestPeriodicRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 1)
	now := t0.Add(400 * 24 * time.Hour)
	for _, id := range []string{"old", "fresh"} {
		if _, err := b.deliveries.RecordDelivery(ctx, timeline.Delivery{Receiver: "pagerduty", ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// Deliveries are stamped by the database's clock: age them.
	if _, err := b.schema.Pool.Exec(ctx, `UPDATE webhook_deliveries SET received_at = CASE id WHEN 'old' THEN $1::timestamptz ELSE $2::timestamptz END`,
		now.Add(-31*24*time.Hour), now.Add(-29*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	incident := func(id string, started time.Time, resolved *time.Time) {
		t.Helper()
		end := started.Add(time.Hour)
		if resolved != nil {
			end = *resolved
		}
		if err := b.store.UpsertIncident(ctx, timeline.Incident{ID: id, StartedAt: started, ResolvedAt: resolved,
			WindowStart: started, WindowEnd: end}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.UpsertEvents(ctx, []timeline.Event{{ID: "generic:incident:" + id + ":opened", IncidentID: id,
			Source: "generic", Kind: timeline.KindIncidentOpened, OccurredAt: started, Title: "opened"}}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	incident("POLD", now.Add(-400*24*time.Hour), at(399*24*time.Hour))
	incident("PRECENT", now.Add(-300*24*time.Hour), at(300*24*time.Hour-time.Hour))
	incident("POPEN", now.Add(-500*24*time.Hour), nil)

	workers := river.NewWorkers()
	river.AddWorker(workers, &jobs.RetentionWorker{
		PruneDeliveriesFunc: b.store.PruneDeliveries, Deliveries: 30 * 24 * time.Hour,
		DeleteIncidentsFunc: func(ctx context.Context, cutoff time.Time, limit int) (int, error) {
			rms, err := b.deliveries.DeleteIncidentsResolvedBefore(ctx, cutoff, "retention", limit)
			return len(rms), err
		},
		Incidents: 365 * 24 * time.Hour,
		NowFunc:   func() time.Time { return now },
	})
	runPeriodicOnce(t, b, workers, jobs.PeriodicRetention(time.Hour), jobs.RetentionKind)

	var left []string
	rows, err := b.schema.Pool.Query(ctx, `SELECT id FROM webhook_deliveries ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != "fresh" {
		t.Errorf("deliveries kept: %v, want only the 29-day-old one", left)
	}
	if res, err := b.deliveries.RecordDelivery(ctx, timeline.Delivery{Receiver: "pagerduty", ID: "fresh"}); err != nil || !res.Duplicate {
		t.Errorf("a redelivery of the kept delivery: %+v %v, want a duplicate", res, err)
	}
	for id, want := range map[string]bool{"POLD": false, "PRECENT": true, "POPEN": true} {
		_, err := b.store.Incident(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("incident %s kept = %v (%v), want %v", id, got, err, want)
		}
	}
	var by string
	var events int
	if err := b.schema.Pool.QueryRow(ctx, `SELECT removed_by, events FROM incident_removals WHERE incident_id = 'POLD'`).Scan(&by, &events); err != nil ||
		by != "retention" || events != 1 {
		t.Errorf("removal of POLD: by %q, %d events (%v)", by, events, err)
	}
}

// TestRetentionKeepsIncidentsByDefault: with retention.incidents unset only
// deliveries are pruned; nothing is asked to delete incidents.
func TestRetentionKeepsIncidentsByDefault(t *testing.T) {
	t.Parallel()
	var pruned time.Time
	w := &jobs.RetentionWorker{
		PruneDeliveriesFunc: func(_ context.Context, cutoff time.Time) (int64, error) { pruned = cutoff; return 0, nil },
		Deliveries:          30 * 24 * time.Hour,
		DeleteIncidentsFunc: func(context.Context, time.Time, int) (int, error) {
			t.Error("incidents deleted with retention.incidents unset")
			return 0, nil
		},
		NowFunc: func() time.Time { return t0 },
	}
	if err := w.Work(context.Background(), &river.Job[jobs.RetentionArgs]{}); err != nil {
		t.Fatal(err)
	}
	if !pruned.Equal(t0.Add(-30 * 24 * time.Hour)) {
		t.Errorf("deliveries pruned before %v, want 30 days before now", pruned)
	}
}
