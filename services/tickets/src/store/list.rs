//! Ticket lists: My Tickets for contacts (own or group scope) and queues for agents, with filters,
//! sorts, full-text search and keyset pages, plus per-queue counts. A contact's lists always start
//! from an index on their own or their group's tickets, so they stay fast however many tickets
//! the whole desk holds.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::{Store, TICKET_COLUMNS, TICKET_JOINS, Viewer, ticket_from_row};
use crate::domain::{
    TicketError,
    COMPLETED, PENDING, Ticket,
    query::{Cursor, ListQuery, NO_DUE_DATE_MICROS, Queue, Scope, Sort},
};

/// Counts per queue and per category for one viewer.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub pending: i64,
    pub completed: i64,
    pub by_category: Vec<(Uuid, i64)>,
}

/// The SQL sort expression and how a row's value becomes the cursor's i64.
fn sort_expression(sort: Sort) -> &'static str {
    match sort {
        Sort::Created => "t.created_at",
        Sort::Updated => "t.updated_at",
        Sort::Due => "COALESCE(t.due_at, '9999-12-31T00:00:00Z'::timestamptz)",
        Sort::Priority => "t.priority_rank::bigint",
    }
}

fn cursor_value(sort: Sort, ticket: &Ticket) -> i64 {
    match sort {
        Sort::Created => ticket.created_at.timestamp_micros(),
        Sort::Updated => ticket.updated_at.timestamp_micros(),
        Sort::Due => ticket.due_at.map_or(NO_DUE_DATE_MICROS, |d| d.timestamp_micros()),
        Sort::Priority => i64::from(ticket.priority_rank),
    }
}

pub fn next_cursor(query: &ListQuery, last: &Ticket) -> Cursor {
    Cursor {
        sort: query.sort,
        ascending: query.ascending,
        value: cursor_value(query.sort, last),
        id: last.id,
    }
}

/// The rows a viewer's list starts from. A contact's are fetched through their own (or their
/// group's) index first — the `OFFSET 0` keeps the planner from starting at a desk-wide index
/// (full-text or by date) instead — so a contact's list costs the same at a thousand tickets or a
/// million. Unverified tickets (a guest's in their name, not confirmed) are never a contact's.
fn push_source(builder: &mut QueryBuilder<Postgres>, viewer: Viewer, scope: Scope) {
    match (viewer, scope) {
        (Viewer::Contact(me), Scope::Own) => {
            builder.push("(SELECT * FROM tickets WHERE NOT unverified AND contact_id = ").push_bind(me).push(" OFFSET 0)");
        }
        (Viewer::Contact(me), Scope::Group) => {
            builder
                .push(
                    "(SELECT * FROM tickets WHERE NOT unverified AND group_id IN (SELECT gm.group_id FROM group_members gm
                      JOIN contact_groups g ON g.id = gm.group_id WHERE g.share_tickets AND gm.contact_id = ",
                )
                .push_bind(me)
                .push(") OFFSET 0)");
        }
        (Viewer::Staff(_), _) => {
            builder.push("tickets");
        }
    }
}

fn push_filters(builder: &mut QueryBuilder<Postgres>, query: &ListQuery, viewer: Viewer) {
    match query.queue {
        Queue::All => {}
        Queue::Pending => {
            builder.push(" AND t.status_kind = ").push_bind(PENDING);
        }
        Queue::Completed => {
            builder.push(" AND t.status_kind = ").push_bind(COMPLETED);
        }
        Queue::Mine => {
            let me = match viewer {
                Viewer::Staff(Some(id)) => id,
                _ => Uuid::nil(),
            };
            builder.push(" AND t.assignee_id = ").push_bind(me);
        }
        Queue::Unassigned => {
            builder.push(" AND t.assignee_id IS NULL AND t.status_kind = ").push_bind(PENDING);
        }
    }
    let f = &query.filter;
    if !f.statuses.is_empty() {
        builder.push(" AND t.status = ANY(").push_bind(f.statuses.clone()).push(")");
    }
    if !f.priorities.is_empty() {
        builder.push(" AND t.priority = ANY(").push_bind(f.priorities.clone()).push(")");
    }
    if !f.categories.is_empty() {
        builder.push(" AND t.category_id = ANY(").push_bind(f.categories.clone()).push(")");
    }
    let ranges: [(&str, &str, Option<DateTime<Utc>>); 4] = [
        ("t.created_at", ">=", f.created_after),
        ("t.created_at", "<", f.created_before),
        ("t.due_at", ">=", f.due_after),
        ("t.due_at", "<", f.due_before),
    ];
    for (column, op, value) in ranges {
        if let Some(value) = value {
            builder.push(format!(" AND {column} {op} ")).push_bind(value);
        }
    }
    if !f.custom_fields.is_empty() {
        builder
            .push(" AND t.custom_fields @> ")
            .push_bind(sqlx::types::Json(f.custom_fields.clone()));
    }
    if let Some(assignee) = f.assignee {
        builder.push(" AND t.assignee_id = ").push_bind(assignee);
    }
    if let Some(search) = &query.search {
        builder
            .push(" AND t.search @@ websearch_to_tsquery('english', ")
            .push_bind(search.clone())
            .push(")");
    }
}

impl Store {
    /// One page of `query` for `viewer`, with one extra row when another page follows.
    #[tracing::instrument(skip(self), err)]
    pub async fn list(&self, viewer: Viewer, query: &ListQuery) -> Result<Vec<Ticket>, TicketError> {
        let expression = sort_expression(query.sort);
        let (direction, comparison) = if query.ascending { ("ASC", ">") } else { ("DESC", "<") };
        let order = format!(" ORDER BY {expression} {direction}, t.id {direction}");
        // The page's ids are chosen first, from the columns the filters and the sort need (so a
        // group's list is read from its index alone); the rows, names and message counts are
        // looked up for the page only.
        let mut builder = QueryBuilder::new(format!("SELECT {TICKET_COLUMNS} FROM (SELECT t.id FROM "));
        push_source(&mut builder, viewer, query.scope);
        builder.push(" t WHERE true");
        push_filters(&mut builder, query, viewer);
        if let Some(cursor) = query.cursor {
            builder.push(format!(" AND ({expression}, t.id) {comparison} ("));
            match query.sort {
                Sort::Priority => builder.push_bind(cursor.value),
                _ => builder.push_bind(DateTime::<Utc>::from_timestamp_micros(cursor.value).unwrap_or_default()),
            };
            builder.push(", ").push_bind(cursor.id).push(")");
        }
        builder.push(&order).push(" LIMIT ");
        builder.push_bind(i64::from(query.limit) + 1);
        builder.push(format!(") page JOIN tickets t ON t.id = page.id {TICKET_JOINS}{order}"));
        let rows = builder.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(ticket_from_row).collect::<sqlx::Result<_>>()?)
    }

    /// Pending and completed counts, and counts per category, for the viewer's scope.
    #[tracing::instrument(skip(self), err)]
    pub async fn counts(&self, viewer: Viewer, scope: Scope) -> Result<Counts, TicketError> {
        let mut builder = QueryBuilder::new("SELECT t.status_kind, t.category_id, count(*) AS n FROM ");
        push_source(&mut builder, viewer, scope);
        builder.push(" t GROUP BY t.status_kind, t.category_id");
        let mut counts = Counts::default();
        for row in builder.build().fetch_all(&self.pool).await? {
            let kind: i16 = row.try_get("status_kind")?;
            let category: Option<Uuid> = row.try_get("category_id")?;
            let n: i64 = row.try_get("n")?;
            if kind == COMPLETED {
                counts.completed += n;
            } else {
                counts.pending += n;
            }
            if let Some(category) = category {
                match counts.by_category.iter_mut().find(|(c, _)| *c == category) {
                    Some((_, total)) => *total += n,
                    None => counts.by_category.push((category, n)),
                }
            }
        }
        Ok(counts)
    }
}
