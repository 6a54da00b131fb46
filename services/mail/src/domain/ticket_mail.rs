//! Ticket mail as pure rules: the templates (the acknowledgement of a new ticket, an agent's
//! reply, completion), the do-not-mail patterns, the threading headers, and what the ticket says
//! when a mail was not sent. Subjects carry `[#number]` so the customer's client shows it and
//! replies keep it; everything interpolated into HTML is escaped. A Message-ID is repeated in our
//! `In-Reply-To`/`References` only when it is valid `msg-id` syntax: the ids come from other
//! people's mail, and a broken one echoed verbatim makes our own header malformed.

use std::fmt;

use super::templates::{Rendered, escape_html};

/// The ticket mails, by the event that asks for them; `as_str` is the ledger's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Acknowledgement,
    AgentReply,
    Completed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledgement => "ticket_acknowledgement",
            Self::AgentReply => "agent_reply",
            Self::Completed => "ticket_completed",
        }
    }

    /// The internal entry on the ticket when this mail did not go out, so agents see why.
    pub fn not_sent(self, reason: &str) -> String {
        let what = match self {
            Self::Acknowledgement => "acknowledgement not sent",
            Self::AgentReply => "reply not mailed",
            Self::Completed => "completion notice not mailed",
        };
        format!("{what}: {reason}")
    }
}

/// Why a ticket mail was held back before it reached the relay (the ledger's `reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The contact's address is flagged undeliverable (it bounced, or the relay refused it).
    Undeliverable,
    /// `per_recipient_per_hour` mails went to this address in the last hour.
    HourlyLimit { per_hour: i64 },
    /// A sender opening many tickets at once (a feed, a robot): it already got its
    /// acknowledgements for this window.
    AcknowledgementFlood { per_window: i64, window_secs: i64 },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Undeliverable => f.write_str("the address is marked undeliverable"),
            Self::HourlyLimit { per_hour } => write!(f, "{per_hour} mails went to this address in the last hour (the limit)"),
            Self::AcknowledgementFlood { per_window, window_secs } => write!(
                f,
                "this address opened several tickets at once and already got {per_window} acknowledgement(s) within {}",
                duration(*window_secs)
            ),
        }
    }
}

fn duration(secs: i64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

pub fn acknowledgement(number: i64, subject: &str) -> Rendered {
    let text = format!(
        "We received your request and will answer soon.\n\nTicket #{number}: {subject}\n\nReply to this mail to add to it."
    );
    render(number, subject, &text)
}

pub fn agent_reply(number: i64, subject: &str, reply: &str) -> Rendered {
    render(number, subject, &format!("{reply}\n\n--\nTicket #{number}: {subject}"))
}

pub fn completed(number: i64, subject: &str) -> Rendered {
    let text = format!(
        "Your ticket #{number} ({subject}) is marked complete.\n\nIf something is still wrong, just reply to this mail."
    );
    render(number, subject, &text)
}

fn render(number: i64, subject: &str, text: &str) -> Rendered {
    let html = text
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br>")))
        .collect::<String>();
    Rendered {
        subject: format!("[#{number}] {subject}"),
        text: text.to_string(),
        html,
    }
}

/// Whether an address must never be mailed (`no-reply@…`, `mailer-daemon@…`): one of the
/// patterns occurs in its local part.
pub fn do_not_mail(address: &str, patterns: &[String]) -> bool {
    let local = address.split('@').next().unwrap_or_default().to_ascii_lowercase();
    patterns.iter().any(|p| !p.is_empty() && local.contains(&p.to_ascii_lowercase()))
}

/// Whether a Message-ID (with or without its angle brackets) may be repeated in our headers:
/// `id-left@id-right` in printable ASCII without spaces, nothing that would end or quote the id
/// (`<>()",;:\`, a second `@`), at most 250 characters.
pub fn valid_message_id(id: &str) -> bool {
    let id = id.trim();
    let id = id.strip_prefix('<').and_then(|i| i.strip_suffix('>')).unwrap_or(id);
    let Some((left, right)) = id.split_once('@') else { return false };
    let printable = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_graphic() && !b"<>()\",;:\\@".contains(&b))
    };
    id.len() <= 250 && printable(left) && printable(right)
}

/// `In-Reply-To` and `References` for our next mail on a ticket, from the thread's first mail
/// (`root`) and the customer's latest (`latest`, when there was a later one): we answer the
/// latest and reference the conversation from its root, so the customer's client files our mail
/// under it. Ids that are not valid Message-IDs are left out: a broken latest id gets no
/// `In-Reply-To`, and `References` keeps what is valid.
pub fn thread_headers(root: &str, latest: Option<&str>) -> (Option<String>, Option<String>) {
    let bracket = |id: &str| format!("<{}>", id.trim().trim_matches(['<', '>']));
    let newest = latest.unwrap_or(root);
    let in_reply_to = valid_message_id(newest).then(|| bracket(newest));
    let mut references: Vec<String> = Vec::new();
    for id in [root, newest].into_iter().filter(|id| valid_message_id(id)).map(bracket) {
        if !references.contains(&id) {
            references.push(id);
        }
    }
    (in_reply_to, Some(references.join(" ")).filter(|r| !r.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_reply_to_the_latest_mail_and_reference_the_root() {
        let only_root = thread_headers("a@x", None);
        assert_eq!(only_root, (Some("<a@x>".into()), Some("<a@x>".into())));
        assert_eq!(thread_headers("<a@x>", Some("a@x")), only_root);
        let later = thread_headers("a@x", Some("c@x"));
        assert_eq!(later, (Some("<c@x>".into()), Some("<a@x> <c@x>".into())));
    }

    #[test]
    fn real_message_ids_are_valid() {
        for id in [
            "CAH+w=7Kq9_x@mail.gmail.com",
            "<Pine.LNX.4.44.0301011234.1234-100000@host.example>",
            "20260101.1234$abc@[192.0.2.1]",
            "sha256-00ff@no-message-id",
        ] {
            assert!(valid_message_id(id), "{id}");
        }
    }

    #[test]
    fn malformed_message_ids_are_not_valid() {
        let long = format!("{}@example.org", "a".repeat(250));
        for id in [
            "",
            "1234567",
            "<no at sign>",
            "two words@example.org",
            "@example.org",
            "left@",
            "a@b@c",
            "<a@b>c@d>",
            "a<b@c",
            "quoted\"id@x",
            "comment(x)@y",
            "caf\u{e9}@example.org",
            "tab\there@x",
            "nul\0@x",
            &long,
        ] {
            assert!(!valid_message_id(id), "{id:?}");
        }
    }

    #[test]
    fn a_broken_latest_id_gets_no_in_reply_to_but_the_root_stays_referenced() {
        assert_eq!(thread_headers("a@x", Some("broken id")), (None, Some("<a@x>".into())));
    }

    #[test]
    fn a_broken_root_is_left_out_of_the_references() {
        assert_eq!(thread_headers("12345", None), (None, None));
        assert_eq!(thread_headers("<bad root>", Some("c@x")), (Some("<c@x>".into()), Some("<c@x>".into())));
    }

    #[test]
    fn the_ticket_says_which_mail_was_not_sent_and_why() {
        assert_eq!(Kind::Acknowledgement.not_sent("550 no such user"), "acknowledgement not sent: 550 no such user");
        assert_eq!(Kind::AgentReply.not_sent("x"), "reply not mailed: x");
        let flood = Skip::AcknowledgementFlood { per_window: 1, window_secs: 600 }.to_string();
        assert!(flood.contains("1 acknowledgement(s) within 10 min"), "{flood}");
    }

    #[test]
    fn subjects_carry_the_number_and_html_is_escaped() {
        let mail = agent_reply(1042, "Printer <on> fire", "Try <b>this</b>");
        assert_eq!(mail.subject, "[#1042] Printer <on> fire");
        assert!(mail.html.contains("Try &lt;b&gt;this&lt;/b&gt;"), "{}", mail.html);
        assert!(mail.text.starts_with("Try <b>this</b>"));
    }

    #[test]
    fn robots_are_never_mailed() {
        let patterns: Vec<String> = ["no-reply", "mailer-daemon", "postmaster"].map(String::from).to_vec();
        assert!(do_not_mail("No-Reply@shop.example", &patterns));
        assert!(do_not_mail("MAILER-DAEMON@mx.example", &patterns));
        assert!(!do_not_mail("ann@example.org", &patterns));
        assert!(!do_not_mail("ann@no-reply.example", &patterns), "only the local part counts");
    }
}
