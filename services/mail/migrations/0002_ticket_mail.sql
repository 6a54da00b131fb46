-- Ticket mail: the Message-ID each ticket's thread starts from (the customer's first mail), so
-- our mails answer it with In-Reply-To/References; and when each ledger row was written, for the
-- per-recipient rate limit.
CREATE TABLE ticket_threads (
    ticket_id        uuid PRIMARY KEY,
    root_message_id  text NOT NULL
);
CREATE INDEX outbound_ledger_recipient ON outbound_ledger (recipient, created_at);
