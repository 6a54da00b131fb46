-- Linking an external identity (a Discord user) to an email address by a mailed link (issue 14),
-- and the contacts such a link merged. As for link_tokens, only the SHA-256 of a token is stored;
-- single-use and expiring. Used and expired rows stay, so a second use can be told apart from a
-- token that never existed.
CREATE TABLE identity_links (
    token_hash          bytea PRIMARY KEY,
    -- The contact that held the identity when the link was asked for.
    contact_id          uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    provider            text NOT NULL,
    subject             text NOT NULL,
    -- The address to prove, as asked for and as identity compares it.
    address             text NOT NULL,
    address_normalized  text NOT NULL,
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now()
);
-- The hourly limits: per identity, and per address (many Discord users cannot flood one inbox).
CREATE INDEX identity_links_identity ON identity_links (provider, subject, created_at);
CREATE INDEX identity_links_address ON identity_links (address_normalized, created_at);

-- A contact merged into another by a confirmed link keeps its row for history (and its tickets'
-- past), but no address or identity any more: those moved to `merged_into`.
ALTER TABLE contacts ADD COLUMN merged_into uuid REFERENCES contacts (id), ADD COLUMN merged_at timestamptz;
