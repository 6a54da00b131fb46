-- Tickets and their conversation. Human numbers start at #1001. Statuses are the built-in
-- open / completed pair until admin-defined statuses land (tickets issue #4).
CREATE SEQUENCE ticket_numbers START 1001;

CREATE TABLE tickets (
    id          uuid PRIMARY KEY,
    number      bigint NOT NULL UNIQUE DEFAULT nextval('ticket_numbers'),
    subject     text NOT NULL,
    contact_id  uuid NOT NULL,
    channel     smallint NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- My Tickets: a contact's tickets newest first, paged by (created_at, id).
CREATE INDEX tickets_contact_created ON tickets (contact_id, created_at DESC, id DESC);
CREATE INDEX tickets_created ON tickets (created_at DESC, id DESC);

CREATE TABLE messages (
    id           uuid PRIMARY KEY,
    ticket_id    uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind         smallint NOT NULL,
    author_kind  smallint NOT NULL,
    author_id    text NOT NULL DEFAULT '',
    body_text    text NOT NULL,
    body_html    text NOT NULL DEFAULT '',
    channel      smallint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_ticket ON messages (ticket_id, created_at);

-- One row per inbound message ever turned into a ticket or reply: the (channel, external id) key
-- makes a redelivered or re-published message a no-op.
CREATE TABLE inbound_messages (
    channel      smallint NOT NULL,
    external_id  text NOT NULL,
    ticket_id    uuid NOT NULL,
    message_id   uuid NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, external_id)
);

-- Inbound messages that could not be processed: kept whole so an admin can look and retry.
CREATE TABLE quarantine (
    id               uuid PRIMARY KEY,
    subject          text NOT NULL,
    payload          bytea NOT NULL,
    reason           text NOT NULL,
    attempts         integer NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Events written in the same transaction as the change; see helpdesk_kit::outbox.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    event       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
