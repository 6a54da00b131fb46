//! Raw mail → what the help desk needs of it, under limits: sender, subject, Message-ID and the
//! thread references, the reply text with quoted history and signature stripped (the full text is
//! kept too), sanitized HTML, attachments and inline images as parts to store, the reply token from
//! a plus-address, and the classification. Pure: no I/O, so every byte string can be thrown at it
//! (the corpus test and the fuzz target do).

use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use super::classify::{Classification, classify};

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
    #[error("the mail names no sender address")]
    NoSender,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// Set for inline images referenced as `cid:` from the HTML.
    pub content_id: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMail {
    /// The mail's Message-ID, or one derived from its bytes when it has none, so the same mail
    /// always deduplicates to the same id.
    pub message_id: String,
    pub sender_address: String,
    pub sender_name: String,
    pub subject: String,
    /// The new text of this mail: quoted history and signature removed.
    pub text: String,
    /// The whole text part, as sent.
    pub full_text: String,
    pub html: String,
    /// In-Reply-To, then References, without duplicates.
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
    let from = message
        .from()
        .or_else(|| message.sender())
        .or_else(|| message.reply_to())
        .and_then(|a| a.iter().find(|a| a.address().is_some_and(|x| x.contains('@'))));
    let sender_address = from.and_then(|a| a.address()).map(|a| a.trim().to_string()).ok_or(ParseError::NoSender)?;
    let sender_name = from.and_then(|a| a.name()).map(|n| n.trim().to_string()).unwrap_or_default();

    let full_text = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let html = message.body_html(0).map(|h| ammonia::clean(&h)).unwrap_or_default();
    let mut thread_refs: Vec<String> = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        let ids = value.as_text_list().map(|l| l.to_vec()).or_else(|| value.as_text().map(|t| vec![t.into()]));
        for id in ids.unwrap_or_default() {
            let id = id.trim().trim_matches(['<', '>']).to_string();
            if !id.is_empty() && id.len() <= 998 && !thread_refs.contains(&id) && thread_refs.len() < 50 {
                thread_refs.push(id);
            }
        }
    }
    let message_id = match message.message_id().map(str::trim).filter(|id| !id.is_empty() && id.len() <= 998) {
        Some(id) => id.to_string(),
        None => format!("sha256-{:x}@no-message-id", Sha256::digest(raw)),
    };
    let recipients: Vec<String> = [message.to(), message.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(str::to_string))
        .chain(message.header_raw("Delivered-To").map(|d| d.trim().to_string()))
        .collect();
    let attachments = message
        .attachments()
        .filter(|part| !part.is_message() || part.message().is_some())
        .map(|part| Attachment {
            filename: part.attachment_name().unwrap_or("attachment").to_string(),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into()),
            content_id: part.content_id().unwrap_or_default().trim_matches(['<', '>']).to_string(),
            data: part.contents().to_vec(),
        })
        .collect();
    let classification = classify(&message, &sender_address, own_addresses);
    Ok(ParsedMail {
        message_id,
        sender_name,
        subject: message.subject().unwrap_or_default().trim().to_string(),
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

/// The token of `support+<token>@domain` when `support@domain` is one of our addresses.
fn reply_token(recipient: &str, own_addresses: &[String]) -> Option<String> {
    let (local, domain) = recipient.trim().trim_matches(['<', '>']).rsplit_once('@')?;
    let (base, token) = local.split_once('+')?;
    let ours = own_addresses.iter().any(|own| own.eq_ignore_ascii_case(&format!("{base}@{domain}")));
    (ours && !token.is_empty() && token.len() <= 200).then(|| token.to_string())
}

/// The text a person added: everything before the quoted history or the signature. Lines quoted
/// with `>` are dropped; an attribution line ("On … wrote:"), an Outlook header block or an
/// "Original Message" marker ends the new text; so does the signature delimiter `-- `.
pub fn strip_reply(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
        let attribution = (trimmed.starts_with("On ") && (trimmed.ends_with("wrote:") || next.ends_with("wrote:")))
            || (trimmed.starts_with("Am ") && trimmed.ends_with("schrieb:"))
            || (trimmed.starts_with("Le ") && trimmed.ends_with("a écrit :"));
        let outlook = trimmed.starts_with("-----Original Message-----")
            || trimmed.starts_with("________________________________")
            || (trimmed.starts_with("From:") && next.starts_with("Sent:"));
        if attribution || outlook || *line == "-- " || trimmed == "--" {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        kept.push(line);
    }
    let text = kept.join("\n");
    let text = text.trim();
    if text.is_empty() { String::new() } else { text.to_string() }
}

/// The channel-neutral message tickets consumes, for a mail that arrived in `mailbox`.
/// Attachments are added by the caller once their bytes are in the blob store.
pub fn to_inbound(mail: &ParsedMail, mailbox: &str) -> helpdesk_proto::events::v1::InboundMessage {
    use helpdesk_proto::events::v1::{InboundChannel, InboundFlags, InboundMessage, Sender};
    let c = &mail.classification;
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
        text: mail.text.clone(),
        html: mail.html.clone(),
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
            delivery_delayed: false,
        }),
        raw: None,
        received_at: None,
        category: String::new(),
        text_truncated: false,
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
    fn limits_and_missing_senders_are_explicit_errors() {
        let raw = b"From: ann@example.org\r\nSubject: x\r\n\r\nbody";
        let tight = Limits { max_bytes: 10, ..Limits::default() };
        assert!(matches!(parse(raw, &tight, &own()), Err(ParseError::TooLarge { .. })));
        let headers = Limits { max_headers: 1, ..Limits::default() };
        assert!(matches!(parse(raw, &headers, &own()), Err(ParseError::TooManyHeaders { .. })));
        assert_eq!(parse(b"Subject: nobody\r\n\r\nhi", &Limits::default(), &own()), Err(ParseError::NoSender));
        assert_eq!(parse(b"", &Limits::default(), &own()), Err(ParseError::Unparseable));
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
    fn reply_stripping_handles_the_common_clients() {
        assert_eq!(strip_reply("Thanks!\n\n-- \nAnn\nCEO"), "Thanks!");
        assert_eq!(strip_reply("Fixed now.\n-----Original Message-----\nFrom: x"), "Fixed now.");
        assert_eq!(strip_reply("Yes.\n\nFrom: Support\nSent: Monday\nTo: Ann"), "Yes.");
        assert_eq!(strip_reply("Ok\nOn Tue, Jan 2, 2024 at 10:00 AM Support <s@x>\nwrote:\n> old"), "Ok");
        assert_eq!(strip_reply("> only quotes\n> more"), "");
        assert_eq!(strip_reply("Line 1\nLine 2"), "Line 1\nLine 2");
    }
}
