-- The outbound ledger: one row per event the sender acted on, keyed by the event id, so a
-- redelivered event never sends a second mail. `sending` rows are attempts that did not finish
-- (a crash between SMTP and this update); they are retried with the same Message-ID.
CREATE TABLE outbound_ledger (
    event_id    uuid PRIMARY KEY,
    kind        text NOT NULL,
    recipient   text NOT NULL,
    message_id  text NOT NULL,
    status      text NOT NULL CHECK (status IN ('sending', 'sent')),
    attempts    integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
