-- +goose Up
-- The request each collection job is to run lives here, beside the job
-- that runs it, rather than in the queue's own rows: a trigger that joins
-- a waiting job merges into request, and the job's run reads it when it
-- starts. follow_up_id is the job parked until the incident's running job
-- ends, and follow_up_request what it will run. A row written before has
-- no request: its job runs the request it was queued with.
ALTER TABLE collection_jobs
    ADD COLUMN request jsonb,
    ADD COLUMN follow_up_id bigint,
    ADD COLUMN follow_up_request jsonb;

-- +goose Down
ALTER TABLE collection_jobs DROP COLUMN request, DROP COLUMN follow_up_id, DROP COLUMN follow_up_request;
