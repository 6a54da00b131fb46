//! The client's IP address, for identity's login throttling: the TCP peer, unless the peer is a
//! configured reverse proxy — then the last `X-Forwarded-For` entry that is not itself a trusted
//! proxy. Headers from anyone else are ignored, so a client cannot choose its own address.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::{error::ApiError, identity::Identity};

pub struct ClientIp(pub IpAddr);

/// The client address given the peer, the forwarding header and the trusted proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

impl<S> FromRequestParts<S> for ClientIp
where
    Identity: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::internal("the server was not started with connection info"))?;
        Ok(ClientIp(client_ip(peer, &parts.headers, &identity.settings.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("ip")
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn an_untrusted_peer_cannot_name_another_address() {
        assert_eq!(client_ip(ip("198.51.100.1"), &forwarded("203.0.113.9"), &[]), ip("198.51.100.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_counts() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let headers = forwarded("1.2.3.4, 203.0.113.9, 10.0.0.2");
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &proxies), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.1"), &forwarded("junk"), &proxies), ip("10.0.0.1"));
    }
}
