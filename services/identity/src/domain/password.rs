//! Passwords: the policy (length 8–128 characters, no composition rules, not one of the most
//! common passwords, per NIST SP 800-63B) and argon2id hashing with the crate's defaults
//! (m = 19 MiB, t = 2, p = 1). Hashing is CPU-heavy, so callers run it on a blocking thread.
//!
//! Passwords are Unicode-normalized (NFKC, as SP 800-63B asks) before the policy and the hash, so
//! the same password typed on another keyboard or system — a composed `é` or `e` + combining
//! accent, full-width digits — matches. Hashes stored before normalization was introduced were
//! made from the raw input, so when the normalized candidate does not match and differs from the
//! raw one, the raw candidate is tried once; the hash is made normalized at the next change or
//! reset. Every verification, the dummy one included, takes the same path, so timing tells nothing
//! about the account.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use super::IdentityError;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// The most common passwords of at least eight characters (shorter ones fail the length rule).
const COMMON: &str = include_str!("common_passwords.txt");

/// A password that passed the policy; never printed.
pub struct NewPassword(SecretString);

fn normalized(raw: &str) -> String {
    raw.nfkc().collect()
}

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let raw = normalized(raw);
        let raw = raw.as_str();
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(IdentityError::Invalid { field: "password", reason: "must be at least 8 characters" });
        }
        if chars > MAX_CHARS {
            return Err(IdentityError::Invalid { field: "password", reason: "must be at most 128 characters" });
        }
        let lowered = raw.to_lowercase();
        if COMMON.lines().map(str::trim).any(|common| common == lowered) {
            return Err(IdentityError::Invalid {
                field: "password",
                reason: "is one of the most common passwords; choose another",
            });
        }
        Ok(Self(SecretString::from(raw.to_string())))
    }

    /// The PHC string (`$argon2id$v=19$…`) to store; a failure is an internal error.
    pub fn hash(&self) -> Result<String, IdentityError> {
        let hash = Argon2::default()
            .hash_password(self.0.expose_secret().as_bytes())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
        Ok(hash.to_string())
    }
}

/// True when `candidate` matches the stored hash, compared normalized (and raw, for hashes made
/// before normalization; see the module docs). A malformed stored hash matches nothing.
pub fn verify(stored: &str, candidate: &SecretString) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let raw = candidate.expose_secret();
    let normal = SecretString::from(normalized(raw));
    let matches = |password: &str| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok();
    matches(normal.expose_secret()) || (normal.expose_secret() != raw && matches(raw))
}

/// Spends the time of a real verification, so an unknown address answers as slowly as a known
/// one with a wrong password (no enumeration by timing).
pub fn verify_against_nothing(candidate: &SecretString) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"no account has this password")
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let _ = verify(stored, candidate);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<NewPassword, IdentityError>) -> String {
        match result {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn short_passwords_are_refused_and_long_passphrases_accepted() {
        assert!(field(NewPassword::parse("short1!")).contains("at least 8"));
        assert_eq!(field(NewPassword::parse("correct horse battery staple")), "ok");
        assert_eq!(field(NewPassword::parse(&"ä".repeat(64))), "ok");
        assert!(field(NewPassword::parse(&"x".repeat(129))).contains("at most 128"));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in ["password", "Password1", "12345678", "QWERTYUIOP", "iloveyou"] {
            assert!(field(NewPassword::parse(common)).contains("common"), "{common}");
        }
    }

    #[test]
    fn no_composition_rules_apply() {
        assert_eq!(field(NewPassword::parse("onlylowercaseletters")), "ok");
    }

    #[test]
    fn a_password_matches_however_its_characters_were_composed() {
        let hash = NewPassword::parse("caf\u{e9} au lait \u{ff11}\u{ff12}").expect("valid").hash().expect("hash");
        assert!(verify(&hash, &SecretString::from("cafe\u{301} au lait 12")), "decomposed and ASCII digits");
        assert!(verify(&hash, &SecretString::from("caf\u{e9} au lait \u{ff11}\u{ff12}")), "as typed first");
        assert!(!verify(&hash, &SecretString::from("cafe au lait 12")), "another password");
    }

    #[test]
    fn a_hash_made_before_normalization_still_verifies_its_raw_password() {
        // What the hash of a decomposed password looked like before passwords were normalized.
        let raw = "cafe\u{301} cr\u{e8}me br\u{fb}l\u{e9}e";
        let old = Argon2::default().hash_password(raw.as_bytes()).expect("hash").to_string();
        assert!(verify(&old, &SecretString::from(raw)));
        assert!(!verify(&old, &SecretString::from("cafe cr\u{e8}me")));
    }

    #[test]
    fn the_policy_judges_the_normalized_password() {
        // Full-width "password1" is the common password once normalized.
        assert!(field(NewPassword::parse("\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}1")).contains("common"));
    }

    #[test]
    fn a_hash_verifies_the_password_and_nothing_else() {
        let password = NewPassword::parse("tangerine submarine").expect("valid");
        let hash = password.hash().expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify(&hash, &SecretString::from("tangerine submarine")));
        assert!(!verify(&hash, &SecretString::from("tangerine submarinE")));
        assert!(!verify("not a hash", &SecretString::from("tangerine submarine")));
    }
}
