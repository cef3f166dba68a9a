-- +goose Up
-- The live journal: every event captured live from a configured channel or
-- repository, whether or not an incident covers it yet, kept for
-- journal.retention. Rows hold the normalised event under the id a
-- collection gives it, with the same encoded columns and content hash as
-- events, so that joining an incident is one INSERT ... SELECT into events.
-- scope is the channel id, or the repository in lower case.
CREATE TABLE live_journal (
    source       text        NOT NULL,
    scope        text        NOT NULL,
    id           text        NOT NULL,
    kind         text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    occurred_ns  integer     NOT NULL DEFAULT 0 CHECK (occurred_ns BETWEEN 0 AND 999),
    actor        jsonb,
    title        text        NOT NULL DEFAULT '',
    text         text        NOT NULL DEFAULT '',
    url          text        NOT NULL DEFAULT '',
    details      jsonb       NOT NULL DEFAULT '{}',
    content_hash bytea       NOT NULL,
    -- version and deleted as in events (migration 00064): the newest
    -- version wins, and a deleted message keeps only its tombstone.
    version      timestamptz,
    deleted      boolean     NOT NULL DEFAULT false,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, scope, id)
);
CREATE INDEX live_journal_scope_time ON live_journal (source, scope, occurred_at);
CREATE INDEX live_journal_occurred ON live_journal (occurred_at);

-- Coverage: per source and scope, the spans over which live capture ran
-- without a gap that the vendor's retries would not have filled. Serve
-- processes heartbeat the open span of every configured scope forward; a
-- heartbeat that finds the open span older than the vendor's retry window
-- closes it and opens a new one, and a refused delivery closes it and cuts
-- its stretch out. At most one span per (source, scope) is open.
CREATE TABLE live_coverage (
    source       text        NOT NULL,
    scope        text        NOT NULL,
    covered_from timestamptz NOT NULL,
    covered_to   timestamptz NOT NULL,
    open         boolean     NOT NULL DEFAULT true,
    -- tolerance is the longest silence the open span survives: the
    -- vendor's retry window, as the last heartbeat declared it.
    tolerance    interval    NOT NULL DEFAULT '0',
    CHECK (covered_from <= covered_to)
);
CREATE UNIQUE INDEX live_coverage_open ON live_coverage (source, scope) WHERE open;
CREATE INDEX live_coverage_scope_time ON live_coverage (source, scope, covered_to);

-- +goose Down
DROP TABLE live_coverage;
DROP TABLE live_journal;
