-- Inbound fidelity (issue 11): what each inbound row needs to thread right and deduplicate
-- honestly, the raw original reachable from every message made from a mail, and classified mail
-- kept beside poison in the quarantine.

-- A hash of (sender, subject, text): the same Message-ID with other content is another mail.
-- Rows from before have none and count as the same content.
ALTER TABLE inbound_messages ADD COLUMN content_hash text;
-- The message's references (normalized, in order of preference), so that a parent arriving after
-- its reply finds the reply's ticket.
ALTER TABLE inbound_messages ADD COLUMN thread_refs text[] NOT NULL DEFAULT '{}';
CREATE INDEX inbound_messages_thread_refs ON inbound_messages USING gin (thread_refs);
-- The text was cut at the one limit (by the channel or here); the whole message is in the raw.
ALTER TABLE inbound_messages ADD COLUMN text_truncated boolean NOT NULL DEFAULT false;

-- The raw original of a channel message (the archived .eml), one per message: staff only.
ALTER TABLE attachments ADD COLUMN raw boolean NOT NULL DEFAULT false;

-- 'poison' (could not be processed; retry it) or 'unmatched_bounce' (a delivery report about no
-- mail we sent: kept for admins to see, nothing is wrong with it).
ALTER TABLE quarantine ADD COLUMN kind text NOT NULL DEFAULT 'poison';
