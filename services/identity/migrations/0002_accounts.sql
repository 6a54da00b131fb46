-- Staff, portal accounts, sessions, link tokens, login throttling, portal settings and contact
-- groups. Every bearer secret (session id, link token) is stored only as its SHA-256.

CREATE TABLE staff (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    email             text NOT NULL,
    email_normalized  text NOT NULL UNIQUE,
    role              text NOT NULL CHECK (role IN ('agent', 'admin')),
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- A contact who can sign in to the portal with a password.
CREATE TABLE accounts (
    contact_id     uuid PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id_hash              bytea PRIMARY KEY,
    contact_id           uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    created_at           timestamptz NOT NULL DEFAULT now(),
    idle_expires_at      timestamptz NOT NULL,
    absolute_expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_contact ON sessions (contact_id);

-- Single-use, expiring tokens of activation, reset and email-verification links.
CREATE TABLE link_tokens (
    token_hash  bytea PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('activation', 'password_reset', 'email_verification')),
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    address     text NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_tokens_contact ON link_tokens (contact_id, kind);

-- Failed logins, kept for the throttling window. `account` is the normalized address as typed,
-- whether or not it exists, so throttling itself reveals nothing.
CREATE TABLE login_failures (
    account  text NOT NULL,
    ip       text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_account ON login_failures (account, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

-- Addresses an account has signed in from: attackers elsewhere cannot lock its owner out.
CREATE TABLE login_known_ips (
    account  text NOT NULL,
    ip       text NOT NULL,
    last_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, ip)
);

-- One row: the portal settings as JSON (domain::settings::PortalSettings).
CREATE TABLE portal_settings (
    id          integer PRIMARY KEY CHECK (id = 1),
    settings    text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contact_groups (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL,
    share_tickets      boolean NOT NULL DEFAULT false,
    auto_join_domains  text[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contact_groups_name ON contact_groups (lower(name));

CREATE TABLE group_members (
    group_id    uuid NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, contact_id)
);
CREATE INDEX group_members_contact ON group_members (contact_id);

-- Captcha solutions already redeemed, until their challenge expires (replay protection).
CREATE TABLE captcha_redeemed (
    signature   text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
