//! Classifying an inbound mail before anything acts on it: automatic replies (RFC 3834
//! `Auto-Submitted`, `X-Autoreply`, `X-Autorespond`, Microsoft's `X-Auto-Response-Suppress`),
//! bulk and list mail (`Precedence`, `List-*`), bounces (delivery status reports, null return
//! path, mailer-daemon senders — with the bounced Message-ID dug out of the report), mail from our
//! own addresses, and loop markers. Automatic mail is recorded but never triggers mail or reopens
//! a ticket.

use mail_parser::{Message, MimeHeaders};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    pub auto_submitted: bool,
    pub bulk: bool,
    pub bounce: bool,
    pub from_own_address: bool,
    pub loop_detected: bool,
    /// For bounces: the Message-ID of the mail that bounced, when the report names it.
    pub bounced_message_id: Option<String>,
}

impl Classification {
    /// Mail no person wrote by hand: never acknowledged, never reopens a ticket.
    pub fn is_automatic(&self) -> bool {
        self.auto_submitted || self.bulk || self.bounce || self.from_own_address || self.loop_detected
    }
}

/// The header our outbound mail carries, so a copy of it coming back is recognised as a loop.
pub const LOOP_HEADER: &str = "X-Helpdesk-Loop";

fn header_text<'a>(message: &'a Message<'_>, name: &'a str) -> Option<&'a str> {
    message.header_raw(name).map(str::trim).filter(|v| !v.is_empty())
}

pub fn classify(message: &Message<'_>, sender: &str, own_addresses: &[String]) -> Classification {
    let sender = sender.to_ascii_lowercase();
    let local = sender.split('@').next().unwrap_or_default();
    let auto_submitted = header_text(message, "Auto-Submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"))
        || header_text(message, "X-Autoreply").is_some()
        || header_text(message, "X-Autorespond").is_some()
        || header_text(message, "X-Auto-Response-Suppress").is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("all") || v.contains("oof") || v.contains("autoreply")
        });
    let bulk = header_text(message, "Precedence").is_some_and(|v| {
        matches!(v.to_ascii_lowercase().as_str(), "bulk" | "list" | "junk")
    }) || !message.list_id().is_empty()
        || !message.list_unsubscribe().is_empty()
        || header_text(message, "List-Id").is_some()
        || header_text(message, "List-Unsubscribe").is_some();
    let report = message.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let null_return_path = header_text(message, "Return-Path").is_some_and(|v| v == "<>");
    let daemon = matches!(local, "mailer-daemon" | "postmaster");
    let bounce = report || daemon;
    let own = |address: &str| own_addresses.iter().any(|own| own.eq_ignore_ascii_case(address));
    let from_own_address = !sender.is_empty() && own(&sender);
    let loop_detected = header_text(message, LOOP_HEADER).is_some()
        || header_text(message, "X-Loop").is_some_and(|v| own_addresses.iter().any(|own| v.to_ascii_lowercase().contains(&own.to_ascii_lowercase())));
    Classification {
        // A null return path marks mail that must not be answered (RFC 3834 §3.1.2).
        auto_submitted: auto_submitted || null_return_path,
        bulk,
        bounce,
        from_own_address,
        loop_detected,
        bounced_message_id: if bounce { bounced_message_id(message) } else { None },
    }
}

/// The original Message-ID in a bounce: from an attached `message/rfc822` (or its headers part),
/// else from a `Message-ID:` line in the report's text.
fn bounced_message_id(message: &Message<'_>) -> Option<String> {
    for part in message.parts.iter().skip(1) {
        if let Some(inner) = part.message()
            && let Some(id) = inner.message_id()
        {
            return Some(id.to_string());
        }
        let is_headers = part.content_type().is_some_and(|ct| {
            ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
        });
        let text = if is_headers { std::str::from_utf8(part.contents()).ok() } else { part.text_contents() };
        if let Some(id) = text.and_then(message_id_line) {
            return Some(id);
        }
    }
    None
}

fn message_id_line(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("message-id") {
            return None;
        }
        let id = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
        (!id.is_empty() && id.len() <= 998).then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn classify_raw(raw: &str) -> Classification {
        let message = MessageParser::default().parse(raw.as_bytes()).expect("parses");
        let sender = message.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_string();
        classify(&message, &sender, &["support@example.com".to_string()])
    }

    #[test]
    fn a_person_writing_is_not_automatic() {
        let c = classify_raw("From: Ann <ann@example.org>\r\nTo: support@example.com\r\nSubject: Help\r\nAuto-Submitted: no\r\n\r\nHi");
        assert!(!c.is_automatic(), "{c:?}");
    }

    #[test]
    fn auto_replies_are_recognised_by_every_common_marker() {
        for header in ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "X-Autorespond: on", "X-Auto-Response-Suppress: All"] {
            let c = classify_raw(&format!("From: ann@example.org\r\nSubject: Out of office\r\n{header}\r\n\r\nAway"));
            assert!(c.auto_submitted && c.is_automatic(), "{header}");
        }
    }

    #[test]
    fn list_and_bulk_mail_is_bulk() {
        for header in ["Precedence: bulk", "Precedence: list", "List-Id: <news.example.org>", "List-Unsubscribe: <mailto:u@example.org>"] {
            let c = classify_raw(&format!("From: news@example.org\r\nSubject: News\r\n{header}\r\n\r\nNews"));
            assert!(c.bulk, "{header}");
        }
    }

    #[test]
    fn a_delivery_report_is_a_bounce_and_names_the_original_message() {
        let raw = "From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.com\r\nSubject: Undelivered Mail\r\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
            --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
            --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.com\r\nTo: gone@example.org\r\nMessage-ID: <ticket-1001.abc@helpdesk.example>\r\nSubject: Re: your ticket\r\n\
            --b--\r\n";
        let c = classify_raw(raw);
        assert!(c.bounce && c.is_automatic(), "{c:?}");
        assert_eq!(c.bounced_message_id.as_deref(), Some("ticket-1001.abc@helpdesk.example"));
    }

    #[test]
    fn our_own_address_and_loop_markers_are_caught() {
        let own = classify_raw("From: Support <SUPPORT@example.com>\r\nSubject: x\r\n\r\nx");
        assert!(own.from_own_address);
        let looped = classify_raw("From: ann@example.org\r\nSubject: x\r\nX-Helpdesk-Loop: 1\r\n\r\nx");
        assert!(looped.loop_detected);
        let x_loop = classify_raw("From: ann@example.org\r\nSubject: x\r\nX-Loop: support@example.com\r\n\r\nx");
        assert!(x_loop.loop_detected);
    }
}
