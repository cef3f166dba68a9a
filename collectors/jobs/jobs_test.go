package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// fakeSource is a collector whose behaviour each test scripts.
type fakeSource struct {
	name    string
	collect func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error
}

func (f *fakeSource) Name() string { return f.name }
func (f *fakeSource) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	return f.collect(ctx, w, emit)
}

func chatEvent(n int) timeline.Event {
	at := t0.Add(time.Duration(n) * time.Second)
	ts := fmt.Sprintf("%d.%06d", at.Unix(), n)
	return timeline.Event{ID: "slack:message:C1:" + ts, Source: "slack",
		Kind: timeline.KindChatMessage, OccurredAt: at, Title: "message"}
}

// fastRetry retries failed jobs at once, so attempts run back to back.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

type bundle struct {
	schema     *pgtest.Schema
	store      *postgres.Store
	deliveries *postgres.Deliveries
	registry   *collectors.Registry
	// inserter is a River client that only inserts and cancels.
	inserter *river.Client[pgx.Tx]
	// retry is the clients' retry policy (fastRetry when nil).
	retry river.ClientRetryPolicy
}

// setup gives a migrated schema and a queue whose jobs get maxAttempts
// attempts (River fixes them when a job is inserted).
func setup(t *testing.T, maxAttempts int, sources ...collectors.Collector) *bundle {
	t.Helper()
	s := pgtest.New(t)
	b := &bundle{schema: s, store: postgres.New(s.Pool), registry: &collectors.Registry{}}
	for _, c := range sources {
		b.registry.Register(c)
	}
	inserter, err := river.NewClient(riverpgxv5.New(s.Pool), &river.Config{MaxAttempts: maxAttempts})
	if err != nil {
		t.Fatal(err)
	}
	b.inserter = inserter
	b.deliveries = &postgres.Deliveries{
		Store: b.store, Queue: jobs.Queue{Client: inserter}, HeartbeatInterval: 50 * time.Millisecond,
	}
	return b
}

// start runs a River client working collection jobs until the test ends;
// configure adjusts its worker.
func (b *bundle) start(t *testing.T, configure ...func(*jobs.Worker)) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	w := &jobs.Worker{
		Planner: &collectors.Planner{Registry: b.registry, Store: b.store, Before: time.Hour, After: time.Hour},
		Runner: &collectors.Runner{Registry: b.registry, Store: b.store, Checkpoints: b.store,
			Secrets: []string{"s3cret-token"}},
		StartRunFunc: b.deliveries.StartRun,
		JobTimeout:   time.Minute,
		BusySnooze:   50 * time.Millisecond,
	}
	for _, c := range configure {
		c(w)
	}
	river.AddWorker(workers, w)
	var retry river.ClientRetryPolicy = fastRetry{}
	if b.retry != nil {
		retry = b.retry
	}
	client, err := river.NewClient(riverpgxv5.New(b.schema.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		RetryPolicy:       retry,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.StopAndCancel(ctx); err != nil {
			t.Errorf("stopping River: %v", err)
		}
	})
	return client
}

// laterRetry retries failed jobs in an hour: a test retries them itself.
type laterRetry struct{}

func (laterRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Hour) }

// startRetryingLater is start with failed jobs left waiting for their
// retry, so that a test sees the state between attempts.
func (b *bundle) startRetryingLater(t *testing.T) *river.Client[pgx.Tx] {
	t.Helper()
	b.retry = laterRetry{}
	return b.start(t)
}

// declare stores a generic incident so the planner needs no source.
func (b *bundle) declare(t *testing.T, id string) {
	t.Helper()
	resolved := t0.Add(time.Hour)
	_, err := b.deliveries.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "test", Incidents: []timeline.Incident{{
		ID: id, Title: "incident " + id, Source: "generic", StartedAt: t0, ResolvedAt: &resolved,
		WindowStart: t0.Add(-time.Hour), WindowEnd: t0.Add(2 * time.Hour), Channels: []string{"C1"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) queue(t *testing.T, deliveryID, incidentID string) int64 {
	t.Helper()
	id, err := b.tryQueue(deliveryID, incidentID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (b *bundle) tryQueue(deliveryID, incidentID string) (int64, error) {
	res, err := b.deliveries.RecordDelivery(context.Background(), timeline.Delivery{
		Receiver: "test", ID: deliveryID, Collect: []timeline.CollectRequest{{IncidentID: incidentID}}})
	if err != nil {
		return 0, err
	}
	if res.Duplicate {
		return 0, fmt.Errorf("delivery %s: unexpectedly a duplicate", deliveryID)
	}
	return res.JobIDs[0], nil
}

type jobRow struct {
	ID       int64
	State    string
	Attempt  int
	Errors   int
	Snoozes  int
	Incident string
}

func (b *bundle) jobs(t *testing.T) []jobRow {
	t.Helper()
	rows, err := b.schema.Pool.Query(context.Background(), `SELECT id, state::text, attempt, coalesce(array_length(errors, 1), 0),
		coalesce((metadata->>'snoozes')::int, 0), args->>'incident_id' FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitJobs waits until every job is in a final state.
func (b *bundle) waitJobs(t *testing.T) []jobRow {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		js := b.jobs(t)
		done := len(js) > 0
		for _, j := range js {
			switch j.State {
			case "completed", "discarded", "cancelled":
			default:
				done = false
			}
		}
		if done {
			return js
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs did not finish: %+v", js)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bundle) status(t *testing.T, incidentID string) map[string]timeline.SourceStatus {
	t.Helper()
	sts, err := b.store.SourceStatuses(context.Background(), incidentID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]timeline.SourceStatus{}
	for _, st := range sts {
		out[st.Source] = st
	}
	return out
}

func TestCollectsAnIncident(t *testing.T) {
	t.Parallel()
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		return emit(chatEvent(1))
	}}
	b := setup(t, 3, src)
	b.declare(t, "INC1")
	b.queue(t, "d1", "INC1")
	b.start(t)
	js := b.waitJobs(t)
	if diff := cmp.Diff([]jobRow{{ID: js[0].ID, State: "completed", Attempt: 1, Incident: "INC1"}}, js); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if st := b.status(t, "INC1")["slack"]; st.State != timeline.StateSucceeded || st.EventCount != 1 {
		t.Errorf("slack status = %+v, want succeeded with 1 event", st)
	}
}

func TestRateLimitSnoozesWithoutUsingAnAttempt(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		if calls.Add(1) <= 2 {
			return fmt.Errorf("conversations.history: %w", &collectors.RateLimitError{Source: "slack", RetryAfter: time.Millisecond})
		}
		return emit(chatEvent(1))
	}}
	// One attempt allowed: were a snooze to use it up, the job would be
	// discarded after the first rate limit.
	b := setup(t, 1, src)
	b.declare(t, "INC1")
	b.queue(t, "d1", "INC1")
	b.start(t)
	js := b.waitJobs(t)
	if diff := cmp.Diff([]jobRow{{ID: js[0].ID, State: "completed", Attempt: 1, Snoozes: 2, Incident: "INC1"}}, js); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if st := b.status(t, "INC1")["slack"]; st.State != timeline.StateSucceeded {
		t.Errorf("slack status = %+v, want succeeded", st)
	}
}

func TestFailureRetriesThenShowsInStatus(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	failing := &fakeSource{name: "github", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		calls.Add(1)
		return errors.New("GET /repos/acme/api/commits: 502 Bad Gateway (token s3cret-token)")
	}}
	fine := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		return emit(chatEvent(1))
	}}
	b := setup(t, 3, failing, fine)
	b.declare(t, "INC1")
	b.queue(t, "d1", "INC1")
	b.start(t)
	js := b.waitJobs(t)
	if diff := cmp.Diff([]jobRow{{ID: js[0].ID, State: "discarded", Attempt: 3, Errors: 3, Incident: "INC1"}}, js); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("github collected %d times, want 3 (one per attempt)", n)
	}
	sts := b.status(t, "INC1")
	gh := sts["github"]
	if gh.State != timeline.StateFailed || gh.Error != "GET /repos/acme/api/commits: 502 Bad Gateway (token [REDACTED])" {
		t.Errorf("github status = %+v, want failed with the redacted error", gh)
	}
	if sts["slack"].State != timeline.StateSucceeded {
		t.Errorf("slack status = %+v, want succeeded", sts["slack"])
	}
	var errText string
	if err := b.schema.Pool.QueryRow(context.Background(), `SELECT errors[3]->>'error' FROM river_job`).Scan(&errText); err != nil {
		t.Fatal(err)
	}
	if want := "github: GET /repos/acme/api/commits: 502 Bad Gateway (token [REDACTED])"; errText != want {
		t.Errorf("job error = %q, want %q", errText, want)
	}
}

func TestUnknownIncidentIsCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t, 5, &fakeSource{name: "slack", collect: func(context.Context, timeline.Window, func(timeline.Event) error) error { return nil }})
	b.queue(t, "d1", "NOBODY-KNOWS")
	b.start(t)
	js := b.waitJobs(t)
	if js[0].State != "cancelled" || js[0].Attempt != 1 {
		t.Errorf("job = %+v, want cancelled after one attempt", js[0])
	}
}

// TestTriggerWhileRunningQueuesOneFollowUp: while an incident's collection
// runs, any number of triggers leave exactly one follow-up job, which runs
// after the first (never beside it, although two clients are working).
func TestTriggerWhileRunningQueuesOneFollowUp(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 10)
	gate := make(chan struct{})
	var running, maxRunning, runs atomic.Int32
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		if runs.Add(1) == 1 {
			started <- struct{}{}
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return emit(chatEvent(int(runs.Load())))
	}}
	b := setup(t, 3, src)
	b.declare(t, "INC1")
	first := b.queue(t, "d0", "INC1")
	b.start(t)
	b.start(t)
	<-started

	ids := make([]int64, 6)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if ids[i], err = b.tryQueue(fmt.Sprintf("d%d", i+1), "INC1"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == first || id != ids[0] {
			t.Fatalf("job ids of triggers during the run = %v (first job %d), want one follow-up shared by all", ids, first)
		}
	}
	// The follow-up waits, parked, for the run to end: neither client
	// fetches it meanwhile.
	if js := b.jobs(t); len(js) != 2 || js[0].State != "running" || js[1].State != "scheduled" {
		t.Errorf("jobs while the first runs = %+v, want it running and one follow-up scheduled", js)
	}
	close(gate)
	js := b.waitJobs(t)
	if len(js) != 2 || js[0].State != "completed" || js[1].State != "completed" {
		t.Fatalf("jobs = %+v, want the first and one follow-up, completed", js)
	}
	if js[1].Attempt != 1 || js[1].Snoozes != 0 {
		t.Errorf("follow-up = %+v, want one attempt and no snooze: it waited parked", js[1])
	}
	if runs.Load() != 2 || maxRunning.Load() != 1 {
		t.Errorf("runs = %d with at most %d at once, want 2 runs one at a time", runs.Load(), maxRunning.Load())
	}
	// After both ran, a trigger queues a fresh job again.
	if id := b.queue(t, "d-late", "INC1"); id == ids[0] || id == first {
		t.Errorf("a trigger after the follow-up ran joined job %d", id)
	}
}

// TestTwoClientsRunEachJobOnce: two River clients (as two serve processes)
// share the database; every job runs exactly once.
func TestTwoClientsRunEachJobOnce(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	runs := map[string]int{}
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		mu.Lock()
		runs[w.IncidentID]++
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		return emit(chatEvent(1))
	}}
	b := setup(t, 3, src)
	const n = 30
	for i := range n {
		b.declare(t, fmt.Sprintf("INC%02d", i))
	}
	b.start(t)
	b.start(t)
	for i := range n {
		b.queue(t, fmt.Sprintf("d%02d", i), fmt.Sprintf("INC%02d", i))
	}
	js := b.waitJobs(t)
	if len(js) != n {
		t.Fatalf("%d jobs, want %d", len(js), n)
	}
	for _, j := range js {
		if j.State != "completed" || j.Attempt != 1 {
			t.Errorf("job %+v, want completed in one attempt", j)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if id := fmt.Sprintf("INC%02d", i); runs[id] != 1 {
			t.Errorf("%s collected %d times, want once", id, runs[id])
		}
	}
}

// TestFailedRunHandsOverToItsFollowUp: a run that fails while a follow-up
// waits is not retried; the follow-up, which collects the same incident
// later, takes over.
func TestFailedRunHandsOverToItsFollowUp(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	gate := make(chan struct{})
	var runs atomic.Int32
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		if runs.Add(1) == 1 {
			started <- struct{}{}
			<-gate
			return errors.New("conversations.history: 500")
		}
		return emit(chatEvent(1))
	}}
	b := setup(t, 5, src)
	b.declare(t, "INC1")
	b.queue(t, "d0", "INC1")
	b.start(t)
	<-started
	followUp := b.queue(t, "d1", "INC1")
	close(gate)
	js := b.waitJobs(t)
	if len(js) != 2 || js[0].State != "completed" || js[0].Attempt != 1 || js[1].ID != followUp || js[1].State != "completed" {
		t.Errorf("jobs = %+v, want the failed run completed after one attempt and the follow-up completed", js)
	}
	if runs.Load() != 2 {
		t.Errorf("%d runs, want 2", runs.Load())
	}
	if st := b.status(t, "INC1")["slack"]; st.State != timeline.StateSucceeded {
		t.Errorf("slack status = %+v, want succeeded by the follow-up", st)
	}
}
