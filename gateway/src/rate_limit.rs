//! Per-client rate limits on what anyone may do without signing in: guests' tickets and sign-ups.
//! Each client address (`client_ip`'s notion: the TCP peer, or behind a trusted proxy the
//! forwarded address; IPv6 by its /64, which one host holds whole) has a token bucket (GCRA, the
//! `governor` crate): `burst` requests at once, then one more every `refill_secs`. Over it the
//! answer is 429 `{"error": …}` with `Retry-After`, before the request reaches any service.
//!
//! Memory is bounded: a client whose bucket has refilled is indistinguishable from a new one and
//! is dropped when the table reaches `max_clients` (at most one sweep a second). A table still full
//! of active clients after a sweep refuses everyone for a moment rather than grow: under a flood
//! from that many addresses, a limit that let requests through would not be one.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use serde::{Deserialize, Serialize};

use crate::{client_ip::client_ip, error::ApiError};

/// One limit: `burst` requests at once, then one more every `refill_secs`. `burst = 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub burst: u32,
    pub refill_secs: u64,
}

/// `[gateway.rate_limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Guests' `POST /api/v1/tickets` (signed-in callers are not limited here).
    pub guest_tickets: Rate,
    /// `POST /api/v1/account/signup`.
    pub signups: Rate,
    /// Client addresses remembered per limit (about 100 bytes each).
    pub max_clients: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            guest_tickets: Rate { burst: 10, refill_secs: 60 },
            signups: Rate { burst: 10, refill_secs: 60 },
            max_clients: 100_000,
        }
    }
}

/// A limit shared by every request to the routes it guards; cheap to clone.
#[derive(Clone)]
pub struct RateLimit {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    what: &'static str,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    refill: Duration,
    max_clients: usize,
    last_sweep: Mutex<Instant>,
    trusted_proxies: Vec<IpAddr>,
}

/// The address a client is counted by: IPv6 by its /64 (mapped IPv4 as IPv4).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

impl RateLimit {
    /// `what` names the limit in the answer and the log (`guest tickets`, `sign-ups`).
    pub fn new(what: &'static str, rate: Rate, max_clients: usize, trusted_proxies: &[IpAddr]) -> Self {
        let quota = NonZeroU32::new(rate.burst)
            .and_then(|burst| Quota::with_period(Duration::from_secs(rate.refill_secs.max(1))).map(|q| q.allow_burst(burst)));
        let Some(quota) = quota else {
            return Self { inner: None };
        };
        Self {
            inner: Some(Arc::new(Inner {
                what,
                limiter: RateLimiter::keyed(quota),
                refill: Duration::from_secs(rate.refill_secs.max(1)),
                max_clients: max_clients.max(1),
                last_sweep: Mutex::new(Instant::now()),
                trusted_proxies: trusted_proxies.to_vec(),
            })),
        }
    }

    /// `Err(wait)` when the client must wait before trying again (the portal's guest form asks
    /// directly: its route serves signed-in contacts too).
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(inner) = &self.inner else { return Ok(()) };
        if inner.limiter.len() >= inner.max_clients && !inner.sweep() {
            tracing::error!(limit = inner.what, clients = inner.limiter.len(), "rate-limit table full; refusing");
            return Err(inner.refill);
        }
        inner
            .limiter
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(inner.limiter.clock().now()))
    }

    /// The 429 answer, or `None` to let the request through.
    fn refusal(&self, request: &Request) -> Option<Response> {
        let inner = self.inner.as_ref()?;
        let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
            return Some(ApiError::internal("the server was not started with connection info").into_response());
        };
        let ip = client_ip(peer.ip(), request.headers(), &inner.trusted_proxies);
        let wait = self.check(ip).err()?;
        tracing::warn!(limit = inner.what, client = %ip, "rate limit reached");
        // Whole seconds, rounded up: a client that waits as told is let in.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({ "error": format!("too many {} from your address; try again in {seconds} s", inner.what) })),
        )
            .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        Some(response)
    }
}

impl Inner {
    /// Drops clients whose buckets have refilled, at most once a second; whether there is room now.
    fn sweep(&self) -> bool {
        if let Ok(mut last) = self.last_sweep.lock()
            && last.elapsed() >= Duration::from_secs(1)
        {
            *last = Instant::now();
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.len() < self.max_clients
    }
}

/// Middleware: every request counts.
pub async fn limit(State(limit): State<RateLimit>, request: Request, next: Next) -> Response {
    match limit.refusal(&request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// Middleware: only requests without credentials (guests) count. A guest who sends a made-up
/// `Authorization` header passes here and is then refused by the service that checks it.
pub async fn limit_guests(State(guests): State<RateLimit>, request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    limit(State(guests), request, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("ip")
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_while_others_are_unaffected() {
        let limit = RateLimit::new("tests", Rate { burst: 2, refill_secs: 60 }, 100, &[]);
        assert!(limit.check(ip("203.0.113.1")).is_ok());
        assert!(limit.check(ip("203.0.113.1")).is_ok());
        let wait = limit.check(ip("203.0.113.1")).expect_err("over the burst");
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60), "{wait:?}");
        assert!(limit.check(ip("203.0.113.2")).is_ok());
    }

    #[test]
    fn one_ipv6_host_is_counted_by_its_prefix() {
        let limit = RateLimit::new("tests", Rate { burst: 1, refill_secs: 60 }, 100, &[]);
        assert!(limit.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limit.check(ip("2001:db8:1:2:ffff::9")).is_err(), "the same /64");
        assert!(limit.check(ip("2001:db8:1:3::1")).is_ok(), "another /64");
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let limit = RateLimit::new("tests", Rate { burst: 1, refill_secs: 3600 }, 3, &[]);
        for last in 1..=3 {
            assert!(limit.check(ip(&format!("198.51.100.{last}"))).is_ok());
        }
        // Full of clients still waiting: a newcomer is refused rather than remembered.
        assert!(limit.check(ip("198.51.100.9")).is_err());
        let inner = limit.inner.as_ref().expect("on");
        assert_eq!(inner.limiter.len(), 3);
    }

    #[test]
    fn clients_whose_buckets_refilled_make_room_for_new_ones() {
        let limit = RateLimit::new("tests", Rate { burst: 1, refill_secs: 1 }, 2, &[]);
        assert!(limit.check(ip("198.51.100.1")).is_ok());
        assert!(limit.check(ip("198.51.100.2")).is_ok());
        // governor forgets a key one refill interval after its bucket is full again.
        std::thread::sleep(Duration::from_millis(2100));
        assert!(limit.check(ip("198.51.100.3")).is_ok(), "the refilled two were dropped");
        assert!(limit.inner.as_ref().expect("on").limiter.len() <= 2);
    }

    #[test]
    fn a_burst_of_zero_turns_the_limit_off() {
        let limit = RateLimit::new("tests", Rate { burst: 0, refill_secs: 60 }, 100, &[]);
        for _ in 0..100 {
            assert!(limit.check(ip("203.0.113.1")).is_ok());
        }
    }
}
