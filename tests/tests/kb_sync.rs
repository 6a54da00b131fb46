//! The search index of every kb instance follows the database: two kb instances on one database
//! and one NATS prefix see each other's creates, updates, unpublishes and deletes (through the
//! `ArticleChanged` events, since neither calls the other), and an instance started later loads
//! what is already there.

use std::time::Duration;

use helpdesk::{
    cli::Clients,
    serve::{self, Part, Running},
};
use helpdesk_kit::{CancellationToken, auth::bearer};
use helpdesk_proto::kb::v1::{
    ArticleStatus, CreateArticleRequest, DeleteArticleRequest, SearchArticlesRequest, UpdateArticleRequest, Visibility,
};
use helpdesk_tests::{Server, TestEnv, wait_until};

/// Another kb instance beside the test server's, sharing its database and NATS prefix.
async fn second_kb(server: &Server) -> (Running, Clients, CancellationToken) {
    let shutdown = CancellationToken::new();
    let running = serve::start(server.config.clone(), &[Part::Kb], shutdown.clone()).await.expect("second kb starts");
    let mut config = server.config.clone();
    config.shared.endpoints.kb = running.url(Part::Kb).expect("kb runs");
    (running, Clients::connect(&config.shared).expect("clients"), shutdown)
}

/// Titles found by `query`, as staff (`anonymous: false`) or without a token.
async fn titles(clients: &Clients, query: &str, anonymous: bool) -> Vec<String> {
    let message = SearchArticlesRequest { query: query.into(), limit: 10 };
    let request = if anonymous {
        tonic::Request::new(message)
    } else {
        bearer(message, &clients.service_token().await.expect("token")).expect("request")
    };
    let hits = clients.kb().search_articles(request).await.expect("search").into_inner().hits;
    hits.into_iter().map(|h| h.title).collect()
}

/// Polls `check` for up to ten seconds; returns its last value.
const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn two_kb_instances_agree_on_every_change() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let (running_b, b, stop_b) = second_kb(&server).await;
    let a = &server.clients;

    // Created on A → found on B.
    let article = a
        .create_article(CreateArticleRequest {
            title: "Replacing a lost card".into(),
            body_markdown: "Freeze the card in the app, then order a replacement.".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    let found = wait_until(
        WAIT,
        "kb instances agree on the change",
        async || titles(&b, "replacement", true).await,
        |t| *t == ["Replacing a lost card"],
    )
    .await;
    assert_eq!(found, vec!["Replacing a lost card"], "B sees A's new article");

    // Updated on A → B finds it by the new words only.
    let token = a.service_token().await.expect("token");
    let update = UpdateArticleRequest {
        id: article.id.clone(),
        title: Some("Replacing a stolen card".into()),
        body_markdown: Some("Block the card and call us.".into()),
        ..Default::default()
    };
    a.kb().update_article(bearer(update, &token).expect("request")).await.expect("update");
    let found = wait_until(
        WAIT,
        "kb instances agree on the change",
        async || titles(&b, "stolen", true).await,
        |t| *t == ["Replacing a stolen card"],
    )
    .await;
    assert_eq!(found, vec!["Replacing a stolen card"]);
    assert!(titles(&b, "freeze", false).await.is_empty(), "the old body is gone from B's index");

    // Unpublished on A → anonymous callers on B no longer find it; staff still do.
    let unpublish = UpdateArticleRequest {
        id: article.id.clone(),
        status: ArticleStatus::Draft as i32,
        ..Default::default()
    };
    a.kb().update_article(bearer(unpublish, &token).expect("request")).await.expect("unpublish");
    let found = wait_until(
        WAIT,
        "kb instances agree on the change",
        async || titles(&b, "stolen", true).await,
        |t| t.is_empty(),
    )
    .await;
    assert!(found.is_empty(), "a draft is not shown to anonymous callers: {found:?}");
    assert_eq!(titles(&b, "stolen", false).await, vec!["Replacing a stolen card"], "staff see drafts");

    // Made internal and published on B → A agrees it is staff-only.
    let internal = UpdateArticleRequest {
        id: article.id.clone(),
        status: ArticleStatus::Published as i32,
        visibility: Visibility::Internal as i32,
        ..Default::default()
    };
    b.kb().update_article(bearer(internal, &token).expect("request")).await.expect("update on B");
    let found = wait_until(
        WAIT,
        "kb instances agree on the change",
        async || titles(a, "stolen", false).await,
        |t| !t.is_empty(),
    )
    .await;
    assert_eq!(found, vec!["Replacing a stolen card"]);
    assert!(titles(a, "stolen", true).await.is_empty());

    // A third instance started now loads what exists from Postgres.
    let (running_c, c, stop_c) = second_kb(&server).await;
    assert_eq!(titles(&c, "stolen", false).await, vec!["Replacing a stolen card"], "rebuilt at start");

    // Deleted on B → gone from A and C.
    let delete = DeleteArticleRequest { id: article.id.clone() };
    b.kb().delete_article(bearer(delete, &token).expect("request")).await.expect("delete");
    for (name, clients) in [("A", a), ("C", &c)] {
        let found = wait_until(
            WAIT,
            "kb instances agree on the change",
            async || titles(clients, "stolen", false).await,
            |t| t.is_empty(),
        )
        .await;
        assert!(found.is_empty(), "{name} still finds a deleted article: {found:?}");
    }

    stop_b.cancel();
    stop_c.cancel();
    running_b.wait().await.expect("B stops cleanly");
    running_c.wait().await.expect("C stops cleanly");
    server.stop().await.expect("clean shutdown");
}
