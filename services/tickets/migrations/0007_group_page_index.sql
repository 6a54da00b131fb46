-- A contact group's My Tickets reads every ticket the group shares (about 2,000 in a large
-- group) to sort and count them. With the queue and category columns in the index, the page's
-- ids and the counts per queue and category come from the index alone (once vacuum has marked
-- the pages all-visible), and only the page's rows are read from the table.
CREATE INDEX tickets_group_page ON tickets (group_id, created_at DESC, id DESC)
    INCLUDE (status_kind, category_id) WHERE NOT unverified;
DROP INDEX tickets_group_created;
