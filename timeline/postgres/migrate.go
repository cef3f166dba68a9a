package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockID is the advisory lock that serialises schema changes of
// every process sharing the database ("groundwork" in ASCII, 8 bytes).
const migrationLockID int64 = 0x67726f756e64776f

// Migrate brings the schema up to date: the timeline's tables (goose, from
// migrations/), then the tables of the job queue that runs collections
// (River's own migrations), in the same schema. It holds a session advisory
// lock for the whole run, so several processes may call it at once; when the
// schema is already current it changes nothing. It returns the versions of
// the timeline's migrations it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return nil, fmt.Errorf("migrate: taking the migration lock: %w", classify(err))
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID)
	}()

	p, closeP, err := provider(pool)
	if err != nil {
		return nil, err
	}
	defer closeP()
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []int64
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	m, err := queueMigrator(pool)
	if err != nil {
		return applied, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return applied, fmt.Errorf("migrate: job queue: %w", err)
	}
	return applied, nil
}

// queueMigrator runs River's migrations, quietly: Migrate reports what it
// applied of the timeline's, and River's are River's business.
func queueMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("migrate: job queue: %w", err)
	}
	return m, nil
}

// SchemaCurrent reports an error when migrations are pending.
func SchemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	p, closeP, err := provider(pool)
	if err != nil {
		return err
	}
	defer closeP()
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("schema version: %w", classify(err))
	}
	if current < target {
		return fmt.Errorf("schema is at version %d, %d is needed: run `groundwork migrate`", current, target)
	}
	m, err := queueMigrator(pool)
	if err != nil {
		return err
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("job queue schema: %w", classify(err))
	}
	if !res.OK {
		return fmt.Errorf("job queue schema is not current (%s): run `groundwork migrate`", strings.Join(res.Messages, "; "))
	}
	return nil
}

func provider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	db := stdlib.OpenDBFromPool(pool)
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, func() { _ = db.Close() }, nil
}
