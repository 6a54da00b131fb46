//! Bytes of a text part → text, whatever its charset label says. Mail lies about its charset all
//! the time (`unknown-8bit`, `x-user-defined`, `us-ascii` on 8-bit bytes, `utf-8` on Latin-1), and
//! a lossy decode under the wrong label turns a customer's words into U+FFFD soup. So: bytes that
//! are valid in the labelled charset are decoded with it; otherwise valid UTF-8 is UTF-8 (the most
//! common mislabel); otherwise Windows-1252, the superset of Latin-1 that maps every byte to a
//! character, which is what unlabelled 8-bit Western mail almost always is.
//!
//! The same rule reads a raw header whose decoding by mail-parser left U+FFFD (raw 8-bit bytes, or
//! RFC 2047 encoded words under an unknown or lying label: `=?unknown-8bit?Q?Gr=FC=DFe?=`).
//!
//! Also here: HTML numeric references in the Windows-1252 range (`&#149;`), which HTML5 reads as the
//! Windows-1252 characters they were meant to be, not as C1 control characters.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use mail_parser::decoders::charsets::map::charset_decoder;

/// Decodes `bytes` labelled `label` (a MIME `charset` parameter, if any).
pub fn decode(bytes: &[u8], label: Option<&str>) -> String {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    let utf8 = std::str::from_utf8(bytes).ok().map(|t| t.strip_prefix('\u{FEFF}').unwrap_or(t));
    let windows_1252 = || WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned();
    match label.and_then(known) {
        Some(encoding) if encoding == UTF_8 => utf8.map_or_else(windows_1252, str::to_string),
        // Valid UTF-8 with multi-byte sequences under a single-byte label is UTF-8 mislabelled:
        // real Latin-1 or Cyrillic text almost never forms valid UTF-8 sequences by chance.
        Some(encoding) if encoding.is_single_byte() => match utf8 {
            Some(text) if !text.is_ascii() => text.to_string(),
            _ => encoding.decode_without_bom_handling_and_without_replacement(bytes).map_or_else(windows_1252, Cow::into_owned),
        },
        // A multi-byte label (Shift_JIS, GBK …) with a few broken bytes: its own decode keeps every
        // other character, Windows-1252 would keep none of them.
        Some(encoding) => match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
            Some(text) => text.into_owned(),
            None => utf8.map_or_else(|| encoding.decode_without_bom_handling(bytes).0.into_owned(), str::to_string),
        },
        None => match label.filter(|l| is_utf7(l)).and_then(|l| charset_decoder(l.as_bytes())) {
            // encoding_rs leaves out UTF-7 (WHATWG forbids it); old Outlook and Exchange still send it.
            Some(decoder) => decoder(bytes),
            None => utf8.map_or_else(windows_1252, str::to_string),
        },
    }
}

/// A raw header value read with the charset rule: RFC 2047 encoded words (`=?label?Q|B?data?=`)
/// decoded under their label, the bytes between them as unlabelled text; whitespace between two
/// encoded words is dropped (RFC 2047 §6.2) and folding is unfolded.
pub fn decode_header(raw: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = raw;
    let mut after_word = false;
    while !rest.is_empty() {
        let start = rest.windows(2).position(|w| w == b"=?").unwrap_or(rest.len());
        let (plain, tail) = rest.split_at(start);
        match encoded_word(tail) {
            Some((text, len)) => {
                if !(after_word && plain.iter().all(u8::is_ascii_whitespace)) {
                    out.push_str(&decode(plain, None));
                }
                out.push_str(&text);
                rest = &tail[len..];
                after_word = true;
            }
            None => {
                let take = if tail.is_empty() { plain.len() } else { start + 2 };
                out.push_str(&decode(&rest[..take], None));
                rest = &rest[take..];
                after_word = false;
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of one encoded word at the start of `text`, and its length in bytes.
fn encoded_word(text: &[u8]) -> Option<(String, usize)> {
    let body = text.strip_prefix(b"=?")?;
    let label_end = body.iter().position(|&b| b == b'?')?;
    let label = std::str::from_utf8(&body[..label_end]).ok()?;
    // RFC 2231 allows `charset*language`.
    let label = label.split('*').next().unwrap_or(label);
    let encoding = *body.get(label_end + 1)?;
    if body.get(label_end + 2) != Some(&b'?') {
        return None;
    }
    let data_start = label_end + 3;
    let data_len = body[data_start..].windows(2).position(|w| w == b"?=")?;
    let data = &body[data_start..data_start + data_len];
    if data.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let bytes = match encoding.to_ascii_uppercase() {
        b'B' => mail_parser::decoders::base64::base64_decode(data)?,
        b'Q' => {
            let spaced: Vec<u8> = data.iter().map(|&b| if b == b'_' { b' ' } else { b }).collect();
            super::transfer::decode(&spaced, Some("quoted-printable")).bytes
        }
        _ => return None,
    };
    Some((decode(&bytes, Some(label)), 2 + data_start + data_len + 2))
}

/// An encoding we trust for a label: encoding_rs knows it, and it is a real charset rather than
/// WHATWG's catch-alls (`replacement` decodes everything to U+FFFD, `x-user-defined` maps the high
/// bytes to private-use characters).
fn known(label: &str) -> Option<&'static Encoding> {
    let encoding = Encoding::for_label_no_replacement(label.as_bytes())?;
    (encoding != encoding_rs::X_USER_DEFINED).then_some(encoding)
}

fn is_utf7(label: &str) -> bool {
    matches!(label.trim().to_ascii_lowercase().as_str(), "utf-7" | "utf7" | "unicode-1-1-utf-7" | "csunicode11utf7")
}

/// `&#128;` … `&#159;` (and `&#x80;` … `&#x9F;`) replaced by the Windows-1252 characters they mean
/// (HTML5 §13.2.5.80), so text made from HTML carries `•` and `’`, not C1 controls. ammonia's parser
/// already applies this rule; `mail_parser`'s html-to-text does not.
pub fn fix_windows_1252_references(html: &str) -> Cow<'_, str> {
    if !html.contains("&#") {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match windows_1252_reference(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push_str("&#");
                rest = &rest[2..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character and the length of a reference such as `&#149;` at the start of `text`, when its
/// code point is in 0x80..=0x9F.
fn windows_1252_reference(text: &str) -> Option<(char, usize)> {
    let body = text.strip_prefix("&#")?;
    let (digits, radix, skip) = match body.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16, 3),
        None => (body, 10, 2),
    };
    let len = digits.find(';')?;
    if len == 0 || len > 6 {
        return None;
    }
    let code = u32::from_str_radix(&digits[..len], radix).ok()?;
    let byte = u8::try_from(code).ok().filter(|b| (0x80..=0x9f).contains(b))?;
    let bytes = [byte];
    let (decoded, _) = WINDOWS_1252.decode_without_bom_handling(&bytes);
    let c = decoded.chars().next()?;
    Some((c, skip + len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_valid_in_its_label_is_decoded_with_it() {
        assert_eq!(decode(b"caf\xe9", Some("iso-8859-1")), "café");
        assert_eq!(decode(b"\xb1\xea", Some("iso-8859-2")), "ąę");
        assert_eq!(decode(b"\x93quoted\x94", Some("windows-1252")), "“quoted”");
        assert_eq!(decode("naïve".as_bytes(), Some("UTF-8")), "naïve");
        assert_eq!(decode(b"\xc4\xe3\xba\xc3", Some("gb2312")), "你好");
    }

    #[test]
    fn unknown_or_lying_labels_fall_back_to_utf8_then_windows_1252() {
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("unknown-8bit")), "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("x-user-defined")), "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("us-ascii")), "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", Some("utf-8")), "Grüße");
        assert_eq!(decode(b"Gr\xfc\xdfe", None), "Grüße");
        assert_eq!(decode("Grüße".as_bytes(), Some("us-ascii")), "Grüße");
        assert_eq!(decode("Grüße".as_bytes(), Some("unknown-8bit")), "Grüße");
        assert_eq!(decode(b"\x93hi\x94", Some("x-unknown")), "“hi”");
    }

    #[test]
    fn a_multi_byte_label_with_a_broken_byte_keeps_its_other_characters() {
        let text = decode(b"\xc4\xe3\xba\xc3\xff", Some("gbk"));
        assert!(text.starts_with("你好"), "{text}");
    }

    #[test]
    fn utf7_from_old_exchange_servers_decodes() {
        assert_eq!(decode(b"Hi Mom -+Jjo--!", Some("utf-7")), "Hi Mom -☺-!");
    }

    #[test]
    fn headers_with_lying_labels_or_raw_bytes_are_read_by_the_same_rule() {
        assert_eq!(decode_header(b" =?unknown-8bit?Q?Gr=FC=DFe_?= =?utf-8?B?YXVz?=\r\n K\xf6ln"), "Grüße aus Köln");
        assert_eq!(decode_header(b"=?utf-8?q?caf=E9?= and =?iso-8859-1*en?q?na=EFve?="), "café and naïve");
        assert_eq!(decode_header(b"not =? a word ?= here"), "not =? a word ?= here");
        assert_eq!(decode_header("plain ünïcode".as_bytes()), "plain ünïcode");
    }

    #[test]
    fn numeric_references_in_the_windows_1252_range_mean_its_characters() {
        assert_eq!(fix_windows_1252_references("&#149; one &#146;s &#x93;q&#X94;"), "• one ’s “q”");
        assert_eq!(fix_windows_1252_references("&#8226; &#65; &#160; &#; &# &#99999999;"), "&#8226; &#65; &#160; &#; &# &#99999999;");
        assert_eq!(fix_windows_1252_references("tail &#1"), "tail &#1");
    }
}
