//! Bearer secrets that identity hands out and later recognises: session ids (128 bits) and the
//! single-use tokens in activation and reset links (256 bits). Only their SHA-256 is stored, so a
//! leaked database does not hand out sessions; SHA-256 (not argon2) is enough because the input is
//! random, not guessable.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::IdentityError;

/// A freshly drawn secret: the raw value goes to its owner once, the hash to the database.
pub struct IssuedSecret {
    pub raw: SecretString,
    pub hash: Vec<u8>,
}

/// Fills `buffer` from the system's random source; failing only when the system has none to give,
/// which is an internal error.
pub fn fill_random(buffer: &mut [u8]) -> Result<(), IdentityError> {
    getrandom::fill(buffer).map_err(|e| anyhow::anyhow!("drawing random bytes: {e}"))?;
    Ok(())
}

fn issue(bytes: usize) -> Result<IssuedSecret, IdentityError> {
    let mut buffer = vec![0u8; bytes];
    fill_random(&mut buffer)?;
    let raw = URL_SAFE_NO_PAD.encode(&buffer);
    let hash = hash_secret(&raw);
    Ok(IssuedSecret {
        raw: SecretString::from(raw),
        hash,
    })
}

/// A session id: 128 random bits.
pub fn new_session_id() -> Result<IssuedSecret, IdentityError> {
    issue(16)
}

/// The token in an activation, reset or verification link: 256 random bits.
pub fn new_link_token() -> Result<IssuedSecret, IdentityError> {
    issue(32)
}

/// The stored form of a presented secret. Inputs of absurd length are hashed all the same; they
/// simply match nothing.
pub fn hash_secret(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.trim().as_bytes()).to_vec()
}

pub fn hash_presented(raw: &SecretString) -> Vec<u8> {
    hash_secret(raw.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_carry_128_random_bits_and_are_stored_only_as_a_hash() {
        let a = new_session_id().expect("random");
        let b = new_session_id().expect("random");
        assert_eq!(a.raw.expose_secret().len(), 22);
        assert_ne!(a.raw.expose_secret(), b.raw.expose_secret());
        assert_eq!(a.hash, hash_secret(a.raw.expose_secret()));
        assert_ne!(a.hash, a.raw.expose_secret().as_bytes());
    }

    #[test]
    fn link_tokens_are_longer_than_session_ids() {
        assert_eq!(new_link_token().expect("random").raw.expose_secret().len(), 43);
    }
}
