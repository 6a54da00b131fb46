-- The full ticket model (issue #4): admin-defined statuses (each mapped to pending or completed),
-- priorities, categories with custom-field definitions, assignee, due date, the contact's group,
-- custom-field values, full-text search over the subject and the public conversation, attachments,
-- the local copy of identity's groups and settings, and the group support-time ledger.

CREATE TABLE statuses (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    -- tickets.v1.StatusKind: 1 pending, 2 completed.
    kind        smallint NOT NULL CHECK (kind IN (1, 2)),
    position    integer NOT NULL DEFAULT 0
);
INSERT INTO statuses (id, name, kind, position) VALUES
    ('open', 'Open', 1, 0),
    ('in_progress', 'In progress', 1, 1),
    ('waiting', 'Waiting on customer', 1, 2),
    ('completed', 'Completed', 2, 3),
    ('closed', 'Closed', 2, 4);

CREATE TABLE priorities (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    rank        smallint NOT NULL,
    is_default  boolean NOT NULL DEFAULT false
);
-- At most one default priority.
CREATE UNIQUE INDEX priorities_one_default ON priorities (is_default) WHERE is_default;
INSERT INTO priorities (id, name, rank, is_default) VALUES
    ('low', 'Low', 1, false),
    ('normal', 'Normal', 2, true),
    ('high', 'High', 3, false),
    ('urgent', 'Urgent', 4, false);

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    -- [{key, label, type, required, options, position}], validated by the service.
    fields      jsonb NOT NULL DEFAULT '[]',
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;
ALTER TABLE tickets
    ADD CONSTRAINT tickets_status_fk FOREIGN KEY (status) REFERENCES statuses (id),
    -- Denormalized from statuses.kind and priorities.rank so queues and sorts read one table.
    ADD COLUMN status_kind smallint NOT NULL DEFAULT 1,
    ADD COLUMN priority text NOT NULL DEFAULT 'normal' REFERENCES priorities (id),
    ADD COLUMN priority_rank smallint NOT NULL DEFAULT 2,
    ADD COLUMN category_id uuid REFERENCES categories (id),
    ADD COLUMN due_at timestamptz,
    ADD COLUMN assignee_id uuid,
    ADD COLUMN group_id uuid,
    ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}',
    -- Subject and public replies only: internal notes must never make a ticket findable by a contact.
    ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector;
UPDATE tickets SET status_kind = 2 WHERE status = 'completed';
UPDATE tickets t SET search = to_tsvector('english', t.subject || ' ' || coalesce(
    (SELECT string_agg(left(m.body_text, 4096), ' ') FROM messages m WHERE m.ticket_id = t.id AND m.kind = 1), ''));

CREATE INDEX tickets_group_created ON tickets (group_id, created_at DESC, id DESC) WHERE group_id IS NOT NULL;
CREATE INDEX tickets_assignee ON tickets (assignee_id, status_kind, created_at DESC) WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_unassigned ON tickets (created_at DESC, id DESC) WHERE assignee_id IS NULL AND status_kind = 1;
CREATE INDEX tickets_search ON tickets USING gin (search);

ALTER TABLE messages ADD COLUMN body_original text NOT NULL DEFAULT '';

CREATE TABLE attachments (
    id            uuid PRIMARY KEY,
    ticket_id     uuid REFERENCES tickets (id) ON DELETE CASCADE,
    message_id    uuid REFERENCES messages (id) ON DELETE CASCADE,
    -- Who uploaded it: an attachment may be attached only by its uploader, once.
    uploader      text NOT NULL,
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size          bigint NOT NULL,
    blob_key      text NOT NULL,
    content_id    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message ON attachments (message_id);

-- Identity's groups and memberships as tickets needs them, kept current from identity's events.
CREATE TABLE contact_groups (
    id             uuid PRIMARY KEY,
    share_tickets  boolean NOT NULL DEFAULT false
);
CREATE TABLE group_members (
    group_id    uuid NOT NULL,
    contact_id  uuid NOT NULL,
    PRIMARY KEY (contact_id, group_id)
);

-- Settings tickets acts on, copied from identity's portal settings events.
CREATE TABLE settings (
    id                         boolean PRIMARY KEY DEFAULT true CHECK (id),
    contacts_may_close         boolean NOT NULL DEFAULT true,
    self_close_status          text NOT NULL DEFAULT 'completed' REFERENCES statuses (id),
    time_alert_threshold       integer NOT NULL DEFAULT 60
);
INSERT INTO settings DEFAULT VALUES;

-- Support time per group: grants (positive) and agents' time entries (negative), one ledger.
CREATE TABLE time_ledger (
    id          uuid PRIMARY KEY,
    -- 'grant': an admin gave the group minutes; 'entry': an agent's time on a ticket.
    kind        text NOT NULL CHECK (kind IN ('grant', 'entry')),
    group_id    uuid,
    ticket_id   uuid REFERENCES tickets (id) ON DELETE SET NULL,
    agent_id    text NOT NULL DEFAULT '',
    minutes     integer NOT NULL,
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX time_ledger_group ON time_ledger (group_id, created_at DESC);
CREATE INDEX time_ledger_ticket ON time_ledger (ticket_id);
CREATE TABLE group_time_alerts (
    group_id  uuid PRIMARY KEY,
    -- tickets.v1.TimeAlert: 1 ok, 2 low, 3 exhausted.
    alert     smallint NOT NULL
);
