// Package pgtest gives tests a real, migrated Postgres schema of their own.
//
// Tests read TEST_DATABASE_URL (default: the local test database) and fail
// loudly, never skip, when Postgres does not answer.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// DefaultURL is used when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the test database URL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema is a private schema in the test database.
type Schema struct {
	// Name is the schema's name.
	Name string
	// URL connects with search_path set to the schema, for child processes.
	URL string
	// Pool is connected with search_path set to the schema.
	Pool *pgxpool.Pool
}

// New creates a fresh schema, migrates it (the job queue's tables too) and drops it
// when the test ends.
func New(t testing.TB) *Schema {
	t.Helper()
	s := NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := postgres.Migrate(ctx, s.Pool); err != nil {
		t.Fatalf("pgtest: migrating schema %s: %v", s.Name, err)
	}
	return s
}

// NewEmpty creates a fresh, unmigrated schema and drops it when the test ends.
func NewEmpty(t testing.TB) *Schema {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, URL())
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("pgtest: Postgres is required and did not answer at TEST_DATABASE_URL (%s): %v\n"+
			"start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", redact(URL()), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gwtest_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		t.Fatalf("pgtest: creating schema: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(URL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = name
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", name, err)
		}
		admin.Close()
	})
	return &Schema{Name: name, URL: withSearchPath(URL(), name), Pool: pool}
}

func withSearchPath(u, schema string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "search_path=" + schema
}

func redact(u string) string {
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		return "(unparseable)"
	}
	return cfg.ConnConfig.Host + ":" + itoa(int(cfg.ConnConfig.Port)) + "/" + cfg.ConnConfig.Database
}

func itoa(n int) string { return strconv.Itoa(n) }
