//! The contact portal's pages at a million tickets: seeds the tickets benchmark's data set
//! (`helpdesk_tests::bench_seed`: 1,000,000 tickets, 10,000 contacts, 500 groups), starts the whole
//! help desk in-process and measures, through the gateway's HTML routes, the time to answer
//! **My Tickets** (each queue, a filter, a search, the group view) and the **ticket page**: p50/p99
//! of `SAMPLES` requests per page, each as a different contact (`Authorization: Bearer <contact
//! token>`, which the gateway accepts on pages as on the API), one at a time over one keep-alive
//! connection, so the figure is the server's time plus a loopback round trip. Then the bytes of a
//! first visit per page: the HTML and every stylesheet and script it links, as served gzipped. Prints
//! markdown tables; asserts nothing about time (a page that answers other than 200 is counted and
//! shown, so a broken page is visible without hiding the others' figures).
//!
//! Run, with the local stack up (`eval "$(deploy/stack.sh env)"`):
//! `cargo bench -p helpdesk-tests --bench portal` (or `deploy/bench.sh portal`).
//! `HELPDESK_BENCH_TICKETS` scales the data set. On the 2-core machine: the release build, then
//! about 75 s of seeding and under a minute of requests.

use std::time::{Duration, Instant};

use helpdesk_kit::auth::{Caller, TokenSigner, keys};
use helpdesk_tests::{
    TestEnv,
    bench_seed::{self, CONTACTS, GROUPS},
};

/// Requests per timed page, each as a different contact.
const SAMPLES: i64 = 1_000;
/// Untimed requests first, so connection set-up and first-use caches are not in the figures.
const WARM_UP: i64 = 20;
/// A sample's contact: spread over the desk, each a different one.
fn sample_contact(n: i64) -> i64 {
    (n * 7919) % CONTACTS
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let tickets = bench_seed::ticket_count();
    let mut env = TestEnv::new().await;
    env.config.shared.database.max_connections = 10;
    let pg = env.pg().await;
    println!("# portal benchmark: {tickets} tickets, {CONTACTS} contacts, {GROUPS} groups");
    let server = env.start().await;
    bench_seed::seed(&pg, tickets).await;

    let signer = TokenSigner::from_pem(&keys::signing_pem(&env.config.shared.auth.key_dir).expect("key"), Duration::from_secs(3600))
        .expect("signer");
    let token = |c: i64| signer.issue(&Caller::Contact { id: bench_seed::contact(c) }).expect("token").0;
    let http = helpdesk_tests::http();
    let gateway = server.gateway.clone();

    let ticket_of = move |c: i64, n: i64| own_ticket(tickets, c, n);
    let pages: Vec<Page> = vec![
        Page::mine("My Tickets: pending", |_| "/tickets?queue=pending".into()),
        Page::mine("My Tickets: completed", |_| "/tickets?queue=completed".into()),
        Page::mine("My Tickets: all", |_| "/tickets?queue=all".into()),
        Page::mine("My Tickets: filter priority high + status open", |_| "/tickets?queue=all&priority=high&status=open".into()),
        Page::mine("My Tickets: category Cards, due date ascending", |_| {
            format!("/tickets?queue=pending&category={}&sort=due&dir=asc", bench_seed::category(1))
        }),
        Page::mine("My Tickets: search \"refund card\"", |_| "/tickets?queue=all&q=refund+card".into()),
        Page { name: "My Tickets: group view (`scope=group`), all", group: true, path: Box::new(|_| "/tickets?queue=all&scope=group".into()) },
        Page { name: "ticket page `/tickets/{id}`", group: false, path: Box::new(move |(c, n)| format!("/tickets/{}", ticket_of(c, n))) },
    ];

    println!("\n## Server time through the gateway's pages ({SAMPLES} requests each, distinct contacts)");
    println!("| page | p50 ms | p99 ms | HTML KB (mean, raw) | not 200 |");
    println!("|---|---|---|---|---|");
    for page in &pages {
        // The group view is for members of a group that shares tickets (the even-numbered ones).
        let contact_of = |n: i64| {
            let c = sample_contact(n);
            if page.group && (c % GROUPS) % 2 == 1 { (c + 1) % CONTACTS } else { c }
        };
        let mut latencies = Vec::with_capacity(SAMPLES as usize);
        let (mut bytes, mut failures, mut first_failure) = (0usize, 0usize, None);
        for n in -WARM_UP..SAMPLES {
            let sample = n.rem_euclid(SAMPLES);
            let contact = contact_of(sample);
            let url = format!("{gateway}{}", (page.path)((contact, sample)));
            let request = http.get(&url).bearer_auth(token(contact));
            let started = Instant::now();
            let response = request.send().await.expect("HTTP request");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            let elapsed = started.elapsed();
            if n < 0 {
                continue;
            }
            latencies.push(elapsed);
            bytes += body.len();
            if status != reqwest::StatusCode::OK {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("{status} for {url}: {}", snippet(&body)));
            }
        }
        let (p50, p99) = percentiles(&mut latencies);
        println!("| {} | {p50:.2} | {p99:.2} | {:.1} | {failures} |", page.name, bytes as f64 / SAMPLES as f64 / 1024.0);
        if let Some(failure) = first_failure {
            eprintln!("  first failure: {failure}");
        }
    }

    println!("\n## Bytes of a first visit (HTML + the CSS and JS it links, as served with gzip)");
    println!("| page | HTML | CSS | JS | total | total uncompressed |");
    println!("|---|---|---|---|---|---|");
    let contact = sample_contact(1);
    let first_visits = [
        ("support center home `/`", "/".to_string()),
        ("My Tickets `/tickets`", "/tickets".to_string()),
        ("ticket page `/tickets/{id}`", format!("/tickets/{}", ticket_of(contact, 1))),
        ("new ticket `/tickets/new`", "/tickets/new".to_string()),
    ];
    for (name, path) in first_visits {
        first_visit(&http, &gateway, &token(contact), name, &path).await;
    }

    server.stop().await.expect("stop");
}

/// A timed page: its name, whether its callers must be members of a sharing group, and its path
/// for (contact, sample number).
struct Page {
    name: &'static str,
    group: bool,
    path: Box<dyn Fn((i64, i64)) -> String>,
}

impl Page {
    fn mine(name: &'static str, path: fn(i64) -> String) -> Self {
        Self { name, group: false, path: Box::new(move |(c, _)| path(c)) }
    }
}

/// One of contact `c`'s own tickets, a different one for each sample `n` (ticket `i` belongs to
/// contact `i % CONTACTS`, and there is no ticket 0).
fn own_ticket(tickets: i64, c: i64, n: i64) -> uuid::Uuid {
    let per_contact = (tickets / CONTACTS).max(1);
    let i = c + CONTACTS * (n % per_contact);
    bench_seed::ticket(if i == 0 { CONTACTS } else { i })
}

/// One page's first visit: the HTML, then each stylesheet and script it links, each fetched once
/// as a browser with an empty cache would (`Accept-Encoding: gzip`; the gateway compresses), and
/// once more without compression for the raw size.
async fn first_visit(http: &reqwest::Client, gateway: &str, token: &str, name: &str, path: &str) {
    let get = async |path: &str, gzip: bool| {
        let mut request = http.get(format!("{gateway}{path}")).bearer_auth(token);
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        let response = request.send().await.expect("HTTP request");
        let compressed = response.headers().get("content-encoding").is_some_and(|v| v == "gzip");
        (response.status(), compressed, response.bytes().await.expect("body"))
    };
    let (status, _, html) = get(path, false).await;
    if status != reqwest::StatusCode::OK {
        println!("| {name} | {status} | | | | |");
        return;
    }
    let mut served = [0usize; 3];
    let (mut raw, mut uncompressed) = (0, Vec::new());
    let links = linked_assets(&String::from_utf8_lossy(&html));
    for (kind, link) in std::iter::once((None, path.to_string())).chain(links.into_iter().map(|(k, l)| (Some(k), l))) {
        if !link.starts_with('/') || link.starts_with("//") {
            println!("| {name} | links another origin: {link} | | | | |");
            return;
        }
        let ((status, compressed, wire), (_, _, body)) = (get(&link, true).await, get(&link, false).await);
        if status != reqwest::StatusCode::OK {
            println!("| {name} | {link} answers {status} | | | | |");
            return;
        }
        if !compressed {
            uncompressed.push(link);
        }
        served[kind.map_or(0, |k| k as usize)] += wire.len();
        raw += body.len();
    }
    let kb = |n: usize| format!("{:.1} KB", n as f64 / 1024.0);
    let note = if uncompressed.is_empty() { String::new() } else { format!(" (not compressed: {})", uncompressed.join(", ")) };
    println!(
        "| {name} | {} | {} | {} | **{}** | {}{note} |",
        kb(served[0]),
        kb(served[1]),
        kb(served[2]),
        kb(served.iter().sum()),
        kb(raw),
    );
}

#[derive(Clone, Copy)]
enum Asset {
    Css = 1,
    Js = 2,
}

/// The `href` of each `<link rel=stylesheet>` and the `src` of each `<script src>` in a page, in
/// order and without repeats. A plain scan, not an HTML parser: the pages are our own templates.
fn linked_assets(html: &str) -> Vec<(Asset, String)> {
    let mut found: Vec<(Asset, String)> = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = 0;
    while let Some(start) = lower[rest..].find('<').map(|i| rest + i) {
        let end = lower[start..].find('>').map_or(lower.len(), |i| start + i);
        let tag = &lower[start..end];
        let original = &html[start..end];
        let asset = if tag.starts_with("<link") && attribute(tag, tag, "rel").is_some_and(|r| r.split_whitespace().any(|r| r == "stylesheet")) {
            attribute(tag, original, "href").map(|href| (Asset::Css, href))
        } else if tag.starts_with("<script") {
            attribute(tag, original, "src").map(|src| (Asset::Js, src))
        } else {
            None
        };
        if let Some((kind, link)) = asset {
            let link = link.replace("&amp;", "&");
            if !found.iter().any(|(_, l)| *l == link) {
                found.push((kind, link));
            }
        }
        rest = end;
    }
    found
}

/// The value of attribute `name` in a tag (`lower` is the lower-cased `original`, for finding it).
fn attribute(lower: &str, original: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = lower[from..].find(name).map(|i| from + i) {
        from = at + name.len();
        let before_ok = lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_at = original.len() - original[from..].trim_start()[1..].trim_start().len();
        let value = &original[value_at..];
        return Some(match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or_default().to_string(),
            _ => value.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or_default().to_string(),
        });
    }
    None
}

fn percentiles(latencies: &mut [Duration]) -> (f64, f64) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).replace('\n', " ")
}
