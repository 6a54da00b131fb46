//! Delivery reports: what a mail server's report says happened (RFC 3464's per-recipient
//! `Action:` and `Status:`, or, for servers that send prose, its wording) and which of our mails it
//! returns. Only a permanent failure is a bounce; a delay warning ("still being retried") must not
//! mark anyone undeliverable, and a "delivered"/"relayed" report is just automatic mail. The
//! returned mail's Message-ID comes from the returned original (the `message/rfc822` or
//! `text/rfc822-headers` part, or the quoted headers in a prose report), never from the report's
//! own headers.

use mail_parser::{Message, MimeHeaders};

use super::message_ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Some recipient failed for good (`Action: failed`, a 5.x.x status, or a prose bounce).
    Failed,
    /// Every recipient is only delayed; the server keeps trying.
    Delayed,
    /// Delivered, relayed or expanded: a receipt, nothing failed.
    Delivered,
}

/// Phrases of delay warnings sent as prose, lowercased (Postfix, Exim, sendmail, Exchange, Gmail).
const DELAY_PHRASES: &[&str] = &[
    "delivery delayed",
    "delivery has been delayed",
    "delayed mail",
    "still being retried",
    "will keep trying",
    "will continue trying",
    "will retry",
    "delivery attempts will continue",
    "could not send message for past",
    "has not yet been delivered",
    "not been delivered yet",
    "message delayed",
    "delivery status notification (delay)",
];

fn is_type(part: &mail_parser::MessagePart<'_>, ctype: &str, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype) && ct.subtype().is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
    })
}

/// What the report says, from its `message/delivery-status` part; `None` when it has none.
pub fn reported_outcome(message: &Message<'_>) -> Option<Outcome> {
    let status = message
        .parts
        .iter()
        .find(|p| is_type(p, "message", &["delivery-status", "global-delivery-status"]))?;
    let fields = String::from_utf8_lossy(status.contents());
    let (mut failed, mut delayed, mut other) = (false, false, false);
    for line in fields.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "action" if value.starts_with("failed") => failed = true,
            "action" if value.starts_with("delayed") => delayed = true,
            "action" => other = true,
            "status" if value.starts_with('5') => failed = true,
            _ => {}
        }
    }
    Some(if failed {
        Outcome::Failed
    } else if delayed && !other {
        Outcome::Delayed
    } else if delayed || other {
        Outcome::Delivered
    } else {
        // A report that names no action is read the conservative way it always was.
        Outcome::Failed
    })
}

/// A prose report from a mailer daemon: a delay warning by its wording, otherwise a failure.
pub fn prose_outcome(subject: &str, text: &str) -> Outcome {
    let subject = subject.to_lowercase();
    let head: String = text.chars().take(4000).collect::<String>().to_lowercase();
    let delayed = DELAY_PHRASES.iter().any(|p| subject.contains(p) || head.contains(p));
    if delayed { Outcome::Delayed } else { Outcome::Failed }
}

/// The Message-ID of the mail the report returns: from an attached `message/rfc822`, its
/// `text/rfc822-headers`, or a `Message-ID:` line quoted in the report's text — the report's own
/// headers (part 0's) are never read.
pub fn returned_message_id(message: &Message<'_>) -> Option<String> {
    let from_original = message.parts.iter().find_map(|p| p.message().and_then(|inner| inner.message_id()).and_then(message_ids::usable));
    if from_original.is_some() {
        return from_original;
    }
    let headers = message.parts.iter().find(|p| is_type(p, "text", &["rfc822-headers"]));
    if let Some(id) = headers.and_then(|p| message_id_line(&String::from_utf8_lossy(p.contents()))) {
        return Some(id);
    }
    // A prose bounce quotes the original's headers in its text; for a one-part mail that text is
    // part 0's body (its contents, not its headers).
    message
        .parts
        .iter()
        .filter(|p| !p.is_multipart() && !p.is_message() && !is_type(p, "message", &["delivery-status", "global-delivery-status"]))
        .find_map(|p| p.text_contents().and_then(message_id_line))
}

fn message_id_line(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("message-id") {
            return None;
        }
        message_ids::usable(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn report(actions: &str) -> String {
        format!(
            "From: MAILER-DAEMON@mx.example.org\r\nMessage-ID: <report-itself@mx.example.org>\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n{actions}\r\n\
             --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@example.com\r\nMessage-ID: <ours-1@helpdesk.example>\r\n\r\nHi\r\n\
             --b--\r\n"
        )
    }

    fn outcome(raw: &str) -> Option<Outcome> {
        reported_outcome(&MessageParser::default().parse(raw.as_bytes()).expect("parses"))
    }

    #[test]
    fn each_action_reads_as_what_happened() {
        let failed = "Final-Recipient: rfc822; a@x\r\nAction: failed\r\nStatus: 5.1.1";
        assert_eq!(outcome(&report(failed)), Some(Outcome::Failed));
        let delayed = "Final-Recipient: rfc822; a@x\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\nFinal-Recipient: rfc822; b@x\r\nAction: delayed\r\nStatus: 4.4.1";
        assert_eq!(outcome(&report(delayed)), Some(Outcome::Delayed));
        let one_failed = "Final-Recipient: rfc822; a@x\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\nFinal-Recipient: rfc822; b@x\r\nAction: failed\r\nStatus: 5.0.0";
        assert_eq!(outcome(&report(one_failed)), Some(Outcome::Failed));
        for action in ["delivered", "relayed", "expanded"] {
            assert_eq!(outcome(&report(&format!("Final-Recipient: rfc822; a@x\r\nAction: {action}\r\nStatus: 2.0.0"))), Some(Outcome::Delivered));
        }
        assert_eq!(outcome("From: a@x\r\n\r\nno report"), None);
    }

    #[test]
    fn the_returned_message_id_comes_from_the_original_not_the_report() {
        let message = report("Action: failed");
        let parsed = MessageParser::default().parse(message.as_bytes()).expect("parses");
        assert_eq!(returned_message_id(&parsed).as_deref(), Some("ours-1@helpdesk.example"));
        let prose = "From: MAILER-DAEMON@mx.example.org\r\nMessage-ID: <report-itself@mx.example.org>\r\nSubject: failure notice\r\n\r\n\
            Sorry, we could not deliver.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\nFrom: support@example.com\r\nMessage-ID: <ours-2@helpdesk.example>\r\n";
        let parsed = MessageParser::default().parse(prose.as_bytes()).expect("parses");
        assert_eq!(returned_message_id(&parsed).as_deref(), Some("ours-2@helpdesk.example"));
        let nothing = "From: MAILER-DAEMON@mx.example.org\r\nMessage-ID: <report-itself@mx.example.org>\r\n\r\nSorry.\r\n";
        assert_eq!(returned_message_id(&MessageParser::default().parse(nothing.as_bytes()).expect("parses")), None);
    }

    #[test]
    fn prose_delay_warnings_are_told_from_failures() {
        assert_eq!(prose_outcome("Delayed Mail (still being retried)", ""), Outcome::Delayed);
        assert_eq!(prose_outcome("Warning: could not send message for past 4 hours", "The server will keep trying for 5 days"), Outcome::Delayed);
        assert_eq!(prose_outcome("Undelivered Mail Returned to Sender", "User unknown"), Outcome::Failed);
    }
}
