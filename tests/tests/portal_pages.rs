//! The portal's page framework over HTTP, as a browser would meet it (the pages themselves are
//! walked in Chromium by `portal_browser.rs`): the headers every page carries (a strict CSP,
//! no-store, `Vary: Cookie`), content-hashed immutable static files, gzip, the 404 page in the
//! site's look (JSON stays under `/api/`), escaping of stored text, and CSRF: every form post
//! outside the API must carry this browser's token, in the form or a header.

use helpdesk_proto::kb::v1::{ArticleStatus, CreateArticleRequest, Visibility};
use helpdesk_tests::{TestEnv, gateway::{first_visit, set_cookies}, http};
use reqwest::{Response, header};

fn header_of(response: &Response, name: header::HeaderName) -> String {
    response.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", ")
}

#[tokio::test]
async fn pages_carry_a_strict_csp_no_store_and_hashed_immutable_assets() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let client = http();
    let response = client.get(format!("{}/", server.gateway)).send().await.expect("GET /");
    assert_eq!(response.status(), 200);
    assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/html"));
    let csp = header_of(&response, header::CONTENT_SECURITY_POLICY);
    for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-store");
    assert!(header_of(&response, header::VARY).contains("Cookie"));
    assert_eq!(header_of(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header_of(&response, header::REFERRER_POLICY), "same-origin");
    let cookie = set_cookies(&response).into_iter().find(|c| c.starts_with("__Host-hd_visitor=")).expect("visitor cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("Path=/"), "{cookie}");
    let html = response.text().await.expect("html");
    assert!(html.contains(">Log in<") && html.contains(">Request new account<") && html.contains(">New ticket<"), "{html}");
    assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing from another origin");

    // The stylesheet: a hashed name, cached for a year, and an unhashed name is not served.
    let css = html.split("rel=\"stylesheet\" href=\"").nth(1).and_then(|r| r.split('"').next()).expect("stylesheet");
    assert!(css.starts_with("/static/portal.") && css.ends_with(".css") && css.len() > "/static/portal..css".len(), "{css}");
    let response = client.get(format!("{}{css}", server.gateway)).send().await.expect("GET css");
    assert_eq!(response.status(), 200);
    assert_eq!(header_of(&response, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/css"));
    let response = client.get(format!("{}/static/portal.css", server.gateway)).send().await.expect("GET");
    assert_eq!(response.status(), 404);

    // gzip when asked for.
    let response = client.get(format!("{}/", server.gateway)).header(header::ACCEPT_ENCODING, "gzip").send().await.expect("GET");
    assert_eq!(header_of(&response, header::CONTENT_ENCODING), "gzip");

    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn unknown_pages_get_the_404_page_in_the_sites_look_and_the_api_keeps_json() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let client = http();
    let response = client.get(format!("{}/no/such/page", server.gateway)).send().await.expect("GET");
    assert_eq!(response.status(), 404);
    assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/html"));
    assert!(header_of(&response, header::CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"));
    let html = response.text().await.expect("html");
    assert!(html.contains("<h1 id=\"error-title\">Page not found</h1>"), "{html}");
    assert!(html.contains(">Knowledge base<") && html.contains("Support Center"), "the site's header: {html}");

    let response = client.get(format!("{}/api/v1/no-such-endpoint", server.gateway)).send().await.expect("GET");
    assert_eq!(response.status(), 404);
    assert!(header_of(&response, header::CONTENT_TYPE).starts_with("application/json"));
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn form_posts_need_this_browsers_token_in_the_form_or_a_header() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    let client = http();
    let (visitor, token, _) = first_visit(&server.gateway, "/").await;
    let (other_visitor, other_token, _) = first_visit(&server.gateway, "/").await;
    assert_ne!(token, other_token, "tokens are per browser");
    let post = |cookie: &str, body: String| {
        client
            .post(format!("{}/nowhere", server.gateway))
            .header(header::COOKIE, cookie.to_string())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    // Refused: no token, another browser's token, a token without its cookie, garbage.
    for (cookie, body) in [
        (visitor.as_str(), "name=x".to_string()),
        (visitor.as_str(), format!("csrf_token={other_token}")),
        ("", format!("csrf_token={token}")),
        (visitor.as_str(), "csrf_token=not-a-token".to_string()),
    ] {
        let response = post(cookie, body.clone()).await.expect("POST");
        assert_eq!(response.status(), 403, "{cookie} {body}");
        let html = response.text().await.expect("html");
        assert!(html.contains("Please send the form again"), "{html}");
    }
    // Accepted (and then routed: nothing lives at /nowhere).
    let response = post(&visitor, format!("name=x&csrf_token={token}")).await.expect("POST");
    assert_eq!(response.status(), 404);
    let response = post(&other_visitor, format!("csrf_token={other_token}")).await.expect("POST");
    assert_eq!(response.status(), 404);
    // In a header, as the pages' scripts send it.
    let response = client
        .post(format!("{}/nowhere", server.gateway))
        .header(header::COOKIE, visitor.clone())
        .header("x-csrf-token", token.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 404);
    // In a multipart form (file uploads), first or not.
    let form = reqwest::multipart::Form::new().text("subject", "s").text("csrf_token", token.clone());
    let response = client
        .post(format!("{}/nowhere", server.gateway))
        .header(header::COOKIE, visitor.clone())
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 404);
    let form = reqwest::multipart::Form::new().text("csrf_token", other_token.clone());
    let response = client
        .post(format!("{}/nowhere", server.gateway))
        .header(header::COOKIE, visitor.clone())
        .multipart(form)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 403);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn stored_text_is_escaped_on_the_page() {
    let env = TestEnv::new().await;
    let server = env.start().await;
    server
        .clients
        .create_article(CreateArticleRequest {
            title: "<script>alert('x')</script> & <b>bold</b>".into(),
            body_markdown: "Body".into(),
            status: ArticleStatus::Published as i32,
            visibility: Visibility::Public as i32,
            ..Default::default()
        })
        .await
        .expect("article");
    let html = http().get(format!("{}/", server.gateway)).send().await.expect("GET").text().await.expect("html");
    assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#60;b&#62;bold&#60;/b&#62;"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    server.stop().await.expect("clean shutdown");
}
