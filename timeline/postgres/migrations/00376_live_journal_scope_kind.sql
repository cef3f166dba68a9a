-- +goose Up
-- The kind of place of each journal entry (timeline.ScopeKind): 'channel'
-- entries join the incidents whose channels hold their scope, 'repo'
-- entries those whose repos hold it (in lower case). The journal used to
-- tell them apart by source; the source now declares the kind. Entries
-- written before are repositories (owner/name, always with a '/') or
-- channel ids (never with one), so their scope says which.
ALTER TABLE live_journal ADD COLUMN scope_kind text;
UPDATE live_journal SET scope_kind = CASE WHEN strpos(scope, '/') > 0 THEN 'repo' ELSE 'channel' END;
ALTER TABLE live_journal ALTER COLUMN scope_kind SET NOT NULL,
    ADD CONSTRAINT live_journal_scope_kind_check CHECK (scope_kind IN ('channel', 'repo'));
-- Joining an incident looks entries up by kind and scope.
CREATE INDEX live_journal_kind_scope_time ON live_journal (scope_kind, scope, occurred_at);

-- +goose Down
DROP INDEX live_journal_kind_scope_time;
ALTER TABLE live_journal DROP COLUMN scope_kind;
