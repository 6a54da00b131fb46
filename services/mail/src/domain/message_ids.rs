//! Message-IDs from headers: which ones are usable, and the thread references in the order the
//! proto promises (In-Reply-To first, then References from newest to oldest). A malformed id is
//! left out rather than echoed into our own In-Reply-To/References or matched against tickets:
//! it cannot name a mail we sent, and it can break the headers of the mail we send.

/// RFC 5322 allows 998 characters per line; ids longer than this are junk or an attack.
const MAX_ID_CHARS: usize = 250;
/// A thread is at most this many references deep for us; older ones add nothing.
const MAX_REFS: usize = 50;

/// A usable Message-ID (without angle brackets): `left@right`, printable ASCII or UTF-8, no
/// whitespace, no control characters, no stray angle brackets, at most 250 characters.
pub fn usable(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let id = match trimmed.strip_prefix('<') {
        Some(inner) => inner.strip_suffix('>')?,
        None => trimmed,
    };
    let (left, right) = id.split_once('@')?;
    let printable = id.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '\u{FFFD}' && !matches!(c, '<' | '>'));
    (printable && !left.is_empty() && !right.is_empty() && id.chars().count() <= MAX_ID_CHARS).then(|| id.to_string())
}

/// In-Reply-To's ids, then References' ids from the last (the parent) to the first (the thread's
/// start); unusable ones and repeats left out.
pub fn thread_refs(in_reply_to: &[String], references: &[String]) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    for id in in_reply_to.iter().chain(references.iter().rev()).filter_map(|id| usable(id)) {
        if refs.len() < MAX_REFS && !refs.contains(&id) {
            refs.push(id);
        }
    }
    refs
}

/// The ids of a header's raw value: `<a@b> <c@d>`; ids without brackets are taken one per word.
pub fn split_ids(raw: &str) -> Vec<String> {
    if raw.contains('<') {
        let mut ids = Vec::new();
        let mut rest = raw;
        while let Some(start) = rest.find('<') {
            let after = &rest[start..];
            match after[1..].find(['<', '>']) {
                Some(end) if after.as_bytes()[end + 1] == b'>' => {
                    ids.push(after[..end + 2].to_string());
                    rest = &after[end + 2..];
                }
                // Unbalanced: `<a@b <c@d>` — the unclosed one is skipped.
                Some(end) => rest = &after[end + 1..],
                None => break,
            }
        }
        ids
    } else {
        raw.split_whitespace().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn in_reply_to_comes_first_then_references_newest_first() {
        let refs = thread_refs(&s(&["<parent@x>"]), &s(&["<root@x>", "<middle@x>", "<parent@x>"]));
        assert_eq!(refs, s(&["parent@x", "middle@x", "root@x"]));
    }

    #[test]
    fn malformed_ids_are_left_out() {
        let long = format!("<{}@x>", "a".repeat(300));
        let refs = thread_refs(&s(&["no-at-sign"]), &s(&["<a b@x>", "<ok@x>", "<ctl\u{1}@x>", &long, "<unclosed@x", "<@x>"]));
        assert_eq!(refs, s(&["ok@x"]));
    }

    #[test]
    fn header_values_split_into_ids_and_unbalanced_brackets_are_skipped() {
        assert_eq!(split_ids(" <a@x>\r\n\t<b@x> "), s(&["<a@x>", "<b@x>"]));
        assert_eq!(split_ids("<a@x <b@x>"), s(&["<b@x>"]));
        assert_eq!(split_ids("a@x b@x"), s(&["a@x", "b@x"]));
        assert_eq!(usable("<a@x>").as_deref(), Some("a@x"));
        assert_eq!(usable("<a@x"), None);
        assert_eq!(usable("a@x>"), None);
    }
}
