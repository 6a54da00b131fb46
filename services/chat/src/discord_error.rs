//! What a failed Discord request means to the bot, decided once for every module: a
//! `serenity::Error` becomes a [`DiscordFailure`] (rate limited, missing permission, unknown
//! channel, archived thread, the user's DMs closed to us, transient, other), [`is_refusal`] says
//! whether Discord refused for good, [`discord_code`] gives its JSON error code, and
//! [`retry_rate_limited`] runs a call again after each 429 until it passes.
//!
//! Why the wait is not always Discord's `retry_after`: with serenity's rate limiter off (a proxy,
//! the tests' fake) serenity reads an error body only as `{"code", "message"}`, and a 429 body
//! (`{"message", "retry_after", "global"}`) has no `code`, so serenity fails to decode it and keeps
//! neither `retry_after` nor `global` (status 429, code -1). The wait is then
//! [`FALLBACK_RETRY_AFTER`], doubling per further 429 up to [`MAX_RETRY_AFTER`]; a body that did
//! decode and names `retry_after` in its message is honoured. Without a proxy serenity's own rate
//! limiter waits 429s out from the headers before the error ever reaches us.

use std::{future::Future, time::Duration};

use serenity::http::{HttpError, StatusCode};

/// Discord's JSON error codes the bot acts on.
const UNKNOWN_CHANNEL: isize = 10003;
const MISSING_ACCESS: isize = 50001;
const CANNOT_MESSAGE_USER: isize = 50007;
const MISSING_PERMISSIONS: isize = 50013;
const THREAD_ARCHIVED: isize = 50083;
/// "A thread has already been created for this message".
pub const THREAD_ALREADY_CREATED: isize = 160004;

/// The wait after a 429 whose `retry_after` serenity could not read.
pub const FALLBACK_RETRY_AFTER: Duration = Duration::from_millis(500);
/// The longest single wait after a 429.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The most one call waits out 429s before their error is handed back — well inside the
/// consumer's `ack_wait`; the consumer then retries the event later, so nothing is dropped.
pub const MAX_RATE_LIMITED_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiscordFailure {
    /// 429: wait (`retry_after` when Discord's body could be read) and ask again.
    RateLimited { retry_after: Option<Duration> },
    /// 403 50013 / 50001: the bot may not post (or see) there.
    MissingPermission,
    /// 404 10003: the channel or thread was deleted.
    UnknownChannel,
    /// 400 50083: the thread is archived; unarchive it and post again.
    ArchivedThread,
    /// 403 50007: the user closed their DMs to the bot (or left every shared server).
    CannotDm,
    /// Discord or the network may answer differently soon (5xx, a connection error).
    Transient,
    /// Anything else: a request Discord refuses as it is.
    Other,
}

impl DiscordFailure {
    pub fn of(error: &serenity::Error) -> Self {
        match error {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
                Self::of_response(response.status_code, response.error.code, &response.error.message)
            }
            serenity::Error::Http(HttpError::Request(_)) | serenity::Error::Io(_) => Self::Transient,
            _ => Self::Other,
        }
    }

    fn of_response(status: StatusCode, code: isize, message: &str) -> Self {
        match code {
            MISSING_PERMISSIONS | MISSING_ACCESS => return Self::MissingPermission,
            UNKNOWN_CHANNEL => return Self::UnknownChannel,
            THREAD_ARCHIVED => return Self::ArchivedThread,
            CANNOT_MESSAGE_USER => return Self::CannotDm,
            _ => {}
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            Self::RateLimited { retry_after: retry_after_in(message) }
        } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Self::Transient
        } else {
            Self::Other
        }
    }

    /// Asking again later may succeed.
    pub fn may_pass(self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient)
    }
}

/// Discord's JSON error code of a failed REST call, if it answered one.
pub fn discord_code(error: &serenity::Error) -> Option<isize> {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => Some(response.error.code),
        _ => None,
    }
}

/// Discord said no for good: a 4xx other than 429 (which is waited out by trying again).
pub fn is_refusal(error: &serenity::Error) -> bool {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            response.status_code.is_client_error() && response.status_code != StatusCode::TOO_MANY_REQUESTS
        }
        _ => false,
    }
}

/// `"retry_after": 0.3` in a 429 body serenity kept as its message, if it kept one.
fn retry_after_in(message: &str) -> Option<Duration> {
    let rest = &message[message.find("\"retry_after\"")? + "\"retry_after\"".len()..];
    let number: String = rest
        .trim_start_matches([' ', ':'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let seconds: f64 = number.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds).min(MAX_RETRY_AFTER))
}

/// How long to wait after the `attempt`-th 429 in a row (from 1).
fn rate_limit_wait(retry_after: Option<Duration>, attempt: u32) -> Duration {
    retry_after.unwrap_or_else(|| {
        FALLBACK_RETRY_AFTER
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(MAX_RETRY_AFTER)
    })
}

/// Runs `call`, waiting out each 429 and calling again while the waits stay within
/// [`MAX_RATE_LIMITED_WAIT`]; any other result is returned as it is.
pub async fn retry_rate_limited<T, F, Fut>(mut call: F) -> serenity::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = serenity::Result<T>>,
{
    let mut attempt = 0;
    let mut waited = Duration::ZERO;
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let DiscordFailure::RateLimited { retry_after } = DiscordFailure::of(&error) else {
            return Err(error);
        };
        attempt += 1;
        let wait = rate_limit_wait(retry_after, attempt);
        waited += wait;
        if waited > MAX_RATE_LIMITED_WAIT {
            return Err(error);
        }
        tracing::info!(wait_ms = wait.as_millis(), attempt, "Discord rate limited the bot; waiting");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discord_codes_decide_before_the_status() {
        assert_eq!(DiscordFailure::of_response(StatusCode::FORBIDDEN, 50013, "Missing Permissions"), DiscordFailure::MissingPermission);
        assert_eq!(DiscordFailure::of_response(StatusCode::FORBIDDEN, 50001, "Missing Access"), DiscordFailure::MissingPermission);
        assert_eq!(DiscordFailure::of_response(StatusCode::NOT_FOUND, 10003, "Unknown Channel"), DiscordFailure::UnknownChannel);
        assert_eq!(DiscordFailure::of_response(StatusCode::BAD_REQUEST, 50083, "Thread is archived"), DiscordFailure::ArchivedThread);
        assert_eq!(DiscordFailure::of_response(StatusCode::FORBIDDEN, 50007, "Cannot send messages to this user"), DiscordFailure::CannotDm);
        assert_eq!(DiscordFailure::of_response(StatusCode::BAD_GATEWAY, -1, ""), DiscordFailure::Transient);
        assert_eq!(DiscordFailure::of_response(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"), DiscordFailure::Other);
    }

    #[test]
    fn a_429_whose_body_serenity_could_not_read_waits_the_fallback_doubling() {
        let failure = DiscordFailure::of_response(StatusCode::TOO_MANY_REQUESTS, -1, "[Serenity] Could not decode json: missing field `code`");
        assert_eq!(failure, DiscordFailure::RateLimited { retry_after: None });
        assert_eq!(rate_limit_wait(None, 1), FALLBACK_RETRY_AFTER);
        assert_eq!(rate_limit_wait(None, 2), FALLBACK_RETRY_AFTER * 2);
        assert_eq!(rate_limit_wait(None, 30), MAX_RETRY_AFTER);
    }

    #[test]
    fn a_retry_after_in_the_kept_body_is_honoured() {
        let failure = DiscordFailure::of_response(StatusCode::TOO_MANY_REQUESTS, 0, r#"{"retry_after": 0.25, "global": true}"#);
        assert_eq!(failure, DiscordFailure::RateLimited { retry_after: Some(Duration::from_millis(250)) });
        assert_eq!(retry_after_in(r#""retry_after": "soon""#), None);
    }
}
