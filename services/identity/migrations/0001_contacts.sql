-- Contacts: customers reached by any channel. An address belongs to exactly one contact
-- (compared lower-cased), an external identity (Discord user, SSO subject) too; those two unique
-- keys are what makes find-or-create safe under concurrency.
CREATE TABLE contacts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'pending_activation'
                CHECK (status IN ('pending_activation', 'active', 'blocked')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contact_emails (
    address_normalized text PRIMARY KEY,
    address            text NOT NULL,
    contact_id         uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    is_primary         boolean NOT NULL DEFAULT false,
    verified           boolean NOT NULL DEFAULT false,
    deliverable        boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_emails_contact ON contact_emails (contact_id);

CREATE TABLE external_identities (
    provider    text NOT NULL,
    subject     text NOT NULL,
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE INDEX external_identities_contact ON external_identities (contact_id);

-- Events written in the same transaction as the change; see helpdesk_kit::outbox.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    event       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
