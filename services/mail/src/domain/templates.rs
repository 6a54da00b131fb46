//! Account mail templates. Plain Rust rather than a template engine: there are five short mails,
//! and the escaping is explicit.

use helpdesk_proto::events::v1::AccountMailKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `None` for a kind this version does not know (the event is then acknowledged and skipped).
pub fn render(kind: AccountMailKind, to_name: &str, link: &str, site: &str) -> Option<Rendered> {
    let (subject, intro, action, outro) = match kind {
        AccountMailKind::Activation => (
            format!("Activate your {site} account"),
            "someone — hopefully you — asked for an account with this address.",
            "Choose a password to activate it",
            "The link works once and expires in 48 hours. If you did not ask for an account, ignore this mail.",
        ),
        AccountMailKind::PasswordReset => (
            format!("Reset your {site} password"),
            "someone — hopefully you — asked to reset the password of your account.",
            "Choose a new password",
            "The link works once and expires in an hour. If you did not ask for this, ignore this mail: your password stays as it is.",
        ),
        AccountMailKind::EmailVerification => (
            format!("Confirm your email address for {site}"),
            "please confirm that this address is yours.",
            "Confirm the address",
            "The link works once. If you did not ask for this, ignore this mail.",
        ),
        // A guest gave this address, which belongs to a contact, on the portal's form. The mail
        // quotes nothing the guest wrote, so the form cannot carry a stranger's text to her inbox.
        AccountMailKind::TicketConfirmation => (
            format!("Confirm your support request to {site}"),
            "someone filed a support request with us, without signing in, giving this address. \
             Until you confirm that it is yours, it is kept out of your account and nobody is notified.",
            "Confirm the request",
            "The link works once and expires in 48 hours. If you did not write to us, ignore this mail: \
             the request stays out of your account.",
        ),
        // A Discord user asked (`/link`) to be linked to this address. The mail names no Discord
        // user: a display name is whatever a stranger chose.
        AccountMailKind::IdentityLink => (
            "Link your Discord account".to_string(),
            "someone — hopefully you — asked our Discord bot to link their Discord account to this address. \
             Once linked, your conversations on Discord and by mail are one, and you see all of your requests \
             in one place.",
            "Link your Discord account",
            "The link works once and expires in 30 minutes. If you did not ask for this, ignore this mail: \
             nothing will be linked.",
        ),
        AccountMailKind::Unspecified => return None,
    };
    let name = to_name.trim();
    let greeting = if name.is_empty() { "Hello,".to_string() } else { format!("Hello {name},") };
    let text = format!("{greeting}\n\n{intro}\n\n{action}:\n{link}\n\n{outro}\n\n-- \n{site}\n");
    let html = format!(
        "<!doctype html>\n<html><body>\n<p>{greeting}</p>\n<p>{intro}</p>\n<p><a href=\"{link}\">{action}</a></p>\n\
         <p>{outro}</p>\n<p>— {site}</p>\n</body></html>\n",
        greeting = escape_html(&greeting),
        intro = escape_html(intro),
        link = escape_html(link),
        action = escape_html(action),
        outro = escape_html(outro),
        site = escape_html(site),
    );
    Some(Rendered { subject, text, html })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activation_mail_carries_the_link_in_both_bodies() {
        let mail = render(AccountMailKind::Activation, "Ann", "https://x.test/activate?token=abc", "Help desk")
            .expect("known kind");
        assert_eq!(mail.subject, "Activate your Help desk account");
        assert!(mail.text.contains("Hello Ann,"));
        assert!(mail.text.contains("https://x.test/activate?token=abc"));
        assert!(mail.html.contains("href=\"https://x.test/activate?token=abc\""));
    }

    #[test]
    fn names_and_links_cannot_inject_html() {
        let mail = render(AccountMailKind::PasswordReset, "<script>x</script>", "https://x.test/?a=1&b=\"2\"", "HD")
            .expect("known kind");
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(mail.html.contains("a=1&amp;b=&quot;2&quot;"));
    }

    #[test]
    fn a_ticket_confirmation_mail_offers_the_link_and_quotes_nothing_of_the_guest() {
        let mail = render(AccountMailKind::TicketConfirmation, "Ann", "https://x.test/confirm-ticket?token=abc", "HD")
            .expect("known kind");
        assert_eq!(mail.subject, "Confirm your support request to HD");
        assert!(mail.text.contains("https://x.test/confirm-ticket?token=abc"));
        assert!(mail.html.contains("href=\"https://x.test/confirm-ticket?token=abc\""));
        assert!(mail.text.contains("Until you confirm that it is yours"));
    }

    #[test]
    fn an_identity_link_mail_offers_the_link_and_says_to_ignore_it_otherwise() {
        let mail = render(AccountMailKind::IdentityLink, "", "https://x.test/link-identity?token=abc", "HD")
            .expect("known kind");
        assert_eq!(mail.subject, "Link your Discord account");
        assert!(mail.text.starts_with("Hello,\n"));
        assert!(mail.text.contains("https://x.test/link-identity?token=abc"));
        assert!(mail.html.contains("href=\"https://x.test/link-identity?token=abc\""));
        assert!(mail.text.contains("If you did not ask for this, ignore this mail"));
    }

    #[test]
    fn an_unknown_kind_renders_nothing() {
        assert!(render(AccountMailKind::Unspecified, "", "", "").is_none());
    }
}
