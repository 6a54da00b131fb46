//! Classifying an inbound mail before anything acts on it: automatic replies (RFC 3834
//! `Auto-Submitted`, `X-Autoreply`, `X-Autorespond`, Microsoft's `X-Auto-Response-Suppress`),
//! bulk and list mail (`Precedence`, `List-*`), delivery reports (read by `dsn`: only permanent
//! failures are bounces, delay warnings and "delivered" receipts are automatic mail — with the
//! returned Message-ID dug out of the report), read receipts and abuse reports, mail from our own
//! addresses, and loop markers (our own `X-Helpdesk-Loop`, and any system's `X-Loop`: a list
//! server that set it is a robot). Automatic mail is recorded but never triggers mail or reopens a
//! ticket.

use mail_parser::{Message, MimeHeaders};

use super::dsn::{self, Outcome};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classification {
    pub auto_submitted: bool,
    pub bulk: bool,
    /// A permanent delivery failure: the address is undeliverable.
    pub bounce: bool,
    /// A delivery report that only says delivery is delayed: automatic, not a bounce.
    pub delivery_delayed: bool,
    pub from_own_address: bool,
    pub loop_detected: bool,
    /// For bounces and delay warnings: the Message-ID of the returned mail, when the report has it.
    pub bounced_message_id: Option<String>,
}

impl Classification {
    /// Mail no person wrote by hand: never acknowledged, never reopens a ticket.
    pub fn is_automatic(&self) -> bool {
        self.auto_submitted || self.bulk || self.bounce || self.delivery_delayed || self.from_own_address || self.loop_detected
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
    let report_type = message.root_part().content_type().filter(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let report = report_type.is_some();
    // Only a delivery report (or a daemon's prose) speaks of delivery; read receipts (RFC 8098)
    // and abuse reports (RFC 5965) are reports too, automatic but never bounces.
    let delivery_report = report_type
        .is_some_and(|ct| ct.attribute("report-type").is_none_or(|t| t.eq_ignore_ascii_case("delivery-status")));
    let null_return_path = header_text(message, "Return-Path").is_some_and(|v| v == "<>");
    let daemon = matches!(local, "mailer-daemon" | "postmaster");
    let outcome = match dsn::reported_outcome(message) {
        Some(outcome) => Some(outcome),
        None if delivery_report || daemon => {
            let text = message.body_text(0).unwrap_or_default();
            Some(dsn::prose_outcome(message.subject().unwrap_or_default(), &text))
        }
        None => None,
    };
    let bounce = outcome == Some(Outcome::Failed);
    let delivery_delayed = outcome == Some(Outcome::Delayed);
    let own = |address: &str| own_addresses.iter().any(|own| own.eq_ignore_ascii_case(address));
    let from_own_address = !sender.is_empty() && own(&sender);
    let loop_detected = header_text(message, LOOP_HEADER).is_some() || header_text(message, "X-Loop").is_some();
    Classification {
        // A null return path marks mail that must not be answered (RFC 3834 §3.1.2); every report
        // and receipt is automatic whatever it says.
        auto_submitted: auto_submitted || null_return_path || outcome.is_some() || report,
        bulk,
        bounce,
        delivery_delayed,
        from_own_address,
        loop_detected,
        bounced_message_id: if bounce || delivery_delayed { dsn::returned_message_id(message) } else { None },
    }
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

    #[test]
    fn an_x_loop_from_any_system_is_automatic_mail() {
        let list = classify_raw("From: tracker@lists.example.net\r\nSubject: [Bug 12] changed\r\nX-Loop: bugs@lists.example.net\r\n\r\nx");
        assert!(list.loop_detected && list.is_automatic(), "{list:?}");
    }

    #[test]
    fn a_delay_warning_is_automatic_but_not_a_bounce() {
        let raw = "From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.com\r\nSubject: Delayed Mail (still being retried)\r\n\
            Message-ID: <warning@mx.example.org>\r\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n\
            --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; slow@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\
            --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.com\r\nMessage-ID: <ticket-1001.abc@helpdesk.example>\r\n\
            --b--\r\n";
        let c = classify_raw(raw);
        assert!(!c.bounce && c.delivery_delayed && c.auto_submitted, "{c:?}");
        assert_eq!(c.bounced_message_id.as_deref(), Some("ticket-1001.abc@helpdesk.example"));
        let prose = classify_raw("From: MAILER-DAEMON@mx.example.org\r\nSubject: Warning: could not send message for past 4 hours\r\n\r\n\
            The server will keep trying for 5 days.\r\n\r\nMessage-ID: <ticket-1002.abc@helpdesk.example>\r\n");
        assert!(!prose.bounce && prose.delivery_delayed, "{prose:?}");
        assert_eq!(prose.bounced_message_id.as_deref(), Some("ticket-1002.abc@helpdesk.example"));
    }

    #[test]
    fn receipts_are_automatic_and_neither_bounce_nor_delay() {
        let delivered = "From: MAILER-DAEMON@mx.example.org\r\nSubject: Successful Mail Delivery Report\r\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n\
            --b--\r\n";
        let c = classify_raw(delivered);
        assert!(c.auto_submitted && !c.bounce && !c.delivery_delayed, "{c:?}");
        let read = classify_raw("From: ann@example.org\r\nSubject: Read: x\r\n\
            Content-Type: multipart/report; report-type=disposition-notification; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nRead.\r\n--b--\r\n");
        assert!(read.auto_submitted && !read.bounce, "{read:?}");
        let abuse = classify_raw("From: abuse@isp.example\r\nSubject: Abuse report\r\n\
            Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n--b--\r\n");
        assert!(abuse.auto_submitted && !abuse.bounce && !abuse.delivery_delayed, "{abuse:?}");
    }
}
