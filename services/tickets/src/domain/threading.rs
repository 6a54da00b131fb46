//! The pure parts of email threading: finding a ticket number in a subject, and the rules' names
//! as recorded on each message (DESIGN.md §3.1: a known Message-ID — In-Reply-To first, then the
//! References newest to oldest — then a signed reply token, then a stored mail that names this
//! one as its parent (the reply arrived first), then a ticket number in the subject — only from
//! that ticket's contact or group — else new).

pub const BY_MESSAGE_ID: &str = "message_id";
pub const BY_REPLY_TOKEN: &str = "reply_token";
pub const BY_SUBJECT_NUMBER: &str = "subject_number";
/// The parent of a reply that arrived before it (clock skew, delivery order) joins the reply's ticket.
pub const BY_CHILD_REFERENCE: &str = "child_reference";
/// A chat message in a conversation (DM, thread) whose opening message made the ticket.
pub const BY_CONVERSATION: &str = "conversation";
pub const NEW_TICKET: &str = "new";
/// Notes made from delivery reports about our own mail.
pub const BOUNCE: &str = "bounce";
pub const DELIVERY_DELAYED: &str = "delivery_delayed";

/// The first `#<digits>` in a subject (`Re: [#1042] Printer` → 1042), if it is a plausible number.
pub fn ticket_number_in_subject(subject: &str) -> Option<i64> {
    let bytes = subject.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'#' {
            let digits: String = subject[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            let next = subject[i + 1 + digits.len()..].chars().next();
            if (1..=12).contains(&digits.len()) && !next.is_some_and(|c| c.is_alphanumeric()) {
                return digits.parse().ok();
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_where_mail_clients_put_them() {
        assert_eq!(ticket_number_in_subject("Re: [#1042] Printer on fire"), Some(1042));
        assert_eq!(ticket_number_in_subject("AW: Ticket #1001"), Some(1001));
        assert_eq!(ticket_number_in_subject("#77"), Some(77));
    }

    #[test]
    fn things_that_only_look_like_numbers_are_not() {
        assert_eq!(ticket_number_in_subject("Printer on fire"), None);
        assert_eq!(ticket_number_in_subject("Issue #12abc"), None);
        assert_eq!(ticket_number_in_subject("C# question"), None);
        assert_eq!(ticket_number_in_subject("#1234567890123"), None);
        assert_eq!(ticket_number_in_subject("é#5"), Some(5));
    }
}
