-- Partition events by a hash of incident_id (deploy/README.md, "Past one
-- Postgres"). Every query Groundwork makes on events names the incident,
-- so each reads one partition; the feed, which reads by seq across
-- incidents, merges the partitions' seq indexes.
--
-- Run it once, after `groundwork migrate`, with every serve process
-- stopped: it holds an exclusive lock on events and copies the table
-- (14 s for a million events on a 2-core machine; plan for a maintenance
-- window). It is one transaction: on any error nothing changes.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/partition-events.sql
--
-- Run with search_path set to Groundwork's schema if it is not public.
-- The index names stay as the migrations made them, so later migrations
-- apply to the partitioned table as they would to the plain one (build
-- their indexes without CONCURRENTLY: Postgres cannot on a partitioned
-- table). TestEventsPartitionedByIncidentHash (timeline/postgres) runs this
-- file and the store against it.
BEGIN;
LOCK TABLE events IN ACCESS EXCLUSIVE MODE;

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey TO events_unpartitioned_pkey;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_incident_id_fkey TO events_unpartitioned_incident_id_fkey;
ALTER INDEX events_timeline RENAME TO events_unpartitioned_timeline;
ALTER INDEX events_seq RENAME TO events_unpartitioned_seq;
ALTER INDEX events_incident_seq RENAME TO events_unpartitioned_incident_seq;
ALTER INDEX events_notified_by_person RENAME TO events_unpartitioned_notified_by_person;

-- The same columns, defaults (seq draws from event_seq) and checks.
CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY HASH (incident_id);
DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
                       'events_h' || lpad(i::text, 2, '0'), i);
    END LOOP;
END $$;

INSERT INTO events SELECT * FROM events_unpartitioned;

ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (incident_id, id);
ALTER TABLE events ADD CONSTRAINT events_incident_id_fkey
    FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE;
CREATE INDEX events_timeline ON events (incident_id, occurred_at, occurred_ns, id);
-- seq stays unique (one sequence draws it), but a partitioned table's
-- unique index must hold the partition key, and seq alone is what the
-- feed's merge reads: the index is no longer declared unique.
CREATE INDEX events_seq ON events (seq);
CREATE INDEX events_incident_seq ON events (incident_id, seq);
CREATE INDEX events_notified_by_person ON events ((details -> 'user' ->> 'id'), occurred_at) WHERE kind = 'page.notified' AND NOT deleted;

-- The sequence belongs to the new table, so dropping the old keeps it.
ALTER SEQUENCE event_seq OWNED BY events.seq;
DROP TABLE events_unpartitioned;
ANALYZE events;
COMMIT;
