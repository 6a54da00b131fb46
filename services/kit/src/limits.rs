//! Limits that more than one part must agree on, so a channel never produces what the service
//! behind it refuses (a mail cut to 256 KiB plus a marker once exceeded tickets' 256 KiB limit and
//! every long mail was quarantined). One number, applied once, by whoever receives the text.

/// The longest message text (UTF-8 bytes) a ticket message stores, marker of a cut included.
pub const MAX_MESSAGE_TEXT_BYTES: usize = 256 * 1024;

/// The longest sanitized HTML body a ticket message stores.
pub const MAX_MESSAGE_HTML_BYTES: usize = 256 * 1024;
