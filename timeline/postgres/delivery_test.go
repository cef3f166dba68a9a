package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/groundwork-dev/groundwork/collectors/jobs"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

func newDeliveries(t *testing.T) (*postgres.Deliveries, *pgtest.Schema) {
	t.Helper()
	s := pgtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(s.Pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &postgres.Deliveries{
		Store: postgres.New(s.Pool), Queue: jobs.Queue{Client: client}, Sources: []string{"github", "slack"},
	}, s
}

// trigger records a delivery queuing req and returns the job it queued or
// joined.
func trigger(t *testing.T, d *postgres.Deliveries, deliveryID string, req timeline.CollectRequest) int64 {
	t.Helper()
	res, err := d.RecordDelivery(context.Background(), timeline.Delivery{Receiver: "api", ID: deliveryID, Collect: []timeline.CollectRequest{req}})
	if err != nil {
		t.Fatal(err)
	}
	return res.JobIDs[0]
}

// fetched marks job id as River marks a job a worker fetched for its first
// attempt.
func fetched(t *testing.T, s *pgtest.Schema, id int64) {
	t.Helper()
	if _, err := s.Pool.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

func genericIncident(id string, resolved bool) timeline.Incident {
	inc := timeline.Incident{ID: id, Title: "checkout down", Source: "generic", StartedAt: t0,
		WindowStart: t0.Add(-2 * time.Hour), WindowEnd: t0.Add(time.Hour),
		Repos: []string{"acme/api"}, Channels: []string{"C0CHECKOUT"}}
	if resolved {
		r := t0.Add(30 * time.Minute)
		inc.ResolvedAt = &r
	}
	return inc
}

type queuedJob struct {
	ID       int64
	State    string
	Incident string
	Args     string
}

func queuedJobs(t *testing.T, s *pgtest.Schema) []queuedJob {
	t.Helper()
	// Args is the request the job will run: the one it was queued with,
	// or, while the delivery store tracks the job, the one the triggers
	// that joined it merged.
	rows, err := s.Pool.Query(context.Background(), `SELECT j.id, j.state::text, j.args->>'incident_id',
		COALESCE(CASE WHEN c.job_id = j.id THEN c.request WHEN c.follow_up_id = j.id THEN c.follow_up_request END, j.args)::text
		FROM river_job j LEFT JOIN collection_jobs c ON c.incident_id = j.args->>'incident_id' ORDER BY j.id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[queuedJob])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeliveryRecordsEverythingOnceAndRepeatsChangeNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	opened := timeline.Event{ID: "generic:incident:INC1:opened", IncidentID: "INC1", Source: "generic",
		Kind: timeline.KindIncidentOpened, OccurredAt: t0, Title: "Incident opened: checkout down"}
	dl := timeline.Delivery{Receiver: "incident", ID: "delivery-1",
		Incidents: []timeline.Incident{genericIncident("INC1", true)},
		Events:    []timeline.Event{opened},
		Collect:   []timeline.CollectRequest{{IncidentID: "INC1"}}}
	res, err := d.RecordDelivery(ctx, dl)
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || len(res.JobIDs) != 1 || res.Events.Inserted != 1 {
		t.Fatalf("first delivery = %+v, want one job and one event", res)
	}
	before := seqs(t, s)
	sts, err := d.Store.SourceStatuses(ctx, "INC1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].State != timeline.StatePending || sts[1].State != timeline.StatePending {
		t.Errorf("statuses after queuing = %+v, want github and slack pending", sts)
	}

	// The same delivery again, several times at once.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := d.RecordDelivery(ctx, dl)
			if err == nil && !r.Duplicate {
				err = fmt.Errorf("a repeat was not a duplicate: %+v", r)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff(before, seqs(t, s)); diff != "" {
		t.Errorf("repeats changed events (-before +after):\n%s", diff)
	}
	if js := queuedJobs(t, s); len(js) != 1 {
		t.Errorf("jobs = %+v, want one", js)
	}
}

func TestConcurrentFirstDeliveriesRecordOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	dl := timeline.Delivery{Receiver: "pagerduty", ID: "01FKZSYE5HCMM576S6JUVIGLQT",
		Incidents: []timeline.Incident{genericIncident("INC1", true)},
		Collect:   []timeline.CollectRequest{{IncidentID: "INC1"}}}
	var mu sync.Mutex
	fresh := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := d.RecordDelivery(ctx, dl)
			if err != nil {
				t.Error(err)
				return
			}
			if !r.Duplicate {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d deliveries were recorded as new, want 1", fresh)
	}
	if js := queuedJobs(t, s); len(js) != 1 {
		t.Errorf("jobs = %+v, want one", js)
	}
}

// TestTriggersJoinTheQueuedJob: different deliveries for one incident, while
// its job waits, all join that job, and their overrides are merged into it.
func TestTriggersJoinTheQueuedJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	since := t0.Add(-3 * time.Hour)
	reqs := []timeline.CollectRequest{
		{IncidentID: "INC1"},
		{IncidentID: "INC1", Repos: []string{"acme/infra"}},
		{IncidentID: "INC1", Since: &since, Repos: []string{"acme/api"}},
		{IncidentID: "INC2"},
	}
	var ids []int64
	for i, req := range reqs {
		res, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "api", ID: fmt.Sprint(i), Collect: []timeline.CollectRequest{req}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.JobIDs[0])
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[3] == ids[0] {
		t.Errorf("job ids = %v, want the three INC1 requests to share one job and INC2 its own", ids)
	}
	want := []queuedJob{
		{ID: ids[0], State: "available", Incident: "INC1",
			Args: `{"since": "2026-11-20T06:00:00Z", "incident_id": "INC1", "github_repos": ["acme/infra", "acme/api"]}`},
		{ID: ids[3], State: "available", Incident: "INC2", Args: `{"incident_id": "INC2"}`},
	}
	if diff := cmp.Diff(want, queuedJobs(t, s)); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
}

// TestTriggerDuringARunParksOneFollowUp: while a run holds the incident,
// triggers queue exactly one follow-up, parked until the run hands over.
func TestTriggerDuringARunParksOneFollowUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	inc1 := timeline.CollectRequest{IncidentID: "INC1"}
	queue := func(id string) int64 { t.Helper(); return trigger(t, d, id, inc1) }
	first := queue("a")
	// The worker fetched it (River marks it running) and starts its run.
	fetched(t, s, first)
	_, _, finish, ok, err := d.StartRun(ctx, inc1, first, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun = %v, %v; want the run lock", ok, err)
	}
	// A second run of the same incident must wait.
	if _, _, _, ok, err := d.StartRun(ctx, inc1, 999, 1); err != nil || ok {
		t.Fatalf("second StartRun = %v, %v; want busy", ok, err)
	}
	followUp := queue("b")
	for _, id := range []string{"c", "d", "e"} {
		if got := queue(id); got != followUp {
			t.Errorf("trigger %s queued job %d, want it to join follow-up %d", id, got, followUp)
		}
	}
	js := queuedJobs(t, s)
	if len(js) != 2 || js[1].ID != followUp || js[1].State != "scheduled" {
		t.Fatalf("jobs during the run = %+v, want the follow-up parked (scheduled)", js)
	}
	got, err := finish(ctx, false)
	if err != nil || got != followUp {
		t.Fatalf("finish = %d, %v; want hand-over to %d", got, err, followUp)
	}
	if js := queuedJobs(t, s); js[1].State != "available" {
		t.Errorf("follow-up after hand-over = %+v, want available", js[1])
	}
	// The lock is free again, for the follow-up.
	_, _, finish2, ok, err := d.StartRun(ctx, inc1, followUp, 1)
	if err != nil || !ok {
		t.Fatalf("follow-up StartRun = %v, %v; want the lock", ok, err)
	}
	if got, err := finish2(ctx, false); err != nil || got != 0 {
		t.Errorf("finish of the follow-up = %d, %v; want no further job", got, err)
	}
}

func TestFailedDeliveryWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	bad := timeline.Event{ID: "generic:incident:INC1:opened", IncidentID: "INC1", Source: "generic",
		Kind: "incident.exploded", OccurredAt: t0}
	dl := timeline.Delivery{Receiver: "incident", ID: "x", Incidents: []timeline.Incident{genericIncident("INC1", false)},
		Events: []timeline.Event{bad}, Collect: []timeline.CollectRequest{{IncidentID: "INC1"}}}
	if _, err := d.RecordDelivery(ctx, dl); !errors.Is(err, timeline.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if _, err := d.Store.Incident(ctx, "INC1"); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("incident after a failed delivery: err = %v, want not found", err)
	}
	if js := queuedJobs(t, s); len(js) != 0 {
		t.Errorf("jobs after a failed delivery = %+v, want none", js)
	}
	// The delivery id was not kept: the sender's retry goes through.
	dl.Events[0].Kind = timeline.KindIncidentOpened
	if res, err := d.RecordDelivery(ctx, dl); err != nil || res.Duplicate {
		t.Errorf("retry = %+v, %v; want it recorded", res, err)
	}
}

func TestDeliveryMergesIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	closed := genericIncident("INC1", true)
	if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "incident", ID: "1", Incidents: []timeline.Incident{closed}}); err != nil {
		t.Fatal(err)
	}
	// A later view names another repository and says nothing of the end.
	later := genericIncident("INC1", false)
	later.Title = ""
	later.Repos = []string{"acme/infra", "acme/api"}
	later.WindowEnd = t0.Add(10 * time.Minute)
	if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "incident", ID: "2", Incidents: []timeline.Incident{later}}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Store.Incident(ctx, "INC1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "checkout down" || got.ResolvedAt == nil || !got.WindowEnd.Equal(closed.WindowEnd) ||
		!cmp.Equal(got.Repos, []string{"acme/api", "acme/infra"}) {
		t.Errorf("merged incident = %+v, want the title, resolution and window kept and the repos united", got)
	}
}

// TestDeliveriesFollowTheIncidentLifecycle: deliveries open, resolve and
// reopen an incident in the order of their StatusAt, whatever order they
// arrive in, and concurrent first deliveries of one incident create it once.
func TestDeliveriesFollowTheIncidentLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	view := func(statusAt time.Duration, resolved bool) timeline.Incident {
		inc := genericIncident("INC1", resolved)
		inc.StatusAt = t0.Add(statusAt)
		if !resolved {
			inc.WindowEnd = t0.Add(statusAt)
		}
		return inc
	}
	n := 0
	deliver := func(incs ...timeline.Incident) {
		t.Helper()
		n++
		if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "test", ID: fmt.Sprint(n), Incidents: incs}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, status string, statusAt time.Duration) {
		t.Helper()
		got, err := d.Store.Incident(ctx, "INC1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status() != status || !got.StatusAt.Equal(t0.Add(statusAt)) {
			t.Errorf("%s: %s as of %s, want %s as of %s", step, got.Status(), got.StatusAt, status, t0.Add(statusAt))
		}
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "test", ID: fmt.Sprint("first-", i),
				Incidents: []timeline.Incident{view(time.Duration(i)*time.Second, false)}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	check("opened by four deliveries at once", timeline.IncidentOpen, 3*time.Second)
	deliver(view(30*time.Minute, true))
	check("resolved", timeline.IncidentResolved, 30*time.Minute)
	deliver(view(time.Minute, false))
	check("a late acknowledgement", timeline.IncidentResolved, 30*time.Minute)
	deliver(view(40*time.Minute, false))
	check("reopened", timeline.IncidentOpen, 40*time.Minute)
	deliver(view(30*time.Minute, true))
	check("the first resolve, redelivered late", timeline.IncidentOpen, 40*time.Minute)
	// A collection planned from a view older than the reopen writes its
	// view of the incident: the reopen stands.
	planned := view(30*time.Minute, true)
	planned.Title = "checkout down (from PagerDuty)"
	if err := d.Store.UpsertIncident(ctx, planned); err != nil {
		t.Fatal(err)
	}
	check("a collection's older view", timeline.IncidentOpen, 40*time.Minute)
	if got, err := d.Store.Incident(ctx, "INC1"); err != nil || got.Title != planned.Title {
		t.Errorf("incident = %+v, %v; want the collection's title", got, err)
	}
	if err := d.Store.UpsertIncident(ctx, view(50*time.Minute, true)); err != nil {
		t.Fatal(err)
	}
	check("a collection's newer view", timeline.IncidentResolved, 50*time.Minute)
}

func TestLiveIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	open := genericIncident("OPEN", false)
	closed := genericIncident("CLOSED", true)
	other := genericIncident("OTHER", true)
	other.Repos, other.Channels = []string{"acme/web"}, []string{"C0WEB"}
	if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "test", Incidents: []timeline.Incident{open, closed, other}}); err != nil {
		t.Fatal(err)
	}
	ids := func(q timeline.LiveScope) []string {
		t.Helper()
		incs, err := d.LiveIncidents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, inc := range incs {
			if inc.Covers(q.From, t0.Add(24*time.Hour)) {
				out = append(out, inc.ID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    timeline.LiveScope
		want []string
	}{
		{"repo inside both windows", scope("acme/api", "", 10*time.Minute), []string{"CLOSED", "OPEN"}},
		{"repo spelled as GitHub does, not as configured", scope("ACME/Api", "", 10*time.Minute), []string{"CLOSED", "OPEN"}},
		{"channel inside both windows", scope("", "C0CHECKOUT", 10*time.Minute), []string{"CLOSED", "OPEN"}},
		{"before the windows", scope("acme/api", "", -3*time.Hour), nil},
		{"after the closed one's window: only the open one", scope("acme/api", "", 5*time.Hour), []string{"OPEN"}},
		{"another repo", scope("acme/web", "", 0), []string{"OTHER"}},
		{"unknown channel", scope("", "C0NOPE", 0), nil},
	} {
		if diff := cmp.Diff(tc.want, ids(tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := d.LiveIncidents(ctx, timeline.LiveScope{From: t0, To: t0}); !errors.Is(err, timeline.ErrInvalid) {
		t.Errorf("scope without repo or channel: err = %v, want ErrInvalid", err)
	}
	// Any place: every incident whose window holds the moment.
	anyPlace := scope("", "", 10*time.Minute)
	anyPlace.AnyPlace = true
	if diff := cmp.Diff([]string{"CLOSED", "OPEN", "OTHER"}, ids(anyPlace)); diff != "" {
		t.Errorf("any place (-want +got):\n%s", diff)
	}
	anyPlace = scope("", "", 5*time.Hour)
	anyPlace.AnyPlace = true
	if diff := cmp.Diff([]string{"OPEN"}, ids(anyPlace)); diff != "" {
		t.Errorf("any place after the closed windows (-want +got):\n%s", diff)
	}
}

// scope is the live scope of one moment, at offset d from t0.
func scope(repo, channel string, d time.Duration) timeline.LiveScope {
	return timeline.LiveScope{Repo: repo, Channel: channel, From: t0.Add(d), To: t0.Add(d)}
}

// TestCollectingAnUnknownIncidentShowsIt: a collection queued for an
// incident nothing has declared yet records a placeholder, so that the
// incident and its pending collection can be read at once; the placeholder
// takes part in nothing else (no live capture, no overlap), and the real
// incident replaces it.
func TestCollectingAnUnknownIncidentShowsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	if _, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "api", Collect: []timeline.CollectRequest{
		{IncidentID: "PNEW", Channels: []string{"C0CHECKOUT"}}}}); err != nil {
		t.Fatal(err)
	}
	inc, err := d.Store.Incident(ctx, "PNEW")
	if err != nil || inc.Source != "" || len(inc.Channels) != 0 {
		t.Fatalf("placeholder = %+v, %v; want one with no source and no scope", inc, err)
	}
	sts, err := d.Store.SourceStatuses(ctx, "PNEW")
	if err != nil || len(sts) != 2 || sts[0].State != timeline.StatePending {
		t.Errorf("statuses = %+v, %v; want every source pending", sts, err)
	}
	live, err := d.LiveIncidents(ctx, timeline.LiveScope{Channel: "C0CHECKOUT", From: inc.StartedAt, To: inc.StartedAt.Add(time.Hour)})
	if err != nil || len(live) != 0 {
		t.Errorf("live incidents of the channel = %+v, %v; want none", live, err)
	}
	other := genericIncident("POTHER", false)
	other.StartedAt = inc.StartedAt.Add(-time.Hour)
	if err := d.Store.UpsertIncident(ctx, other); err != nil {
		t.Fatal(err)
	}
	if o, err := d.Store.Overlapping(ctx, "POTHER", other.StartedAt, inc.StartedAt.Add(time.Hour)); err != nil || len(o) != 0 {
		t.Errorf("overlapping = %+v, %v; want the placeholder left out", o, err)
	}
	real := genericIncident("PNEW", true)
	if err := d.Store.UpsertIncident(ctx, real); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Store.Incident(ctx, "PNEW"); err != nil || got.Source != "generic" || !got.StartedAt.Equal(real.StartedAt) {
		t.Errorf("after planning = %+v, %v; want the real incident", got, err)
	}
}

// TestTriggerAfterTheFetchJoinsTheJob: a job the queue has handed to a
// worker whose run has not started yet still takes the triggers that
// arrive: the run starts with their overrides merged in, and no follow-up is
// queued.
func TestTriggerAfterTheFetchJoinsTheJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	queued := timeline.CollectRequest{IncidentID: "INC1"}
	first := trigger(t, d, "a", queued)
	// The worker fetched it (River marks it running); its run is not
	// started.
	fetched(t, s, first)
	if got := trigger(t, d, "b", timeline.CollectRequest{IncidentID: "INC1", Repos: []string{"acme/infra"}}); got != first {
		t.Errorf("trigger after the fetch queued job %d, want it to join job %d", got, first)
	}
	if js := queuedJobs(t, s); len(js) != 1 {
		t.Errorf("jobs = %+v, want the fetched one alone", js)
	}
	_, req, finish, ok, err := d.StartRun(ctx, queued, first, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun = %v, %v; want the run lock", ok, err)
	}
	if want := (timeline.CollectRequest{IncidentID: "INC1", Repos: []string{"acme/infra"}}); !cmp.Equal(req, want) {
		t.Errorf("the run's request = %+v, want %+v", req, want)
	}
	if got, err := finish(ctx, false); err != nil || got != 0 {
		t.Errorf("finish = %d, %v; want no follow-up", got, err)
	}
}

// TestStartRunOfADeletedIncident: a job whose incident is gone is told so,
// and leaves the incident's run lock free.
func TestStartRunOfADeletedIncident(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, _ := newDeliveries(t)
	gone := timeline.CollectRequest{IncidentID: "GONE"}
	if _, _, _, ok, err := d.StartRun(ctx, gone, 7, 1); !errors.Is(err, timeline.ErrNotFound) || ok {
		t.Fatalf("StartRun = %v, %v; want ErrNotFound", ok, err)
	}
	if err := d.Store.UpsertIncident(ctx, genericIncident("GONE", true)); err != nil {
		t.Fatal(err)
	}
	_, _, finish, ok, err := d.StartRun(ctx, gone, 8, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun once the incident exists = %v, %v; want the run lock", ok, err)
	}
	if _, err := finish(ctx, false); err != nil {
		t.Error(err)
	}
}

// TestJobsQueuedBeforeRequestsWereKept: a job queued by a version that kept
// the request only in the job's args (its row has no request) runs those
// args, and a trigger that joins it merges into them.
func TestJobsQueuedBeforeRequestsWereKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, s := newDeliveries(t)
	queued := timeline.CollectRequest{IncidentID: "INC1", Repos: []string{"acme/api"}}
	job := trigger(t, d, "a", queued)
	if _, err := s.Pool.Exec(ctx, `UPDATE collection_jobs SET request = NULL`); err != nil {
		t.Fatal(err)
	}
	if got := trigger(t, d, "b", timeline.CollectRequest{IncidentID: "INC1", Channels: []string{"C0CHECKOUT"}}); got != job {
		t.Fatalf("trigger queued job %d; want it to join job %d", got, job)
	}
	_, req, finish, ok, err := d.StartRun(ctx, queued, job, 1)
	if err != nil || !ok {
		t.Fatalf("StartRun = %v, %v", ok, err)
	}
	want := timeline.CollectRequest{IncidentID: "INC1", Repos: []string{"acme/api"}, Channels: []string{"C0CHECKOUT"}}
	if !cmp.Equal(req, want) {
		t.Errorf("the run's request = %+v, want %+v", req, want)
	}
	if _, err := finish(ctx, false); err != nil {
		t.Error(err)
	}
}
