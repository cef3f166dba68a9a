package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The demo never leaves data in a database it did not create. It works in
// a schema of its own, named groundwork_demo_<pid>_<random> and marked by
// a comment that records the owning process, and drops it on exit. A demo
// that dies before it can (kill -9, a crash, a power cut) leaves its
// schema behind; the next demo on that database drops it.
//
// Whether a marked schema's demo is still running is told by a session
// advisory lock, not by its pid: the demo holds the lock on one connection
// for as long as it runs, and Postgres releases it when that session ends,
// however the process ended. So two demos on one database, from one
// machine or several, never drop each other's schema, and a reused pid
// cannot make a dead demo look alive. The pid, host and start time in the
// comment are for the person reading \dn+.

const (
	demoSchemaPrefix = "groundwork_demo_"
	// demoMarker starts the comment on every demo schema.
	demoMarker = "groundwork demo schema, dropped on exit: "
	// demoLockClass is the first key of the demos' advisory locks ("gdem");
	// the second is hashtext(schema name). The two-key form never collides
	// with the single-key migration lock.
	demoLockClass int32 = 0x6764656d
)

// errDemoRefused: the database already holds Groundwork data.
var errDemoRefused = errors.New("the demo will not run here")

// demoSchemaMark is the comment's JSON.
type demoSchemaMark struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	StartedAt time.Time `json:"started_at"`
}

// demoSchema is the demo's own schema, locked for as long as it runs.
type demoSchema struct {
	name    string
	url     string
	baseURL string
	// lock holds the schema's advisory lock for the demo's life.
	lock *pgx.Conn
}

// openDemoSchema connects to baseURL, refuses a target that holds
// Groundwork data, drops the schemas of demos that are gone, and creates,
// marks and locks a schema of the demo's own. url connects with the
// search_path set to that schema alone.
func openDemoSchema(ctx context.Context, baseURL string, step func(string, ...any)) (*demoSchema, error) {
	if err := checkDSN("DATABASE_URL", baseURL); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to the demo's database: %w", scrubDSN(err, baseURL))
	}
	ok := false
	defer func() {
		if !ok {
			_ = conn.Close(context.Background())
		}
	}()
	if err := refuseGroundworkTarget(ctx, conn); err != nil {
		return nil, err
	}
	dropped, err := cleanDemoSchemas(ctx, conn)
	if len(dropped) > 0 {
		step("Dropped %d schema(s) left behind by demos that did not get to clean up: %s", len(dropped), strings.Join(dropped, ", "))
	}
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := fmt.Sprintf("%s%d_%s", demoSchemaPrefix, os.Getpid(), hex.EncodeToString(b))
	host, _ := os.Hostname()
	if err := createDemoSchema(ctx, conn, name, demoSchemaMark{PID: os.Getpid(), Host: host, StartedAt: time.Now().UTC()}); err != nil {
		return nil, err
	}
	ds := &demoSchema{name: name, url: withSearchPath(baseURL, name), baseURL: baseURL, lock: conn}
	ok = true
	if err := ds.checkSearchPath(ctx); err != nil {
		_ = ds.drop()
		return nil, err
	}
	return ds, nil
}

// createDemoSchema takes the schema's lock, then creates and marks it, so
// that no other demo ever sees it unlocked while conn lives.
func createDemoSchema(ctx context.Context, conn *pgx.Conn, name string, mark demoSchemaMark) error {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, demoLockClass, name); err != nil {
		return fmt.Errorf("locking the demo schema: %w", err)
	}
	js, _ := json.Marshal(mark)
	var stmt string
	err := conn.QueryRow(ctx, `SELECT format('CREATE SCHEMA %I; COMMENT ON SCHEMA %I IS %L', $1::text, $1::text, $2::text)`,
		name, demoMarker+string(js)).Scan(&stmt)
	if err == nil {
		_, err = conn.Exec(ctx, stmt)
	}
	if err != nil {
		return fmt.Errorf("creating the demo schema (the demo needs CREATE on the database): %w", err)
	}
	return nil
}

// checkSearchPath makes sure that url really lands in the demo's schema
// and nowhere else: a search_path set in DATABASE_URL's options would
// otherwise send the demo's tables into it.
func (d *demoSchema) checkSearchPath(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.url)
	if err != nil {
		return fmt.Errorf("connecting to the demo schema: %w", scrubDSN(err, d.url))
	}
	defer conn.Close(context.Background())
	var schemas []string
	if err := conn.QueryRow(ctx, `SELECT current_schemas(false)`).Scan(&schemas); err != nil {
		return fmt.Errorf("reading the demo's search_path: %w", err)
	}
	if len(schemas) != 1 || schemas[0] != d.name {
		return fmt.Errorf("%w: the connection string sets a search_path the demo cannot replace (it resolves to %v); remove it from DATABASE_URL", errDemoRefused, schemas)
	}
	return nil
}

// drop drops the schema and releases its lock. It is safe to call twice.
func (d *demoSchema) drop() error {
	if d.lock == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stmt := "DROP SCHEMA IF EXISTS " + pgx.Identifier{d.name}.Sanitize() + " CASCADE"
	_, err := d.lock.Exec(ctx, stmt)
	if err != nil {
		// The locking session may have died with the server; any other
		// session can drop the schema.
		if c, cerr := pgx.Connect(ctx, d.baseURL); cerr == nil {
			_, err = c.Exec(ctx, stmt)
			_ = c.Close(ctx)
		}
	}
	_ = d.lock.Close(ctx)
	d.lock = nil
	return err
}

// cleanDemoSchemas drops every marked demo schema whose lock is free,
// that is whose demo has ended, and returns their names. A schema named
// like a demo's but without the mark is not the demo's to drop.
func cleanDemoSchemas(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE starts_with(nspname, $1) AND starts_with(coalesce(obj_description(oid, 'pg_namespace'), ''), $2)
		ORDER BY nspname`, demoSchemaPrefix, demoMarker)
	if err != nil {
		return nil, fmt.Errorf("looking for demo schemas left behind: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("looking for demo schemas left behind: %w", err)
	}
	var dropped []string
	for _, name := range names {
		var free bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, demoLockClass, name).Scan(&free); err != nil {
			return dropped, fmt.Errorf("checking demo schema %s: %w", name, err)
		}
		if !free {
			continue // its demo is running
		}
		_, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, demoLockClass, name)
		if err != nil {
			return dropped, fmt.Errorf("dropping demo schema %s, left behind by a demo that is gone: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	return dropped, nil
}

// refuseGroundworkTarget refuses a database whose connection would land
// in a Groundwork schema with data. "The target" is every schema on the
// connection's search_path (for a plain URL, "$user" and public; for a URL
// with search_path=…, the schemas it names): that is where a Groundwork
// pointed at this DATABASE_URL keeps its incidents. The demo itself writes
// only to its own schema, but it would run beside a live installation —
// sharing its migration lock and its LISTEN/NOTIFY channels — and its
// fake incident would sit in the same database as real ones: it says so
// and stops instead.
func refuseGroundworkTarget(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT p.nspname
		FROM unnest(current_schemas(false)) WITH ORDINALITY AS p(nspname, i)
		JOIN pg_namespace n ON n.nspname = p.nspname
		WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'incidents' AND c.relkind IN ('r', 'p'))
		  AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'events' AND c.relkind IN ('r', 'p'))
		ORDER BY p.i`)
	if err != nil {
		return fmt.Errorf("looking for a Groundwork schema on the search_path: %w", err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("looking for a Groundwork schema on the search_path: %w", err)
	}
	for _, s := range schemas {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s, "incidents"}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("%w: schema %q holds Groundwork tables the demo cannot read (%v)", errDemoRefused, s, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: schema %q of this database already holds Groundwork data (%d incidents); "+
				"the demo leaves such a database alone. Point DATABASE_URL at a database (or a search_path) without Groundwork data, "+
				"or unset it to let the demo use a local or throwaway Postgres", errDemoRefused, s, n)
		}
	}
	return nil
}

// withSearchPath returns dsn with the search_path set to schema alone,
// replacing any search_path it sets (pgx takes the last of a key).
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}
