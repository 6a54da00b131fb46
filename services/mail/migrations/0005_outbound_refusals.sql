-- Mail that was not sent, and why, recorded once: 'refused' (the relay refused it for good, or
-- its address cannot be used) and 'skipped' (a rule held it back: an undeliverable address, the
-- hourly per-recipient limit, an acknowledgement flood). Both are final: a redelivered event finds
-- its row and sends nothing. `noted_at`: when the ticket got its internal entry saying why.
-- `ticket_id` ties ticket mail to its ticket (empty for account mail).
ALTER TABLE outbound_ledger DROP CONSTRAINT outbound_ledger_status_check;
ALTER TABLE outbound_ledger ADD CONSTRAINT outbound_ledger_status_check
    CHECK (status IN ('sending', 'sent', 'refused', 'skipped'));
ALTER TABLE outbound_ledger ADD COLUMN reason text, ADD COLUMN ticket_id uuid, ADD COLUMN noted_at timestamptz;
-- The per-recipient counts compare addresses case-insensitively.
CREATE INDEX outbound_ledger_recipient_lower ON outbound_ledger (lower(recipient), created_at);
