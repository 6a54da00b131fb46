-- Knowledge-base articles. `status` and `visibility` hold the kb.v1 enum numbers
-- (status 1 draft, 2 published; visibility 1 public, 2 signed-in, 3 internal).
CREATE TABLE categories (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    slug         text NOT NULL UNIQUE,
    description  text NOT NULL DEFAULT '',
    position     integer NOT NULL DEFAULT 0
);

CREATE TABLE articles (
    id             uuid PRIMARY KEY,
    slug           text NOT NULL UNIQUE,
    title          text NOT NULL,
    body_markdown  text NOT NULL,
    body_html      text NOT NULL,
    category_id    uuid REFERENCES categories (id) ON DELETE SET NULL,
    tags           text[] NOT NULL DEFAULT '{}',
    status         smallint NOT NULL CHECK (status IN (1, 2)),
    visibility     smallint NOT NULL CHECK (visibility IN (1, 2, 3)),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- Postgres full text until the tantivy index lands (kb issue #6): title weighs more than body.
    search         tsvector GENERATED ALWAYS AS (
                       setweight(to_tsvector('english', title), 'A') ||
                       setweight(to_tsvector('english', body_markdown), 'B')) STORED
);
CREATE INDEX articles_search ON articles USING gin (search);

-- Events written in the same transaction as the change; see helpdesk_kit::outbox.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    event       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
