-- +goose Up
-- Open incidents: an incident exists from its first sign (PagerDuty
-- incident.triggered, acknowledged or reopened; a generic hook without
-- resolved_at) and resolved_at is NULL while it is open. status_at is when
-- the upstream last opened, reopened or resolved it, so that a late delivery
-- of an older change cannot undo a newer one (timeline.Incident.Merge).
ALTER TABLE incidents ADD COLUMN status_at timestamptz;

-- GitHub compares repository names case-insensitively, and so does live
-- capture: a delivery for Codertocat/Hello-World belongs to an incident whose
-- scope says codertocat/hello-world.
-- +goose StatementBegin
CREATE FUNCTION groundwork_lower_all(a text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT coalesce(array_agg(lower(x) ORDER BY n), '{}') FROM unnest(a) WITH ORDINALITY AS u(x, n) $$;
-- +goose StatementEnd
CREATE INDEX incidents_repos_lower ON incidents USING gin (groundwork_lower_all(repos));

-- A source that cannot know an incident (PagerDuty for a generic one; no
-- repositories or channels in scope) is skipped, not failed, and says why.
ALTER TABLE collection_status DROP CONSTRAINT collection_status_state_check;
ALTER TABLE collection_status ADD CONSTRAINT collection_status_state_check
    CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'skipped'));
ALTER TABLE collection_status ADD COLUMN reason text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE collection_status DROP COLUMN reason;
DELETE FROM collection_status WHERE state = 'skipped';
ALTER TABLE collection_status DROP CONSTRAINT collection_status_state_check;
ALTER TABLE collection_status ADD CONSTRAINT collection_status_state_check
    CHECK (state IN ('pending', 'running', 'succeeded', 'failed'));
DROP INDEX incidents_repos_lower;
DROP FUNCTION groundwork_lower_all(text[]);
ALTER TABLE incidents DROP COLUMN status_at;
