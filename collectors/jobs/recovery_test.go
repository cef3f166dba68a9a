package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty"
	"github.com/groundwork-dev/groundwork/collectors/pagerduty/pagerdutyfake"
	"github.com/groundwork-dev/groundwork/collectors/slack"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// sweeper is the sweeper serve runs, over the bundle's queue; stale is how
// long a run must have been silent.
func (b *bundle) sweeper(stale time.Duration) *jobs.Sweeper {
	return &jobs.Sweeper{
		RunningFunc: func(ctx context.Context) ([]*rivertype.JobRow, error) {
			res, err := b.inserter.JobList(ctx, river.NewJobListParams().Kinds(jobs.Kind).States(rivertype.JobStateRunning))
			if err != nil {
				return nil, err
			}
			return res.Jobs, nil
		},
		RescueFunc: func(ctx context.Context, incidentID string, jobID int64, staleAfter time.Duration) (bool, int64, error) {
			r, err := b.deliveries.RescueAbandoned(ctx, incidentID, jobID, staleAfter)
			return r.Rescued, r.Next, err
		},
		StaleAfter: stale,
	}
}

// runLockBackend is the server process holding the incident's run lock, 0
// when nobody holds it.
func (b *bundle) runLockBackend(t *testing.T, incidentID string) int {
	t.Helper()
	var pid int
	err := b.schema.Pool.QueryRow(context.Background(), `
		WITH k AS (SELECT hashtextextended('groundwork:run:' || current_schema() || ':' || $1::text, 0) AS k)
		SELECT COALESCE((SELECT pid FROM pg_locks, k WHERE locktype = 'advisory' AND granted AND objsubid = 1
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid = ((k.k >> 32) & 4294967295)::oid AND objid = (k.k & 4294967295)::oid), 0)`, incidentID).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// killRunLock ends the connection holding the incident's run lock, as a
// crash or a network failure would, and waits until the lock is free.
func (b *bundle) killRunLock(t *testing.T, incidentID string) {
	t.Helper()
	pid := b.runLockBackend(t, incidentID)
	if pid == 0 {
		t.Fatalf("nobody holds the run lock of %s", incidentID)
	}
	if _, err := b.schema.Pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.runLockBackend(t, incidentID) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the run lock outlived its connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type jobDetail struct {
	MaxAttempts int
	Cancelling  bool
	RescuedFrom int64
	Args        timeline.CollectRequest
}

func (b *bundle) jobDetail(t *testing.T, id int64) jobDetail {
	t.Helper()
	var d jobDetail
	var args []byte
	err := b.schema.Pool.QueryRow(context.Background(), `SELECT max_attempts, metadata ? 'cancel_attempted_at',
		COALESCE((metadata->>'rescued_from')::bigint, 0), args FROM river_job WHERE id = $1`, id).
		Scan(&d.MaxAttempts, &d.Cancelling, &d.RescuedFrom, &args)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(args, &d.Args); err != nil {
		t.Fatal(err)
	}
	return d
}

// waitFor polls cond until it holds; the deadline only guards against a
// hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveRunIsNeverPickedUpTwice: while a run holds its incident's lock,
// the sweeper leaves it alone however old its heartbeat looks, and no other
// worker runs the incident beside it.
func TestLiveRunIsNeverPickedUpTwice(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	gate := make(chan struct{})
	var runs, running, maxRunning atomic.Int32
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
		}
		if runs.Add(1) == 1 {
			started <- struct{}{}
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return emit(chatEvent(1))
	}}
	b := setup(t, 3, src)
	b.declare(t, "INC1")
	id := b.queue(t, "d1", "INC1")
	b.start(t)
	b.start(t)
	<-started

	ctx := context.Background()
	// As old as can be: only the lock shows the run is alive.
	if _, err := b.schema.Pool.Exec(ctx, `UPDATE collection_runs SET heartbeat_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	sw := b.sweeper(time.Nanosecond)
	for range 5 {
		n, err := sw.Sweep(ctx)
		if err != nil || n != 0 {
			t.Fatalf("sweep = %d, %v; want a live run left alone", n, err)
		}
	}
	if js := b.jobs(t); len(js) != 1 || js[0].State != "running" || b.jobDetail(t, id).Cancelling {
		t.Fatalf("jobs during the run = %+v; want the one job running, not cancelled", js)
	}
	close(gate)
	js := b.waitJobs(t)
	if len(js) != 1 || js[0].State != "completed" || js[0].Attempt != 1 {
		t.Errorf("jobs = %+v, want one completed in one attempt", js)
	}
	if runs.Load() != 1 || maxRunning.Load() != 1 {
		t.Errorf("runs = %d, at most %d at once; want one", runs.Load(), maxRunning.Load())
	}
}

// TestAbandonedRunIsHandedOver: a process fetched the job, began its run
// and died (River still shows the job running; the run lock went with the
// process's connection). One sweep hands the collection to a new job with
// the attempts left, which a live worker finishes.
func TestAbandonedRunIsHandedOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var runs atomic.Int32
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		runs.Add(1)
		return emit(chatEvent(1))
	}}
	b := setup(t, 3, src)
	b.declare(t, "INC1")
	id := b.queue(t, "d1", "INC1")
	// The dead process's doing: the fetch, then its run.
	if _, err := b.schema.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY['dead-process'] WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	_, _, finish, ok, err := b.deliveries.StartRun(ctx, timeline.CollectRequest{IncidentID: "INC1"}, id, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun = %v, %v", ok, err)
	}
	t.Cleanup(func() { _, _ = finish(ctx, false) }) // returns the dead connection to the pool
	sw := b.sweeper(time.Nanosecond)
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep while the run holds its lock = %d, %v; want nothing rescued", n, err)
	}
	b.killRunLock(t, "INC1")

	n, err := sw.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want the abandoned run rescued", n, err)
	}
	js := b.jobs(t)
	if len(js) != 2 || js[0].ID != id || js[1].State != "available" {
		t.Fatalf("jobs after the sweep = %+v; want the dead one and its successor, due now", js)
	}
	if d := b.jobDetail(t, id); !d.Cancelling {
		t.Errorf("the dead job %+v is not being cancelled", d)
	}
	next := b.jobDetail(t, js[1].ID)
	if next.MaxAttempts != 2 || next.RescuedFrom != id || next.Args.IncidentID != "INC1" {
		t.Errorf("successor %+v, want INC1 with the 2 attempts left, rescued from %d", next, id)
	}
	// A second sweep does not rescue it again.
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want nothing more", n, err)
	}
	// A follow-up trigger now joins the successor, the incident's job.
	if got := b.queue(t, "d2", "INC1"); got != js[1].ID {
		t.Errorf("a trigger after the rescue queued job %d, want it to join the successor %d", got, js[1].ID)
	}

	b.start(t)
	waitFor(t, "the successor to finish", func() bool { return b.jobs(t)[1].State == "completed" })
	if runs.Load() != 1 {
		t.Errorf("%d runs, want the successor's one", runs.Load())
	}
	if st := b.status(t, "INC1")["slack"]; st.State != timeline.StateSucceeded || st.EventCount != 1 {
		t.Errorf("slack status = %+v, want succeeded with its event", st)
	}
}

// TestAbandonedLastAttemptFailsTheCollection: a process died during the
// job's last attempt; the sweeper does not run it again (as River's rescuer
// would not) and the status says what happened.
func TestAbandonedLastAttemptFailsTheCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 1, &fakeSource{name: "slack", collect: func(context.Context, timeline.Window, func(timeline.Event) error) error { return nil }})
	b.declare(t, "INC1")
	id := b.queue(t, "d1", "INC1")
	if _, err := b.schema.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetSourceStatus(ctx, timeline.SourceStatus{IncidentID: "INC1", Source: "slack", State: timeline.StateRunning}); err != nil {
		t.Fatal(err)
	}
	_, _, finish, ok, err := b.deliveries.StartRun(ctx, timeline.CollectRequest{IncidentID: "INC1"}, id, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun = %v, %v", ok, err)
	}
	t.Cleanup(func() { _, _ = finish(ctx, false) })
	b.killRunLock(t, "INC1")
	r, err := b.deliveries.RescueAbandoned(ctx, "INC1", id, time.Nanosecond)
	if err != nil || !r.Rescued || !r.Exhausted || r.Next != 0 {
		t.Fatalf("rescue = %+v, %v; want the job cancelled, its attempts exhausted, nothing next", r, err)
	}
	if js := b.jobs(t); len(js) != 1 {
		t.Errorf("jobs = %+v, want no successor", js)
	}
	if st := b.status(t, "INC1")["slack"]; st.State != timeline.StateFailed || !strings.Contains(st.Error, "last attempt") {
		t.Errorf("slack status = %+v, want failed, saying why", st)
	}
	// The next trigger starts a new collection.
	if got := b.queue(t, "d2", "INC1"); got == id {
		t.Errorf("a trigger after the failure joined the dead job")
	}
}

// TestRunThatLosesItsLockStops: the connection holding a live run's lock
// fails; the run notices at its next heartbeat and stops, and the incident
// is collected again (by the same job or a rescued one), never by two runs
// at once, while sweepers run all along.
func TestRunThatLosesItsLockStops(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	var runs, running, maxRunning atomic.Int32
	var cause atomic.Value
	src := &fakeSource{name: "slack", collect: func(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
		}
		if runs.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done() // runs until told to stop
			cause.Store(context.Cause(ctx).Error())
			return ctx.Err()
		}
		return emit(chatEvent(1))
	}}
	b := setup(t, 3, src)
	b.declare(t, "INC1")
	b.queue(t, "d1", "INC1")
	b.start(t)
	b.start(t)
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	go b.sweeper(500 * time.Millisecond).Run(sctx)
	<-started
	b.killRunLock(t, "INC1")
	waitFor(t, "the incident to be collected", func() bool {
		return b.status(t, "INC1")["slack"].State == timeline.StateSucceeded
	})
	if runs.Load() != 2 || maxRunning.Load() != 1 {
		t.Errorf("runs = %d, at most %d at once; want the cut one and one more, one at a time", runs.Load(), maxRunning.Load())
	}
	if c, _ := cause.Load().(string); !strings.Contains(c, "run lock of INC1 lost") {
		t.Errorf("the first run stopped because %q, want the lost lock", c)
	}
	for _, j := range b.waitJobs(t) {
		if j.State != "completed" && j.State != "cancelled" {
			t.Errorf("job %+v, want completed (or cancelled, if it was rescued)", j)
		}
		if j.Errors != 0 {
			t.Errorf("job %+v used an attempt on the lost lock", j)
		}
	}
}

// TestRateLimitLongerThanTheJobsTimeSnoozes: Slack asks for a wait longer
// than the job has left. The wait is not started (it would be cut off by
// the job's timeout and count as a failed attempt): the job snoozes for the
// wait, and its next run succeeds on its first attempt.
func TestRateLimitLongerThanTheJobsTimeSnoozes(t *testing.T) {
	t.Parallel()
	fake := slackfake.New("xoxb-snooze-token")
	fake.AddChannel("C1")
	if err := fake.AddMessage("C1", slackfake.Message{TS: slack.FormatTS(t0.Add(time.Minute)), User: "U1", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	fake.AddUser("U1", "alice", "Alice", "alice@acme.example")
	fake.RateLimitNext(1, 60)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	// Real waits: were the wait started, the job would sit in it until its
	// timeout.
	col, err := slack.New(slack.Config{Token: "xoxb-snooze-token", APIURL: srv.URL + "/api/", SigningSecret: "x"},
		slack.Options{Limiter: rate.NewLimiter(rate.Inf, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, 3, col)
	b.declare(t, "INC1")
	id := b.queue(t, "d1", "INC1")
	b.start(t, func(w *jobs.Worker) { w.JobTimeout = 10 * time.Second })
	waitFor(t, "the job to snooze", func() bool {
		js := b.jobs(t)
		return js[0].Snoozes == 1 && js[0].State == "scheduled"
	})
	var ahead time.Duration
	if err := b.schema.Pool.QueryRow(context.Background(), `SELECT extract(epoch FROM scheduled_at - now()) * 1e9 FROM river_job WHERE id = $1`,
		id).Scan(&ahead); err != nil {
		t.Fatal(err)
	}
	if js := b.jobs(t); js[0].Errors != 0 || ahead < 30*time.Second {
		t.Fatalf("job %+v due in %s; want it snoozed for Slack's minute, no attempt used", js[0], ahead)
	}
	if st := b.status(t, "INC1")["slack"]; !strings.Contains(st.Error, "rate limited") {
		t.Errorf("slack status = %+v, want the rate limit shown", st)
	}
	if _, err := b.inserter.JobRetry(context.Background(), id); err != nil { // the minute has passed
		t.Fatal(err)
	}
	js := b.waitJobs(t)
	if js[0].State != "completed" || js[0].Attempt != 1 || js[0].Errors != 0 {
		t.Errorf("job = %+v, want completed on its first attempt", js[0])
	}
}

// resumingSource is a Resumer that reads three pages, saving its place
// after each; its first run stops after two, at the job's timeout.
type resumingSource struct {
	calls     atomic.Int32
	resumedAt atomic.Int32
}

func (*resumingSource) Name() string { return "slack" }

func (s *resumingSource) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	return errors.New("Collect called on a Resumer")
}

func (s *resumingSource) CollectResume(ctx context.Context, w timeline.Window, cp collectors.Checkpoint, emit func(timeline.Event) error, _ func(timeline.Sweep)) error {
	first := s.calls.Add(1) == 1
	var page int32
	if _, err := cp.Load("pages", &page); err != nil {
		return err
	}
	if !first {
		s.resumedAt.Store(page)
	}
	for ; page < 3; page++ {
		if err := emit(chatEvent(int(page))); err != nil {
			return err
		}
		if err := cp.Save(ctx, "pages", page+1); err != nil {
			return err
		}
		if first && page == 1 {
			<-ctx.Done() // the upstream is slow: the job times out
			return ctx.Err()
		}
	}
	return nil
}

// TestTimeoutWhileSavingProgressResumes: a collection that times out while
// a resumable source is still making progress snoozes instead of using an
// attempt, and its next run goes on from the saved page.
func TestTimeoutWhileSavingProgressResumes(t *testing.T) {
	t.Parallel()
	src := &resumingSource{}
	b := setup(t, 1, src)
	b.declare(t, "INC1")
	b.queue(t, "d1", "INC1")
	b.start(t, func(w *jobs.Worker) { w.JobTimeout = 2 * time.Second })
	js := b.waitJobs(t)
	if js[0].State != "completed" || js[0].Attempt != 1 || js[0].Errors != 0 || js[0].Snoozes != 1 {
		t.Errorf("job = %+v, want completed in its one attempt after one snooze", js[0])
	}
	if src.calls.Load() != 2 || src.resumedAt.Load() != 2 {
		t.Errorf("%d runs, the second from page %d; want two, the second from page 2", src.calls.Load(), src.resumedAt.Load())
	}
	if st := b.status(t, "INC1")["slack"]; st.State != timeline.StateSucceeded || st.EventCount != 3 {
		t.Errorf("slack status = %+v, want succeeded with the 3 events", st)
	}
	if cps, err := b.store.Checkpoints(context.Background(), "INC1", "slack"); err != nil || len(cps) != 0 {
		t.Errorf("checkpoints after the collection = %v, %v; want none", cps, err)
	}
}

// TestPlanningFailureShowsOnTheIncident: a collection is requested for a
// PagerDuty incident nobody has seen, and reading it from PagerDuty fails.
// The incident is there all along with its queued collection, the failure
// shows under the plan status (no secret in it), and once PagerDuty answers
// the retry collects it.
func TestPlanningFailureShowsOnTheIncident(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pd := pagerdutyfake.New("s3cret-token")
	pagerdutyfake.SeedCheckoutIncident(pd)
	srv := httptest.NewServer(pd)
	t.Cleanup(srv.Close)
	col, err := pagerduty.New(pagerduty.Config{Token: "s3cret-token", APIURL: srv.URL, WebhookSecret: "x"},
		pagerduty.Options{ClientOptions: collectors.ClientOptions{SleepFunc: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}})
	if err != nil {
		t.Fatal(err)
	}
	pd.FailNext(1000, 500)
	b := setup(t, 5, col)
	b.deliveries.Sources = []string{"pagerduty"}
	id := b.queue(t, "d1", pagerdutyfake.CheckoutIncidentID)
	if _, err := b.store.Incident(ctx, pagerdutyfake.CheckoutIncidentID); err != nil {
		t.Fatalf("the incident of a queued collection: %v; want it shown", err)
	}
	if st := b.status(t, pagerdutyfake.CheckoutIncidentID)["pagerduty"]; st.State != timeline.StatePending {
		t.Errorf("pagerduty status before the job ran = %+v, want pending", st)
	}
	b.startRetryingLater(t)
	waitFor(t, "the failed attempt", func() bool { return b.jobs(t)[0].State == "retryable" })
	st := b.status(t, pagerdutyfake.CheckoutIncidentID)[jobs.PlanSource]
	if st.State != timeline.StateFailed || !strings.Contains(st.Error, "500") || strings.Contains(st.Error, "s3cret-token") {
		t.Errorf("plan status = %+v, want failed with PagerDuty's 500 and no token", st)
	}

	pd.ClearFaults()
	if _, err := b.inserter.JobRetry(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry", func() bool { return b.jobs(t)[0].State == "completed" })
	sts := b.status(t, pagerdutyfake.CheckoutIncidentID)
	if sts[jobs.PlanSource].State != timeline.StateSucceeded || sts["pagerduty"].State != timeline.StateSucceeded {
		t.Errorf("statuses after the retry = %+v, want plan and pagerduty succeeded", sts)
	}
	inc, err := b.store.Incident(ctx, pagerdutyfake.CheckoutIncidentID)
	if err != nil || inc.Source != "pagerduty" || inc.Title == "" {
		t.Errorf("incident after the retry = %+v, %v; want PagerDuty's", inc, err)
	}
}
