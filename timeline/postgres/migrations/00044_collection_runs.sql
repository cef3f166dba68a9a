-- +goose Up
-- The run of an incident's collection that started last, written by the job
-- holding the incident's run lock. While the run lives, its process touches
-- heartbeat_at every few seconds over the lock's own connection; a run whose
-- lock is free and whose heartbeat has stopped belongs to a process that
-- died, and its job is handed to a live one (Deliveries.RescueAbandoned)
-- instead of waiting for River's rescuer.
CREATE TABLE collection_runs (
    incident_id  text        PRIMARY KEY,
    job_id       bigint      NOT NULL,
    attempt      integer     NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

-- The progress of collections that have not finished, per source, so that
-- one interrupted by a crash, a restart or a timeout resumes where it
-- stopped instead of reading every source again. key '' is the runner's own
-- record (the window it belongs to, whether the source is done, the events
-- stored so far); the others are the collector's (a Slack channel's history
-- read so far). Cleared when the collection ends.
CREATE TABLE collection_checkpoints (
    incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    source      text        NOT NULL,
    key         text        NOT NULL,
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, source, key)
);

-- +goose Down
DROP TABLE collection_checkpoints;
DROP TABLE collection_runs;
