-- +goose Up
-- version is when the upstream last changed the object (Slack: the edit's
-- ts, else the message's ts; a deletion: when it happened), NULL when the
-- source keeps no such time. An upsert never replaces a row by an older
-- version, so a late retry of an old version cannot undo an edit, and a
-- deleted message cannot come back from a retry of its original delivery.
--
-- deleted marks a tombstone: the object was deleted upstream (it may have
-- been a pasted credential), so its content is gone (actor NULL, title,
-- text, url '' and details '{}'); the row keeps only its keys, kind, time,
-- version and a seq, so that the feed can carry the removal in seq order.
-- Timelines, exports and summaries leave tombstones out.
-- Both columns are added without rewriting the table.
ALTER TABLE events
    ADD COLUMN version timestamptz,
    ADD COLUMN deleted boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE events
    DROP COLUMN deleted,
    DROP COLUMN version;
