-- Contacts identity merged into another (issue 14: a Discord user who linked an address that
-- belongs to a contact). Written with the move of the merged contact's tickets; read when a
-- ticket or message is filed, so a message still sent in the old contact's name (a channel's
-- cached contact id, an old token) lands with the survivor.
CREATE TABLE merged_contacts (
    from_id    uuid PRIMARY KEY,
    into_id    uuid NOT NULL,
    merged_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX merged_contacts_into ON merged_contacts (into_id);
