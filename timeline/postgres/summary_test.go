package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// incidentAt stores an incident that started at start and lasted d (open when
// d is 0), with the default two-hour window around it.
func incidentAt(t *testing.T, st *postgres.Store, id string, start time.Time, d time.Duration) timeline.Incident {
	t.Helper()
	inc := timeline.Incident{ID: id, Title: "incident " + id, Source: "pagerduty", StartedAt: start,
		WindowStart: start.Add(-2 * time.Hour), WindowEnd: start.Add(d + 30*time.Minute)}
	if d > 0 {
		r := start.Add(d)
		inc.ResolvedAt = &r
	}
	if err := st.UpsertIncident(context.Background(), inc); err != nil {
		t.Fatal(err)
	}
	got, err := st.Incident(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var pageSeq atomic.Int64

// notified is a PagerDuty notification of user in incident inc at at.
func notified(inc, user string, at time.Time) timeline.Event {
	id := fmt.Sprintf("R%s%04d", inc, pageSeq.Add(1))
	details := map[string]any{"type": "notify_log_entry"}
	if user != "" {
		details["user"] = map[string]any{"id": user, "name": "User " + user, "email": user + "@acme.test"}
	}
	return timeline.Event{ID: timeline.EventID("pagerduty", "log_entry", id), IncidentID: inc, Source: "pagerduty",
		Kind: timeline.KindPageNotified, OccurredAt: at, Title: "Notified", Details: details}
}

// assigned names user as an assignee of e.
func assigned(e timeline.Event, user string) timeline.Event {
	e.Details[timeline.DetailAssignees] = []any{map[string]any{"id": user, "name": "User " + user}}
	return e
}

// actedBy is a chat message of inc whose actor is user.
func actedBy(inc, user string, at time.Time) timeline.Event {
	return timeline.Event{ID: timeline.EventID("slack", "message", fmt.Sprintf("C0%s:%d.000000", inc, at.Unix())), IncidentID: inc,
		Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: at, Title: "on it",
		Actor: &timeline.Actor{ID: user, Name: "User " + user}}
}

// via sets how a notification went out.
func via(e timeline.Event, channel string) timeline.Event {
	e.Details["notification_type"] = channel
	return e
}

func upsert(t *testing.T, st *postgres.Store, evs ...timeline.Event) {
	t.Helper()
	if _, err := st.UpsertEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestPriorPages(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	this := incidentAt(t, st, "PTHIS", t0, time.Hour)
	incidentAt(t, st, "PEARLIER", t0.Add(-3*24*time.Hour), 2*time.Hour)
	incidentAt(t, st, "PLONGAGO", t0.Add(-8*24*time.Hour), time.Hour)
	incidentAt(t, st, "PLATER", t0.Add(2*time.Hour), time.Hour)
	upsert(t, st,
		notified("PEARLIER", "PALICE", t0.Add(-3*24*time.Hour)),
		notified("PEARLIER", "PALICE", t0.Add(-3*24*time.Hour+time.Minute)),
		notified("PEARLIER", "PBOB", t0.Add(-3*24*time.Hour+time.Hour)),
		notified("PEARLIER", "", t0.Add(-3*24*time.Hour+time.Hour)), // no user: not counted
		notified("PLONGAGO", "PALICE", t0.Add(-8*24*time.Hour)),     // before the 7 days
		notified("PTHIS", "PALICE", t0.Add(time.Minute)),            // this incident's own
		notified("PLATER", "PALICE", t0.Add(2*time.Hour)),           // after the start
		// One interruption by three channels, as PagerDuty counts it;
		// the email does not interrupt.
		via(notified("PEARLIER", "PCAROL", t0.Add(-2*24*time.Hour)), "sms"),
		via(notified("PEARLIER", "PCAROL", t0.Add(-2*24*time.Hour)), "push"),
		via(notified("PEARLIER", "PCAROL", t0.Add(-2*24*time.Hour+20*time.Second)), "phone"),
		via(notified("PEARLIER", "PCAROL", t0.Add(-2*24*time.Hour+30*time.Second)), "email"),
		via(notified("PEARLIER", "PDAN", t0.Add(-2*24*time.Hour)), "email"), // email only: no interruption
		notified("PEARLIER", "PERIN", t0.Add(-3*24*time.Hour)),              // not one of PTHIS's people
		// PTHIS names its people: paged (PALICE), assigned (PBOB), or
		// acting in chat (PCAROL, PDAN, by the ids PagerDuty knows them by).
		assigned(notified("PTHIS", "PALICE", t0.Add(2*time.Minute)), "PBOB"),
		actedBy("PTHIS", "PCAROL", t0.Add(3*time.Minute)),
		actedBy("PTHIS", "PDAN", t0.Add(4*time.Minute)),
	)
	got, err := st.PriorPages(ctx, this.ID, t0.Add(-timeline.PriorPagesWindow), t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"PALICE": 2, "PBOB": 1, "PCAROL": 1}, got); diff != "" {
		t.Errorf("PriorPages (-want +got):\n%s", diff)
	}
	got, err = st.PriorPages(ctx, "PNOBODY", t0.Add(-time.Hour), t0)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("PriorPages with none = %v, %v; want an empty map", got, err)
	}
}

func TestPrepareSummaryReadsTheStore(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	this := incidentAt(t, st, "PTHIS", t0, time.Hour)
	incidentAt(t, st, "POVERLAP", t0.Add(30*time.Minute), 0) // still open
	incidentAt(t, st, "PBEFORE", t0.Add(-2*24*time.Hour), time.Hour)
	upsert(t, st,
		notified("PBEFORE", "PALICE", t0.Add(-2*24*time.Hour)),
		notified("PTHIS", "PALICE", t0.Add(time.Minute)),
		timeline.Event{ID: "pagerduty:log_entry:RTRIG", IncidentID: "PTHIS", Source: "pagerduty",
			Kind: timeline.KindPageTriggered, OccurredAt: t0, Title: "Triggered"},
	)
	sum, err := timeline.PrepareSummary(ctx, st, this, timeline.DefaultReviewConfig(), t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Context.OverlappingIncidents) != 1 || sum.Context.OverlappingIncidents[0].ID != "POVERLAP" {
		t.Errorf("overlapping = %+v, want POVERLAP only", sum.Context.OverlappingIncidents)
	}
	if len(sum.Responders) != 1 || sum.Responders[0].PagesInPrior7Days == nil || *sum.Responders[0].PagesInPrior7Days != 1 {
		t.Errorf("responders = %+v, want PALICE with 1 page in the prior 7 days", sum.Responders)
	}
	if len(sum.KeyMoments) != 1 || sum.KeyMoments[0].Moment != timeline.MomentTriggered {
		t.Errorf("key moments = %+v, want the trigger", sum.KeyMoments)
	}
}

func TestIncidentVersionChangesExactlyWithItsContent(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	incidentAt(t, st, "PTHIS", t0, time.Hour)
	incidentAt(t, st, "POTHER", t0, time.Hour)
	version := func() string {
		t.Helper()
		v, err := st.IncidentVersion(ctx, "PTHIS")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ev := chat("PTHIS", 1, t0.Add(time.Minute))
	running := timeline.SourceStatus{IncidentID: "PTHIS", Source: "slack", State: timeline.StateRunning}
	done := t0.Add(2 * time.Hour)
	succeeded := running
	succeeded.State, succeeded.EventCount, succeeded.FinishedAt = timeline.StateSucceeded, 1, &done

	steps := []struct {
		name   string
		do     func() error
		change bool
	}{
		{"nothing", func() error { return nil }, false},
		{"insert an event", func() error { _, err := st.UpsertEvents(ctx, []timeline.Event{ev}); return err }, true},
		{"re-upsert it unchanged", func() error { _, err := st.UpsertEvents(ctx, []timeline.Event{ev}); return err }, false},
		{"change it", func() error {
			e := ev
			e.Text = "edited"
			_, err := st.UpsertEvents(ctx, []timeline.Event{e})
			return err
		}, true},
		{"delete it upstream", func() error {
			_, err := st.UpsertEvents(ctx, []timeline.Event{tombstone(ev, t0.Add(time.Hour))})
			return err
		}, true},
		{"delete it again", func() error {
			_, err := st.UpsertEvents(ctx, []timeline.Event{tombstone(ev, t0.Add(2*time.Hour))})
			return err
		}, false},
		{"another incident's event", func() error {
			_, err := st.UpsertEvents(ctx, []timeline.Event{chat("POTHER", 2, t0)})
			return err
		}, false},
		{"status running", func() error { return st.SetSourceStatus(ctx, running) }, true},
		{"status running again", func() error { return st.SetSourceStatus(ctx, running) }, false},
		{"status succeeded", func() error { return st.SetSourceStatus(ctx, succeeded) }, true},
		{"another incident's status", func() error {
			o := running
			o.IncidentID = "POTHER"
			return st.SetSourceStatus(ctx, o)
		}, false},
		{"incident unchanged", func() error {
			inc, err := st.Incident(ctx, "PTHIS")
			if err != nil {
				return err
			}
			return st.UpsertIncident(ctx, inc)
		}, false},
		{"incident resolved later", func() error {
			inc, err := st.Incident(ctx, "PTHIS")
			if err != nil {
				return err
			}
			r := inc.ResolvedAt.Add(time.Minute)
			inc.ResolvedAt = &r
			return st.UpsertIncident(ctx, inc)
		}, true},
	}
	seen := map[string]string{}
	prev := version()
	seen[prev] = "start"
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		v := version()
		if changed := v != prev; changed != s.change {
			t.Errorf("%s: version changed = %t, want %t", s.name, changed, s.change)
		}
		if was, ok := seen[v]; ok && v != prev {
			t.Errorf("%s: version %s repeats the one after %q", s.name, v, was)
		}
		seen[v], prev = s.name, v
	}
	if _, err := st.IncidentVersion(ctx, "PNOPE"); !errors.Is(err, timeline.ErrNotFound) {
		t.Errorf("IncidentVersion of an unknown incident: %v, want ErrNotFound", err)
	}
}

// OverlappingPeople reads an incident's events once per version of them:
// asked again with nothing changed it reads only their versions, and a
// new event, or a new incident, is read at once.
func TestOverlappingPeopleReadsEachVersionOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.New(t)
	pool, plans := explainedPool(t, s, false)
	st := postgres.New(pool)
	incidentAt(t, st, "PONE", t0, time.Hour)
	incidentAt(t, st, "PTWO", t0, time.Hour)
	upsert(t, st, actedBy("PONE", "UANA", t0.Add(time.Minute)), notified("PTWO", "PBEN", t0))
	readsEvents := func() bool {
		for _, p := range plans.take() {
			if strings.Contains(p, "LATERAL") || strings.Contains(p, "page.notified") {
				return true
			}
		}
		return false
	}
	want := map[string][]timeline.Identity{"PONE": {{Source: "slack", ID: "UANA"}}, "PTWO": {{Source: "pagerduty", ID: "PBEN"}}}
	for i, wantRead := range []bool{true, false} {
		plans.take()
		got, err := st.OverlappingPeople(ctx, []string{"PONE", "PTWO"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("call %d (-want +got):\n%s", i+1, diff)
		}
		if read := readsEvents(); read != wantRead {
			t.Errorf("call %d read the incidents' events: %v, want %v", i+1, read, wantRead)
		}
	}
	upsert(t, st, actedBy("PONE", "UCAL", t0.Add(2*time.Minute)))
	want["PONE"] = append(want["PONE"], timeline.Identity{Source: "slack", ID: "UCAL"})
	want["PNEW"] = []timeline.Identity{}
	plans.take()
	got, err := st.OverlappingPeople(ctx, []string{"PONE", "PTWO", "PNEW"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a change (-want +got):\n%s", diff)
	}
	if !readsEvents() {
		t.Error("the changed incident's events were not read again")
	}
}
