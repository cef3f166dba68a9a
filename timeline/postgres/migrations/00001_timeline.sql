-- +goose Up
-- Incidents, their events and the per-source collection status.

CREATE TABLE incidents (
    id           text PRIMARY KEY,
    title        text        NOT NULL DEFAULT '',
    service_id   text        NOT NULL DEFAULT '',
    urgency      text        NOT NULL DEFAULT '',
    source       text        NOT NULL DEFAULT '',
    url          text        NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    resolved_at  timestamptz,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    repos        text[]      NOT NULL DEFAULT '{}',
    channels     text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (window_start <= window_end)
);
CREATE INDEX incidents_newest ON incidents (started_at DESC, id DESC);

-- seq is the feed position: taken on insert and on every real change. Writers
-- take a transaction-level advisory lock before they draw from it, so seqs
-- become visible in the order they were drawn and a feed reader that has seen
-- seq N never later finds a smaller one.
CREATE SEQUENCE event_seq;

-- The same upstream object can belong to two overlapping incidents (one
-- commit, two timelines), so an event is keyed by (incident_id, id); id alone
-- is stable and derived only from the upstream object.
CREATE TABLE events (
    incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    id          text        NOT NULL,
    source      text        NOT NULL,
    kind        text        NOT NULL,
    -- occurred_at holds microseconds; occurred_ns the nanoseconds below them.
    occurred_at timestamptz NOT NULL,
    occurred_ns integer     NOT NULL DEFAULT 0 CHECK (occurred_ns BETWEEN 0 AND 999),
    actor       jsonb,
    title       text        NOT NULL DEFAULT '',
    text        text        NOT NULL DEFAULT '',
    url         text        NOT NULL DEFAULT '',
    details     jsonb       NOT NULL DEFAULT '{}',
    -- content_hash digests every field above but the keys, so that an
    -- unchanged event is recognised without comparing (or even sending) it.
    content_hash bytea      NOT NULL,
    seq         bigint      NOT NULL DEFAULT nextval('event_seq'),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, id)
);
CREATE INDEX events_timeline ON events (incident_id, occurred_at, occurred_ns, id);
CREATE UNIQUE INDEX events_seq ON events (seq);
ALTER SEQUENCE event_seq OWNED BY events.seq;

CREATE TABLE collection_status (
    incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    source      text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    error       text        NOT NULL DEFAULT '',
    event_count integer     NOT NULL DEFAULT 0,
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, source)
);

-- Server-side secrets shared by every replica (the cursor signing key).
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
INSERT INTO settings (name, value)
VALUES ('cursor_key', decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'));

-- +goose Down
DROP TABLE settings;
DROP TABLE collection_status;
DROP TABLE events;
DROP TABLE incidents;
