-- The outbound ledger: what the bot posted for which ticket message (or event), part by part, so a
-- redelivered event posts nothing twice — also after Discord's nonce window (a few minutes) has
-- passed — and what it could not post, so the internal note saying so is written once.
--
-- `source_id` is the ticket message a reply comes from, or the event that asked for a line of the
-- bot's own (a ticket's welcome, its closing line). A reply over 2,000 characters is several
-- Discord messages: `part` 0, 1, …
CREATE TABLE outbound_posts (
    source_id uuid NOT NULL,
    part integer NOT NULL CHECK (part >= 0),
    ticket_id uuid NOT NULL,
    channel_id bigint NOT NULL,
    discord_message_id bigint NOT NULL,
    posted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, part)
);

CREATE INDEX outbound_posts_ticket ON outbound_posts (ticket_id, posted_at);

-- A post Discord refused for good (missing permission, the thread deleted, the DM closed):
-- `noted` once the internal note on the ticket is written.
CREATE TABLE outbound_refusals (
    source_id uuid PRIMARY KEY,
    ticket_id uuid NOT NULL,
    reason text NOT NULL,
    noted boolean NOT NULL DEFAULT false,
    refused_at timestamptz NOT NULL DEFAULT now()
);
