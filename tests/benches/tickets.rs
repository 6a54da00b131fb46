//! Tickets at a million: seeds 1,000,000 tickets (10,000 contacts, 500 groups, statuses,
//! priorities, categories, subjects and dates mixed within each contact and group, 1–3 messages
//! each; `helpdesk_tests::bench_seed`) into a fresh database and prints how mixed they are, then
//! reports p50/p99 of each contact query through gRPC, and ticket creation through gRPC at
//! concurrency 32 next to the same transaction done directly in Postgres. Prints figures; asserts
//! nothing about time. Run: `deploy/bench.sh tickets`, or with the stack already up
//! `cargo bench -p helpdesk-tests --bench tickets` (HELPDESK_BENCH_TICKETS overrides the ticket
//! count). On the 2-core machine: the release build, then about 75 s of seeding and 2 min of calls.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use helpdesk_kit::auth::{Caller, TokenSigner, bearer, keys};
use helpdesk_proto::tickets::v1::{self as pb, ticket_service_client::TicketServiceClient};
use helpdesk_tests::{
    TestEnv,
    bench_seed::{self, CONTACTS, GROUPS, contact},
};
use tonic::transport::Channel;
use uuid::Uuid;

const SAMPLES: usize = 400;
const CONCURRENCY: usize = 32;
const CREATE_SECONDS: u64 = 10;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let tickets = bench_seed::ticket_count();
    let mut env = TestEnv::new().await;
    env.config.shared.database.max_connections = CONCURRENCY as u32 + 4;
    let pg = env.pg().await;
    println!("# tickets benchmark: {tickets} tickets, {CONTACTS} contacts, {GROUPS} groups");

    let server = env.start().await;
    bench_seed::seed(&pg, tickets).await;
    bench_seed::print_spread(&pg).await;

    let channel = tonic::transport::Endpoint::from_shared(server.config.shared.endpoints.tickets.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let signer = Arc::new(
        TokenSigner::from_pem(&keys::signing_pem(&env.config.shared.auth.key_dir).expect("key"), Duration::from_secs(3600))
            .expect("signer"),
    );
    let tokens: Vec<String> = (0..SAMPLES as i64)
        .map(|n| signer.issue(&Caller::Contact { id: contact((n * 7919) % CONTACTS) }).expect("token").0)
        .collect();

    println!("\n## Contact queries through gRPC ({SAMPLES} calls each, distinct contacts)");
    println!("| query | p50 ms | p99 ms | rows (mean) |");
    println!("|---|---|---|---|");
    let list = |queue: pb::Queue, scope: pb::Scope, sort: pb::SortField, ascending: bool, query: &str, filter: Option<pb::TicketFilter>| {
        pb::ListTicketsRequest {
            queue: queue as i32,
            scope: scope as i32,
            filter,
            sort: sort as i32,
            ascending,
            query: query.into(),
            page_size: 25,
            page_token: String::new(),
        }
    };
    use pb::{Queue, Scope, SortField};
    let cases: Vec<(&str, pb::ListTicketsRequest)> = vec![
        ("queue: all (newest first)", list(Queue::All, Scope::Own, SortField::Created, false, "", None)),
        ("queue: pending", list(Queue::Pending, Scope::Own, SortField::Created, false, "", None)),
        ("queue: completed", list(Queue::Completed, Scope::Own, SortField::Created, false, "", None)),
        ("filter: priority high + status open", list(Queue::All, Scope::Own, SortField::Created, false, "", Some(pb::TicketFilter {
            priority_ids: vec!["high".into()],
            status_ids: vec!["open".into()],
            ..Default::default()
        }))),
        ("sort: due date ascending", list(Queue::Pending, Scope::Own, SortField::Due, true, "", None)),
        ("sort: priority", list(Queue::All, Scope::Own, SortField::Priority, false, "", None)),
        ("search: \"refund card\"", list(Queue::All, Scope::Own, SortField::Created, false, "refund card", None)),
        ("group scope: all", list(Queue::All, Scope::Group, SortField::Created, false, "", None)),
    ];
    for (name, request) in cases {
        let mut client = TicketServiceClient::new(channel.clone());
        let mut latencies = Vec::with_capacity(SAMPLES);
        let mut rows = 0usize;
        for token in &tokens {
            let started = Instant::now();
            let page = client.list_tickets(bearer(request.clone(), token).expect("req")).await.expect("list").into_inner();
            latencies.push(started.elapsed());
            rows += page.tickets.len();
        }
        report(name, &mut latencies, rows as f64 / SAMPLES as f64);
    }
    let mut client = TicketServiceClient::new(channel.clone());
    let mut latencies = Vec::with_capacity(SAMPLES);
    for token in &tokens {
        let started = Instant::now();
        client
            .count_tickets(bearer(pb::CountTicketsRequest { scope: pb::Scope::Own as i32 }, token).expect("req"))
            .await
            .expect("counts");
        latencies.push(started.elapsed());
    }
    report("counts (pending / completed / per category)", &mut latencies, 1.0);

    println!("\n## Ticket creation at concurrency {CONCURRENCY} ({CREATE_SECONDS} s each)");
    let grpc_rate = create_through_grpc(channel.clone(), &tokens).await;
    let direct_rate = create_directly(&pg).await;
    println!("| path | tickets/s |");
    println!("|---|---|");
    println!("| gRPC CreateTicket (validation, auth, transaction, outbox, relay to JetStream) | {grpc_rate:.0} |");
    println!("| the same transaction directly in Postgres | {direct_rate:.0} |");
    println!("| ratio | {:.2} |", grpc_rate / direct_rate);

    server.stop().await.expect("stop");
}

fn report(name: &str, latencies: &mut [Duration], rows: f64) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    println!("| {name} | {:.2} | {:.2} | {rows:.1} |", at(0.50), at(0.99));
}

async fn create_through_grpc(channel: Channel, tokens: &[String]) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(CREATE_SECONDS);
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let mut client = TicketServiceClient::new(channel.clone());
        let token = tokens[worker % tokens.len()].clone();
        workers.push(tokio::spawn(async move {
            let mut made = 0u64;
            while Instant::now() < deadline {
                let request = pb::CreateTicketRequest {
                    subject: "Card declined at the shop".into(),
                    text: "My card was declined twice today although the balance is fine.".into(),
                    ..Default::default()
                };
                client.create_ticket(bearer(request, &token).expect("req")).await.expect("create");
                made += 1;
            }
            made
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for w in workers {
        total += w.await.expect("worker");
    }
    total as f64 / started.elapsed().as_secs_f64().max(CREATE_SECONDS as f64)
}

/// What `Store::create_ticket` does, as plain SQL on a pool of the same size.
async fn create_directly(pg: &sqlx::PgPool) -> f64 {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(CONCURRENCY as u32)
        .connect_with(pg.connect_options().as_ref().clone())
        .await
        .expect("pool");
    let deadline = Instant::now() + Duration::from_secs(CREATE_SECONDS);
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let pool = pool.clone();
        workers.push(tokio::spawn(async move {
            let mut made = 0u64;
            let contact = contact(worker as i64);
            while Instant::now() < deadline {
                let (ticket, message, event) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
                let mut tx = pool.begin().await.expect("begin");
                sqlx::query(
                    "INSERT INTO tickets.tickets (id, subject, contact_id, channel, status, status_kind, priority, priority_rank, group_id, custom_fields, search)
                     VALUES ($1, $2, $3, 1, 'open', 1, 'normal', 2,
                             (SELECT gm.group_id FROM tickets.group_members gm WHERE gm.contact_id = $3 ORDER BY gm.group_id LIMIT 1),
                             '{}', to_tsvector('english', $2 || ' ' || left($4, 4096)))",
                )
                .bind(ticket)
                .bind("Card declined at the shop")
                .bind(contact)
                .bind("My card was declined twice today although the balance is fine.")
                .execute(&mut *tx)
                .await
                .expect("ticket");
                sqlx::query(
                    "INSERT INTO tickets.messages (id, ticket_id, kind, author_kind, author_id, body_text, body_html, body_original, channel)
                     VALUES ($1, $2, 1, 1, $3, $4, '', '', 1)",
                )
                .bind(message)
                .bind(ticket)
                .bind(contact.to_string())
                .bind("My card was declined twice today although the balance is fine.")
                .execute(&mut *tx)
                .await
                .expect("message");
                sqlx::query("INSERT INTO tickets.outbox (id, event) VALUES ($1, $2)")
                    .bind(event)
                    .bind(vec![0u8; 160])
                    .execute(&mut *tx)
                    .await
                    .expect("outbox");
                tx.commit().await.expect("commit");
                made += 1;
            }
            made
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for w in workers {
        total += w.await.expect("worker");
    }
    // The relay would publish these bogus rows; they are not events, so remove them first.
    sqlx::query("DELETE FROM tickets.outbox WHERE length(event) = 160 AND get_byte(event, 0) = 0")
        .execute(&pool)
        .await
        .expect("clean outbox");
    total as f64 / started.elapsed().as_secs_f64().max(CREATE_SECONDS as f64)
}
