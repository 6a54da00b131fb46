//! Chat benchmark: the Discord channel end to end, against the fake Discord (`helpdesk_tests::discord`)
//! with serenity itself in the loop, printed as figures (no assertions: timings depend on the
//! machine; docs/benchmarks.md holds the last recorded ones).
//!
//! Run with the local stack up:
//!   deploy/bench.sh chat     (or: eval "$(deploy/stack.sh env)" && cargo bench -p helpdesk-tests --bench chat)
//!
//! 1. Intake at a sustained burst: `USERS` people each open a ticket by DM; then `BURST` more
//!    messages, spread round-robin over their DMs, are dispatched by the fake gateway as fast as it
//!    can send them. Figure: messages per second from the first dispatch until the last one is a
//!    stored reply on its ticket (counted in tickets' table of inbound messages).
//! 2. Reply to post: an agent replies over gRPC to one ticket at a time (`REPLIES` replies across
//!    the tickets); latency from just before the `Reply` call (the reply commits inside it) to the
//!    fake's receipt of the bot's `POST /channels/{dm}/messages`: p50 / p99 / max. Then the same
//!    replies `CONCURRENT` at a time, as a busy support team would send them.

use std::time::{Duration, Instant};

use helpdesk_kit::auth::{StaffRole, bearer};
use helpdesk_proto::tickets::v1 as pb;
use helpdesk_tests::{TestEnv, chat::with_discord, discord::FakeDiscord, wait::wait_until};

const USERS: usize = 50;
const BURST: usize = 3_000;
const REPLIES: usize = 200;
const CONCURRENT: usize = 10;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank].as_secs_f64() * 1000.0
}

fn report(label: &str, mut latencies: Vec<Duration>) {
    latencies.sort_unstable();
    println!(
        "{label:<40} n={:>5}  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
}

/// Chat messages tickets has stored (tickets and replies).
async fn stored(pg: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tickets.inbound_messages WHERE channel = 3")
        .fetch_one(pg)
        .await
        .expect("count stored chat messages")
}

#[tokio::main]
async fn main() {
    let env = TestEnv::new().await;
    let fake = FakeDiscord::start().await;
    let config = with_discord(&env.config, &fake.api_url(), FakeDiscord::TOKEN, &[]);
    let server = env.start_with(config).await;
    let pg = env.pg().await;
    wait_until(Duration::from_secs(60), "the bot connects to the fake gateway", async || fake.connected_sessions(), |n| *n == 1).await;

    // 1. Intake.
    let users: Vec<_> = (0..USERS).map(|i| fake.user(&format!("Bench user {i}"))).collect();
    let dms: Vec<u64> = users.iter().map(|user| fake.dm_channel(user)).collect();
    for (user, dm) in users.iter().zip(&dms) {
        fake.send(*dm, user, "My order has not arrived").await;
    }
    wait_until(Duration::from_secs(120), "every user's ticket", async || stored(&pg).await, |n| *n >= USERS as i64).await;
    let started = Instant::now();
    for i in 0..BURST {
        let at = i % USERS;
        fake.send(dms[at], &users[at], &format!("Follow-up {i}: still waiting, order #{}", 10_000 + i)).await;
    }
    let dispatched = started.elapsed();
    let target = (USERS + BURST) as i64;
    wait_until(Duration::from_secs(600), "the burst stored", async || stored(&pg).await, |n| *n >= target).await;
    let elapsed = started.elapsed();
    println!(
        "intake: {BURST} messages over {USERS} DMs dispatched in {:.2} s, stored in {:.2} s: {:.0} messages/s",
        dispatched.as_secs_f64(),
        elapsed.as_secs_f64(),
        BURST as f64 / elapsed.as_secs_f64()
    );

    // 2. Reply to post.
    // Each DM's ticket, from the chat part's own record of its conversations.
    let tickets: Vec<(uuid::Uuid, u64)> = {
        let rows: Vec<(uuid::Uuid, i64)> =
            sqlx::query_as("SELECT ticket_id, channel_id FROM chat.conversations WHERE kind = 'dm' AND ticket_id IS NOT NULL")
                .fetch_all(&pg)
                .await
                .expect("the DMs' tickets");
        let by_dm: std::collections::HashMap<u64, uuid::Uuid> = rows.into_iter().map(|(ticket, dm)| (dm as u64, ticket)).collect();
        dms.iter().map(|dm| (*by_dm.get(dm).unwrap_or_else(|| panic!("no ticket for DM {dm}")), *dm)).collect()
    };
    let (_, agent) = env.staff_token(StaffRole::Agent);
    let reply = |ticket: uuid::Uuid, i: usize| {
        let mut client = server.clients.tickets();
        let agent = agent.clone();
        async move {
            let request = pb::ReplyRequest { ticket_id: ticket.to_string(), text: format!("Reply {i}: it left the warehouse today."), ..Default::default() };
            client.reply(bearer(request, &agent).expect("request")).await.expect("reply");
        }
    };
    let mut sequential = Vec::with_capacity(REPLIES);
    for i in 0..REPLIES {
        let (ticket, dm) = tickets[i % tickets.len()];
        let before = fake.posted(dm).len();
        let sent = Instant::now();
        reply(ticket, i).await;
        let posted = fake.wait_posted(dm, before + 1).await;
        sequential.push(posted[before].at.saturating_duration_since(sent));
    }
    report("reply to post, one at a time", sequential);

    let mut concurrent = Vec::with_capacity(REPLIES);
    for round in 0..REPLIES / CONCURRENT {
        let batch: Vec<_> = (0..CONCURRENT).map(|k| tickets[(round * CONCURRENT + k) % tickets.len()]).collect();
        let before: Vec<usize> = batch.iter().map(|(_, dm)| fake.posted(*dm).len()).collect();
        let sent = Instant::now();
        futures::future::join_all(batch.iter().enumerate().map(|(k, (ticket, _))| reply(*ticket, REPLIES + round * CONCURRENT + k))).await;
        for ((_, dm), before) in batch.iter().zip(before) {
            let posted = fake.wait_posted(*dm, before + 1).await;
            concurrent.push(posted[before].at.saturating_duration_since(sent));
        }
    }
    report(&format!("reply to post, {CONCURRENT} at a time"), concurrent);

    server.stop().await.expect("stop");
}
