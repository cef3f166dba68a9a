package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*postgres.Store, *pgtest.Schema) {
	t.Helper()
	s := pgtest.New(t)
	return postgres.New(s.Pool), s
}

func mustIncident(t *testing.T, st timeline.Store, id string) {
	t.Helper()
	err := st.UpsertIncident(context.Background(), timeline.Incident{
		ID: id, Title: "checkout errors", Source: "pagerduty",
		StartedAt: t0, WindowStart: t0.Add(-2 * time.Hour), WindowEnd: t0.Add(3 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func chat(inc string, i int, at time.Time) timeline.Event {
	ts := fmt.Sprintf("%d.%06d", at.Unix(), i)
	return timeline.Event{
		ID: timeline.EventID("slack", "message", "C0CHECKOUT", ts), IncidentID: inc,
		Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: at,
		Actor: &timeline.Actor{ID: "U0761F5NSP5", Name: "Ana"}, Title: "message " + ts,
		Text: "checkout p99 is climbing", URL: "https://acme.slack.com/archives/C0CHECKOUT/p1",
		Details: map[string]any{"channel": "C0CHECKOUT", "ts": ts},
	}
}

func seqs(t *testing.T, s *pgtest.Schema) map[string][2]int64 {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT id, seq, xmin::text::bigint FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var id string
		var seq, xmin int64
		if err := rows.Scan(&id, &seq, &xmin); err != nil {
			t.Fatal(err)
		}
		out[id] = [2]int64{seq, xmin}
	}
	return out
}

func TestUpsertIdempotent(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PINC1")
	var batch []timeline.Event
	for i := 0; i < 50; i++ {
		batch = append(batch, chat("PINC1", i, t0.Add(time.Duration(i)*time.Second)))
	}
	for _, m := range []postgres.BulkMethod{postgres.BulkCopy, postgres.BulkUnnest} {
		t.Run(m.String(), func(t *testing.T) {
			st := st.WithBulkMethod(m)
			res, err := st.UpsertEvents(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			before := seqs(t, s)
			if len(before) != len(batch) {
				t.Fatalf("stored %d events, want %d", len(before), len(batch))
			}
			res, err = st.UpsertEvents(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed() != 0 {
				t.Errorf("re-upsert of an identical batch changed %d rows, want 0", res.Changed())
			}
			// Same seqs and the same row versions (xmin): no dead tuple.
			if diff := cmp.Diff(before, seqs(t, s)); diff != "" {
				t.Errorf("identical re-upsert touched rows (-before +after):\n%s", diff)
			}

			changed := append([]timeline.Event(nil), batch...)
			changed[7].Text = "edited: " + m.String()
			res, err = st.UpsertEvents(ctx, changed)
			if err != nil {
				t.Fatal(err)
			}
			if res.Updated != 1 || res.Inserted != 0 {
				t.Errorf("changing one text gave %+v, want 1 updated", res)
			}
			after := seqs(t, s)
			for id, v := range after {
				if id == changed[7].ID {
					if v[0] <= before[id][0] {
						t.Errorf("changed event kept seq %d (was %d), want a higher one", v[0], before[id][0])
					}
					continue
				}
				if v != before[id] {
					t.Errorf("unchanged event %s: seq/xmin %v -> %v", id, before[id], v)
				}
			}
			batch = changed
		})
	}
}

func TestUpsertEdgeBatches(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PINC1")
	if res, err := st.UpsertEvents(ctx, nil); err != nil || res.Changed() != 0 {
		t.Fatalf("empty batch: %+v, %v", res, err)
	}
	a := chat("PINC1", 1, t0)
	b := a
	b.Text = "second version wins"
	res, err := st.UpsertEvents(ctx, []timeline.Event{a, b})
	if err != nil {
		t.Fatalf("a batch with the same id twice failed: %v", err)
	}
	if res.Inserted != 1 {
		t.Errorf("inserted %d, want 1", res.Inserted)
	}
	got, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PINC1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Text != b.Text {
		t.Fatalf("timeline = %+v, want the last version only", got)
	}
	if n := len(seqs(t, s)); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}

	bad := chat("PINC1", 2, t0)
	bad.Kind = "page.exploded"
	if _, err := st.UpsertEvents(ctx, []timeline.Event{chat("PINC1", 3, t0), bad}); !errors.Is(err, timeline.ErrInvalid) {
		t.Fatalf("unknown kind: err = %v, want ErrInvalid", err)
	}
	if n := len(seqs(t, s)); n != 1 {
		t.Fatalf("a rejected batch wrote rows: %d, want 1", n)
	}
}

func TestRoundTripKeepsEveryField(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PINC1")
	e := chat("PINC1", 1, time.Date(2026, 11, 20, 9, 30, 1, 123456789, time.FixedZone("EST", -5*3600)))
	e.Details = map[string]any{"thread_ts": "1763632923.000200", "reply_count": float64(3), "nested": map[string]any{"ok": true}}
	if _, err := st.UpsertEvents(ctx, []timeline.Event{e}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PINC1"})
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.OccurredAt = e.OccurredAt.UTC()
	want.Seq = got[0].Seq
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	if got[0].OccurredAt.Location() != time.UTC || got[0].OccurredAt.Nanosecond() != 123456789 {
		t.Fatalf("occurred_at = %v, want UTC with nanoseconds kept", got[0].OccurredAt)
	}
}

func TestTimelineKeysetPagination(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PINC1")
	mustIncident(t, st, "PINC2")
	// 120 events over only 4 distinct instants, plus noise in another incident.
	var batch []timeline.Event
	for i := 0; i < 120; i++ {
		batch = append(batch, chat("PINC1", i, t0.Add(time.Duration(i%4)*time.Minute)))
		batch = append(batch, chat("PINC2", i, t0))
	}
	if _, err := st.UpsertEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var order []timeline.Event
	var after *timeline.TimelinePosition
	inserted := 0
	for page := 0; ; page++ {
		got, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PINC1", After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		for _, e := range got {
			if seen[e.ID] {
				t.Fatalf("event %s repeated on page %d", e.ID, page)
			}
			seen[e.ID] = true
			order = append(order, e)
		}
		last := got[len(got)-1]
		after = &timeline.TimelinePosition{OccurredAt: last.OccurredAt, ID: last.ID}
		// Between page requests new events arrive: one later than the
		// cursor (must be seen) and one earlier (belongs to pages already read).
		if inserted < 10 {
			late := chat("PINC1", 1000+inserted, t0.Add(10*time.Minute))
			early := chat("PINC1", 2000+inserted, t0.Add(-time.Minute))
			if _, err := st.UpsertEvents(ctx, []timeline.Event{late, early}); err != nil {
				t.Fatal(err)
			}
			inserted++
		}
	}
	for _, e := range batch {
		if e.IncidentID == "PINC1" && !seen[e.ID] {
			t.Errorf("event %s lost", e.ID)
		}
	}
	for i := 0; i < inserted; i++ {
		if id := chat("PINC1", 1000+i, t0.Add(10*time.Minute)).ID; !seen[id] {
			t.Errorf("event %s inserted after the cursor was lost", id)
		}
	}
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if b.OccurredAt.Before(a.OccurredAt) || (b.OccurredAt.Equal(a.OccurredAt) && b.ID <= a.ID) {
			t.Fatalf("out of order at %d: %s@%v then %s@%v", i, a.ID, a.OccurredAt, b.ID, b.OccurredAt)
		}
	}
}

func TestTimelineFilters(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PINC1")
	page := timeline.Event{ID: "pagerduty:log_entry:R1", IncidentID: "PINC1", Source: "pagerduty",
		Kind: timeline.KindPageAcknowledged, OccurredAt: t0.Add(time.Minute), Title: "Acknowledged"}
	alert := timeline.Event{ID: "pagerduty:alert:A1", IncidentID: "PINC1", Source: "pagerduty",
		Kind: timeline.KindAlertTriggered, OccurredAt: t0, Title: "CPU"}
	if _, err := st.UpsertEvents(ctx, []timeline.Event{page, alert, chat("PINC1", 1, t0.Add(2*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	since, until := t0.Add(time.Minute), t0.Add(time.Minute)
	for name, tc := range map[string]struct {
		q    timeline.TimelineQuery
		want []string
	}{
		"kind prefix":  {timeline.TimelineQuery{KindPrefix: "page."}, []string{page.ID}},
		"exact kind":   {timeline.TimelineQuery{KindPrefix: "alert.triggered"}, []string{alert.ID}},
		"source":       {timeline.TimelineQuery{Sources: []string{"pagerduty"}}, []string{alert.ID, page.ID}},
		"since=until":  {timeline.TimelineQuery{Since: &since, Until: &until}, []string{page.ID}},
		"no such kind": {timeline.TimelineQuery{KindPrefix: "deploy."}, nil},
	} {
		tc.q.IncidentID = "PINC1"
		got, err := st.Timeline(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestFeedInSeqOrder(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	mustIncident(t, st, "PINC1")
	mustIncident(t, st, "PINC2")
	for i := 0; i < 5; i++ {
		if _, err := st.UpsertEvents(ctx, []timeline.Event{chat("PINC1", i, t0), chat("PINC2", i, t0)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Fatalf("feed has %d events, want 10", len(all))
	}
	rest, err := st.Feed(ctx, all[3].Seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 6 || rest[0].Seq != all[4].Seq {
		t.Fatalf("feed after %d: %d events starting at %d", all[3].Seq, len(rest), rest[0].Seq)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("feed not in seq order")
		}
	}
}

func TestIncidentsAndStatus(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	if _, err := st.Incident(ctx, "NOPE"); !errors.Is(err, timeline.ErrNotFound) {
		t.Fatalf("unknown incident: %v, want ErrNotFound", err)
	}
	for i := 0; i < 3; i++ {
		err := st.UpsertIncident(ctx, timeline.Incident{ID: fmt.Sprintf("P%d", i), StartedAt: t0.Add(time.Duration(i) * time.Hour),
			WindowStart: t0, WindowEnd: t0.Add(5 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.Incidents(ctx, timeline.IncidentQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "P2" || list[1].ID != "P1" {
		t.Fatalf("newest first: got %v", list)
	}
	rest, err := st.Incidents(ctx, timeline.IncidentQuery{Before: &timeline.IncidentPosition{StartedAt: list[1].StartedAt, ID: list[1].ID}})
	if err != nil || len(rest) != 1 || rest[0].ID != "P0" {
		t.Fatalf("second page: %v %v", rest, err)
	}
	now := time.Now()
	if err := st.SetSourceStatus(ctx, timeline.SourceStatus{IncidentID: "P1", Source: "slack", State: timeline.StateFailed,
		Error: "channel_not_found: C0GONE", EventCount: 3, StartedAt: &now, FinishedAt: &now}); err != nil {
		t.Fatal(err)
	}
	sts, err := st.SourceStatuses(ctx, "P1")
	if err != nil || len(sts) != 1 || sts[0].State != "failed" || sts[0].Error == "" {
		t.Fatalf("statuses: %+v %v", sts, err)
	}
	if err := st.SetSourceStatus(ctx, timeline.SourceStatus{IncidentID: "P1", Source: "slack", State: "exploded"}); !errors.Is(err, timeline.ErrInvalid) {
		t.Fatalf("bad state: %v", err)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	s := pgtest.NewEmpty(t)
	ctx := context.Background()
	// Several processes start together: all succeed, the schema is made once.
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { _, err := postgres.Migrate(ctx, s.Pool); errs <- err }()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	applied, err := postgres.Migrate(ctx, s.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
	if err := postgres.SchemaCurrent(ctx, s.Pool); err != nil {
		t.Fatal(err)
	}
}

// One event with NUL characters or invalid UTF-8 in its strings is stored
// with them replaced; one that cannot be stored at all (details that are not
// JSON, a year RFC 3339 cannot write) is left out and reported. Neither
// costs the rest of the batch, whichever path the batch takes: probed row
// by row (small) or compared against a snapshot and COPYed (large).
func TestUnstorableEventsDoNotFailTheBatch(t *testing.T) {
	t.Parallel()
	for _, m := range []postgres.BulkMethod{postgres.BulkCopy, postgres.BulkUnnest} {
		for _, size := range []int{10, 1200} {
			t.Run(fmt.Sprintf("%s/%d", m, size), func(t *testing.T) {
				t.Parallel()
				st, _ := newStore(t)
				st = st.WithBulkMethod(m)
				ctx := context.Background()
				mustIncident(t, st, "PINC1")
				var batch []timeline.Event
				for i := 0; i < size; i++ {
					batch = append(batch, chat("PINC1", i, t0.Add(time.Duration(i)*time.Millisecond)))
				}
				dirty := chat("PINC1", size, t0.Add(-time.Minute))
				dirty.Title = "Ana: nul\x00 here"
				dirty.Text = "bad \xff byte and nul \x00"
				dirty.URL = "https://acme.slack.com/archives/C0CHECKOUT/p\x00"
				dirty.Actor = &timeline.Actor{ID: "U1", Name: "An\x00a"}
				dirty.Details = map[string]any{"channel": "C0\x00", "nested": map[string]any{"k\x00": []any{"\xfe"}}}
				nan := chat("PINC1", size+1, t0)
				nan.Details = map[string]any{"ratio": math.NaN()}
				far := chat("PINC1", size+2, time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC))
				// The bad ones sit in the middle of the batch.
				batch = slices.Insert(batch, size/2, dirty, nan, far)

				res, err := st.UpsertEvents(ctx, batch)
				if err != nil {
					t.Fatalf("a batch with unstorable events failed: %v", err)
				}
				if res.Inserted != size+1 {
					t.Errorf("inserted %d, want %d", res.Inserted, size+1)
				}
				var skipped []string
				for _, s := range res.Skipped {
					if s.Err == nil || s.IncidentID != "PINC1" {
						t.Errorf("skipped %+v without a reason or an incident", s)
					}
					skipped = append(skipped, s.ID)
				}
				slices.Sort(skipped)
				want := []string{nan.ID, far.ID}
				slices.Sort(want)
				if d := cmp.Diff(want, skipped); d != "" {
					t.Errorf("skipped (-want +got):\n%s", d)
				}
				got, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PINC1"})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != size+1 {
					t.Fatalf("stored %d events, want %d", len(got), size+1)
				}
				e := got[0]
				wantDirty := timeline.MakeStorable(dirty)
				wantDirty.Seq = e.Seq
				if d := cmp.Diff(wantDirty, e); d != "" {
					t.Errorf("stored dirty event (-want +got):\n%s", d)
				}
				if e.Text != "bad \uFFFD byte and nul \uFFFD" || e.Actor.Name != "An\uFFFDa" {
					t.Errorf("stored text %q, actor %q", e.Text, e.Actor.Name)
				}
				if batch[size/2].Text != dirty.Text || batch[size/2].Details["channel"] != "C0\x00" {
					t.Error("the store changed the caller's event")
				}

				// The same batch again changes nothing and reports the same.
				res, err = st.UpsertEvents(ctx, batch)
				if err != nil || res.Changed() != 0 || len(res.Skipped) != 2 {
					t.Errorf("second upsert: %+v, %v; want nothing changed, 2 skipped", res, err)
				}
			})
		}
	}
}
