package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/collectors/fakeworld"
	"github.com/groundwork-dev/groundwork/timeline"
	"github.com/groundwork-dev/groundwork/timeline/postgres"
	"github.com/groundwork-dev/groundwork/timeline/postgres/pgtest"
)

// The README's first command, end to end: fakes, server, workers, a signed
// webhook, the collection and the printed summary; and afterwards nothing
// is left in the database DATABASE_URL points at.
func TestDemoOnce(t *testing.T) {
	dbURL := privateDatabase(t)
	admin := adminConn(t, dbURL)
	before := schemas(t, admin)
	var stdout, stderr bytes.Buffer
	env := map[string]string{"DATABASE_URL": dbURL}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := run(ctx, []string{"demo", "-once", "-listen", "127.0.0.1:0", "-wait", "4m"}, getenv(env), &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("demo -once exited %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	for _, want := range []string{
		"# Review packet", "Retrospective Prime Directive", "## Phases", "## People", "## Changes in flight", "## Questions",
		"Tomás Ortega", "view=story", "/questions", "format=markdown", "text/event-stream", "Bearer " + demoReadToken,
		"The timeline is complete", "/incidents/" + fakeworld.IncidentID + "?s=", "/incidents (sign in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	demoSchemaIn(t, out)
	if diff := cmp.Diff(before, schemas(t, admin)); diff != "" {
		t.Errorf("schemas and their tables after demo -once (-before +after):\n%s", diff)
	}
}

// A demo that died without cleaning up (its session, and so its lock,
// gone) has its schema dropped by the next demo; a demo still running
// keeps its schema, and so does a schema named like a demo's without the
// demo's mark. Serving until Ctrl-C, the demo's timeline is in its own
// schema; on Ctrl-C (ctx cancelled, as SIGINT and SIGTERM do) the schema
// is dropped.
func TestDemoCleansUpAfterCrashAndOnCtrlC(t *testing.T) {
	// A database of its own, so that no other test's demo cleans up the
	// leftovers first.
	dbURL := privateDatabase(t)
	admin := adminConn(t, dbURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// A demo that crashed: its pid is that of a process that has exited,
	// and its session is closed.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	crashed := fakeDemoSchema(t, dbURL, dead.Process.Pid, false)
	// A demo that is running: its session stays open, holding the lock.
	live := fakeDemoSchema(t, dbURL, os.Getpid(), true)
	lookalike := demoSchemaPrefix + "lookalike_" + strconv.Itoa(os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+lookalike); err != nil {
		t.Fatal(err)
	}

	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	stdout := newLineWatch("Serving until Ctrl-C")
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, []string{"demo", "-listen", "127.0.0.1:0", "-wait", "4m"}, getenv(map[string]string{"DATABASE_URL": dbURL}), stdout, &stderr)
	}()
	select {
	case <-stdout.seen:
	case code := <-done:
		t.Fatalf("demo exited %d before serving\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	case <-ctx.Done():
		t.Fatalf("demo did not get to serving (hang guard)\n%s", stdout.String())
	}
	out := stdout.String()
	own := demoSchemaIn(t, out)
	if !strings.Contains(out, crashed) {
		t.Errorf("the demo did not say it dropped %s:\n%s", crashed, out)
	}
	for name, want := range map[string]bool{crashed: false, live: true, lookalike: true, own: true} {
		if got := schemaExists(t, admin, name); got != want {
			t.Errorf("while the demo serves, schema %s exists = %v, want %v", name, got, want)
		}
	}
	var mark string
	if err := admin.QueryRow(ctx, `SELECT obj_description($1::regnamespace, 'pg_namespace')`, own).Scan(&mark); err != nil ||
		!strings.Contains(mark, `"pid":`+strconv.Itoa(os.Getpid())) {
		t.Errorf("the demo's schema is marked %q (%v), want its pid", mark, err)
	}
	checkDemoTimeline(t, ctx, withSearchPath(dbURL, own))
	if n := tablesIn(t, admin, "public"); n != 0 {
		t.Errorf("the demo wrote %d tables into DATABASE_URL's schema, public", n)
	}

	interrupt()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d on Ctrl-C\n%s", code, stderr.String())
	}
	for name, want := range map[string]bool{own: false, live: true, lookalike: true} {
		if got := schemaExists(t, admin, name); got != want {
			t.Errorf("after Ctrl-C, schema %s exists = %v, want %v", name, got, want)
		}
	}
}

// A DATABASE_URL whose search_path holds Groundwork's tables with an
// incident in them is refused before anything is created; the same schema
// without data is not.
func TestDemoRefusesGroundworkData(t *testing.T) {
	target := pgtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, target.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := refuseGroundworkTarget(ctx, conn); err != nil {
		t.Fatalf("an empty Groundwork schema was refused: %v", err)
	}
	now := time.Now()
	if err := postgres.New(target.Pool).UpsertIncident(ctx, timeline.Incident{ID: "PREAL01", StartedAt: now, WindowStart: now, WindowEnd: now}); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"demo", "-once", "-listen", "127.0.0.1:0"}, getenv(map[string]string{"DATABASE_URL": target.URL}), &stdout, &stderr)
	if code != 1 {
		t.Fatalf("demo against a Groundwork schema with data exited %d, want 1\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, target.Name) || !strings.Contains(msg, "Groundwork data") || !strings.Contains(msg, "DATABASE_URL") {
		t.Errorf("refusal does not name the schema, the reason and what to do:\n%s", msg)
	}
	var mine int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, $1)`,
		demoSchemaPrefix+strconv.Itoa(os.Getpid())+"_").Scan(&mine); err != nil || mine != 0 {
		t.Errorf("a refused demo created %d schemas (%v)", mine, err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM incidents`).Scan(&n); err != nil || n != 1 {
		t.Errorf("incidents after the refusal: %d (%v), want the 1 there was", n, err)
	}
}

// checkDemoTimeline reads the stored timeline in the demo's schema and
// spot-checks its content, not just its counts.
func checkDemoTimeline(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	events, err := postgres.New(pool).Timeline(ctx, timeline.TimelineQuery{IncidentID: fakeworld.IncidentID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	byID := map[string]timeline.Event{}
	for _, e := range events {
		got[e.Kind]++
		byID[e.ID] = e
	}
	if diff := cmp.Diff(fakeworld.Expected, got); diff != "" {
		t.Errorf("stored kinds (-want +got):\n%s", diff)
	}
	ack := byID["pagerduty:log_entry:R7ACK00000000000000000007"]
	if ack.Kind != timeline.KindPageAcknowledged || ack.Actor == nil || ack.Actor.Name != "Tomás Ortega" ||
		!ack.OccurredAt.Equal(time.Date(2025, 11, 20, 10, 9, 40, 0, time.UTC)) {
		t.Errorf("acknowledgement = %+v", ack)
	}
	note := byID["pagerduty:note:PNOTETOM1"]
	if !note.OccurredAt.Equal(time.Date(2025, 11, 20, 10, 12, 0, 0, time.UTC)) || note.OccurredAt.Location() != time.UTC {
		t.Errorf("a -05:00 note was not converted to UTC: %v", note.OccurredAt)
	}
	var edited, rollback, reply bool
	for _, e := range events {
		switch {
		case e.Kind == timeline.KindChatMessage && strings.Contains(e.Text, "(EU only)"):
			edited = true
		case e.Kind == timeline.KindDeploySucceeded && e.Details["rollback"] == true:
			rollback = true
		case e.Kind == timeline.KindChatReply && e.Details["thread_ts"] != nil && e.Actor != nil && e.Actor.Name != "":
			reply = true
		}
	}
	if !edited || !rollback || !reply {
		t.Errorf("edited message %v, rollback deploy %v, named thread reply %v: want all", edited, rollback, reply)
	}
}

// fakeDemoSchema makes a schema as a demo does, with a table and a row in
// it. With keep its session stays open until the test ends (a demo still
// running); without, it is closed at once (a demo that crashed).
func fakeDemoSchema(t *testing.T, dbURL string, pid int, keep bool) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s%d_test%d", demoSchemaPrefix, pid, time.Now().UnixNano()%1e9)
	if err := createDemoSchema(ctx, conn, name, demoSchemaMark{PID: pid, Host: "test", StartedAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+name+".incidents (id text); INSERT INTO "+name+".incidents VALUES ('P1')"); err != nil {
		t.Fatal(err)
	}
	if keep {
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
	} else if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return name
}

var demoSchemaRE = regexp.MustCompile(`in a schema of its own \((` + demoSchemaPrefix + `[0-9a-z_]+)\)`)

// demoSchemaIn is the schema the demo says it uses.
func demoSchemaIn(t *testing.T, out string) string {
	t.Helper()
	m := demoSchemaRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo does not name its schema:\n%s", out)
	}
	return m[1]
}

// privateDatabase creates a database for the test alone, dropped when it
// ends, and returns its URL.
func privateDatabase(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := adminConn(t, pgtest.URL())
	name := fmt.Sprintf("gwtest_demo_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// schemas lists the database's own schemas, each with its tables.
func schemas(t *testing.T, c *pgx.Conn) map[string][]string {
	t.Helper()
	rows, err := c.Query(context.Background(), `SELECT n.nspname, coalesce(c.relname, '')
		FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
		WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for rows.Next() {
		var s, tbl string
		if err := rows.Scan(&s, &tbl); err != nil {
			t.Fatal(err)
		}
		out[s] = append(out[s], tbl)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func adminConn(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func schemaExists(t *testing.T, c *pgx.Conn, name string) bool {
	t.Helper()
	var ok bool
	if err := c.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func tablesIn(t *testing.T, c *pgx.Conn, schema string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lineWatch is a writer safe to read while written to; seen is closed
// once the output holds want.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newLineWatch(want string) *lineWatch { return &lineWatch{want: want, seen: make(chan struct{})} }

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Without a Postgres to use, the demo starts a private cluster from the
// machine's initdb and pg_ctl on a Unix socket, and removes it on exit.
func TestThrowawayCluster(t *testing.T) {
	bin, ok := pgBinDir()
	if !ok {
		t.Fatal("initdb and pg_ctl are not installed (apt-get install postgresql); this test needs them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := startTempCluster(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if c != nil {
			_ = c.Stop()
		}
	}()
	if !strings.Contains(c.URL, "host=/") {
		t.Errorf("cluster URL %q is not a Unix socket", c.URL)
	}
	pool, err := pgxpool.New(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := postgres.New(pool).UpsertIncident(ctx, timeline.Incident{ID: "P1", StartedAt: time.Now(), WindowStart: time.Now(), WindowEnd: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	dir := c.dir
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	c = nil
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory %s still exists after Stop: %v", dir, err)
	}
}
