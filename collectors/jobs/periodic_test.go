package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// runPeriodicOnce starts a River client on b's schema with workers and the
// periodic job, which River's leader queues at start, and waits until a job
// of kind has completed. The client stops when the test ends.
func runPeriodicOnce(t *testing.T, b *bundle, workers *river.Workers, periodic *river.PeriodicJob, kind string) {
	t.Helper()
	ctx := context.Background()
	client, err := river.NewClient(riverpgxv5.New(b.schema.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers:           workers,
		PeriodicJobs:      []*river.PeriodicJob{periodic},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.StopAndCancel(sctx)
	})
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a timing
	for {
		var done int
		if err := b.schema.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`,
			kind).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the periodic %s job never ran", kind)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
