//! Content-Transfer-Encoding, decoded leniently. mail-parser gives up on a whole part when its
//! base64 is followed by anything else (a mailing-list manager appending its plain-text footer
//! after the encoded body) or its quoted-printable holds a stray `==`, and then files the still
//! encoded text as an "attachment". Here decoding keeps what can be decoded: base64 up to the first
//! line that is not part of the encoded block, the rest kept as the plain text it is; in
//! quoted-printable, a `=` that starts no escape is just a `=`.

/// The bytes a part's body stands for, and any plain text that followed its base64 block.
pub struct Decoded {
    pub bytes: Vec<u8>,
    pub trailing_text: Vec<u8>,
}

/// Decodes `body` under the declared `Content-Transfer-Encoding` (7bit, 8bit, binary or none leave
/// it as it is).
pub fn decode(body: &[u8], transfer_encoding: Option<&str>) -> Decoded {
    match transfer_encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        Some("base64") => base64(body),
        Some("quoted-printable") => Decoded { bytes: quoted_printable(body), trailing_text: Vec::new() },
        _ => Decoded { bytes: body.to_vec(), trailing_text: Vec::new() },
    }
}

fn is_base64_line(line: &[u8]) -> bool {
    !line.is_empty() && line.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The encoded block is the run of base64 lines from the start: encoders write lines of one
/// length, so the block ends at its first shorter line or a padded line; whatever follows (after
/// blank lines) is text someone appended.
fn base64(body: &[u8]) -> Decoded {
    let mut encoded = Vec::with_capacity(body.len());
    let mut width = None;
    let mut end = body.len();
    let mut offset = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let content = line.trim_ascii();
        let start = offset;
        offset += line.len();
        if content.is_empty() {
            continue;
        }
        let full = *width.get_or_insert(content.len());
        let last = content.len() < full || content.ends_with(b"=");
        // An encoder's output is a multiple of 4 characters: a short line that breaks that is
        // a word of the footer ("Thanks"), not the block's last line.
        if !is_base64_line(content) || content.len() > full || (last && (encoded.len() + content.len()) % 4 != 0) {
            end = start;
            break;
        }
        encoded.extend_from_slice(content);
        if last {
            end = offset;
            break;
        }
    }
    match mail_parser::decoders::base64::base64_decode(&encoded) {
        Some(bytes) => Decoded { bytes, trailing_text: body[end..].trim_ascii().to_vec() },
        // Not base64 at all: the text as it came is all there is.
        None => Decoded { bytes: body.to_vec(), trailing_text: Vec::new() },
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        if let (Some(h), Some(l)) = (body.get(i + 1).copied().and_then(hex), body.get(i + 2).copied().and_then(hex)) {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        // A soft line break: `=`, optional trailing whitespace, then the line end.
        let rest = &body[i + 1..];
        let blanks = rest.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
        match &rest[blanks..] {
            [b'\r', b'\n', ..] => i += blanks + 3,
            [b'\n', ..] => i += blanks + 2,
            [] => i += blanks + 1,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_followed_by_a_list_footer_decodes_and_keeps_the_footer() {
        let body = b"SGVsbG8gd29ybGQsIHRoaXMgaXMgbXkg\r\ncXVlc3Rpb24u\r\n\r\n____________\r\nList mailing list\r\nhttps://lists.example.org/list\r\n";
        let decoded = decode(body, Some("Base64"));
        assert_eq!(decoded.bytes, b"Hello world, this is my question.");
        assert_eq!(decoded.trailing_text, b"____________\r\nList mailing list\r\nhttps://lists.example.org/list");
    }

    #[test]
    fn a_footer_of_base64_letters_after_the_last_line_is_not_decoded() {
        let body = b"SGVsbG8gd29y\r\nbGQ=\r\nThanks\r\n";
        let decoded = decode(body, Some("base64"));
        assert_eq!(decoded.bytes, b"Hello world");
        assert_eq!(decoded.trailing_text, b"Thanks");
    }

    #[test]
    fn a_short_word_after_one_full_line_is_footer_text() {
        let decoded = decode(b"SGVsbG8gd29ybGQsIHRoaXMgaXMgbXkgcXVlc3Rpb24u\nThanks\n", Some("base64"));
        assert_eq!(decoded.bytes, b"Hello world, this is my question.");
        assert_eq!(decoded.trailing_text, b"Thanks");
    }

    #[test]
    fn clean_base64_decodes_whole() {
        let decoded = decode(b"SGVs\r\nbG8=\r\n", Some("base64"));
        assert_eq!((decoded.bytes.as_slice(), decoded.trailing_text.as_slice()), (&b"Hello"[..], &b""[..]));
    }

    #[test]
    fn quoted_printable_keeps_stray_equals_signs_and_joins_soft_breaks() {
        assert_eq!(decode(b"a =3D=3D b == c=\r\nd =\n e= \r\nf=E9=", Some("quoted-printable")).bytes, b"a == b == cd  ef\xe9");
        assert_eq!(decode(b"Hel=00lo", Some("quoted-printable")).bytes, b"Hel\0lo");
    }

    #[test]
    fn other_encodings_leave_the_bytes_alone() {
        assert_eq!(decode(b"=41 raw", Some("8bit")).bytes, b"=41 raw");
        assert_eq!(decode(b"=41 raw", None).bytes, b"=41 raw");
    }
}
