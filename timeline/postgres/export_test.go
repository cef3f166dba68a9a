package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ListenerPID returns the backend pid of l's LISTEN connection, 0 while it
// has none, so that tests can cut the connection.
func ListenerPID(l *FeedListener) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}

// MigrateUpTo migrates pool's schema up to version and no further, for
// tests of what a later migration makes of the rows written before it.
func MigrateUpTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	p, closeP, err := provider(pool)
	if err != nil {
		return err
	}
	defer closeP()
	_, err = p.UpTo(ctx, version)
	return err
}
