-- What the bot has taken in from Discord, so that nothing is lost while it is down and nothing is
-- taken twice.
--
-- `channel_cursors` is each channel's high-water mark: the newest Discord message id of that
-- channel whose `InboundMessage` the stream has stored. On READY the bot pages the channel's
-- history after it. Snowflakes grow with time, so "after the mark" is "everything since".
CREATE TABLE channel_cursors (
    channel_id bigint PRIMARY KEY,
    last_message_id bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every contact message handed to tickets, and the conversation it belongs to: an edit or a
-- delete of one of these (and only these) is recorded on the conversation's ticket.
CREATE TABLE taken_messages (
    message_id bigint PRIMARY KEY,
    channel_id bigint NOT NULL,
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    taken_at timestamptz NOT NULL DEFAULT now()
);

-- Edits and deletes already recorded on a ticket (`change` is `edit:<edited timestamp>` or
-- `delete`), so a replayed MESSAGE_UPDATE / MESSAGE_DELETE adds no second note.
CREATE TABLE message_changes (
    message_id bigint NOT NULL,
    change text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, change)
);
