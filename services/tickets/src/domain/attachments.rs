//! Attachments' rules: a size limit, a file name that is safe to put in a header and on a disk,
//! and the content type sniffed from the bytes — never the uploader's claim, so a file posing as
//! an image cannot be served as HTML.

use super::{TicketError, invalid, is_invisible_format};

pub const MAX_PER_MESSAGE: usize = 10;

/// The last path component, without control characters, invisible formatting characters (a
/// right-to-left override makes `invoice\u{202E}gnp.exe` show as `invoiceexe.png`) or quotes, at
/// most 200 characters.
pub fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c) && !matches!(c, '"' | ';'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() { "attachment".into() } else { cleaned }
}

/// Types a browser would run rather than show: served as opaque bytes whatever they are.
const ACTIVE: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
];

/// A known type from its magic bytes (active ones made opaque); UTF-8 without one is plain text;
/// anything else is an opaque download.
pub fn sniff_content_type(data: &[u8]) -> &'static str {
    match infer::get(data) {
        Some(kind) if ACTIVE.contains(&kind.mime_type()) => "application/octet-stream",
        // infer calls any "-----BEGIN" text a PEM certificate; ASCII armor (PGP signatures and
        // keys, `.asc`) is text, and so is a PEM certificate. Binary DER stays a certificate.
        Some(kind) if kind.mime_type() == "application/x-x509-ca-cert" && std::str::from_utf8(data).is_ok() => "text/plain",
        Some(kind) => kind.mime_type(),
        None if std::str::from_utf8(data).is_ok() => "text/plain",
        None => "application/octet-stream",
    }
}

pub fn check_size(data: &[u8], max: usize) -> Result<(), TicketError> {
    if data.is_empty() {
        return Err(invalid("data", "the file is empty"));
    }
    if data.len() > max {
        return Err(invalid("data", format!("the file is larger than {max} bytes")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_quotes_and_control_characters() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(clean_filename("a\"b;c\r\n.txt"), "abc.txt");
        assert_eq!(clean_filename(".."), "attachment");
        assert_eq!(clean_filename(""), "attachment");
        assert_eq!(clean_filename(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn file_names_lose_bidirectional_overrides_and_zero_width_characters() {
        assert_eq!(clean_filename("invoice\u{202E}gnp.exe"), "invoicegnp.exe");
        assert_eq!(clean_filename("re\u{2067}port\u{2069}.pdf\u{200B}\u{FEFF}"), "report.pdf");
        assert_eq!(clean_filename("\u{200F}\u{2060}"), "attachment");
        assert_eq!(clean_filename("résumé – 履歴書.pdf"), "résumé – 履歴書.pdf");
    }

    #[test]
    fn the_type_comes_from_the_bytes_not_the_claim() {
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0];
        assert_eq!(sniff_content_type(&png), "image/png");
        assert_eq!(sniff_content_type(b"<html><script>alert(1)</script></html>"), "application/octet-stream");
        assert_eq!(sniff_content_type(b"plain words"), "text/plain");
        assert_eq!(sniff_content_type(&[0xff, 0xfe, 0x00, 0x81]), "application/octet-stream");
    }

    #[test]
    fn an_ascii_armored_signature_is_text_not_a_certificate() {
        let asc = b"-----BEGIN PGP SIGNATURE-----\n\niHUEARYIAB0WIQQexample\n=abcd\n-----END PGP SIGNATURE-----\n";
        assert_eq!(sniff_content_type(asc), "text/plain");
        assert_eq!(sniff_content_type(&[0x30, 0x82, 0x01, 0x0a, 0xff]), "application/x-x509-ca-cert");
    }

    #[test]
    fn sizes_are_bounded_and_empty_files_refused() {
        assert!(check_size(b"", 10).is_err());
        assert!(check_size(&[1; 11], 10).is_err());
        assert!(check_size(&[1; 10], 10).is_ok());
    }
}
