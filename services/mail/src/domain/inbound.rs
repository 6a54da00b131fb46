//! Raw mail → what the help desk needs of it, under limits: sender, subject, Message-ID and the
//! thread references, the reply text with quoted history and signature stripped (the full text is
//! kept too), sanitized HTML, attachments and inline images as parts to store, the reply token from
//! a plus-address, and the classification. Pure: no I/O, so every byte string can be thrown at it
//! (the corpus test and the fuzz target do).
//!
//! The jobs live in small modules: `body` (MIME tree → text, HTML, attachments), `transfer` and
//! `charset` (decoding that keeps what can be kept), `reply_text` (history and signature),
//! `message_ids` (usable ids, thread order), `clean` (controls, the one text limit), `classify` and
//! `dsn` (automatic mail). A readable mail is never refused for an odd sender: From, else
//! Reply-To, else Sender, else no address (tickets files it under "unknown sender").

use helpdesk_kit::address::Address;
use mail_parser::{Addr, HeaderName, Message, MessageParser};
use sha2::{Digest, Sha256};

pub use super::body::Attachment;
use super::{
    body, charset,
    classify::{Classification, classify},
    clean::{cut_to, without_controls},
    message_ids,
    reply_text::strip_reply,
};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_parts: usize,
    pub max_headers: usize,
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            max_parts: 200,
            max_headers: 1000,
            max_attachments: 50,
        }
    }
}

/// Why a mail cannot become a message: each goes to quarantine with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the mail is {size} bytes, over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("the mail has {count} parts, over the limit of {max}")]
    TooManyParts { count: usize, max: usize },
    #[error("the mail has {count} headers, over the limit of {max}")]
    TooManyHeaders { count: usize, max: usize },
    #[error("the mail has {count} attachments, over the limit of {max}")]
    TooManyAttachments { count: usize, max: usize },
    #[error("the mail cannot be parsed")]
    Unparseable,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMail {
    /// The mail's Message-ID, or one derived from its bytes when it has no usable one, so the same
    /// mail always deduplicates to the same id.
    pub message_id: String,
    /// Empty when neither From, Reply-To nor Sender holds a valid address.
    pub sender_address: String,
    pub sender_name: String,
    pub subject: String,
    /// The new text of this mail: quoted history and signature removed; never empty when
    /// `full_text` is not.
    pub text: String,
    /// The whole text of the mail, as sent.
    pub full_text: String,
    pub html: String,
    /// In-Reply-To, then References from newest to oldest; malformed ids and repeats left out.
    pub thread_refs: Vec<String>,
    /// From a plus-address such as `support+<token>@example.com` among the recipients.
    pub reply_token: Option<String>,
    pub attachments: Vec<Attachment>,
    pub classification: Classification,
}

pub fn parse(raw: &[u8], limits: &Limits, own_addresses: &[String]) -> Result<ParsedMail, ParseError> {
    if raw.len() > limits.max_bytes {
        return Err(ParseError::TooLarge { size: raw.len(), max: limits.max_bytes });
    }
    let message = MessageParser::default().parse(raw).ok_or(ParseError::Unparseable)?;
    if message.parts.len() > limits.max_parts {
        return Err(ParseError::TooManyParts { count: message.parts.len(), max: limits.max_parts });
    }
    let headers = message.parts.iter().map(|p| p.headers.len()).sum::<usize>();
    if headers > limits.max_headers {
        return Err(ParseError::TooManyHeaders { count: headers, max: limits.max_headers });
    }
    if message.attachment_count() > limits.max_attachments {
        return Err(ParseError::TooManyAttachments { count: message.attachment_count(), max: limits.max_attachments });
    }
    let (sender_address, sender_name) = sender(&message);
    let body = body::extract(&message);
    let full_text = without_controls(body.text.trim_end()).into_owned();
    let html = ammonia::clean(&without_controls(&body.html));
    let ids = |name: HeaderName<'_>| message.header_raw(name).map(message_ids::split_ids).unwrap_or_default();
    let thread_refs = message_ids::thread_refs(&ids(HeaderName::InReplyTo), &ids(HeaderName::References));
    let message_id = match message.header_raw(HeaderName::MessageId).and_then(message_ids::usable) {
        Some(id) => id,
        None => format!("sha256-{:x}@no-message-id", Sha256::digest(raw)),
    };
    let recipients: Vec<String> = [message.to(), message.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(str::to_string))
        .chain(message.header_raw("Delivered-To").map(|d| d.trim().to_string()))
        .collect();
    let attachments = body
        .attachments
        .into_iter()
        .map(|a| Attachment {
            filename: without_controls(a.filename.trim()).into_owned(),
            content_type: without_controls(&a.content_type).into_owned(),
            content_id: without_controls(&a.content_id).into_owned(),
            ..a
        })
        .collect();
    let classification = classify(&message, &sender_address, own_addresses);
    Ok(ParsedMail {
        message_id,
        sender_name: without_controls(&sender_name).trim().to_string(),
        subject: without_controls(&subject(&message)).trim().to_string(),
        text: strip_reply(&full_text),
        full_text,
        html,
        thread_refs,
        reply_token: recipients.iter().find_map(|r| reply_token(r, own_addresses)),
        sender_address,
        attachments,
        classification,
    })
}

/// The first valid address of From, else Reply-To, else Sender, with its display name (or
/// From's); with none, no address and From's raw text as the name, so an agent sees who it was.
fn sender(message: &Message<'_>) -> (String, String) {
    let from_name = message.from().and_then(|a| a.first()).and_then(|a| a.name()).unwrap_or_default();
    let headers = [(message.from(), HeaderName::From), (message.reply_to(), HeaderName::ReplyTo), (message.sender(), HeaderName::Sender)];
    for (list, header) in headers {
        let raw = message.header_raw(header.clone()).unwrap_or_default();
        for addr in list.iter().flat_map(|l| l.iter()) {
            if let Some((address, name_was_local_part)) = valid_address(addr, raw) {
                let (name, from) = match addr.name().filter(|n| !n.trim().is_empty() && !name_was_local_part) {
                    Some(name) => (name, header),
                    None => (from_name, HeaderName::From),
                };
                let name = if name_was_local_part { String::new() } else { readable_name(name.trim(), message, from) };
                return (address, name);
            }
        }
    }
    let raw_from = message.header_raw(HeaderName::From).unwrap_or_default();
    (String::new(), raw_from.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An address by the one rule, and whether mail-parser had mistaken its local part for the name.
/// mail-parser reads a quoted local part as a display name (`"Books@Books"@example.com` arrives
/// as name `Books@Books`, address `@example.com`) or unquotes it; when the raw header has the
/// local part quoted, it is put back together.
fn valid_address(addr: &Addr<'_>, raw_header: &str) -> Option<(String, bool)> {
    let parsed = addr.address()?.trim();
    let quoted_in_raw = |local: &str| raw_header.contains(&format!("\"{local}\"@"));
    let candidate = match (parsed.strip_prefix('@'), addr.name()) {
        (Some(_), Some(name)) if quoted_in_raw(name) => (format!("\"{name}\"{parsed}"), true),
        _ => match parsed.rsplit_once('@') {
            Some((local, domain)) if !local.starts_with('"') && quoted_in_raw(local) => (format!("\"{local}\"@{domain}"), false),
            _ => (parsed.to_string(), false),
        },
    };
    Address::parse(&candidate.0).ok().map(|a| (a.into_string(), candidate.1))
}

/// The decoded subject; when mail-parser's decoding left U+FFFD (raw 8-bit bytes, or encoded words
/// under an unknown or lying label), the raw header is read by the charset rule instead.
fn subject(message: &Message<'_>) -> String {
    let decoded = message.subject().unwrap_or_default();
    if !decoded.contains('\u{FFFD}') {
        return decoded.to_string();
    }
    reread_header(message, HeaderName::Subject).unwrap_or_else(|| decoded.to_string())
}

/// A display name without U+FFFD where the raw header holds one address: `Zoë <zoe@…>` from
/// `=?utf-8?Q?Zo=EB?= <zoe@…>` (a utf-8 label on a Latin-1 byte).
fn readable_name(name: &str, message: &Message<'_>, header: HeaderName<'_>) -> String {
    if !name.contains('\u{FFFD}') {
        return name.to_string();
    }
    let reread = reread_header(message, header).filter(|h| h.matches('@').count() == 1);
    match reread.as_deref().and_then(|h| h.split_once('<')) {
        Some((display, _)) if !display.trim().is_empty() => display.trim().trim_matches('"').trim().to_string(),
        _ => name.to_string(),
    }
}

/// The top-level header `name` read from the raw mail by the charset rule.
fn reread_header(message: &Message<'_>, name: HeaderName<'_>) -> Option<String> {
    let header = message.root_part().headers.iter().find(|h| h.name == name)?;
    let bytes = message.raw_message().get(header.offset_start() as usize..header.offset_end() as usize)?;
    Some(charset::decode_header(bytes))
}

/// The token of `support+<token>@domain` when `support@domain` is one of our addresses.
fn reply_token(recipient: &str, own_addresses: &[String]) -> Option<String> {
    let (local, domain) = recipient.trim().trim_matches(['<', '>']).rsplit_once('@')?;
    let (base, token) = local.split_once('+')?;
    let ours = own_addresses.iter().any(|own| own.eq_ignore_ascii_case(&format!("{base}@{domain}")));
    (ours && !token.is_empty() && token.len() <= 200).then(|| token.to_string())
}

/// The channel-neutral message tickets consumes, for a mail that arrived in `mailbox`, with text
/// and HTML cut to the limits tickets stores (the cut recorded, the whole mail in `raw`).
/// Attachments are added by the caller once their bytes are in the blob store.
pub fn to_inbound(mail: &ParsedMail, mailbox: &str) -> helpdesk_proto::events::v1::InboundMessage {
    use helpdesk_kit::limits::{MAX_MESSAGE_HTML_BYTES, MAX_MESSAGE_TEXT_BYTES};
    use helpdesk_proto::events::v1::{InboundChannel, InboundFlags, InboundMessage, Sender};
    let c = &mail.classification;
    let mut text = mail.text.clone();
    let mut html = mail.html.clone();
    let text_truncated = cut_to(&mut text, MAX_MESSAGE_TEXT_BYTES) | cut_to(&mut html, MAX_MESSAGE_HTML_BYTES);
    InboundMessage {
        channel: InboundChannel::Email as i32,
        source: mailbox.to_string(),
        external_id: mail.message_id.clone(),
        sender: Some(Sender {
            address: mail.sender_address.clone(),
            handle: String::new(),
            display_name: mail.sender_name.clone(),
        }),
        subject: mail.subject.clone(),
        text,
        html,
        attachments: Vec::new(),
        thread_refs: mail.thread_refs.clone(),
        reply_token: mail.reply_token.clone().unwrap_or_default(),
        flags: Some(InboundFlags {
            auto_submitted: c.auto_submitted,
            bulk: c.bulk,
            bounce: c.bounce,
            from_own_address: c.from_own_address,
            loop_detected: c.loop_detected,
            bounced_message_id: c.bounced_message_id.clone().unwrap_or_default(),
            delivery_delayed: c.delivery_delayed,
        }),
        raw: None,
        received_at: None,
        category: String::new(),
        text_truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Vec<String> {
        vec!["support@example.com".into()]
    }

    #[test]
    fn a_plain_mail_gives_sender_subject_ids_and_text() {
        let raw = "From: \"Ann Smith\" <ann@example.org>\r\nTo: support+t0k3n@example.com\r\nSubject: Printer on fire\r\n\
            Message-ID: <m1@example.org>\r\nIn-Reply-To: <ours-1@helpdesk.example>\r\nReferences: <first@x> <ours-1@helpdesk.example>\r\n\r\n\
            It is really on fire.\r\n\r\nOn Mon, 1 Jan 2024, Support wrote:\r\n> Have you tried turning it off?\r\n";
        let mail = parse(raw.as_bytes(), &Limits::default(), &own()).expect("parses");
        assert_eq!(mail.sender_address, "ann@example.org");
        assert_eq!(mail.sender_name, "Ann Smith");
        assert_eq!(mail.subject, "Printer on fire");
        assert_eq!(mail.message_id, "m1@example.org");
        assert_eq!(mail.thread_refs, vec!["ours-1@helpdesk.example".to_string(), "first@x".to_string()]);
        assert_eq!(mail.reply_token.as_deref(), Some("t0k3n"));
        assert_eq!(mail.text, "It is really on fire.");
        assert!(mail.full_text.contains("turning it off"));
        assert!(!mail.classification.is_automatic());
    }

    #[test]
    fn html_is_sanitized_and_attachments_and_inline_images_are_kept() {
        let raw = "From: ann@example.org\r\nSubject: pic\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x()\">Hi <img src=\"cid:img1\"></p><script>bad()</script>\r\n\
            --b\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\nContent-Disposition: inline; filename=\"a.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
            --b\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n\r\n%PDF-1.4\r\n\
            --b--\r\n";
        let mail = parse(raw.as_bytes(), &Limits::default(), &own()).expect("parses");
        assert!(mail.html.contains("Hi") && !mail.html.contains("script") && !mail.html.contains("onclick"), "{}", mail.html);
        let names: Vec<(&str, &str)> = mail.attachments.iter().map(|a| (a.filename.as_str(), a.content_id.as_str())).collect();
        assert!(names.contains(&("a.png", "img1")), "{names:?}");
        assert!(names.contains(&("invoice.pdf", "")), "{names:?}");
    }

    #[test]
    fn mislabelled_and_legacy_charsets_decode() {
        // ISO-2022-JP in an encoded-word and a body, and GB2312 (decoded as its GBK superset).
        let jis = b"From: taro@example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n";
        let mail = parse(jis, &Limits::default(), &own()).expect("parses");
        assert_eq!(mail.subject, "テスト");
        assert_eq!(mail.text, "こんにちは");
        let gb = b"From: li@example.cn\r\nSubject: test\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n\xc4\xe3\xba\xc3\r\n";
        assert_eq!(parse(gb, &Limits::default(), &own()).expect("parses").text, "你好");
    }

    #[test]
    fn limits_are_explicit_errors() {
        let raw = b"From: ann@example.org\r\nSubject: x\r\n\r\nbody";
        let tight = Limits { max_bytes: 10, ..Limits::default() };
        assert!(matches!(parse(raw, &tight, &own()), Err(ParseError::TooLarge { .. })));
        let headers = Limits { max_headers: 1, ..Limits::default() };
        assert!(matches!(parse(raw, &headers, &own()), Err(ParseError::TooManyHeaders { .. })));
        assert_eq!(parse(b"", &Limits::default(), &own()), Err(ParseError::Unparseable));
    }

    #[test]
    fn the_sender_is_from_else_reply_to_else_sender_else_unknown() {
        let garbage_from = b"From: \xc3\x28\xff\xfe <\xff\xfe@\xfa.example>\r\nReply-To: Ann <ann@example.org>\r\nSubject: x\r\n\r\nHi";
        let mail = parse(garbage_from, &Limits::default(), &own()).expect("parses");
        assert_eq!((mail.sender_address.as_str(), mail.sender_name.as_str()), ("ann@example.org", "Ann"));
        let sender_only = b"From: undisclosed\r\nSender: Bot <bot@example.org>\r\nSubject: x\r\n\r\nHi";
        assert_eq!(parse(sender_only, &Limits::default(), &own()).expect("parses").sender_address, "bot@example.org");
        let nobody = parse(b"From: Some One\r\nSubject: nobody\r\n\r\nWho am I?", &Limits::default(), &own()).expect("parses");
        assert_eq!((nobody.sender_address.as_str(), nobody.sender_name.as_str()), ("", "Some One"));
        assert_eq!(nobody.text, "Who am I?");
        let none_at_all = parse(b"Subject: nobody\r\n\r\nhi", &Limits::default(), &own()).expect("parses");
        assert_eq!(to_inbound(&none_at_all, "m").sender.expect("sender").address, "");
    }

    #[test]
    fn odd_but_real_addresses_are_senders() {
        for (from, expected) in [
            ("\"Books@Books\"@example.com", "\"Books@Books\"@example.com"),
            ("Ann <ann@example.org.>", "ann@example.org"),
            ("someone@redacted", "someone@redacted"),
        ] {
            let raw = format!("From: {from}\r\nSubject: x\r\n\r\nHi");
            assert_eq!(parse(raw.as_bytes(), &Limits::default(), &own()).expect("parses").sender_address, expected, "{from}");
        }
    }

    #[test]
    fn nul_and_control_characters_never_leave_the_mail_part() {
        let raw = b"From: \"An\x01n\" <ann@example.org>\r\nSubject: =?utf-8?q?In=00voice?=\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHel=00lo=1B\r\n\
            --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a=00b.pdf\"\r\n\r\n%PDF\r\n--b--\r\n";
        let mail = parse(raw, &Limits::default(), &own()).expect("parses");
        assert_eq!((mail.subject.as_str(), mail.text.as_str(), mail.sender_name.as_str()), ("Invoice", "Hello", "Ann"));
        assert!(mail.attachments.iter().all(|a| !a.filename.contains('\0')), "{:?}", mail.attachments);
        assert!(!mail.html.contains('\0'));
    }

    #[test]
    fn a_raw_latin1_subject_or_lying_encoded_words_are_read_as_windows_1252() {
        let mail = parse(b"From: ann@example.org\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\n\r\nHi", &Limits::default(), &own()).expect("parses");
        assert_eq!(mail.subject, "Grüße aus Köln");
        let name = parse(b"From: =?utf-8?Q?Zo=EB?= <zoe@example.be>\r\n\r\nHi", &Limits::default(), &own()).expect("parses");
        assert_eq!(name.sender_name, "Zoë");
        let words = b"From: ann@example.org\r\nSubject: =?unknown-8bit?Q?Gr=FC=DFe_?= =?utf-8?Q?aus_K=F6ln?=\r\n\r\nHi";
        assert_eq!(parse(words, &Limits::default(), &own()).expect("parses").subject, "Grüße aus Köln");
    }

    #[test]
    fn a_mail_over_the_text_limit_is_cut_and_says_so_within_the_limit() {
        let max = helpdesk_kit::limits::MAX_MESSAGE_TEXT_BYTES;
        let long = "word ".repeat(max / 5 + 1000);
        let raw = format!("From: ann@example.org\r\nSubject: long\r\n\r\n{long}");
        let mail = parse(raw.as_bytes(), &Limits::default(), &own()).expect("parses");
        let inbound = to_inbound(&mail, "support@example.com");
        assert!(inbound.text_truncated);
        assert!(inbound.text.len() <= max && inbound.html.len() <= helpdesk_kit::limits::MAX_MESSAGE_HTML_BYTES);
        assert!(inbound.text.ends_with(super::super::clean::CUT_MARKER));
        assert!(!to_inbound(&parse(b"From: a@b.example\r\n\r\nshort", &Limits::default(), &own()).expect("parses"), "m").text_truncated);
    }

    #[test]
    fn malformed_message_ids_fall_back_to_the_stable_hash_and_leave_the_thread() {
        let raw = b"From: ann@example.org\r\nMessage-ID: <no at sign>\r\nIn-Reply-To: <bad id@x>\r\nReferences: <root@x> <parent@x>\r\n\r\nHi";
        let mail = parse(raw, &Limits::default(), &own()).expect("parses");
        assert!(mail.message_id.starts_with("sha256-"), "{}", mail.message_id);
        assert_eq!(mail.thread_refs, vec!["parent@x".to_string(), "root@x".to_string()]);
    }

    #[test]
    fn a_mail_without_message_id_gets_a_stable_one() {
        let raw = b"From: ann@example.org\r\nSubject: x\r\n\r\nbody";
        let a = parse(raw, &Limits::default(), &own()).expect("parses").message_id;
        let b = parse(raw, &Limits::default(), &own()).expect("parses").message_id;
        assert_eq!(a, b);
        assert!(a.starts_with("sha256-"));
    }

    #[test]
    fn a_reply_below_the_quote_keeps_its_text_and_a_quote_only_mail_keeps_everything() {
        let raw = "From: ann@example.org\r\nSubject: Re: x\r\n\r\nOn Tue, Support wrote:\r\n> Is it fixed?\r\n\r\nYes.\r\n";
        assert_eq!(parse(raw.as_bytes(), &Limits::default(), &own()).expect("parses").text, "Yes.");
        let quotes = "From: ann@example.org\r\nSubject: Re: x\r\n\r\n> only a quote\r\n";
        assert_eq!(parse(quotes.as_bytes(), &Limits::default(), &own()).expect("parses").text, "> only a quote");
    }
}
