-- The IMAP side: how far each mailbox has been read, and the mail that could not become a message.
-- A cursor moves only after the mails up to it were published (and acked by the stream) or
-- quarantined, and flagged or moved in the mailbox.
CREATE TABLE mailbox_cursors (
    mailbox       text PRIMARY KEY,
    uid_validity  bigint NOT NULL,
    last_uid      bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Poison mail: unparseable or over a limit. The raw mail stays in the blob store (and the
-- mailbox); an admin can list it and retry it (after raising a limit, or with a fixed parser).
CREATE TABLE quarantine (
    id            uuid PRIMARY KEY,
    mailbox       text NOT NULL,
    uid_validity  bigint NOT NULL,
    uid           bigint NOT NULL,
    raw_key       text NOT NULL,
    size          bigint NOT NULL,
    reason        text NOT NULL,
    attempts      integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    retried_at    timestamptz,
    UNIQUE (mailbox, uid_validity, uid)
);
