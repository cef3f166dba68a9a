-- +goose Up
-- An incident's highest seq is its version (the API's ETag): every insert and
-- every real change of one of its events draws a new, higher seq. This index
-- answers max(seq) per incident from one index entry instead of a scan of the
-- incident's events, so a conditional GET costs next to nothing.
CREATE INDEX events_incident_seq ON events (incident_id, seq);

-- +goose Down
DROP INDEX events_incident_seq;
