-- +goose Up
-- Incidents deleted through the API or by retention: everything stored of
-- an incident goes, and this row stays, so that the feed carries one
-- removal for the whole incident in seq order (its seq is drawn from
-- event_seq under the same advisory lock as every event write) and
-- consumers learn to drop what they hold of it. It keeps only the id, when
-- and by whom.
CREATE TABLE incident_removals (
    incident_id text        NOT NULL,
    seq         bigint      NOT NULL,
    removed_at  timestamptz NOT NULL DEFAULT now(),
    removed_by  text        NOT NULL DEFAULT '',
    events      integer     NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX incident_removals_seq ON incident_removals (seq);

-- +goose Down
DROP TABLE incident_removals;
