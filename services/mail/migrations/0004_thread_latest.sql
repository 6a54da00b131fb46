-- The customer's latest mail on each ticket: our answers reply to it (In-Reply-To) and carry the
-- thread from its root (References: root, latest).
ALTER TABLE ticket_threads ADD COLUMN latest_message_id text;
