package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
)

// TestPeriodicPruneForgetsOldJournal: the periodic job, queued by River's
// leader when the client starts, forgets journal events older than the
// retention and keeps the rest.
func TestPeriodicPruneForgetsOldJournal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 1)
	now := t0.Add(20 * 24 * time.Hour)
	chat := func(at time.Time) timeline.JournalEntry {
		return timeline.JournalEntry{Source: "slack", ScopeKind: timeline.ScopeChannel, Scope: "C1", Event: timeline.Event{
			ID: "slack:message:C1:" + at.Format("150405.000000") + at.Format("20060102"), Source: "slack",
			Kind: timeline.KindChatMessage, OccurredAt: at, Title: "m"}}
	}
	old, fresh := chat(now.Add(-15*24*time.Hour)), chat(now.Add(-13*24*time.Hour))
	if _, err := b.deliveries.RecordDelivery(ctx, timeline.Delivery{Receiver: "slack", ID: "j",
		Journal: []timeline.JournalEntry{old, fresh}}); err != nil {
		t.Fatal(err)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &jobs.PruneWorker{PruneFunc: b.store.PruneJournal, Retention: 14 * 24 * time.Hour,
		NowFunc: func() time.Time { return now }})
	runPeriodicOnce(t, b, workers, jobs.PeriodicPrune(time.Hour), jobs.PruneKind)
	left, err := b.store.JournalEvents(ctx, "slack", timeline.ScopeChannel, "C1", now.Add(-30*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != fresh.Event.ID {
		t.Errorf("journal after pruning: %+v, want only the 13-day-old event", left)
	}
}
