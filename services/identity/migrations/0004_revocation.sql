-- Subjects whose tokens every part refuses (see kit::auth::revocations): blocked contacts and
-- deactivated staff (`blocked`), and, after an unblock, a reactivation or a role change, the tokens
-- issued before `since`. One row per subject, its latest state; `since` also orders the updates.
CREATE TABLE revocations (
    subject_id uuid PRIMARY KEY,
    blocked    boolean NOT NULL,
    since      timestamptz NOT NULL
);
