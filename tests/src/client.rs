//! The one HTTP client the tests talk to the gateway (and the test OpenID provider) with, as a
//! browser or an integration would: an optional bearer token, one cookie jar fed by every
//! answer's `Set-Cookie` (a cookie set empty or expired leaves it), no automatic redirects, so a
//! test sees every `Location`, and the CSRF token of the last page it read. JSON calls answer
//! (status, body), pages (status, html, headers), anything else the raw `Response`.
//!
//! The jar ignores hosts and ports (everything runs on 127.0.0.1, and browsers do not separate
//! cookies by port either); it sits behind a mutex so a client can be shared by reference.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde_json::Value;

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
    csrf: Mutex<String>,
}

impl Client {
    /// A client of the gateway at `base`, calling as `token`'s owner (or anonymously).
    pub fn new(base: &str, token: Option<&str>) -> Self {
        crate::install_tls_provider();
        Self {
            base: base.to_string(),
            token: token.map(str::to_string),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            jar: Mutex::default(),
            csrf: Mutex::default(),
        }
    }

    /// A browser with no token: what it may do comes from its cookies.
    pub fn browser(base: &str) -> Self {
        Self::new(base, None)
    }

    /// Another client with a copy of this one's token and cookies: the same session replayed
    /// from elsewhere, whatever the server tells either of them afterwards.
    pub fn fork(&self) -> Self {
        Self {
            base: self.base.clone(),
            token: self.token.clone(),
            http: self.http.clone(),
            jar: Mutex::new(self.jar.lock().expect("jar").clone()),
            csrf: Mutex::new(self.csrf()),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// A request to `path` (on the gateway) or to an absolute URL, carrying the token and the jar.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let cookies = self.cookie_header();
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        request
    }

    /// Sends a request made with [`Client::request`]; the cookies it sets go to the jar.
    pub async fn send(&self, request: RequestBuilder) -> Response {
        let response = request.send().await.expect("HTTP request");
        self.absorb(&response);
        response
    }

    async fn json(&self, request: RequestBuilder) -> (u16, Value) {
        let response = self.send(request).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A JSON GET: status and body (`null` when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.json(self.request(Method::GET, path)).await
    }

    /// A JSON POST: status and body (`null` when the body is not JSON).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.json(self.request(Method::POST, path).json(&body)).await
    }

    /// A raw GET (a download, a redirect, a page read as bytes).
    pub async fn get_raw(&self, path: &str) -> Response {
        self.send(self.request(Method::GET, path)).await
    }

    /// Uploads a file as `multipart/form-data`, as the portal's form does.
    pub async fn upload(&self, filename: &str, content_type: &str, data: Vec<u8>) -> (u16, Value) {
        let part = reqwest::multipart::Part::bytes(data)
            .file_name(filename.to_string())
            .mime_str(content_type)
            .expect("mime");
        let form = reqwest::multipart::Form::new().part("file", part);
        self.json(self.request(Method::POST, "/api/v1/attachments").multipart(form)).await
    }

    /// A download: status, headers and body bytes.
    pub async fn download(&self, path: &str) -> (u16, header::HeaderMap, Vec<u8>) {
        let response = self.get_raw(path).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.expect("body").to_vec())
    }

    /// A page: status, HTML and headers; its CSRF token (`<meta name="csrf-token">`) is kept for
    /// the forms posted next.
    pub async fn page(&self, path: &str) -> (StatusCode, String, header::HeaderMap) {
        let response = self.send(self.request(Method::GET, path).header(header::ACCEPT, "text/html")).await;
        self.read_page(response).await
    }

    /// Posts a form (`application/x-www-form-urlencoded`, fields in this order).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let request = self
            .request(Method::POST, path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts a `multipart/form-data` form.
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Response {
        self.send(self.request(Method::POST, path).multipart(form)).await
    }

    /// Status, HTML and headers of an answer that is a page; its CSRF token is kept.
    pub async fn read_page(&self, response: Response) -> (StatusCode, String, header::HeaderMap) {
        let (status, headers) = (response.status(), response.headers().clone());
        let html = response.text().await.expect("html");
        if let Some(token) = html.split("<meta name=\"csrf-token\" content=\"").nth(1).and_then(|r| r.split('"').next()) {
            *self.csrf.lock().expect("csrf") = token.to_string();
        }
        (status, html, headers)
    }

    /// The CSRF token of the last page read (empty before any).
    pub fn csrf(&self) -> String {
        self.csrf.lock().expect("csrf").clone()
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("jar").get(name).cloned()
    }

    /// Puts a cookie in the jar as if a server had set it (to play a forged or replayed one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.lock().expect("jar").insert(name.to_string(), value.to_string());
    }

    /// The `Cookie` header this client sends.
    pub fn cookie_header(&self) -> String {
        self.jar.lock().expect("jar").iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Files `ticket` again and again until one carries `group` (identity's membership events reach
    /// tickets asynchronously); returns that ticket's id.
    pub async fn file_in_group(&self, group: &str, ticket: Value) -> String {
        let what = format!("tickets files the caller's tickets in group {group}");
        let filed = async || self.post("/api/v1/tickets", ticket.clone()).await;
        let (_, filed) = crate::wait_until(Duration::from_secs(10), &what, filed, |(_, filed)| filed["group_id"] == group).await;
        filed["id"].as_str().expect("a filed ticket has an id").to_string()
    }

    fn absorb(&self, response: &Response) {
        let mut jar = self.jar.lock().expect("jar");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().expect("ascii cookie");
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let Some((name, content)) = pair.split_once('=') else { continue };
            let attributes = attributes.to_ascii_lowercase();
            let expired = attributes.contains("max-age=0") || attributes.contains("expires=thu, 01 jan 1970");
            if expired || content.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), content.to_string());
            }
        }
    }
}
