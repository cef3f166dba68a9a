package postgres_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// partitionsRead returns the partitions of events that plan actually read
// (auto_explain with log_analyze: a partition pruned at start-up is not in
// the plan, one pruned while running is "never executed").
var partitionLine = regexp.MustCompile(`on (events_h\d\d)\b`)

func partitionsRead(plan string) []string {
	var out []string
	for _, line := range strings.Split(plan, "\n") {
		m := partitionLine.FindStringSubmatch(line)
		// "Update on events_h00" names a partition the statement could
		// write, not one it read.
		target := strings.HasPrefix(strings.TrimLeft(line, " ->"), "Update on ") || strings.HasPrefix(strings.TrimLeft(line, " ->"), "Delete on ")
		if m == nil || target || strings.Contains(line, "(never executed)") || slices.Contains(out, m[1]) {
			continue
		}
		out = append(out, m[1])
	}
	return out
}

// TestEventsPartitionedByIncidentHash: after deploy/partition-events.sql
// turns events into 16 partitions by a hash of incident_id, the store works
// unchanged (writes, live journal, timelines, summaries, annotations,
// sweeps, deletion, the feed in seq order), and every query that reads one
// incident's events reads one partition: each carries incident_id, as a
// sharded Postgres (Citus, incident_id the distribution column) needs too.
// The feed, which reads by seq across incidents, is the one that merges
// every partition.
func TestEventsPartitionedByIncidentHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.New(t)
	script, err := os.ReadFile("../../deploy/partition-events.sql")
	if err != nil {
		t.Fatal(err)
	}
	// Some events before, so the script has rows to move.
	plain := postgres.New(s.Pool)
	mustIncident(t, plain, "PBEFORE")
	if _, err := plain.UpsertEvents(ctx, []timeline.Event{chat("PBEFORE", 1, t0), chat("PBEFORE", 2, t0.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, string(script)); err != nil {
		t.Fatalf("deploy/partition-events.sql: %v", err)
	}
	var parts int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
		WHERE c.relname = 'events' AND c.relnamespace = current_schema()::regnamespace`).Scan(&parts); err != nil || parts != 16 {
		t.Fatalf("events has %d partitions (%v), want 16", parts, err)
	}
	// The migrations still see a current schema, and the moved rows are
	// there.
	if err := postgres.SchemaCurrent(ctx, s.Pool); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, s.Pool); err != nil {
		t.Fatal(err)
	}

	// A few rows per partition make a scan of each (or of each index,
	// hashed) the cheapest plan; with a table of any size the planner
	// looks rows up through the indexes instead. Without the other plans
	// it must, and shows which partitions the queries let it skip.
	pool, plans := explainedPool(t, s, true, "enable_seqscan = off", "enable_hashjoin = off", "enable_mergejoin = off")
	st := postgres.New(pool)
	d := &postgres.Deliveries{Store: st}
	before, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PBEFORE"})
	if err != nil || len(before) != 2 {
		t.Fatalf("moved timeline: %d events (%v), want 2", len(before), err)
	}
	// Five incidents half an hour apart, their events spread over the
	// partitions.
	ids := []string{"PALPHA", "PBRAVO", "PCHARLIE", "PDELTA", "PECHO"}
	for i, id := range ids {
		start := t0.Add(time.Duration(i) * 30 * time.Minute)
		resolved := start.Add(time.Hour)
		if err := st.UpsertIncident(ctx, timeline.Incident{ID: id, StartedAt: start, ResolvedAt: &resolved,
			WindowStart: start.Add(-time.Hour), WindowEnd: resolved.Add(time.Hour), Channels: []string{"C0CHECKOUT"}}); err != nil {
			t.Fatal(err)
		}
		var evs []timeline.Event
		for j := range 30 {
			evs = append(evs, chat(id, i*100+j, start.Add(time.Duration(j)*time.Minute)))
		}
		evs = append(evs, timeline.Event{ID: "pagerduty:log_entry:N" + id, IncidentID: id, Source: "pagerduty",
			Kind: timeline.KindPageNotified, OccurredAt: start, Title: "Notified",
			Details: map[string]any{"user": map[string]any{"id": "PUANA"}, "notification_type": "push"}})
		if _, err := st.UpsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	var spread int
	if err := s.Pool.QueryRow(ctx, `SELECT count(DISTINCT tableoid) FROM events`).Scan(&spread); err != nil || spread < 2 {
		t.Fatalf("the events are in %d partitions (%v), want several", spread, err)
	}
	plans.take()

	one := func(what string, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		seen := false
		for _, p := range plans.take() {
			if !strings.Contains(p, "events_h") {
				continue
			}
			seen = true
			if got := partitionsRead(p); len(got) > 1 {
				t.Errorf("%s read %d partitions of events %v:\n%s", what, len(got), got, p)
			}
		}
		if !seen {
			t.Errorf("%s read no events", what)
		}
	}
	inc, err := st.Incident(ctx, "PCHARLIE")
	if err != nil {
		t.Fatal(err)
	}
	one("Timeline", func() error {
		got, err := st.Timeline(ctx, timeline.TimelineQuery{IncidentID: "PCHARLIE", KindPrefix: "chat.", Limit: 10})
		if err == nil && len(got) != 10 {
			t.Errorf("timeline page: %d events", len(got))
		}
		return err
	})
	one("TimelineJSON", func() error {
		_, err := st.TimelineJSON(ctx, timeline.TimelineQuery{IncidentID: "PCHARLIE"})
		return err
	})
	one("IncidentVersion", func() error { _, err := st.IncidentVersion(ctx, "PCHARLIE"); return err })
	one("OverlappingPeople", func() error { _, err := st.OverlappingPeople(ctx, []string{"PBRAVO"}); return err })
	// PriorPages reads the pages of the incident's people by person and
	// time, in every partition's index (a few entries in each), as every
	// shard under Citus.
	pages, err := st.PriorPages(ctx, "PCHARLIE", inc.StartedAt.Add(-30*time.Minute), inc.StartedAt)
	if err != nil || pages["PUANA"] != 1 {
		t.Errorf("prior pages %v (%v), want PUANA's one: PBRAVO's", pages, err)
	}
	plans.take()
	one("CreateAnnotation", func() error {
		_, err := st.CreateAnnotation(ctx, timeline.Annotation{IncidentID: "PCHARLIE", EventIDs: []string{chat("PCHARLIE", 200, inc.StartedAt).ID},
			Marker: timeline.MarkerStar, Author: "facilitators", Status: timeline.AnnotationActive})
		return err
	})
	one("Annotations", func() error {
		got, err := st.Annotations(ctx, timeline.AnnotationQuery{IncidentID: "PCHARLIE"})
		if err == nil && (len(got) != 1 || len(got[0].MissingEventIDs) != 0) {
			t.Errorf("annotations %+v, want the one, its event found", got)
		}
		return err
	})
	one("UpsertEvents of a changed event", func() error {
		e := chat("PCHARLIE", 201, inc.StartedAt.Add(time.Minute))
		e.Text = "edited"
		res, err := st.UpsertEvents(ctx, []timeline.Event{e})
		if err == nil && res.Updated != 1 {
			t.Errorf("upsert: %+v, want one updated", res)
		}
		return err
	})
	one("SweepEvents", func() error {
		n, err := st.SweepEvents(ctx, timeline.Sweep{IncidentID: "PCHARLIE", Source: "slack", IDPrefix: "slack:message:C0CHECKOUT:",
			Start: inc.StartedAt, End: inc.StartedAt.Add(2 * time.Minute), KeepFunc: func(e timeline.Event) bool { return e.ID != chat("PCHARLIE", 202, inc.StartedAt.Add(2*time.Minute)).ID }})
		if err == nil && n != 1 {
			t.Errorf("swept %d, want 1", n)
		}
		return err
	})
	one("a journal entry joining its incident", func() error {
		_, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "slack", ID: "Ev1", Journal: []timeline.JournalEntry{{
			Source: "slack", Scope: "C0CHECKOUT", ScopeKind: timeline.ScopeChannel, Event: timeline.Event{ID: "slack:message:C0CHECKOUT:live.1",
				Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: t0.Add(-45 * time.Minute), Title: "live"}}}})
		return err
	})
	one("DeleteIncident", func() error {
		rm, err := d.DeleteIncident(ctx, "PECHO", "records-officer")
		if err == nil && rm.Events != 31 {
			t.Errorf("deleted %d events, want 31", rm.Events)
		}
		return err
	})

	// The feed: every partition, merged in seq order, with the removal.
	feed, err := st.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(feed, func(a, b timeline.Event) int { return int(a.Seq - b.Seq) }) {
		t.Error("the feed is not in seq order")
	}
	var events, removals int
	for _, e := range feed {
		switch {
		case e.Removal != nil:
			removals++
		case e.Annotation == nil:
			events++
		}
	}
	// 2 moved, 4 × 31 written, the journal's one, less PECHO's 31 (the
	// edit and the sweep moved two events to new seqs, not new rows).
	if events != 2+4*31+1 || removals != 1 {
		t.Errorf("feed: %d events, %d removals; want %d, 1", events, removals, 2+4*31+1)
	}
}
