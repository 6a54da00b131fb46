-- The chat part's own schema: which Discord conversation belongs to which ticket.
--
-- A conversation is a DM channel, a thread of a support channel, or a post of the forum channel.
-- It starts with the Discord message that opened the ticket (`root_message_id`, the ticket's
-- inbound external id); its ticket is learned from tickets' TicketCreated event, which names that
-- message. A DM channel has at most one open conversation: once its ticket is completed, the next
-- DM opens a new one. A thread or forum post is one conversation for good.
CREATE TABLE conversations (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('dm', 'thread', 'forum_post')),
    -- Where the conversation continues: the DM channel, the thread, the forum post. NULL only
    -- while a support-channel message waits for its thread.
    channel_id bigint,
    -- The support or forum channel (NULL for DMs).
    parent_channel_id bigint,
    guild_id bigint,
    root_message_id bigint NOT NULL UNIQUE,
    -- The Discord user who opened it.
    user_id bigint NOT NULL,
    ticket_id uuid UNIQUE,
    ticket_number bigint,
    -- open; closed (its ticket was completed); gone (Discord deleted the thread, or the DM is
    -- closed to us).
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'gone')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX conversations_channel ON conversations (channel_id, created_at DESC);
CREATE UNIQUE INDEX conversations_one_open_dm ON conversations (channel_id) WHERE kind = 'dm' AND state = 'open';
CREATE UNIQUE INDEX conversations_one_per_thread ON conversations (channel_id) WHERE kind <> 'dm';
