-- Email threading (DESIGN.md §3.1): which rule put a message on its ticket, and the Message-IDs
-- we sent for a ticket (the mail part records them), so replies quoting them thread back.
ALTER TABLE messages ADD COLUMN thread_rule text NOT NULL DEFAULT '';

CREATE TABLE mail_refs (
    message_id  text PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
