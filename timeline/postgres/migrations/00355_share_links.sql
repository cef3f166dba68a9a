-- +goose Up
-- Share links: read-only links to one incident's page for the people in a
-- review meeting, who hold no API token. A link's token is signed with
-- share_key and names the row, so that a link can be listed and revoked;
-- nothing secret is stored here.
CREATE TABLE share_links (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX share_links_incident ON share_links (incident_id, created_at DESC);

INSERT INTO settings (name, value)
VALUES ('share_key', decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'))
ON CONFLICT (name) DO NOTHING;

-- +goose Down
DELETE FROM settings WHERE name = 'share_key';
DROP TABLE share_links;
