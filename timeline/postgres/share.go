package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/timeline"
)

var _ timeline.ShareStore = (*Store)(nil)

// ShareKey returns the server-side key that signs share links, shared by
// every process on this database.
func (s *Store) ShareKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'share_key'`).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("reading share key: %w", classify(err))
	}
	return key, nil
}

const shareColumns = `id::text, incident_id, created_by, created_at, expires_at, revoked_at`

func scanShareLink(row pgx.Row) (timeline.ShareLink, error) {
	var l timeline.ShareLink
	if err := row.Scan(&l.ID, &l.IncidentID, &l.CreatedBy, &l.CreatedAt, &l.ExpiresAt, &l.RevokedAt); err != nil {
		return l, err
	}
	l.CreatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	if l.RevokedAt != nil {
		t := l.RevokedAt.UTC()
		l.RevokedAt = &t
	}
	return l, nil
}

// shareErr names the operation and turns a missing row into
// timeline.ErrShareLinkNotFound.
func shareErr(what string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, timeline.ErrShareLinkNotFound)
	}
	return fmt.Errorf("%s: %w", what, classify(err))
}

// CreateShareLink implements timeline.ShareStore.
func (s *Store) CreateShareLink(ctx context.Context, l timeline.ShareLink) (timeline.ShareLink, error) {
	if l.CreatedBy == "" {
		return l, fmt.Errorf("%w: a share link needs its creator", timeline.ErrInvalid)
	}
	var out timeline.ShareLink
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := incidentExists(ctx, tx, l.IncidentID); err != nil {
			return err
		}
		var err error
		out, err = scanShareLink(tx.QueryRow(ctx, `INSERT INTO share_links (incident_id, created_by, expires_at)
			VALUES ($1, $2, $3) RETURNING `+shareColumns, l.IncidentID, l.CreatedBy, l.ExpiresAt.UTC().Truncate(time.Second)))
		return err
	})
	if err != nil {
		return timeline.ShareLink{}, fmt.Errorf("creating a share link of %s: %w", l.IncidentID, classify(err))
	}
	return out, nil
}

// ShareLink implements timeline.ShareStore.
func (s *Store) ShareLink(ctx context.Context, incidentID, id string) (timeline.ShareLink, error) {
	l, err := scanShareLink(s.pool.QueryRow(ctx, `SELECT `+shareColumns+` FROM share_links
		WHERE incident_id = $1 AND id = $2::uuid`, incidentID, id))
	if err != nil {
		return l, shareErr("reading share link "+id, err)
	}
	return l, nil
}

// ShareLinks implements timeline.ShareStore.
func (s *Store) ShareLinks(ctx context.Context, incidentID string) ([]timeline.ShareLink, error) {
	var out []timeline.ShareLink
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := incidentExists(ctx, tx, incidentID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+shareColumns+` FROM share_links WHERE incident_id = $1
			ORDER BY created_at DESC, id`, incidentID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (timeline.ShareLink, error) { return scanShareLink(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the share links of %s: %w", incidentID, classify(err))
	}
	return out, nil
}

// RevokeShareLink implements timeline.ShareStore.
func (s *Store) RevokeShareLink(ctx context.Context, incidentID, id string, at time.Time) (timeline.ShareLink, error) {
	l, err := scanShareLink(s.pool.QueryRow(ctx, `UPDATE share_links SET revoked_at = COALESCE(revoked_at, $3)
		WHERE incident_id = $1 AND id = $2::uuid RETURNING `+shareColumns, incidentID, id, at.UTC()))
	if err != nil {
		return l, shareErr("revoking share link "+id, err)
	}
	return l, nil
}
