package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// TestOpenTurnsJITOff: the service's sessions run without JIT compilation
// (whose cost dwarfs its short queries once plans look expensive at a large
// size), unless the connection string asks for it.
func TestOpenTurnsJITOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for url, want := range map[string]string{pgtest.URL(): "off", withParam(pgtest.URL(), "jit=on"): "on"} {
		pool, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		// Every connection of the pool, not only the first.
		conns := make([]*pgxpool.Conn, 3)
		for i := range conns {
			if conns[i], err = pool.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range conns {
			var jit string
			if err := c.QueryRow(ctx, `SHOW jit`).Scan(&jit); err != nil {
				t.Fatal(err)
			}
			if jit != want {
				t.Errorf("SHOW jit on a connection of Open(%q) = %s, want %s", url, jit, want)
			}
			c.Release()
		}
		// Pools made like it (the feed's) inherit it.
		like, err := postgres.NewPoolLike(pool, 1)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		if err := like.QueryRow(ctx, `SHOW jit`).Scan(&jit); err != nil || jit != want {
			t.Errorf("SHOW jit on a pool like it = %s (%v), want %s", jit, err, want)
		}
		like.Close()
		pool.Close()
	}
}

func withParam(u, kv string) string {
	if strings.Contains(u, "?") {
		return u + "&" + kv
	}
	return u + "?" + kv
}

// planLog is a pool whose sessions report every plan they run
// (auto_explain, at NOTICE), so that tests see which indexes the store's
// own queries use.
type planLog struct {
	mu    sync.Mutex
	plans []string
}

func (p *planLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.plans
	p.plans = nil
	return out
}

func explainedPool(t *testing.T, s *pgtest.Schema, analyze bool, settings ...string) (*pgxpool.Pool, *planLog) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	log := &planLog{}
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "plan:") {
			log.mu.Lock()
			log.plans = append(log.plans, n.Message)
			log.mu.Unlock()
		}
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice;
			SET auto_explain.log_analyze = `+strconv.FormatBool(analyze))
		for _, set := range settings {
			if err == nil {
				_, err = c.Exec(ctx, "SET "+set)
			}
		}
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatalf("auto_explain (a module every Postgres ships) could not be loaded: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, log
}

// TestCrossIncidentQueriesUseIndexes: with a year of incidents stored, the
// queries that look across incidents (what overlapped one, its people's
// earlier pages, the incidents that live events and journal entries
// belong to) find their candidates through the window and span indexes,
// and read only the pages of the incidents they found: none reads every
// incident, or every event of the incidents in a week.
func TestCrossIncidentQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.New(t)
	// 3,000 incidents, one every 3 hours for a year, an hour long each;
	// each with 2 notifications and 30 chat messages; all of them in
	// C0ALL's scope, 1 in 40 in another channel's.
	base := t0.Add(-375 * 24 * time.Hour)
	for _, q := range []string{`
		INSERT INTO incidents (id, title, started_at, resolved_at, window_start, window_end, channels, repos)
		SELECT 'P' || i, 'incident ' || i, st, st + interval '1 hour', st - interval '2 hours', st + interval '90 minutes',
		       ARRAY['C0ALL', 'C0INC' || (i % 40)], ARRAY['acme/svc' || (i % 40)]
		FROM generate_series(0, 2999) i, LATERAL (SELECT $1::timestamptz + i * interval '3 hours' AS st) x`, `
		INSERT INTO events (incident_id, id, source, kind, occurred_at, title, details, content_hash)
		SELECT 'P' || i, 'pagerduty:log_entry:R' || i || '-' || n, 'pagerduty', 'page.notified',
		       $1::timestamptz + i * interval '3 hours' + n * interval '1 second', 'Notified',
		       jsonb_build_object('user', jsonb_build_object('id', 'PU' || (i % 50)), 'notification_type', 'push'), '\x00'
		FROM generate_series(0, 2999) i, generate_series(1, 2) n`, `
		INSERT INTO events (incident_id, id, source, kind, occurred_at, title, text, actor, details, content_hash)
		SELECT 'P' || i, 'slack:message:C0ALL:' || i || '.' || n, 'slack', 'chat.message',
		       $1::timestamptz + i * interval '3 hours' + n * interval '1 minute', 'm', repeat('words ', 40),
		       jsonb_build_object('id', 'U' || (i % 50), 'name', 'Ana'), '{}', '\x00'
		FROM generate_series(0, 2999) i, generate_series(1, 30) n`,
	} {
		if _, err := s.Pool.Exec(ctx, q, base); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool.Exec(ctx, `ANALYZE incidents`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	pool, plans := explainedPool(t, s, false)
	st := postgres.New(pool)
	d := &postgres.Deliveries{Store: st}
	inc, err := st.Incident(ctx, "P1500")
	if err != nil {
		t.Fatal(err)
	}
	plans.take()
	// planOf returns the plan of the one query of what on incidents.
	planOf := func(what string) string {
		t.Helper()
		var found []string
		for _, p := range plans.take() {
			if strings.Contains(p, "incidents") {
				found = append(found, p)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s: %d plans of queries on incidents, want 1:\n%s", what, len(found), strings.Join(found, "\n\n"))
		}
		return found[0]
	}
	check := func(what, plan string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s does not use %s:\n%s", what, w, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "incidents_newest") {
			t.Errorf("%s reads incidents it does not need:\n%s", what, plan)
		}
	}

	over, err := st.Overlapping(ctx, inc.ID, inc.StartedAt, *inc.ResolvedAt)
	if err != nil {
		t.Fatal(err)
	}
	check("Overlapping", planOf("Overlapping"), "incidents_span")
	if len(over) != 0 {
		t.Errorf("Overlapping = %d incidents, want none (they are 2 hours apart)", len(over))
	}

	pages, err := st.PriorPages(ctx, inc.ID, inc.StartedAt.Add(-timeline.PriorPagesWindow), inc.StartedAt)
	if err != nil {
		t.Fatal(err)
	}
	plan := planOf("PriorPages")
	// The pages of P1500's people, by person and time: a few index
	// entries, whose incidents are read by their key.
	check("PriorPages", plan, "events_notified_by_person")
	if strings.Contains(plan, "events_timeline") {
		t.Errorf("PriorPages reads the incidents' other events:\n%s", plan)
	}
	// 56 incidents in the 7 days before, 2 notifications each (seconds
	// apart: one interruption), for 50 people in turn; P1500's people are
	// PU0 (paged) and U0 (in chat), and PU0 was paged once in those days,
	// in P1450.
	if want := map[string]int{"PU0": 1}; !maps.Equal(pages, want) {
		t.Errorf("PriorPages = %v, want %v", pages, want)
	}

	for _, q := range []timeline.LiveScope{
		{Channel: "C0ALL", From: inc.StartedAt, To: inc.StartedAt.Add(time.Minute)},
		{AnyPlace: true, From: inc.StartedAt, To: inc.StartedAt.Add(time.Minute)},
	} {
		live, err := d.LiveIncidents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		check("LiveIncidents", planOf("LiveIncidents"), "incidents_window", "incidents_open")
		if len(live) != 1 || live[0].ID != inc.ID {
			t.Errorf("LiveIncidents(%+v) = %v, want only %s", q, live, inc.ID)
		}
	}

	// A journal entry in C0ALL joins the incidents whose window holds it.
	at := inc.StartedAt.Add(10 * time.Minute)
	res, err := d.RecordDelivery(ctx, timeline.Delivery{Receiver: "slack", ID: "Ev1", Journal: []timeline.JournalEntry{{
		Source: "slack", Scope: "C0ALL", ScopeKind: timeline.ScopeChannel, Event: timeline.Event{ID: "slack:message:C0ALL:live.1", Source: "slack",
			Kind: timeline.KindChatMessage, OccurredAt: at, Title: "live"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var covering []string
	for _, p := range plans.take() {
		if strings.Contains(p, "FROM incidents") && strings.Contains(p, "window_start <=") {
			covering = append(covering, p)
		}
	}
	if len(covering) != 1 {
		t.Fatalf("%d plans of the journal's covering query, want 1", len(covering))
	}
	check("the journal's covering query", covering[0], "incidents_window", "incidents_open")
	if res.Events.Inserted != 1 {
		t.Errorf("the journal entry joined %d incidents, want 1", res.Events.Inserted)
	}
}

// TestOverlapBounds: the indexed conditions return what the plain
// comparisons do at their edges: spans that meet at an instant, an open
// incident, and one an upstream reported resolved before it started.
func TestOverlapBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := newStore(t)
	put := func(id string, start time.Time, resolved *time.Time) {
		t.Helper()
		end := start.Add(time.Hour)
		if resolved != nil {
			end = *resolved
		}
		end = maxTime(end, start)
		if err := st.UpsertIncident(ctx, timeline.Incident{ID: id, Source: "pagerduty", StartedAt: start, ResolvedAt: resolved,
			WindowStart: start.Add(-2 * time.Hour), WindowEnd: end.Add(30 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpsertEvents(ctx, []timeline.Event{{ID: "pagerduty:log_entry:N" + id, IncidentID: id, Source: "pagerduty",
			Kind: timeline.KindPageNotified, OccurredAt: start, Title: "Notified",
			Details: map[string]any{"user": map[string]any{"id": "PU" + id}, "notification_type": "push"}}}); err != nil {
			t.Fatal(err)
		}
	}
	ptr := func(t time.Time) *time.Time { return &t }
	end := t0.Add(time.Hour)
	put("PSELF", t0, ptr(end))
	put("PMEETSTART", t0.Add(-time.Hour), ptr(t0))                     // resolved the instant PSELF started
	put("PMEETEND", end, ptr(end.Add(time.Hour)))                      // started the instant PSELF resolved
	put("POPEN", t0.Add(-48*time.Hour), nil)                           // still open
	put("PBACKWARDS", t0.Add(30*time.Minute), ptr(t0.Add(-time.Hour))) // resolved "before" it started
	put("PBEFORE", t0.Add(-3*time.Hour), ptr(t0.Add(-time.Hour-time.Second)))
	put("PAFTER", end.Add(time.Second), ptr(end.Add(time.Hour)))
	// PSELF names everyone paged in the others, so that PriorPages counts
	// them all (it counts only the people an incident names).
	for i, id := range []string{"PMEETSTART", "PMEETEND", "POPEN", "PBACKWARDS", "PBEFORE", "PAFTER"} {
		if _, err := st.UpsertEvents(ctx, []timeline.Event{{ID: fmt.Sprintf("slack:message:C0SELF:%d.000000", i), IncidentID: "PSELF",
			Source: "slack", Kind: timeline.KindChatMessage, OccurredAt: t0.Add(time.Minute), Title: "here",
			Actor: &timeline.Actor{ID: "PU" + id, Name: id}}}); err != nil {
			t.Fatal(err)
		}
	}

	over, err := st.Overlapping(ctx, "PSELF", t0, end)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range over {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	// PBACKWARDS: started inside, "resolved" before PSELF started; its
	// COALESCE(resolved_at, now()) is before the start, as before.
	if want := []string{"PMEETEND", "PMEETSTART", "POPEN"}; !slices.Equal(ids, want) {
		t.Errorf("Overlapping = %v, want %v", ids, want)
	}

	// Pages in [t0-7d, t0): every incident's notification but those at or
	// after t0 (PSELF's own is excluded anyway).
	pages, err := st.PriorPages(ctx, "PSELF", t0.Add(-timeline.PriorPagesWindow), t0)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for u := range pages {
		users = append(users, u)
	}
	slices.Sort(users)
	if want := []string{"PUPBEFORE", "PUPMEETSTART", "PUPOPEN"}; !slices.Equal(users, want) {
		t.Errorf("PriorPages users = %v, want %v", users, want)
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestFeedPageReadsNoAnnotationsPastIt: a page of the feed full of events
// reads no annotation change that comes after its last event (none could
// be on it), however many there are; the next page has them.
func TestFeedPageReadsNoAnnotationsPastIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, s := newStore(t)
	mustIncident(t, st, "P1")
	var evs []timeline.Event
	for i := range 10 {
		evs = append(evs, chat("P1", i, t0.Add(time.Duration(i)*time.Minute)))
	}
	if _, err := st.UpsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := st.CreateAnnotation(ctx, timeline.Annotation{IncidentID: "P1", EventIDs: []string{evs[0].ID},
			Marker: timeline.MarkerStar, Author: "facilitators", Status: timeline.AnnotationActive}); err != nil {
			t.Fatal(err)
		}
	}
	pool, plans := explainedPool(t, s, true)
	ex := postgres.New(pool)
	plans.take()
	page, err := ex.Feed(ctx, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 5 || slices.ContainsFunc(page, func(e timeline.Event) bool { return e.Annotation != nil }) {
		t.Fatalf("first page: %+v, want 5 events", page)
	}
	rows := regexp.MustCompile(`actual time=\S+ rows=(\d+)`)
	var read []string
	for _, p := range plans.take() {
		if strings.Contains(p, "FROM annotations a WHERE a.seq >") {
			if m := rows.FindStringSubmatch(p); m != nil {
				read = append(read, m[1])
			}
		}
	}
	if !slices.Equal(read, []string{"0"}) {
		t.Errorf("the first page read annotation rows %v, want one query reading none", read)
	}
	rest, err := ex.Feed(ctx, page[4].Seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	anns := 0
	for _, e := range rest {
		if e.Annotation != nil {
			anns++
		}
	}
	if len(rest) != 25 || anns != 20 {
		t.Errorf("the rest of the feed: %d entries, %d annotations; want 25, 20", len(rest), anns)
	}
}
