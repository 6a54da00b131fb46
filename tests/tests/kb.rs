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
    let (status, _) = search(&server, &"refund ".repeat(80), None).await;
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
}

async fn get_json(url: String, query: &[(&str, &str)]) -> (u16, Value) {
    let response = http().get(url).query(query).send().await.expect("GET");
    (response.status().as_u16(), response.json().await.expect("json"))
}

async fn suggest(server: &helpdesk_tests::Server, q: &str) -> (u16, Value) {
    get_json(format!("{}/api/v1/kb/suggest", server.gateway), &[("q", q)]).await
}

async fn post_feedback(server: &helpdesk_tests::Server, body: Value) -> u16 {
    http()
        .post(format!("{}/api/v1/kb/feedback", server.gateway))
        .json(&body)
        .send()
        .await
        .expect("POST")
        .status()
        .as_u16()
}

#[tokio::test]
async fn suggestions_while_typing_tolerate_typos_and_count_as_deflection() {
    use helpdesk_kit::auth::bearer;
    use helpdesk_proto::kb::v1::{CreateCategoryRequest, DeflectionReportRequest, ListArticlesRequest, UpdateArticleRequest};

    let env = TestEnv::new().await;
    let server = env.start().await;
    let token = server.clients.service_token().await.expect("token");
    let category = server
        .clients
        .kb()
        .create_category(bearer(CreateCategoryRequest { name: "Sign-in".into(), description: "Accounts".into() }, &token).expect("request"))
        .await
        .expect("category")
        .into_inner();
    let password = server
        .clients
        .create_article(CreateArticleRequest {
            title: "Reset your password".into(),
            body_markdown: "Use *Forgot password* on the sign-in page; a reset link arrives by email.".into(),
            category_id: category.id.clone(),
            tags: vec!["login".into()],
            ..Default::default()
        })
        .await
        .expect("create");
    add(&server, "Shipping times", ArticleStatus::Published, Visibility::Public).await;
    let internal = server
        .clients
        .create_article(CreateArticleRequest {
            title: "Password policy (internal)".into(),
            body_markdown: "Agents only.".into(),
            visibility: Visibility::Internal as i32,
            ..Default::default()
        })
        .await
        .expect("create");

    // The last word is a prefix while it is being typed.
    let (status, hits) = suggest(&server, "how do I reset my passw").await;
    assert_eq!(status, 200);
    assert_eq!(hits[0]["title"], "Reset your password", "{hits}");
    assert!(hits[0]["snippet_html"].as_str().expect("snippet").contains("<mark>"), "{hits}");
    // A typo in a finished word still finds it; anonymous callers never see the internal one.
    let (_, hits) = suggest(&server, "pasword reset ").await;
    assert_eq!(titles(&hits), vec!["Reset your password"]);
    // Nothing that matches no word.
    let (_, hits) = suggest(&server, "zzzzqqq").await;
    assert_eq!(hits.as_array().map(Vec::len), Some(0), "{hits}");
    // Bounded.
    let (status, _) = suggest(&server, &"x".repeat(501)).await;
    assert_eq!(status, 422);

    // Categories are listed through the gateway.
    let (_, categories) = get_json(format!("{}/api/v1/kb/categories", server.gateway), &[]).await;
    assert_eq!(categories[0]["name"], "Sign-in");

    // Feedback: shown, opened, answered; not on articles the caller may not read; kinds checked.
    for kind in ["impression", "impression", "click", "answered"] {
        let body = serde_json::json!({ "article_id": password.id, "kind": kind, "query": "reset my passw" });
        assert_eq!(post_feedback(&server, body).await, 204, "{kind}");
    }
    assert_eq!(post_feedback(&server, serde_json::json!({ "article_id": internal.id, "kind": "click" })).await, 404);
    assert_eq!(post_feedback(&server, serde_json::json!({ "article_id": password.id, "kind": "liked" })).await, 422);
    // A malformed id reads as absent, as everywhere (issue 11: one rule for malformed ids).
    assert_eq!(post_feedback(&server, serde_json::json!({ "article_id": "nope", "kind": "click" })).await, 404);

    let report = server
        .clients
        .kb()
        .deflection_report(bearer(DeflectionReportRequest { since: None }, &token).expect("request"))
        .await
        .expect("report")
        .into_inner();
    let row = &report.articles[0];
    assert_eq!((row.title.as_str(), row.impressions, row.clicks, row.answered), ("Reset your password", 2, 1, 1));
    let contact = server.contact_token("ida@example.com").await;
    let denied = server
        .clients
        .kb()
        .deflection_report(bearer(DeflectionReportRequest { since: None }, &contact).expect("request"))
        .await
        .expect_err("contacts get no report");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // Updates re-render and re-sanitize the body.
    let update = UpdateArticleRequest {
        id: password.id.clone(),
        body_markdown: Some("New steps <script>steal()</script> [x](javascript:steal())".into()),
        ..Default::default()
    };
    let updated = server.clients.kb().update_article(bearer(update, &token).expect("request")).await.expect("update").into_inner();
    assert!(updated.body_html.contains("New steps"), "{}", updated.body_html);
    assert!(!updated.body_html.contains("<script") && !updated.body_html.contains("javascript:"), "{}", updated.body_html);
    assert_eq!(updated.title, "Reset your password", "fields not named stay");
    let bad = UpdateArticleRequest { id: password.id.clone(), category_id: Some(uuid::Uuid::new_v4().to_string()), ..Default::default() };
    let error = server.clients.kb().update_article(bearer(bad, &token).expect("request")).await.expect_err("no such category");
    assert_eq!(error.code(), tonic::Code::InvalidArgument, "{error}");

    // Listing pages through what the caller may read.
    let list = |page_token: String, who: Option<String>| {
        let mut kb = server.clients.kb();
        async move {
            let message = ListArticlesRequest { page_size: 1, page_token, ..Default::default() };
            let request = match who {
                Some(t) => bearer(message, &t).expect("request"),
                None => tonic::Request::new(message),
            };
            kb.list_articles(request).await.expect("list").into_inner()
        }
    };
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = list(page_token, None).await;
        seen.extend(page.articles.into_iter().map(|a| a.title));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, vec!["Reset your password", "Shipping times"]);
    assert_eq!(list(String::new(), Some(token.clone())).await.articles.len(), 1, "page size is honoured");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_folder_of_markdown_imports_as_searchable_articles_and_bad_files_are_reported() {
    use helpdesk::kb_import::{Options, import};
    use helpdesk_proto::kb::v1 as kb;

    let env = TestEnv::new().await;
    let server = env.start().await;
    let folder = tempfile::tempdir().expect("tempdir");
    std::fs::write(folder.path().join("reset-pin.md"), "# Reset your PIN\n\nOpen **Cards** and choose *Reset PIN*.").expect("write");
    std::fs::write(folder.path().join("fees.md"), "Cash withdrawals abroad cost 2%.").expect("write");
    let options = Options {
        visibility: kb::Visibility::Public,
        status: kb::ArticleStatus::Published,
        category_id: String::new(),
    };
    let summary = import(&server.clients, folder.path(), &options).await.expect("import");
    assert_eq!((summary.created, summary.failed), (vec!["fees".to_string(), "reset-pin".to_string()], vec![]));
    let (_, hits) = search(&server, "reset pin", None).await;
    assert_eq!(titles(&hits), vec!["Reset your PIN"]);
    let (_, hits) = search(&server, "withdrawals", None).await;
    assert_eq!(titles(&hits), vec!["fees"]);

    // A file the service refuses is named, the others still go through (unchanged, this time).
    std::fs::write(folder.path().join("huge.md"), format!("# {}\n\nbody", "t".repeat(300))).expect("write");
    let summary = import(&server.clients, folder.path(), &options).await.expect("import");
    assert_eq!(summary.to_string(), "0 created, 0 updated, 2 unchanged, 1 failed");
    assert!(summary.failed[0].0.ends_with("huge.md") && summary.failed[0].1.contains("title"), "{:?}", summary.failed);

    server.stop().await.expect("clean shutdown");
}

/// `helpdesk kb import` run as a user runs it: twice over the same folder, then after edits.
#[tokio::test]
async fn importing_again_upserts_by_slug_says_what_it_did_and_never_renames_silently() {
    use helpdesk_proto::kb::v1::ListArticlesRequest;

    let env = TestEnv::new().await;
    let server = env.start().await;
    let folder = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(folder.path().join("zz")).expect("mkdir");
    std::fs::write(folder.path().join("reset-pin.md"), "# Reset your PIN\n\nOpen Cards.").expect("write");
    std::fs::write(folder.path().join("Card_Fees-.md"), "# Card fees\n\nCash abroad costs 2%.").expect("write");
    let run = async |args: &[&str]| {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-under-test"))
            .args(["kb", "import"])
            .args(args)
            .arg(folder.path())
            .envs(env.child_env())
            .env("HELPDESK_ENDPOINTS__IDENTITY", &server.config.shared.endpoints.identity)
            .env("HELPDESK_ENDPOINTS__KB", &server.config.shared.endpoints.kb)
            .env("RUST_LOG", "error")
            .output()
            .await
            .expect("run the cli");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success(), format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)))
    };
    let articles = async || {
        let token = server.service_token().await;
        let request = helpdesk_kit::auth::bearer(ListArticlesRequest::default(), &token).expect("request");
        let mut listed: Vec<(String, String, String)> = server
            .clients
            .kb()
            .list_articles(request)
            .await
            .expect("list")
            .into_inner()
            .articles
            .into_iter()
            .map(|a| (a.slug, a.title, a.body_markdown))
            .collect();
        listed.sort();
        listed
    };

    let (ok, output) = run(&[]).await;
    assert!(ok, "{output}");
    assert!(output.contains("2 created, 0 updated, 0 unchanged, 0 failed"), "{output}");
    assert!(output.contains("Card_Fees-.md: slug card-fees"), "the changed slug is shown: {output}");
    let first = articles().await;
    assert_eq!(first.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(), ["card-fees", "reset-pin"]);

    let (ok, output) = run(&[]).await;
    assert!(ok, "{output}");
    assert!(output.contains("0 created, 0 updated, 2 unchanged, 0 failed"), "{output}");
    assert_eq!(articles().await, first, "nothing duplicated or changed");

    // An edited file updates its article; a second file with the same slug is refused, not merged.
    std::fs::write(folder.path().join("reset-pin.md"), "# Reset your PIN\n\nOpen Cards, then Security.").expect("write");
    std::fs::write(folder.path().join("zz/reset-pin.md"), "# Another PIN page").expect("write");
    let (ok, output) = run(&[]).await;
    assert!(!ok, "a failed file fails the command: {output}");
    assert!(output.contains("0 created, 1 updated, 1 unchanged, 1 failed"), "{output}");
    assert!(output.contains("slug reset-pin is already used by"), "{output}");
    let after = articles().await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[1], ("reset-pin".into(), "Reset your PIN".into(), "Open Cards, then Security.".into()));

    // Importing as drafts is a change too.
    std::fs::remove_file(folder.path().join("zz/reset-pin.md")).expect("remove");
    let (ok, output) = run(&["--draft"]).await;
    assert!(ok && output.contains("0 created, 2 updated, 0 unchanged, 0 failed"), "{output}");

    server.stop().await.expect("clean shutdown");
}

/// Words next to a non-breaking space, an ideographic space, emoji and combining marks: each such
/// article is found, suggested and snippeted over gRPC (cutting a snippet inside U+00A0 once
/// panicked and failed every search that ranked the article).
#[tokio::test]
async fn articles_with_multi_byte_spaces_emoji_and_combining_marks_around_the_match_are_found_and_suggested() {
    use helpdesk_kit::auth::bearer;
    use helpdesk_proto::kb::v1::SearchArticlesRequest;

    let env = TestEnv::new().await;
    let server = env.start().await;
    // No ASCII space in the 40 bytes before the word: backing up for context lands on the
    // multi-byte one.
    let bodies = [
        ("No-break space", format!("{}Étape\u{a0}suivante\u{a0}:\u{a0}demandez\u{a0}un\u{a0}refund\u{a0}maintenant.", "Filler words here. ".repeat(12))),
        ("Ideographic space", format!("{}払い戻し\u{3000}手続き\u{3000}refund\u{3000}です。", "Filler words here. ".repeat(12))),
        ("Emoji and marks", format!("{}👩‍👩‍👧\u{2003}🇩🇪\u{2003}cafe\u{301}\u{2003}refund\u{2003}😀", "Filler words here. ".repeat(12))),
    ];
    for (title, body) in &bodies {
        server
            .clients
            .create_article(CreateArticleRequest { title: (*title).into(), body_markdown: body.clone(), ..Default::default() })
            .await
            .expect("create");
    }
    let token = server.service_token().await;
    let mut kb = server.clients.kb();
    for (query, suggest) in [("refund", false), ("how do I get a refu", true)] {
        let request = bearer(SearchArticlesRequest { query: query.into(), limit: 10 }, &token).expect("request");
        let hits = if suggest { kb.suggest_articles(request).await } else { kb.search_articles(request).await }
            .unwrap_or_else(|status| panic!("{query:?}: {status:?}"))
            .into_inner()
            .hits;
        let mut found: Vec<&str> = hits.iter().map(|h| h.title.as_str()).collect();
        found.sort();
        assert_eq!(found, ["Emoji and marks", "Ideographic space", "No-break space"], "{query:?}");
        for hit in &hits {
            assert!(hit.snippet_html.contains("<mark>refund</mark>"), "{query:?}: {:?}", hit.snippet_html);
        }
    }
    // Through the gateway as well, anonymously.
    let (status, hits) = search(&server, "refund", None).await;
    assert_eq!((status, hits.as_array().map(Vec::len)), (200, Some(3)), "{hits}");

    server.stop().await.expect("clean shutdown");
}
