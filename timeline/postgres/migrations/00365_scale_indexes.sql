-- +goose Up
-- Indexes for the queries that look across incidents, so that their cost
-- follows how many incidents are near the one asked about, never how many
-- are stored (issue 15; the plans are in deploy/README.md, "Scale").
--
-- The queries keep their plain comparisons and add a range overlap (&&)
-- that those comparisons imply, so these GiST indexes find the candidates
-- and the comparisons decide, exactly as before.
--
-- On a large database, build them first with CREATE INDEX CONCURRENTLY
-- (same names and definitions) and this migration skips them instead of
-- holding writes back while it builds; see deploy/README.md.

-- An incident's span, [started_at, resolved_at], open-ended while it is
-- open. GREATEST keeps the range valid when an upstream reported a
-- resolution before the start.
CREATE INDEX IF NOT EXISTS incidents_span ON incidents
    USING gist (tstzrange(started_at, GREATEST(started_at, COALESCE(resolved_at, 'infinity')), '[]'));

-- An incident's collection window (window_start <= window_end is checked).
CREATE INDEX IF NOT EXISTS incidents_window ON incidents
    USING gist (tstzrange(window_start, window_end, '[]'));

-- Open incidents, whose window runs up to now whatever window_end says.
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (window_start) WHERE resolved_at IS NULL;

-- The pages that reached people, per incident: the summary counts a
-- responder's pages in the 7 days before an incident without reading the
-- other events of the incidents in those days.
CREATE INDEX IF NOT EXISTS events_notified ON events (incident_id, occurred_at)
    WHERE kind = 'page.notified' AND NOT deleted;

-- +goose Down
DROP INDEX IF EXISTS events_notified;
DROP INDEX IF EXISTS incidents_open;
DROP INDEX IF EXISTS incidents_window;
DROP INDEX IF EXISTS incidents_span;
