//! The benchmarks' desk: 10,000 contacts in 500 groups (half of them sharing tickets) and any number
//! of tickets (1,000,000 by default), bulk-loaded in a few set-based statements into a fresh
//! database, in tickets' schema and, for the contacts and groups, identity's too (so pages that show
//! a contact's name or group find them). Used by `benches/tickets.rs` and `benches/portal.rs`.
//!
//! Ticket `i` belongs to contact `i % CONTACTS`; every other attribute (status, priority, category,
//! subject, body, channel, created/updated/due dates, the number of messages) comes from its own
//! hash of `i` ([`hash`]), so each attribute is independent of the contact and of the others. An
//! earlier version took them from `i` modulo small divisors of the contact count, which gave every
//! contact one status, one category and one subject and made the queue figures flatter than real
//! ones; [`print_spread`] shows that the data is mixed within each contact and each group.

use std::time::Instant;

use sqlx::PgPool;
use uuid::Uuid;

pub const CONTACTS: i64 = 10_000;
pub const GROUPS: i64 = 500;

/// The ticket count: `HELPDESK_BENCH_TICKETS`, or 1,000,000.
pub fn ticket_count() -> i64 {
    std::env::var("HELPDESK_BENCH_TICKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

/// Contact `i` (0 ≤ i < CONTACTS).
pub fn contact(i: i64) -> Uuid {
    Uuid::from_u128(0x10000000_0000_4000_8000_000000000000 | i as u128)
}

/// Ticket `i` (1 ≤ i ≤ the ticket count); it belongs to `contact(i % CONTACTS)`.
pub fn ticket(i: i64) -> Uuid {
    Uuid::from_u128(0x30000000_0000_4000_8000_000000000000 | i as u128)
}

/// Category `n` (1 ≤ n ≤ 4: Cards, Loans, Online banking, Transfers).
pub fn category(n: i64) -> Uuid {
    Uuid::from_u128(0x40000000_0000_4000_8000_000000000000 | n as u128)
}

/// SQL for a uniform draw in `0..2^31` from the value `of`, independent for each `salt`
/// (Postgres' own 64-bit hash; the mask keeps it non-negative).
fn hash(of: &str, salt: u32) -> String {
    format!("(hashint8extended({of}, {salt}) & 2147483647)")
}

/// Bulk-loads the desk, printing how long each statement and the whole took.
pub async fn seed(pg: &PgPool, tickets: i64) {
    let seeding = Instant::now();
    let contact_id = |c: &str| format!("('10000000-0000-4000-8000-' || lpad(to_hex({c}), 12, '0'))::uuid");
    let group_id = |g: &str| format!("('20000000-0000-4000-8000-' || lpad(to_hex({g}), 12, '0'))::uuid");
    let h = |salt| hash("i", salt);
    let minutes_old = format!("{} % (730 * 1440)", h(5));
    let statements = [
        format!(
            "INSERT INTO identity.contacts (id, name, status)
             SELECT {}, 'Contact ' || c, 'active' FROM generate_series(0, {CONTACTS} - 1) c",
            contact_id("c")
        ),
        format!(
            "INSERT INTO identity.contact_emails (address_normalized, address, contact_id, is_primary, verified)
             SELECT 'contact' || c || '@bench.example', 'contact' || c || '@bench.example', {}, true, true
             FROM generate_series(0, {CONTACTS} - 1) c",
            contact_id("c")
        ),
        format!(
            "INSERT INTO identity.contact_groups (id, name, share_tickets)
             SELECT {}, 'Group ' || g, g % 2 = 0 FROM generate_series(0, {GROUPS} - 1) g",
            group_id("g")
        ),
        format!(
            "INSERT INTO identity.group_members (group_id, contact_id)
             SELECT {}, {} FROM generate_series(0, {CONTACTS} - 1) c",
            group_id(&format!("c % {GROUPS}")),
            contact_id("c")
        ),
        // Tickets keeps its own copy of the groups (identity's events fill it in production).
        "INSERT INTO tickets.contact_groups (id, share_tickets) SELECT id, share_tickets FROM identity.contact_groups"
            .to_string(),
        "INSERT INTO tickets.group_members (group_id, contact_id) SELECT group_id, contact_id FROM identity.group_members"
            .to_string(),
        "INSERT INTO tickets.categories (id, name) VALUES
            ('40000000-0000-4000-8000-000000000001', 'Cards'), ('40000000-0000-4000-8000-000000000002', 'Loans'),
            ('40000000-0000-4000-8000-000000000003', 'Online banking'), ('40000000-0000-4000-8000-000000000004', 'Transfers')"
            .to_string(),
        // Each attribute from its own hash of i; the dates: created over two years, updated between
        // then and up to 30 days later (never in the future), due 1–21 days after creation on a third.
        format!(
            "WITH words AS (SELECT
                ARRAY['Card declined', 'Refund not received', 'Cannot log in', 'Transfer pending', 'Wrong fee charged',
                      'Lost my card', 'Change my address', 'Loan application status', 'App crashes on start',
                      'Statement missing', 'Exchange rate question', 'Close my account', 'PIN blocked',
                      'Direct debit failed', 'Cash withdrawal problem', 'Top up not showing'] AS subjects,
                ARRAY['The shop said my card was declined although I have money.',
                      'I returned the item two weeks ago and still have no refund.',
                      'The password reset mail never arrives.',
                      'My transfer to another bank has been pending for three days.',
                      'There is a fee on my statement I do not understand.',
                      'Please help, this is urgent.', 'I already tried restarting the app.'] AS bodies,
                ARRAY['open','open','open','in_progress','waiting','completed','completed','completed','completed','closed'] AS statuses,
                ARRAY['low','normal','normal','normal','high','urgent'] AS priorities)
             INSERT INTO tickets.tickets (id, subject, contact_id, channel, status, status_kind, priority, priority_rank,
                                          category_id, due_at, group_id, custom_fields, created_at, updated_at, search)
             SELECT ('30000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
                    w.subjects[1 + a.subject],
                    {contact},
                    1 + a.channel,
                    w.statuses[1 + a.status],
                    CASE WHEN a.status >= 5 THEN 2 ELSE 1 END,
                    w.priorities[1 + a.priority],
                    CASE w.priorities[1 + a.priority] WHEN 'low' THEN 1 WHEN 'normal' THEN 2 WHEN 'high' THEN 3 ELSE 4 END,
                    CASE WHEN a.category = 0 THEN NULL
                         ELSE ('40000000-0000-4000-8000-00000000000' || a.category)::uuid END,
                    CASE WHEN a.due % 3 = 0 THEN a.created + (1 + a.due / 3 % 21) * interval '1 day' END,
                    {group},
                    '{{}}',
                    a.created,
                    a.created + least(a.minutes_old, a.updated) * interval '1 minute',
                    to_tsvector('english', w.subjects[1 + a.subject] || ' ' || w.bodies[1 + a.body])
             FROM generate_series(1, {tickets}) i, words w,
                  LATERAL (SELECT {s} % 16 AS subject, {b} % 7 AS body, {st} % 10 AS status, {p} % 6 AS priority,
                                  {cat} % 5 AS category, {ch} % 3 AS channel, {d} AS due, {u} % (30 * 1440) AS updated,
                                  {minutes_old} AS minutes_old,
                                  now() - ({minutes_old}) * interval '1 minute' AS created) a",
            contact = contact_id(&format!("i % {CONTACTS}")),
            group = group_id(&format!("(i % {CONTACTS}) % {GROUPS}")),
            s = h(1),
            b = h(2),
            st = h(3),
            p = h(4),
            cat = h(6),
            ch = h(7),
            d = h(8),
            u = h(9),
        ),
        "INSERT INTO tickets.messages (id, ticket_id, kind, author_kind, author_id, body_text, channel, created_at)
         SELECT gen_random_uuid(), t.id, 1, 1, t.contact_id::text, 'The first message of the conversation.', t.channel, t.created_at
         FROM tickets.tickets t"
            .to_string(),
        // A quarter get an agent's reply, another quarter a reply and an internal note.
        format!(
            "INSERT INTO tickets.messages (id, ticket_id, kind, author_kind, author_id, body_text, channel, created_at)
             SELECT gen_random_uuid(), t.id, m.kind, 2, '', 'An agent writes back.', 4, t.created_at + interval '1 hour'
             FROM tickets.tickets t, LATERAL (VALUES (1::smallint), (2::smallint)) m(kind)
             WHERE {r} % 4 >= 2 AND (m.kind = 1 OR {r} % 4 = 3)",
            r = hash("t.number", 10)
        ),
        // Support time: a grant per group and an agent's entry on one ticket in 20 (about 1,750
        // minutes per group), so some groups' balances are comfortable, some low, some exhausted.
        format!(
            "INSERT INTO tickets.time_ledger (id, kind, group_id, minutes, note)
             SELECT gen_random_uuid(), 'grant', id, 1000 + {g} % 3000, 'Support plan' FROM tickets.contact_groups",
            g = hash("hashtext(id::text)", 11)
        ),
        format!(
            "INSERT INTO tickets.time_ledger (id, kind, group_id, ticket_id, agent_id, minutes, note, created_at)
             SELECT gen_random_uuid(), 'entry', t.group_id, t.id, 'bench-agent', 5 + {r} % 26, 'Looked into it', t.updated_at
             FROM tickets.tickets t WHERE {r} / 26 % 20 = 0",
            r = hash("t.number", 12)
        ),
        // Autovacuum would have marked the bulk-loaded pages all-visible by now (index-only scans
        // depend on it) and gathered the statistics.
        "VACUUM (ANALYZE)".to_string(),
        // The load's dirty pages written out now, not by a checkpoint in the middle of the timed
        // requests (which showed as the same page's p99 doubling run after run).
        "CHECKPOINT".to_string(),
    ];
    for sql in statements {
        let started = Instant::now();
        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(pg).await.expect("seed statement");
        let head: String = sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        println!("  {head:<40} {:.1} s", started.elapsed().as_secs_f64());
    }
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());
}

/// Prints how mixed the tickets are within each contact and each group: the mean number of
/// distinct values per contact (or group), the pending share's mean and range, and how many days
/// the creation dates span. Uniform data (one status per contact) shows as 1.0 and 0 %/100 %.
pub async fn print_spread(pg: &PgPool) {
    println!("\n## Spread of the data set (per contact and per group)");
    println!("| within | tickets | statuses | priorities | categories | subjects | pending share: mean (min–max) | created span, days | with a due date |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, key) in [("contact", "contact_id"), ("group", "group_id")] {
        let sql = format!(
            "WITH per AS (
                SELECT count(*)::float8 AS n, count(DISTINCT status)::float8 AS statuses,
                       count(DISTINCT priority)::float8 AS priorities, count(DISTINCT category_id)::float8 AS categories,
                       count(DISTINCT subject)::float8 AS subjects, avg((status_kind = 1)::int)::float8 AS pending,
                       (extract(epoch FROM max(created_at) - min(created_at)) / 86400)::float8 AS span,
                       avg((due_at IS NOT NULL)::int)::float8 AS due
                FROM tickets.tickets GROUP BY {key})
             SELECT avg(n), avg(statuses), avg(priorities), avg(categories), avg(subjects),
                    avg(pending), min(pending), max(pending), avg(span), avg(due)
             FROM per"
        );
        let row: (f64, f64, f64, f64, f64, f64, f64, f64, f64, f64) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(pg).await.expect("spread");
        let (n, statuses, priorities, categories, subjects, pending, low, high, span, due) = row;
        println!(
            "| {name} | {n:.0} | {statuses:.1} | {priorities:.1} | {categories:.1} | {subjects:.1} | {:.0} % ({:.0}–{:.0} %) | {span:.0} | {:.0} % |",
            pending * 100.0,
            low * 100.0,
            high * 100.0,
            due * 100.0
        );
    }
}
