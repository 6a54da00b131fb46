//! The knowledge-base pages and the home page over HTTP, as a browser meets them (Chromium walks
//! them in `tests/browser/kb.test.mjs`): what each reader may see is decided by the kb service with
//! their own token (drafts and internal articles never appear, signed-in articles only to
//! contacts), search snippets highlight matches and escape everything else, "login required to
//! read the KB" sends guests to log in and empties the home page of KB content, and the "was this
//! helpful?" form records feedback — only with this browser's CSRF token. Last, the newcomer's
//! demo (`serve all --demo`) and identity's admin call that gives its contact a password.

use helpdesk_kit::auth::bearer;
use helpdesk_proto::{
    identity::v1 as identity,
    kb::v1::{self as kb, ArticleStatus, CreateArticleRequest, Visibility},
};
use helpdesk_tests::{Server, TestEnv};
use reqwest::{StatusCode, header};

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    helpdesk_tests::install_tls_provider();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The page at `path` as a guest (`None`) or a signed-in contact sees it: status and HTML.
async fn page(server: &Server, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = browser().get(format!("{}{path}", server.gateway));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET");
    (response.status(), response.text().await.expect("html"))
}

async fn category(server: &Server, name: &str) -> kb::KbCategory {
    let request = kb::CreateCategoryRequest { name: name.into(), description: format!("All about {name}") };
    let service = server.service_token().await;
    server.clients.kb().create_category(bearer(request, &service).expect("req")).await.expect("category").into_inner()
}

async fn article(server: &Server, title: &str, body: &str, category_id: &str, status: ArticleStatus, visibility: Visibility) -> kb::Article {
    server
        .clients
        .create_article(CreateArticleRequest {
            title: title.into(),
            body_markdown: body.into(),
            category_id: category_id.into(),
            status: status as i32,
            visibility: visibility as i32,
            ..Default::default()
        })
        .await
        .expect("article")
}

/// The titles of a knowledge base with one article of each kind a contact must or must not see.
struct Seeded {
    public: kb::Article,
    members: kb::Article,
    internal: kb::Article,
    draft: kb::Article,
}

async fn seed(server: &Server) -> Seeded {
    let account = category(server, "Account").await;
    let public = "Open **Log in** and choose *Forgot password*.\n\n<script>alert('body')</script>\n\n[help](javascript:alert(1))";
    Seeded {
        public: article(server, "Reset your password", public, &account.id, ArticleStatus::Published, Visibility::Public).await,
        members: article(server, "Members password perks", "Only for members.", &account.id, ArticleStatus::Published, Visibility::SignedIn).await,
        internal: article(server, "Internal password runbook", "Staff only.", &account.id, ArticleStatus::Published, Visibility::Internal).await,
        draft: article(server, "Draft password notes", "Not ready.", &account.id, ArticleStatus::Draft, Visibility::Public).await,
    }
}

#[tokio::test]
async fn kb_pages_show_each_reader_only_what_the_kb_service_lets_them_read() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let seeded = seed(&server).await;
    let contact = server.contact_token("kim@example.com").await;
    let hidden = [&seeded.internal.title, &seeded.draft.title];

    for (who, token) in [("guest", None), ("contact", Some(contact.as_str()))] {
        for path in ["/", "/kb", "/kb/categories/account", "/kb/search?q=password"] {
            let (status, html) = page(&server, path, token).await;
            assert_eq!(status, 200, "{who} {path}");
            assert!(html.contains("Reset your password"), "{who} {path}: {html}");
            for title in hidden {
                assert!(!html.contains(title.as_str()), "{who} {path} shows {title}");
            }
            // Signed-in articles are for contacts only.
            assert_eq!(html.contains(&seeded.members.title), token.is_some(), "{who} {path}");
        }
        for slug in [&seeded.internal.slug, &seeded.draft.slug] {
            let (status, html) = page(&server, &format!("/kb/articles/{slug}"), token).await;
            assert_eq!(status, 404, "{who} {slug}");
            assert!(html.contains("Page not found"), "{html}");
        }
    }
    assert_eq!(page(&server, &format!("/kb/articles/{}", seeded.members.slug), None).await.0, 404);
    assert_eq!(page(&server, &format!("/kb/articles/{}", seeded.members.slug), Some(&contact)).await.0, 200);
    assert_eq!(page(&server, "/kb/categories/no-such-category", None).await.0, 404);
    assert_eq!(page(&server, "/kb/articles/no-such-article", None).await.0, 404);

    // The article: its sanitized body, its category in the breadcrumb, the feedback form.
    let (status, html) = page(&server, &format!("/kb/articles/{}", seeded.public.slug), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1 id=\"article-title\">Reset your password</h1>"), "{html}");
    assert!(html.contains("<strong>Log in</strong>"), "the Markdown is rendered: {html}");
    assert!(!html.contains("<script>alert") && !html.contains("javascript:"), "the body is sanitized: {html}");
    assert!(html.contains("href=\"/kb/categories/account\""), "{html}");
    assert!(html.contains("Was this helpful?") && html.contains("name=\"helpful\" value=\"yes\""), "{html}");
    assert_eq!(html.matches("<h1").count(), 1);

    // The home page: recent articles and the category with its count.
    let (_, html) = page(&server, "/", None).await;
    assert!(html.contains("Recently updated articles") && html.contains("href=\"/kb/categories/account\""), "{html}");
    assert!(html.contains("1 article<"), "the guest reads one article in Account: {html}");
    assert!(html.contains("action=\"/kb/search\""), "{html}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn search_results_highlight_matches_and_escape_hostile_text() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let body = "Refunds take a week. Paste `<img src=x onerror=alert(1)>` & \"quotes\" to test refunds.";
    article(&server, "<i>Refund</i> policy", body, "", ArticleStatus::Published, Visibility::Public).await;

    let (status, html) = page(&server, "/kb/search?q=refunds", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("<mark>Refunds</mark>") || html.contains("<mark>refunds</mark>"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "the snippet's text stays escaped: {html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html.contains("&#60;i&#62;Refund&#60;/i&#62; policy"), "the title is escaped: {html}");
    assert!(html.contains("1 article matches"), "{html}");
    assert!(html.contains("value=\"refunds\""), "the query stays in the box: {html}");

    // No query: only the form. No match: say so and offer a ticket.
    let (status, html) = page(&server, "/kb/search", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("Search the knowledge base") && !html.contains("match"), "{html}");
    let (status, html) = page(&server, "/kb/search?q=%3Cb%3Ezebra%3C%2Fb%3E", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("No articles match “&#60;b&#62;zebra&#60;/b&#62;”"), "{html}");
    assert!(html.contains("href=\"/tickets/new\""), "{html}");

    // A query the service refuses: the form again, with the reason tied to the field.
    let long = "a".repeat(501);
    let (status, html) = page(&server, &format!("/kb/search?q={long}"), None).await;
    assert_eq!(status, 422);
    assert!(html.contains("There is a problem") && html.contains("href=\"#query\""), "{html}");
    assert!(html.contains("aria-describedby=\"query-error\"") && html.contains("is longer than 500 characters"), "{html}");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn with_login_required_for_the_kb_guests_are_sent_to_log_in_and_home_hides_it() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let seeded = seed(&server).await;
    server.change_portal_settings(|s| s.login_required_for_kb = true).await;

    let slug = &seeded.public.slug;
    for path in ["/kb".to_string(), "/kb/categories/account".into(), format!("/kb/articles/{slug}"), "/kb/search?q=reset".into()] {
        let response = browser().get(format!("{}{path}", server.gateway)).send().await.expect("GET");
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()[header::LOCATION].to_str().expect("location").to_string();
        let url = reqwest::Url::parse(&format!("http://portal{location}")).expect("a path");
        assert_eq!(url.path(), "/login", "{location}");
        let next = url.query_pairs().find(|(k, _)| k == "next").map(|(_, v)| v.into_owned());
        assert_eq!(next.as_deref(), Some(path.as_str()), "back to the page after logging in: {location}");
    }
    let (status, html) = page(&server, "/", None).await;
    assert_eq!(status, 200);
    assert!(!html.contains("Reset your password") && !html.contains("action=\"/kb/search\""), "{html}");
    assert!(!html.contains(">Knowledge base</a></li>"), "the header drops the KB link: {html}");
    assert!(html.contains("Log in to read the knowledge base"), "{html}");

    let contact = server.contact_token("lee@example.com").await;
    for path in ["/", "/kb", "/kb/categories/account"] {
        let (status, html) = page(&server, path, Some(&contact)).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains("Reset your password"), "{path}: {html}");
    }
    server.stop().await.expect("clean shutdown");
}

async fn answered(server: &Server, article_id: &str) -> u64 {
    let service = server.service_token().await;
    let report = server
        .clients
        .kb()
        .deflection_report(bearer(kb::DeflectionReportRequest { since: None }, &service).expect("req"))
        .await
        .expect("report")
        .into_inner();
    report.articles.iter().find(|a| a.article_id == article_id).map_or(0, |a| a.answered)
}

#[tokio::test]
async fn the_helpful_form_records_feedback_with_this_browsers_token_only() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let seeded = seed(&server).await;
    let path = format!("/kb/articles/{}", seeded.public.slug);
    let (cookie, token, _) = helpdesk_tests::gateway::first_visit(&server.gateway, &path).await;
    let post = |slug: String, body: String| {
        browser()
            .post(format!("{}/kb/articles/{slug}/feedback", server.gateway))
            .header(header::COOKIE, cookie.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let slug = seeded.public.slug.clone();

    // Without the token (or with another's): refused, nothing recorded.
    for body in ["helpful=yes".to_string(), "csrf_token=forged&helpful=yes".into()] {
        let response = post(slug.clone(), body).await.expect("POST");
        assert_eq!(response.status(), 403);
    }
    assert_eq!(answered(&server, &seeded.public.id).await, 0);

    // Yes: recorded as "answered", then the article thanks the reader (POST-redirect-GET).
    let response = post(slug.clone(), format!("csrf_token={token}&helpful=yes")).await.expect("POST");
    assert_eq!(response.status(), 303);
    let location = response.headers()[header::LOCATION].to_str().expect("location").to_string();
    assert_eq!(location, format!("{path}?feedback=yes#feedback"));
    assert_eq!(answered(&server, &seeded.public.id).await, 1);
    let (status, html) = page(&server, location.trim_end_matches("#feedback"), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("role=\"status\"") && html.contains("glad it helped"), "{html}");
    assert!(!html.contains("name=\"helpful\""), "the form is replaced by the thanks: {html}");

    // No: nothing the API can record, and the page offers a ticket instead.
    let response = post(slug.clone(), format!("csrf_token={token}&helpful=no")).await.expect("POST");
    assert_eq!(response.status(), 303);
    assert_eq!(answered(&server, &seeded.public.id).await, 1);
    let (_, html) = page(&server, &format!("{path}?feedback=no"), None).await;
    assert!(html.contains("file a new ticket"), "{html}");

    // Bad input and articles the reader may not read.
    let response = post(slug, format!("csrf_token={token}&helpful=maybe")).await.expect("POST");
    assert_eq!(response.status(), 400);
    for hidden in [&seeded.draft, &seeded.internal, &seeded.members] {
        let response = post(hidden.slug.clone(), format!("csrf_token={token}&helpful=yes")).await.expect("POST");
        assert_eq!(response.status(), 404, "{}", hidden.title);
        assert_eq!(answered(&server, &hidden.id).await, 0);
    }
    server.stop().await.expect("clean shutdown");
}

/// The newcomer's demo (`serve all --demo`): the printed login works, the home page shows the
/// demo knowledge base, the contact has tickets in several states, and seeding again adds nothing.
#[tokio::test]
async fn the_demo_seeds_a_support_center_a_newcomer_can_log_in_to() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    helpdesk::demo::seed(&server.clients, Some(&server.gateway)).await.expect("demo seed");
    helpdesk::demo::seed(&server.clients, Some(&server.gateway)).await.expect("seeding again");

    let login = serde_json::json!({ "email": "demo@example.com", "password": "demo-portal-2026" });
    let response = browser().post(format!("{}/api/v1/session", server.gateway)).json(&login).send().await.expect("POST");
    assert_eq!(response.status(), 200, "the printed demo login works");

    let token = server.contact_token("demo@example.com").await;
    let (status, html) = page(&server, "/", Some(&token)).await;
    assert_eq!(status, 200);
    for text in ["Your account", "Tickets and support", "Billing", "Recently updated articles"] {
        assert!(html.contains(text), "{text}: {html}");
    }
    let (_, html) = page(&server, "/kb/search?q=reset+password", None).await;
    assert!(html.contains("How do I reset my password?"), "{html}");
    let (_, html) = page(&server, "/kb", None).await;
    assert_eq!(html.matches("href=\"/kb/articles/").count(), 8, "the demo's eight articles, once each: {html}");

    let (_, tickets) = helpdesk_tests::Client::new(&server.gateway, Some(&token)).get("/api/v1/tickets").await;
    let tickets = tickets.as_array().or(tickets["tickets"].as_array()).cloned().expect("tickets");
    assert_eq!(tickets.len(), 4, "seeding twice files the tickets once: {tickets:?}");
    let states: std::collections::BTreeSet<String> = tickets.iter().map(|t| t["status"].to_string()).collect();
    assert!(states.len() >= 3, "{states:?}");
    server.stop().await.expect("clean shutdown");
}

/// Identity's admin call that sets a contact's password (the demo uses it): admins and services
/// only, a weak password refused, and the contact can then log in.
#[tokio::test]
async fn only_admins_and_services_set_a_contacts_password() {
    use helpdesk_proto::identity::v1::account_service_client::AccountServiceClient;
    let env = TestEnv::new().await;
    let server = env.start().await;
    let contact_id = server.clients.find_or_create_contact("pat@example.com", "Pat").await.expect("contact");
    let mut accounts = AccountServiceClient::new(server.identity_channel());
    let set = |password: &str| identity::SetContactPasswordRequest { contact_id: contact_id.clone(), password: password.into() };

    let contact = server.contact_token("pat@example.com").await;
    let refused = accounts.set_contact_password(bearer(set("long-enough-pass-1"), &contact).expect("req")).await;
    assert_eq!(refused.expect_err("a contact may not").code(), tonic::Code::PermissionDenied);
    let anonymous = accounts.set_contact_password(set("long-enough-pass-1")).await;
    assert_eq!(anonymous.expect_err("nor a stranger").code(), tonic::Code::Unauthenticated);

    let service = server.service_token().await;
    let weak = accounts.set_contact_password(bearer(set("password"), &service).expect("req")).await;
    assert_eq!(weak.expect_err("weak").code(), tonic::Code::InvalidArgument);
    let unknown = identity::SetContactPasswordRequest { contact_id: uuid::Uuid::new_v4().to_string(), password: "long-enough-pass-1".into() };
    let missing = accounts.set_contact_password(bearer(unknown, &service).expect("req")).await;
    assert_eq!(missing.expect_err("unknown").code(), tonic::Code::NotFound);

    accounts.set_contact_password(bearer(set("long-enough-pass-1"), &service).expect("req")).await.expect("set");
    let login = serde_json::json!({ "email": "pat@example.com", "password": "long-enough-pass-1" });
    let response = browser().post(format!("{}/api/v1/session", server.gateway)).json(&login).send().await.expect("POST");
    assert_eq!(response.status(), 200, "the contact, pending activation before, can now log in");
    server.stop().await.expect("clean shutdown");
}
