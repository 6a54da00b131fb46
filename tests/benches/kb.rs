//! Knowledge-base benchmark: relevance of suggestions on BANKING77 and their speed with 10,000
//! articles, printed as figures (no assertions: timings depend on the machine).
//!
//! Run with the local stack up:
//!   deploy/stack.sh up && eval "$(deploy/stack.sh env)" && cargo bench -p helpdesk-tests --bench kb
//! The stack's word vectors are used when `HELPDESK_KB__WORD_VECTORS` names them (`stack.sh env`
//! does); unset it to measure the ranking by words alone.
//! `HELPDESK_BANKING77` points at the data set (default `../shared/data/banking77`);
//! `HELPDESK_KB_BENCH=relevance` stops after part 1, for quick turns on ranking.
//!
//! 1. Relevance: one article per intent, built as the data set's README says (title = intent name
//!    with `_` as spaces, body = the first 5 training questions of the intent, in file order),
//!    created through gRPC; every test question goes through `SuggestArticles` (limit 5) as an
//!    anonymous caller; hit@k = the intent's article among the first k.
//! 2. Speed: 9,923 generated articles (titles and bodies drawn from the other training questions)
//!    are written to Postgres, a fresh kb instance and gateway start (the kb loads its index from
//!    Postgres, which is timed too), and each test question, cut off mid-word as if still being
//!    typed, is suggested once through gRPC to the kb service and once through the gateway's
//!    `/api/v1/kb/suggest`, one at a time after a warm-up: p50 / p99 / max per path. The same
//!    queries also run straight on a `SearchIndex` holding the same 10,000 articles — the work the
//!    `SuggestArticles` handler does, without the network.

use std::{collections::HashMap, time::Instant};

use helpdesk::serve::{self, Part};
use helpdesk_kit::CancellationToken;
use helpdesk_proto::kb::v1::{CreateArticleRequest, SearchArticlesRequest, kb_service_client::KbServiceClient};
use helpdesk_tests::{TestEnv, http};

const TOTAL_ARTICLES: usize = 10_000;
const WARM_UP: usize = 200;

/// `text,category` rows of a BANKING77 CSV file (quoted fields, `""` escapes), header skipped.
fn read_csv(path: &str) -> Vec<(String, String)> {
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut rows = Vec::new();
    let (mut field, mut record, mut quoted) = (String::new(), Vec::new(), false);
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                if let [text, category] = record.as_slice() {
                    rows.push((text.clone(), category.clone()));
                }
                record.clear();
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    rows.into_iter().skip(1).collect()
}

/// A small deterministic generator, so every run indexes the same articles.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn percentile(sorted_micros: &[u128], p: f64) -> f64 {
    let rank = ((sorted_micros.len() as f64 - 1.0) * p).round() as usize;
    sorted_micros[rank] as f64 / 1000.0
}

fn report(label: &str, mut micros: Vec<u128>) {
    micros.sort_unstable();
    println!(
        "{label:<34} n={:>5}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        micros.len(),
        percentile(&micros, 0.50),
        percentile(&micros, 0.99),
        *micros.last().unwrap_or(&0) as f64 / 1000.0
    );
}

/// The question as typed so far: about two thirds of it, ending inside a word.
fn typed_so_far(question: &str) -> String {
    let chars: Vec<char> = question.chars().collect();
    let mut end = (chars.len() * 2 / 3).max(1);
    while end < chars.len() && !chars[end - 1].is_alphanumeric() {
        end += 1;
    }
    chars[..end].iter().collect()
}

#[tokio::main]
async fn main() {
    let data = std::env::var("HELPDESK_BANKING77").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/banking77").to_string()
    });
    let train = read_csv(&format!("{data}/train.csv"));
    let test = read_csv(&format!("{data}/test.csv"));
    let mut intents: Vec<String> = Vec::new();
    for (_, intent) in &train {
        if !intents.contains(intent) {
            intents.push(intent.clone());
        }
    }
    println!("BANKING77: {} intents, {} training and {} test questions", intents.len(), train.len(), test.len());

    let env = TestEnv::new().await;
    match &env.config.kb.word_vectors {
        Some(path) => println!("ranking: words and meaning (word vectors {})", path.display()),
        None => println!("ranking: words only ({} is not set)", helpdesk_tests::stack_env::HELPDESK_KB__WORD_VECTORS),
    }
    let server = env.start().await;

    // 1. Relevance.
    let mut intent_of = HashMap::new();
    for intent in &intents {
        let questions: Vec<&str> = train.iter().filter(|(_, i)| i == intent).take(5).map(|(t, _)| t.as_str()).collect();
        let article = server
            .clients
            .create_article(CreateArticleRequest {
                title: intent.replace('_', " "),
                body_markdown: questions.join("\n\n"),
                ..Default::default()
            })
            .await
            .expect("create article");
        intent_of.insert(article.id, intent.clone());
    }
    let mut kb = server.clients.kb();
    let (mut hit1, mut hit5) = (0usize, 0usize);
    let mut micros = Vec::with_capacity(test.len());
    for (question, intent) in &test {
        let started = Instant::now();
        let hits = kb
            .suggest_articles(SearchArticlesRequest { query: question.clone(), limit: 5 })
            .await
            .expect("suggest")
            .into_inner()
            .hits;
        micros.push(started.elapsed().as_micros());
        let rank = hits.iter().position(|h| intent_of.get(&h.id) == Some(intent));
        hit1 += usize::from(rank == Some(0));
        hit5 += usize::from(rank.is_some());
    }
    println!(
        "relevance (SuggestArticles, {} queries): hit@1 {:.4}  hit@5 {:.4}",
        test.len(),
        hit1 as f64 / test.len() as f64,
        hit5 as f64 / test.len() as f64
    );
    report("suggest, 77 articles, gRPC", micros);
    if std::env::var("HELPDESK_KB_BENCH").is_ok_and(|part| part == "relevance") {
        server.stop().await.expect("clean shutdown");
        return;
    }

    // 2. Speed with 10,000 articles.
    let pool = env.pg().await;
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let generated = TOTAL_ARTICLES - intents.len();
    let (mut ids, mut slugs, mut titles, mut bodies, mut htmls) = (vec![], vec![], vec![], vec![], vec![]);
    for n in 0..generated {
        let question = |rng: &mut XorShift| train[rng.below(train.len())].0.clone();
        let words: Vec<String> = question(&mut rng).split_whitespace().take(6).map(str::to_string).collect();
        let body: Vec<String> = (0..3 + rng.below(5)).map(|_| question(&mut rng)).collect();
        ids.push(uuid::Uuid::now_v7());
        slugs.push(format!("generated-{n}"));
        titles.push(words.join(" "));
        htmls.push(body.iter().map(|q| format!("<p>{}</p>", q.replace('&', "&amp;").replace('<', "&lt;"))).collect::<String>());
        bodies.push(body.join("\n\n"));
    }
    sqlx::query(
        "INSERT INTO kb.articles (id, slug, title, body_markdown, body_html, status, visibility)
         SELECT *, 2, 1 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(&ids)
    .bind(&slugs)
    .bind(&titles)
    .bind(&bodies)
    .bind(&htmls)
    .execute(&pool)
    .await
    .expect("insert generated articles");

    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = serve::start(server.config.clone(), &[Part::Kb, Part::Gateway], shutdown.clone())
        .await
        .expect("a fresh kb and gateway start");
    println!(
        "fresh kb instance: loaded {TOTAL_ARTICLES} articles from Postgres and started in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut kb = KbServiceClient::connect(running.url(Part::Kb).expect("kb")).await.expect("connect kb");
    let gateway = running.url(Part::Gateway).expect("gateway");
    let client = http();
    let queries: Vec<String> = test.iter().map(|(q, _)| typed_so_far(q)).collect();

    for query in queries.iter().take(WARM_UP) {
        kb.suggest_articles(SearchArticlesRequest { query: query.clone(), limit: 5 }).await.expect("suggest");
        client.get(format!("{gateway}/api/v1/kb/suggest")).query(&[("q", query)]).send().await.expect("GET");
    }
    let mut grpc = Vec::with_capacity(queries.len());
    let mut gateway_micros = Vec::with_capacity(queries.len());
    let mut found = 0usize;
    for query in &queries {
        let started = Instant::now();
        let hits = kb
            .suggest_articles(SearchArticlesRequest { query: query.clone(), limit: 5 })
            .await
            .expect("suggest")
            .into_inner()
            .hits;
        grpc.push(started.elapsed().as_micros());
        found += usize::from(!hits.is_empty());

        let started = Instant::now();
        let response = client
            .get(format!("{gateway}/api/v1/kb/suggest"))
            .query(&[("q", query)])
            .send()
            .await
            .expect("GET");
        assert!(response.status().is_success(), "gateway answered {}", response.status());
        response.bytes().await.expect("body");
        gateway_micros.push(started.elapsed().as_micros());
    }
    println!("{} typed-so-far queries, {found} with suggestions", queries.len());
    report("suggest, 10,000 articles, gRPC", grpc);
    report("suggest, 10,000 articles, gateway", gateway_micros);

    let vectors = env.config.kb.word_vectors.as_deref().map(|path| helpdesk_kb::index::WordVectors::shared(path).expect("word vectors"));
    let index = helpdesk_kb::index::SearchIndex::with_word_vectors(vectors).expect("index");
    let articles = sqlx::query_as::<_, (uuid::Uuid, String, String, String)>("SELECT id, slug, title, body_markdown FROM kb.articles")
        .fetch_all(&pool)
        .await
        .expect("articles");
    let indexed = articles.into_iter().map(|(id, slug, title, body)| helpdesk_kb::index::IndexedArticle {
        id,
        slug,
        title,
        text: helpdesk_kb::plain_text(&body),
        tags: Vec::new(),
        status: helpdesk_kb::Status::Published,
        visibility: helpdesk_kb::Visibility::Public,
    });
    println!("in-process index: {} articles", index.replace_all(indexed).expect("load"));
    let search = |query: &str| index.search(query, helpdesk_kb::index::Mode::Suggest, helpdesk_kb::Audience::Anonymous, 5);
    for query in queries.iter().take(WARM_UP) {
        search(query).expect("suggest");
    }
    let mut in_process = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        search(query).expect("suggest");
        in_process.push(started.elapsed().as_micros());
    }
    report("suggest, 10,000 articles, in-process", in_process);

    shutdown.cancel();
    running.wait().await.expect("stops");
    server.stop().await.expect("clean shutdown");
}
