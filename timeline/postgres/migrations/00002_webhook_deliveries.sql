-- +goose Up
-- Webhook deliveries already processed, so that a redelivery (PagerDuty
-- retries for 48 hours, GitHub redelivers on demand, Slack retries three
-- times) is recognised and changes nothing. A delivery's id is recorded in the
-- same transaction as what it stored and queued.
CREATE TABLE webhook_deliveries (
    receiver    text        NOT NULL,
    id          text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (receiver, id)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- The job that is collecting an incident, or will collect it next: queued,
-- running or waiting to retry. A trigger that arrives while it runs queues one
-- follow-up, parked until this job's run ends and hands the incident over.
CREATE TABLE collection_jobs (
    incident_id text        PRIMARY KEY,
    job_id      bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Live capture looks incidents up by repository or channel.
CREATE INDEX incidents_repos ON incidents USING gin (repos);
CREATE INDEX incidents_channels ON incidents USING gin (channels);

-- +goose Down
DROP INDEX incidents_channels;
DROP INDEX incidents_repos;
DROP TABLE collection_jobs;
DROP TABLE webhook_deliveries;
