//! What an outside gRPC client, written only from the protos, meets at the services: one rule for
//! malformed ids (`NOT_FOUND` everywhere), NUL characters refused before they reach Postgres,
//! slugs taken as given or refused (never renamed), and a gateway that answers JSON 503 when a
//! backend is down and an opaque 500 with a reference id when a backend fails inside.

use helpdesk::serve::{self, Part};
use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    identity::v1::{GetContactRequest, contact_service_client::ContactServiceClient},
    kb::v1::{
        CreateArticleRequest, CreateCategoryRequest, DeleteArticleRequest, FeedbackKind, GetArticleRequest,
        ListArticlesRequest, RecordFeedbackRequest, SearchArticlesRequest, UpdateArticleRequest, get_article_request::Key,
    },
    tickets::v1::{GetTicketRequest, get_ticket_request},
};
use helpdesk_tests::{Client, TestEnv, eventually};
use tonic::Code;

#[tokio::test]
async fn malformed_ids_read_as_not_found_in_every_kb_call_as_in_identity_and_tickets() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.service_token().await;
    let mut kb = server.clients.kb();
    for junk in ["nope", "", "\0", "00000000-0000-0000-0000-00000000000g", "../../etc/passwd"] {
        let codes = [
            kb.get_article(bearer(GetArticleRequest { key: Some(Key::Id(junk.into())) }, &token).expect("request"))
                .await
                .map(|_| ())
                .expect_err("get"),
            kb.update_article(bearer(UpdateArticleRequest { id: junk.into(), ..Default::default() }, &token).expect("request"))
                .await
                .map(|_| ())
                .expect_err("update"),
            kb.delete_article(bearer(DeleteArticleRequest { id: junk.into() }, &token).expect("request"))
                .await
                .map(|_| ())
                .expect_err("delete"),
            kb.record_feedback(tonic::Request::new(RecordFeedbackRequest {
                article_id: junk.into(),
                kind: FeedbackKind::Click as i32,
                query: String::new(),
            }))
            .await
            .map(|_| ())
            .expect_err("feedback"),
            // The other services' rule, for comparison.
            server
                .clients
                .tickets()
                .get_ticket(
                    bearer(GetTicketRequest { key: Some(get_ticket_request::Key::Id(junk.into())) }, &token)
                        .expect("request"),
                )
                .await
                .map(|_| ())
                .expect_err("ticket"),
            ContactServiceClient::new(server.identity_channel())
                .get_contact(bearer(GetContactRequest { id: junk.into() }, &token).expect("request"))
                .await
                .map(|_| ())
                .expect_err("contact"),
        ];
        for status in codes {
            assert_eq!(status.code(), Code::NotFound, "{junk:?}: {status:?}");
        }
    }
    // A malformed reference in a request body still names its field.
    let bad_category = CreateArticleRequest { title: "T".into(), category_id: "nope".into(), ..Default::default() };
    let status = kb.create_article(bearer(bad_category, &token).expect("request")).await.expect_err("bad category");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("category_id:"), "{status:?}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn nul_characters_are_refused_by_kb_before_they_reach_postgres() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.service_token().await;
    let mut kb = server.clients.kb();
    server
        .clients
        .create_article(CreateArticleRequest { title: "Reset your PIN".into(), body_markdown: "Open Cards.".into(), ..Default::default() })
        .await
        .expect("create");

    for query in ["reset\0pin", "\0", "pin\u{1b}[2J"] {
        let search = SearchArticlesRequest { query: query.into(), limit: 5 };
        let status = kb.search_articles(search.clone()).await.expect_err("search");
        assert_eq!(status.code(), Code::InvalidArgument, "{query:?}: {status:?}");
        assert!(status.message().starts_with("query:"), "{status:?}");
        let status = kb.suggest_articles(search).await.expect_err("suggest");
        assert_eq!(status.code(), Code::InvalidArgument, "{query:?}: {status:?}");
    }
    // A pasted question with tabs and line breaks is still a query.
    let pasted = SearchArticlesRequest { query: "reset\tmy\npin".into(), limit: 5 };
    assert_eq!(kb.search_articles(pasted).await.expect("search").into_inner().hits.len(), 1);

    for slug in ["reset-your-pin\0", "\0", "reset\0your-pin"] {
        for request in [tonic::Request::new(GetArticleRequest { key: Some(Key::Slug(slug.into())) }),
            bearer(GetArticleRequest { key: Some(Key::Slug(slug.into())) }, &token).expect("request")]
        {
            let status = kb.get_article(request).await.expect_err("slug with NUL");
            assert_eq!(status.code(), Code::NotFound, "{slug:?}: {status:?}");
        }
    }
    let article = kb
        .get_article(GetArticleRequest { key: Some(Key::Slug("reset-your-pin".into())) })
        .await
        .expect("the real slug")
        .into_inner();

    let feedback = RecordFeedbackRequest { article_id: article.id, kind: FeedbackKind::Click as i32, query: "pin\0".into() };
    assert_eq!(kb.record_feedback(feedback).await.expect_err("feedback").code(), Code::InvalidArgument);
    let body = CreateArticleRequest { title: "Nul body".into(), body_markdown: "a\0b".into(), ..Default::default() };
    let status = kb.create_article(bearer(body, &token).expect("request")).await.expect_err("body");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("body_markdown:"), "{status:?}");
    let category = CreateCategoryRequest { name: "Cards".into(), description: "x\0y".into() };
    let status = kb.create_category(bearer(category, &token).expect("request")).await.expect_err("description");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn slugs_are_taken_as_given_or_refused_and_never_renamed() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.service_token().await;
    let mut kb = server.clients.kb();
    let create = |title: &str, slug: &str| CreateArticleRequest {
        title: title.into(),
        body_markdown: "Body.".into(),
        slug: slug.into(),
        ..Default::default()
    };
    let first = kb.create_article(bearer(create("Reset your PIN", "reset-pin"), &token).expect("request")).await.expect("create");
    assert_eq!(first.into_inner().slug, "reset-pin");

    let status = kb.create_article(bearer(create("Another", "reset-pin"), &token).expect("request")).await.expect_err("taken");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().starts_with("slug:") && status.message().contains("reset-pin"), "{status:?}");
    // A slug derived from the title follows the same rule.
    let derived = kb.create_article(bearer(create("Card fees", ""), &token).expect("request")).await.expect("derived");
    assert_eq!(derived.into_inner().slug, "card-fees");
    let status = kb.create_article(bearer(create("Card fees!", ""), &token).expect("request")).await.expect_err("taken");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    for bad in ["reset-pin-", "Reset PIN", " reset-pin", "reset--pin", "réinitialiser"] {
        let status = kb.create_article(bearer(create("Bad slug", bad), &token).expect("request")).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        assert!(status.message().starts_with("slug:"), "{status:?}");
    }
    let listed = kb
        .list_articles(bearer(ListArticlesRequest::default(), &token).expect("request"))
        .await
        .expect("list")
        .into_inner()
        .articles;
    let slugs: Vec<&str> = listed.iter().map(|a| a.slug.as_str()).collect();
    assert_eq!(slugs, ["reset-pin", "card-fees"], "nothing was created under another slug");

    let category = || CreateCategoryRequest { name: "Cards".into(), description: String::new() };
    kb.create_category(bearer(category(), &token).expect("request")).await.expect("category");
    let status = kb.create_category(bearer(category(), &token).expect("request")).await.expect_err("same name");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_gateway_answers_json_503_for_a_stopped_kb_and_an_opaque_500_for_a_failure_inside_it() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    // A kb and a gateway of their own, so this kb can be stopped while identity keeps running.
    let kb_stop = helpdesk_kit::CancellationToken::new();
    let kb = serve::start(server.config.clone(), &[Part::Kb], kb_stop.clone()).await.expect("kb starts");
    let mut config = server.config.clone();
    config.shared.endpoints.kb = kb.url(Part::Kb).expect("kb runs");
    let gateway_stop = helpdesk_kit::CancellationToken::new();
    let gateway = serve::start(config, &[Part::Gateway], gateway_stop.clone()).await.expect("gateway starts");
    let api = Client::new(&gateway.url(Part::Gateway).expect("gateway runs"), None);
    let (status, _) = api.get("/api/v1/kb/categories").await;
    assert_eq!(status, 200);

    // A failure inside kb (its table is gone): 500 with kb's reference id and nothing of the cause.
    let pg = env.pg().await;
    sqlx::query("ALTER TABLE kb.categories RENAME TO categories_gone").execute(&pg).await.expect("rename");
    let (status, body) = api.get("/api/v1/kb/categories").await;
    assert_eq!(status, 500, "{body}");
    let message = body["error"].as_str().expect("a JSON error");
    assert!(message.starts_with("internal error (reference "), "{body}");
    assert!(!message.contains("categories") && !message.contains("relation"), "{body}");
    sqlx::query("ALTER TABLE kb.categories_gone RENAME TO categories").execute(&pg).await.expect("rename back");

    // kb stopped: 503 JSON, no transport error text.
    kb_stop.cancel();
    kb.wait().await.expect("kb stops");
    let mut last = (0, serde_json::Value::Null);
    eventually("the gateway notices kb is gone", async || {
        last = api.get("/api/v1/kb/search?q=pin").await;
        last.0 == 503
    })
    .await;
    let message = last.1["error"].as_str().expect("a JSON error");
    assert_eq!(message, "a backend service is unavailable; try again shortly");

    gateway_stop.cancel();
    gateway.wait().await.expect("gateway stops");
    server.stop().await.expect("clean shutdown");
}
