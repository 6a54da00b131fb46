-- Email threading (DESIGN.md §3.1): which rule put a message on its ticket. The Message-IDs we
-- send carry the ticket's signed reply token, so they need no table to be recognised.
ALTER TABLE messages ADD COLUMN thread_rule text NOT NULL DEFAULT '';
