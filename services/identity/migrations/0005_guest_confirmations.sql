-- Confirmation links of held guest tickets (issue 11). A guest who files a ticket with the address
-- of an existing contact gets it held by tickets until the address's owner follows the mailed
-- link. As for link_tokens, only the SHA-256 of the token is stored; single-use and expiring.
CREATE TABLE guest_confirmations (
    token_hash  bytea PRIMARY KEY,
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- tickets' id of the held ticket (another service's row: no foreign key).
    ticket_id   uuid NOT NULL,
    address     text NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX guest_confirmations_contact ON guest_confirmations (contact_id, created_at);
