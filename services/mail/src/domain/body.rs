//! A parsed mail's MIME tree → its text, its HTML and its attachments. mail-parser gives the
//! structure and the headers; the bytes of every text part are decoded here, from the raw mail,
//! with our own lenient transfer decoding (`transfer`) and charset rule (`charset`), because
//! mail-parser's choices lost text: a part it could not decode (base64 with a list footer after
//! it, a multipart without its closing boundary, quoted-printable with a stray `=`) was filed as
//! an attachment holding the encoded text, and a wrong charset label gave U+FFFD soup.
//!
//! Every text part the mail shows inline counts, in order (Apple Mail splits a text around
//! inline images); forwarded mails (`message/rfc822`) become attachments named after their
//! subject.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::{charset, transfer};

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// Set for inline images referenced as `cid:` from the HTML.
    pub content_id: String,
    pub data: Vec<u8>,
}

/// What a mail says: the whole text (history and signature included), HTML as sent (not yet
/// sanitized), and the attachments.
pub struct Body {
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

pub fn extract(message: &Message<'_>) -> Body {
    let raw = message.raw_message();
    let part = |id: &u32| message.parts.get(*id as usize).map(|p| (*id, p));
    let misfiled: Vec<(u32, &MessagePart<'_>)> =
        message.attachments.iter().filter_map(part).filter(|(_, p)| is_misfiled_body(p)).collect();
    let textual = |(_, p): &(u32, &MessagePart<'_>)| matches!(p.body, PartType::Text(_) | PartType::Html(_));
    let mut text_parts: Vec<(u32, &MessagePart<'_>)> = message.text_body.iter().filter_map(part).filter(textual).collect();
    text_parts.extend(misfiled.iter().filter(|(_, p)| !declares_html(p)));
    text_parts.sort_by_key(|(id, _)| *id);
    text_parts.dedup_by_key(|(id, _)| *id);
    let mut html_parts: Vec<(u32, &MessagePart<'_>)> =
        message.html_body.iter().filter_map(part).filter(|(_, p)| declares_html(p)).collect();
    html_parts.extend(misfiled.iter().filter(|(_, p)| declares_html(p)));
    html_parts.sort_by_key(|(id, _)| *id);
    if text_parts.is_empty() {
        text_parts.clone_from(&html_parts);
    }

    let texts: Vec<String> = text_parts
        .iter()
        .map(|(_, p)| {
            let text = part_text(raw, p);
            if declares_html(p) { html_to_text(&text) } else { text }
        })
        .filter(|t| !t.trim().is_empty())
        .collect();
    let text = texts.join("\n\n").replace("\r\n", "\n");
    let html = match html_parts.first() {
        Some((_, p)) => charset::fix_windows_1252_references(&part_text(raw, p)).into_owned(),
        None if !text.is_empty() => mail_parser::decoders::html::text_to_html(&text),
        None => String::new(),
    };
    let attachments = message
        .attachments
        .iter()
        .filter_map(part)
        .filter(|(id, _)| !misfiled.iter().any(|(m, _)| m == id))
        .map(|(_, p)| attachment(raw, p))
        .collect();
    Body { text, html, attachments }
}

fn declares_html(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("text") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("html")))
}

/// A text part mail-parser could not decode and so filed as an attachment, though nothing says it
/// is one: declared (or defaulted) text/plain or text/html, no attachment disposition, no name.
fn is_misfiled_body(part: &MessagePart<'_>) -> bool {
    let text_type = part.content_type().is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text") && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain") || s.eq_ignore_ascii_case("html"))
    });
    part.is_encoding_problem
        && matches!(part.body, PartType::Text(_) | PartType::Html(_))
        && text_type
        && !part.content_disposition().is_some_and(|d| d.is_attachment())
        && part.attachment_name().is_none()
}

/// A text part's bytes from the raw mail, transfer-decoded and charset-decoded; plain text that
/// followed a base64 block (a list footer) is kept after it.
fn part_text(raw: &[u8], part: &MessagePart<'_>) -> String {
    let Some(body) = raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize) else {
        // Offsets outside the mail cannot happen for the top-level message; keep what was parsed.
        return part.text_contents().unwrap_or_default().to_string();
    };
    let label = part.content_type().and_then(|ct| ct.attribute("charset"));
    let decoded = transfer::decode(body, part.content_transfer_encoding());
    let mut text = charset::decode(&decoded.bytes, label);
    if !decoded.trailing_text.is_empty() {
        text.push_str("\n\n");
        text.push_str(&charset::decode(&decoded.trailing_text, label));
    }
    text
}

fn html_to_text(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(&charset::fix_windows_1252_references(html))
}

fn attachment(raw: &[u8], part: &MessagePart<'_>) -> Attachment {
    let content_id = part.content_id().unwrap_or_default().trim_matches(['<', '>']).to_string();
    if let PartType::Message(inner) = &part.body {
        // mail-parser's nested message carries the whole outer mail as its raw bytes when it was
        // not transfer-encoded; the part's own bytes are its span in the outer mail.
        let data = match raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize) {
            Some(span) if part.content_transfer_encoding().is_none() => span.to_vec(),
            _ => inner.raw_message().to_vec(),
        };
        let filename = part.attachment_name().map(str::to_string).unwrap_or_else(|| forwarded_name(inner.subject()));
        return Attachment { filename, content_type: "message/rfc822".into(), content_id, data };
    }
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase();
    let filename = match part.attachment_name() {
        Some(name) => name.to_string(),
        None if part.is_message() => "forwarded message.eml".into(),
        None => "attachment".into(),
    };
    Attachment { filename, content_type, content_id, data: part.contents().to_vec() }
}

/// `Fwd: Invoice 3/2024` → `Fwd Invoice 3 2024.eml`: what file systems and browsers refuse in a
/// name becomes a space, runs of spaces one, at most 100 characters.
fn forwarded_name(subject: Option<&str>) -> String {
    let cleaned: String = subject
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut name: String = words.join(" ").trim_matches('.').chars().take(100).collect();
    if name.trim().is_empty() {
        name = "forwarded message".into();
    }
    format!("{}.eml", name.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn body(raw: &[u8]) -> Body {
        extract(&MessageParser::default().parse(raw).expect("parses"))
    }

    #[test]
    fn a_multipart_without_its_closing_boundary_keeps_its_text() {
        let b = body(b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello there\r\nsecond line\r\n");
        assert_eq!(b.text.trim(), "Hello there\nsecond line");
        assert!(b.attachments.is_empty(), "{:?}", b.attachments);
        let alt = body(b"From: a@b.c\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello plain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Hello html</p>\r\n");
        assert_eq!(alt.text, "Hello plain");
        assert!(alt.html.contains("Hello html") && alt.attachments.is_empty(), "{} {:?}", alt.html, alt.attachments);
    }

    #[test]
    fn base64_with_a_list_footer_is_decoded_and_the_footer_kept_as_text() {
        let b = body(b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQsIHRoaXMgaXMgbXkgcXVlc3Rpb24u\r\n_______________________________________________\r\nList mailing list\r\nhttps://lists.example.org/list\r\n--b--\r\n");
        assert_eq!(b.text, "Hello world, this is my question.\n\n_______________________________________________\nList mailing list\nhttps://lists.example.org/list");
        assert!(b.attachments.is_empty(), "{:?}", b.attachments);
    }

    #[test]
    fn html_only_mail_gives_text_with_windows_1252_references_meant() {
        let b = body(b"From: a@b.c\r\nContent-Type: text/html\r\n\r\n<p>&#149; one &#146;s</p>\r\n");
        assert_eq!(b.text.trim(), "\u{2022} one \u{2019}s");
        assert!(b.html.contains('\u{2022}'), "{}", b.html);
    }

    #[test]
    fn a_forwarded_mail_is_an_attachment_named_after_its_subject_with_its_own_bytes() {
        let b = body(b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee below\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.e\r\nSubject: Fwd: Invoice 3/2024\r\n\r\nInner body\r\n--b--\r\n");
        assert_eq!(b.text, "See below");
        let names: Vec<(&str, &str)> = b.attachments.iter().map(|a| (a.filename.as_str(), a.content_type.as_str())).collect();
        assert_eq!(names, [("Fwd Invoice 3 2024.eml", "message/rfc822")]);
        assert!(b.attachments[0].data.starts_with(b"From: c@d.e") && b.attachments[0].data.ends_with(b"Inner body"));
        assert_eq!(forwarded_name(Some(" \u{1}..")), "forwarded message.eml");
    }

    #[test]
    fn every_inline_text_part_counts_in_order() {
        let b = body(b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFirst\r\n--b\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b\r\nContent-Type: text/plain\r\n\r\nSecond\r\n--b--\r\n");
        assert_eq!(b.text, "First\n\nSecond");
        assert_eq!(b.attachments.len(), 1);
    }
}
