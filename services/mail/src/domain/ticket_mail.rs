//! Ticket mail templates: the acknowledgement of a new ticket, an agent's reply, and completion.
//! Subjects carry `[#number]` so the customer's client shows it and replies keep it; everything
//! interpolated into HTML is escaped.

use super::templates::{Rendered, escape_html};

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

#[cfg(test)]
mod tests {
    use super::*;

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
