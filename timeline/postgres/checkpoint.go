package postgres

import (
	"context"
	"fmt"
)

// Checkpoints returns the progress saved for the incident's source by an
// unfinished collection, by key; empty when there is none. It implements
// collectors.CheckpointStore.
func (s *Store) Checkpoints(ctx context.Context, incidentID, source string) (map[string][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, state FROM collection_checkpoints WHERE incident_id = $1 AND source = $2`,
		incidentID, source)
	if err != nil {
		return nil, fmt.Errorf("checkpoints of %s/%s: %w", incidentID, source, classify(err))
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var key string
		var state []byte
		if err := rows.Scan(&key, &state); err != nil {
			return nil, fmt.Errorf("checkpoints of %s/%s: %w", incidentID, source, classify(err))
		}
		out[key] = state
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checkpoints of %s/%s: %w", incidentID, source, classify(err))
	}
	return out, nil
}

// SaveCheckpoints records the states (JSON documents) of the incident's
// source under their keys in one statement, replacing those saved before
// under the same keys. It implements collectors.CheckpointStore.
func (s *Store) SaveCheckpoints(ctx context.Context, incidentID, source string, states map[string][]byte) error {
	if len(states) == 0 {
		return nil
	}
	keys := make([]string, 0, len(states))
	docs := make([]string, 0, len(states))
	for k, v := range states {
		keys = append(keys, k)
		docs = append(docs, string(v))
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO collection_checkpoints (incident_id, source, key, state)
		SELECT $1, $2, k, d::jsonb FROM unnest($3::text[], $4::text[]) AS u(k, d)
		ON CONFLICT (incident_id, source, key) DO UPDATE SET state = excluded.state, updated_at = now()`,
		incidentID, source, keys, docs)
	if err != nil {
		return fmt.Errorf("saving checkpoints of %s/%s: %w", incidentID, source, classify(err))
	}
	return nil
}

// ClearCheckpoints forgets the progress saved for the incident: of the
// given sources, or of every source when none is given. It implements
// collectors.CheckpointStore.
func (s *Store) ClearCheckpoints(ctx context.Context, incidentID string, sources ...string) error {
	var err error
	if len(sources) == 0 {
		_, err = s.pool.Exec(ctx, `DELETE FROM collection_checkpoints WHERE incident_id = $1`, incidentID)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM collection_checkpoints WHERE incident_id = $1 AND source = ANY($2)`, incidentID, sources)
	}
	if err != nil {
		return fmt.Errorf("clearing checkpoints of %s: %w", incidentID, classify(err))
	}
	return nil
}
