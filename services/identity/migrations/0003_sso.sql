-- Single sign-on: pending logins (state → nonce and PKCE verifier, single use, ten minutes) and
-- sign-ins whose provider gave no verified email, waiting for an address to be verified by mail.
CREATE TABLE sso_logins (
    state_hash     bytea PRIMARY KEY,
    provider       text NOT NULL,
    nonce          text NOT NULL,
    pkce_verifier  text NOT NULL,
    redirect_uri   text NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE TABLE sso_pending_identities (
    ticket_hash  bytea PRIMARY KEY,
    provider     text NOT NULL,
    subject      text NOT NULL,
    name         text NOT NULL DEFAULT '',
    expires_at   timestamptz NOT NULL
);

-- An email-verification link can carry the SSO identity to link once the address is proven.
ALTER TABLE link_tokens ADD COLUMN sso_provider text, ADD COLUMN sso_subject text;
