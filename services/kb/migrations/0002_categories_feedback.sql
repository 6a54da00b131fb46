-- Suggestion analytics: one row per impression, click or "this answered my question". Rows go
-- with their article when it is deleted.
CREATE TABLE feedback (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id  uuid NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    kind        smallint NOT NULL CHECK (kind IN (1, 2, 3)),
    query       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_by_time ON feedback (created_at, article_id);

CREATE INDEX articles_by_category ON articles (category_id, id);

-- The tantivy index replaced Postgres full text for search (kb issue #6).
DROP INDEX articles_search;
ALTER TABLE articles DROP COLUMN search;
