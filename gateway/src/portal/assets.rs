//! The portal's static files — one stylesheet and a few small scripts — embedded in the binary
//! and served under content-hashed names (`/static/portal.3f9a1c2b.css`) with an immutable cache
//! policy: a new build changes the name, so browsers never hold a stale copy and never revalidate.
//! The hash is computed once at start from the embedded bytes, so it cannot drift from them.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// One embedded file and the hashed name it is served under.
pub struct Asset {
    /// `portal.css`: what templates and code call it.
    pub name: &'static str,
    /// `portal.3f9a1c2b.css`: what the browser asks for.
    pub hashed: String,
    /// `/static/portal.3f9a1c2b.css`.
    pub url: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let hashed = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{name}.{hash}"),
        };
        Self { url: format!("/static/{hashed}"), hashed, name, content_type, bytes }
    }
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The one stylesheet: the base rules, then each page group's own file.
const STYLESHEET: &str = concat!(
    include_str!("../../static/css/base.css"),
    include_str!("../../static/css/account.css"),
    include_str!("../../static/css/new-ticket.css"),
    include_str!("../../static/css/ticket.css"),
    include_str!("../../static/css/my-tickets.css"),
    include_str!("../../static/css/kb.css"),
);

/// Every file under `gateway/static/`. A page script is added here and named in its template.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        Asset::new("portal.css", CSS, STYLESHEET.as_bytes()),
        Asset::new("portal.js", JS, include_bytes!("../../static/portal.js")),
        Asset::new("new-ticket.js", JS, include_bytes!("../../static/new-ticket.js")),
        Asset::new("ticket.js", JS, include_bytes!("../../static/ticket.js")),
        Asset::new("altcha-solver.js", JS, include_bytes!("../api/altcha-solver.js")),
    ]
});

/// The URL of an embedded file by its plain name; `/static/missing` (a 404) for an unknown one,
/// which the page tests catch.
pub fn url(name: &str) -> &'static str {
    ASSETS.iter().find(|a| a.name == name).map_or("/static/missing", |a| a.url.as_str())
}

/// `GET /static/{file}`: only hashed names are served, so every answer can be cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.hashed == file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_extension_and_change_with_the_content() {
        let a = Asset::new("portal.css", CSS, b"body{}");
        let b = Asset::new("portal.css", CSS, b"body{color:red}");
        assert!(a.hashed.starts_with("portal.") && a.hashed.ends_with(".css"), "{}", a.hashed);
        assert_eq!(a.hashed.len(), "portal.12345678.css".len());
        assert_ne!(a.hashed, b.hashed);
        assert_eq!(a.url, format!("/static/{}", a.hashed));
    }

    #[test]
    fn every_embedded_file_has_a_url() {
        for name in ["portal.css", "portal.js", "new-ticket.js", "ticket.js", "altcha-solver.js"] {
            assert!(url(name).starts_with("/static/") && url(name) != "/static/missing", "{name}");
        }
        assert_eq!(url("nope.js"), "/static/missing");
    }
}
