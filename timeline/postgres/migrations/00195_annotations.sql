-- +goose Up
-- Annotations: markers and notes on an incident's timeline, by people (the
-- API token's name) or by Groundwork's own detectors (suggested). They cite
-- events by id, which is stable by design, and have no foreign key to
-- events: a re-collection never touches them, and an annotation whose event
-- leaves the timeline is reported orphaned when read, never dropped.
--
-- Every change draws seq from event_seq, under the same advisory lock as
-- event writes, so the feed carries annotation changes interleaved with
-- events in one order. A deleted annotation keeps its row (deleted_at set)
-- so that the feed can carry the removal.
CREATE TABLE annotations (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id   text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    event_ids     text[]      NOT NULL DEFAULT '{}',
    marker        text        NOT NULL CHECK (marker IN ('detection', 'diagnosis', 'repair', 'key_moment', 'coordination',
                                                         'handoff', 'question', 'blind_spot', 'star', 'hide')),
    title         text        NOT NULL DEFAULT '',
    note          text        NOT NULL DEFAULT '',
    -- at holds microseconds; at_ns the nanoseconds below them.
    at            timestamptz,
    at_ns         integer     NOT NULL DEFAULT 0 CHECK (at_ns BETWEEN 0 AND 999),
    author        text        NOT NULL,
    suggested     boolean     NOT NULL DEFAULT false,
    -- suggested_key identifies a detector's suggestion within its incident,
    -- so that running the detector again stores nothing twice and does not
    -- bring back one a person dismissed or deleted.
    suggested_key text,
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'confirmed', 'dismissed')),
    reviewed_by   text,
    reviewed_at   timestamptz,
    version       integer     NOT NULL DEFAULT 1,
    seq           bigint      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CHECK (cardinality(event_ids) > 0 OR at IS NOT NULL),
    CHECK (suggested = (suggested_key IS NOT NULL))
);
CREATE UNIQUE INDEX annotations_seq ON annotations (seq);
-- An incident's annotations in order, and their highest seq (part of the
-- incident's version, the API's ETag).
CREATE INDEX annotations_incident ON annotations (incident_id, seq);
CREATE UNIQUE INDEX annotations_suggested_key ON annotations (incident_id, suggested_key) WHERE suggested_key IS NOT NULL;

-- +goose Down
DROP TABLE annotations;
