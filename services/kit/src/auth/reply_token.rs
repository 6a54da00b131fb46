//! Signed reply tokens: the part after `+` in the `Reply-To` plus-address of ticket mail
//! (`support+<token>@example.com`). The token names the ticket and carries an HMAC made with a
//! key derived from the service secret, so a reply that keeps it threads into that ticket and a
//! forged one threads nowhere.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

const TAG_BYTES: usize = 10;

fn mac(secret: &SecretString, ticket: &Uuid) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(format!("reply-token:{}", secret.expose_secret()).as_bytes()).ok()?;
    mac.update(ticket.as_bytes());
    Some(mac.finalize().into_bytes()[..TAG_BYTES].to_vec())
}

/// A token for replies to this ticket: the ticket id and an 80-bit tag in hex (52 characters),
/// since mail systems may change the case of an address's local part.
pub fn sign(secret: &SecretString, ticket: Uuid) -> String {
    let mut bytes = ticket.as_bytes().to_vec();
    bytes.extend(mac(secret, &ticket).unwrap_or_default());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ticket a token names, if its tag is right.
pub fn verify(secret: &SecretString, token: &str) -> Option<Uuid> {
    let token = token.trim().to_ascii_lowercase();
    if token.len() != (16 + TAG_BYTES) * 2 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
        .collect();
    let ticket = Uuid::from_slice(&bytes[..16]).ok()?;
    let expected = mac(secret, &ticket)?;
    // Constant-time comparison of the tags.
    let same = expected.iter().zip(&bytes[16..]).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    same.then_some(ticket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_ticket_and_survives_lower_casing() {
        let secret = SecretString::from("s3cret");
        let ticket = Uuid::new_v4();
        let token = sign(&secret, ticket);
        assert_eq!(token.len(), 52);
        assert_eq!(verify(&secret, &token), Some(ticket));
        assert_eq!(verify(&secret, &token.to_uppercase()), Some(ticket));
    }

    #[test]
    fn forged_or_foreign_tokens_name_nothing() {
        let secret = SecretString::from("s3cret");
        let token = sign(&secret, Uuid::new_v4());
        let mut forged = token.clone();
        forged.replace_range(0..2, if &token[0..2] == "00" { "01" } else { "00" });
        assert_eq!(verify(&secret, &forged), None);
        assert_eq!(verify(&SecretString::from("other"), &token), None);
        for junk in ["", "xyz", &"g".repeat(52), &token[..50]] {
            assert_eq!(verify(&secret, junk), None, "{junk}");
        }
    }
}
