//! The knowledge base's slice: articles created by staff, searched through the gateway with the
//! caller's visibility applied by the kb service, and Markdown sanitized on the way in.

use helpdesk_proto::kb::v1::{ArticleStatus, CreateArticleRequest, Visibility};
use helpdesk_tests::{TestEnv, http};
use serde_json::Value;

async fn add(server: &helpdesk_tests::Server, title: &str, status: ArticleStatus, visibility: Visibility) -> String {
    server
        .clients
        .create_article(CreateArticleRequest {
            title: title.into(),
            body_markdown: format!("How refunds work.\n\n<script>alert('{title}')</script>\n\n[more](javascript:alert(1))"),
            status: status as i32,
            visibility: visibility as i32,
            ..Default::default()
        })
        .await
        .expect("create article")
        .slug
}

async fn search(server: &helpdesk_tests::Server, query: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = http().get(format!("{}/api/v1/kb/search", server.gateway)).query(&[("q", query)]);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET");
    (response.status().as_u16(), response.json().await.expect("json"))
}

fn titles(hits: &Value) -> Vec<String> {
    let mut titles: Vec<String> = hits
        .as_array()
        .expect("array")
        .iter()
        .map(|h| h["title"].as_str().expect("title").to_string())
        .collect();
    titles.sort();
    titles
}

#[tokio::test]
async fn search_shows_each_caller_only_what_it_may_read() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let public = add(&server, "Refund public", ArticleStatus::Published, Visibility::Public).await;
    add(&server, "Refund members", ArticleStatus::Published, Visibility::SignedIn).await;
    let internal = add(&server, "Refund internal", ArticleStatus::Published, Visibility::Internal).await;
    add(&server, "Refund draft", ArticleStatus::Draft, Visibility::Public).await;

    let (status, anonymous) = search(&server, "refunds", None).await;
    assert_eq!(status, 200);
    assert_eq!(titles(&anonymous), vec!["Refund public"]);

    let contact = server.contact_token("henry@example.com").await;
    let (_, signed_in) = search(&server, "refund", Some(&contact)).await;
    assert_eq!(titles(&signed_in), vec!["Refund members", "Refund public"]);

    let hits = server
        .clients
        .kb()
        .search_articles(
            helpdesk_kit::auth::bearer(
                helpdesk_proto::kb::v1::SearchArticlesRequest { query: "refund".into(), limit: 10 },
                &server.clients.service_token().await.expect("token"),
            )
            .expect("request"),
        )
        .await
        .expect("search")
        .into_inner()
        .hits;
    assert_eq!(hits.len(), 4, "staff and services see drafts and internal articles");

    // Snippets mark the match and escape the rest.
    let snippet = anonymous[0]["snippet_html"].as_str().expect("snippet");
    assert!(snippet.contains("<mark>refunds</mark>"), "{snippet}");
    assert!(!snippet.contains("<script"), "{snippet}");

    // The article page: sanitized HTML for the public one, 404 for an internal one.
    let page: Value = http()
        .get(format!("{}/api/v1/kb/articles/{public}", server.gateway))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let html = page["body_html"].as_str().expect("html");
    assert!(html.contains("<p>How refunds work.</p>"), "{html}");
    assert!(!html.contains("<script") && !html.contains("javascript:"), "{html}");
    let hidden = http()
        .get(format!("{}/api/v1/kb/articles/{internal}", server.gateway))
        .send()
        .await
        .expect("GET");
    assert_eq!(hidden.status(), 404);

    // Bounded queries, and contacts cannot write.
    let (status, _) = search(&server, &"refund ".repeat(40), None).await;
    assert_eq!(status, 422);
    let write = server
        .clients
        .kb()
        .create_article(
            helpdesk_kit::auth::bearer(
                CreateArticleRequest { title: "Mine".into(), ..Default::default() },
                &contact,
            )
            .expect("request"),
        )
        .await
        .expect_err("contacts cannot write");
    assert_eq!(write.code(), tonic::Code::PermissionDenied);

    server.stop().await.expect("clean shutdown");
    env.cleanup().await;
}
