//! The one rule for what an email address is, used wherever an address enters the help desk: the
//! mail parser (From / Reply-To / Sender) and identity (contacts, accounts). Two rules once let a
//! mail create a contact that the portal then refused, and refused real senders the mail server
//! had happily delivered.
//!
//! The rule follows RFC 5322 as real mail uses it, not a regex of the ideal: a dot-atom or a quoted
//! local part (`"Books@Books"@example.com`), a domain of labels or an address literal, internationalized
//! characters (RFC 6532), a single trailing dot on the domain (the DNS root, normalized away), and
//! placeholder domains without a dot (`redacted`, `localhost`) that archives and test systems send.
//! It refuses what no mail system produces on purpose: whitespace or control characters outside
//! quotes, U+FFFD (bytes that were not text: raw 8-bit garbage), and more than 254 characters
//! (RFC 5321's path limit). Deliverability is for the mail server to judge.

/// An address that passed the rule: `as_str` keeps the sender's spelling (trailing root dot
/// removed), `normalized` is the form to compare and store uniquely (lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    original: String,
    normalized: String,
}

/// Why a text is not an address; the reasons read after a field name ("email: is required").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    Empty,
    TooLong,
    Unprintable,
    NoAt,
    LocalPart,
    Domain,
}

impl AddressError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Empty => "is required",
            Self::TooLong => "is longer than 254 characters",
            Self::Unprintable => "must not contain spaces or control characters",
            Self::NoAt => "must contain @",
            Self::LocalPart => "has an invalid local part",
            Self::Domain => "has an invalid domain",
        }
    }
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for AddressError {}

/// RFC 5321 §4.5.3.1.3: the longest path is 256 octets including the angle brackets.
pub const MAX_ADDRESS_CHARS: usize = 254;

impl Address {
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(AddressError::Empty);
        }
        if trimmed.chars().count() > MAX_ADDRESS_CHARS {
            return Err(AddressError::TooLong);
        }
        if trimmed.chars().any(|c| c.is_control() || c == '\u{FFFD}') {
            return Err(AddressError::Unprintable);
        }
        let (local, domain) = split(trimmed)?;
        check_local(local)?;
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        check_domain(domain)?;
        let original = format!("{local}@{domain}");
        Ok(Self { normalized: original.to_lowercase(), original })
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    pub fn into_string(self) -> String {
        self.original
    }
}

/// The local part and the domain, split at the last `@` that is not inside the quoted local part.
fn split(address: &str) -> Result<(&str, &str), AddressError> {
    if address.starts_with('"') {
        let end = quoted_end(address).ok_or(AddressError::LocalPart)?;
        let rest = &address[end + 1..];
        return match rest.strip_prefix('@') {
            Some(domain) => Ok((&address[..=end], domain)),
            None if rest.is_empty() => Err(AddressError::NoAt),
            None => Err(AddressError::LocalPart),
        };
    }
    address.rsplit_once('@').ok_or(AddressError::NoAt)
}

/// The byte index of the closing quote of a quoted string that opens at index 0.
fn quoted_end(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn check_local(local: &str) -> Result<(), AddressError> {
    if local.is_empty() {
        return Err(AddressError::LocalPart);
    }
    if local.starts_with('"') {
        // Anything printable may be quoted, spaces included; the quotes were matched by `split`.
        return Ok(());
    }
    if local.chars().any(char::is_whitespace) {
        return Err(AddressError::Unprintable);
    }
    // atext (RFC 5322 §3.2.3) and dots, plus RFC 6532's UTF-8. Consecutive or edge dots are
    // tolerated: some providers hand them out and mail servers deliver them.
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c) || !c.is_ascii();
    if local.chars().all(atext) { Ok(()) } else { Err(AddressError::LocalPart) }
}

fn check_domain(domain: &str) -> Result<(), AddressError> {
    if domain.chars().any(char::is_whitespace) {
        return Err(AddressError::Unprintable);
    }
    if let Some(literal) = domain.strip_prefix('[') {
        let inner = literal.strip_suffix(']').ok_or(AddressError::Domain)?;
        let ok = !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || ".:-".contains(c));
        return if ok { Ok(()) } else { Err(AddressError::Domain) };
    }
    if domain.is_empty() || domain.len() > 253 {
        return Err(AddressError::Domain);
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    };
    if domain.split('.').all(label_ok) { Ok(()) } else { Err(AddressError::Domain) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        Address::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}")).as_str().to_string()
    }

    #[test]
    fn ordinary_addresses_keep_their_spelling_and_normalize_to_lowercase() {
        let address = Address::parse("  Alice.Smith+tag@Example.COM ").expect("valid");
        assert_eq!(address.as_str(), "Alice.Smith+tag@Example.COM");
        assert_eq!(address.normalized(), "alice.smith+tag@example.com");
    }

    #[test]
    fn what_rfc_5322_allows_and_real_mail_uses_is_accepted() {
        assert_eq!(ok("\"Books@Books\"@example.com"), "\"Books@Books\"@example.com");
        assert_eq!(ok("\"john smith\"@example.com"), "\"john smith\"@example.com");
        assert_eq!(ok("ann@example.com."), "ann@example.com");
        assert_eq!(ok("someone@redacted"), "someone@redacted");
        assert_eq!(ok("root@localhost"), "root@localhost");
        assert_eq!(ok("jörg@bücher.example"), "jörg@bücher.example");
        assert_eq!(ok("o'brien@example.ie"), "o'brien@example.ie");
        assert_eq!(ok("admin@[192.0.2.1]"), "admin@[192.0.2.1]");
        assert_eq!(ok("a..b@docomo.example.jp"), "a..b@docomo.example.jp");
    }

    #[test]
    fn garbage_whitespace_controls_and_overlong_addresses_are_refused() {
        let cases = [
            ("", AddressError::Empty),
            ("alice", AddressError::NoAt),
            ("@example.com", AddressError::LocalPart),
            ("alice@", AddressError::Domain),
            ("a b@example.com", AddressError::Unprintable),
            ("a\u{0}@example.com", AddressError::Unprintable),
            ("\u{FFFD}\u{FFFD}@example.com", AddressError::Unprintable),
            ("alice@example..com", AddressError::Domain),
            ("alice@.example.com", AddressError::Domain),
            ("alice@example.com..", AddressError::Domain),
            ("alice@exa mple.com", AddressError::Unprintable),
            ("al(ice@example.com", AddressError::LocalPart),
            ("\"unclosed@example.com", AddressError::LocalPart),
            ("\"quoted\"", AddressError::NoAt),
            ("alice@-example.com", AddressError::Domain),
        ];
        for (raw, expected) in cases {
            assert_eq!(Address::parse(raw), Err(expected), "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Address::parse(&long), Err(AddressError::TooLong));
    }
}
