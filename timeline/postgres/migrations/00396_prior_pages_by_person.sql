-- +goose Up
-- The pages that reached each person, by time: the summary counts the
-- pages of an incident's own people in the 7 days before it, and reads
-- just those, rather than every page of the hundreds of incidents a busy
-- organisation has in a week (at 50,000 incidents a year that was 2,400
-- events read for the 5 it needed). It replaces events_notified, which
-- found the pages by incident.
--
-- On a large database, build it first with CREATE INDEX CONCURRENTLY
-- (same name and definition) and this migration skips it; see
-- deploy/README.md.
CREATE INDEX IF NOT EXISTS events_notified_by_person ON events ((details -> 'user' ->> 'id'), occurred_at)
    WHERE kind = 'page.notified' AND NOT deleted;
DROP INDEX IF EXISTS events_notified;

-- +goose Down
CREATE INDEX IF NOT EXISTS events_notified ON events (incident_id, occurred_at)
    WHERE kind = 'page.notified' AND NOT deleted;
DROP INDEX IF EXISTS events_notified_by_person;
