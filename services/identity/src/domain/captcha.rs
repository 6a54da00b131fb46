//! The captcha: self-hosted altcha proof-of-work. A challenge is signed with a key only identity
//! knows (derived from the service secret) and expires; the page's script finds the counter; the
//! solution is verified here, and its challenge signature is then recorded (by the store) so one
//! solution cannot be replayed. Deterministic mode with a key signature lets verification skip
//! re-deriving the key.

use std::collections::BTreeMap;

use altcha::{Challenge, CreateChallengeOptions, Payload, VerifySolutionOptions};
use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::IdentityError;

const ALGORITHM: &str = "SHA-256";

pub struct Captcha {
    signing_key: SecretString,
    key_signing_key: SecretString,
    /// The counter is drawn below this: the expected work is half of it.
    max_counter: u32,
    ttl: chrono::Duration,
}

/// A verified solution: its challenge's signature (the replay key) and when it expires.
pub struct Redeemable {
    pub signature: String,
    pub expires_at: DateTime<Utc>,
}

fn derive(secret: &SecretString, purpose: &str) -> SecretString {
    let mut hasher = Sha256::new();
    hasher.update(purpose.as_bytes());
    hasher.update(secret.expose_secret().as_bytes());
    SecretString::from(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Captcha {
    pub fn new(service_secret: &SecretString, max_counter: u32, ttl: chrono::Duration) -> Self {
        Self {
            signing_key: derive(service_secret, "captcha-challenge"),
            key_signing_key: derive(service_secret, "captcha-key"),
            max_counter: max_counter.max(1),
            ttl,
        }
    }

    /// A fresh challenge as JSON, for the page's solver; a failure is an internal error.
    pub fn challenge(&self) -> Result<String, IdentityError> {
        let mut random = [0u8; 4];
        super::secret::fill_random(&mut random)?;
        let counter = u32::from_le_bytes(random) % self.max_counter;
        let challenge = altcha::create_challenge(CreateChallengeOptions {
            algorithm: ALGORITHM.into(),
            cost: 1,
            counter: Some(counter),
            expires_at: Some((Utc::now() + self.ttl).timestamp()),
            hmac_signature_secret: Some(self.signing_key.expose_secret().to_string()),
            hmac_key_signature_secret: Some(self.key_signing_key.expose_secret().to_string()),
            key_prefix_length: Some(4),
            data: Some(BTreeMap::new()),
            ..Default::default()
        })
        .context("creating a captcha challenge")?;
        Ok(serde_json::to_string(&challenge).context("writing the captcha challenge")?)
    }

    /// Checks a solution: the altcha payload as JSON, or base64 of it (what the widget posts).
    pub fn verify(&self, solution: &str) -> Result<Redeemable, IdentityError> {
        let solution = solution.trim();
        if solution.is_empty() {
            return Err(IdentityError::Captcha("solve the captcha first"));
        }
        if solution.len() > 8192 {
            return Err(IdentityError::Captcha("the solution is malformed"));
        }
        let json = if solution.starts_with('{') {
            solution.as_bytes().to_vec()
        } else {
            STANDARD.decode(solution).map_err(|_| IdentityError::Captcha("the solution is malformed"))?
        };
        let payload: Payload =
            serde_json::from_slice(&json).map_err(|_| IdentityError::Captcha("the solution is malformed"))?;
        let mut options = VerifySolutionOptions::new(
            &payload.challenge,
            &payload.solution,
            self.signing_key.expose_secret().to_string(),
        );
        options.hmac_key_signature_secret = Some(self.key_signing_key.expose_secret().to_string());
        let result = altcha::verify_solution(options).map_err(|_| IdentityError::Captcha("the solution is malformed"))?;
        if result.expired {
            return Err(IdentityError::Captcha("the challenge expired; solve a new one"));
        }
        if !result.verified {
            return Err(IdentityError::Captcha("the solution is wrong"));
        }
        let signature = payload.challenge.signature.clone().unwrap_or_default();
        let expires_at = expiry(&payload.challenge).unwrap_or_else(|| Utc::now() + self.ttl);
        Ok(Redeemable { signature, expires_at })
    }
}

fn expiry(challenge: &Challenge) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(challenge.parameters.expires_at?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captcha() -> Captcha {
        Captcha::new(&SecretString::from("test secret"), 500, chrono::Duration::minutes(5))
    }

    fn solve(challenge_json: &str) -> String {
        let challenge: Challenge = serde_json::from_str(challenge_json).expect("challenge json");
        let solution = altcha::solve_challenge(altcha::SolveChallengeOptions::new(&challenge))
            .expect("solve")
            .expect("solved in time");
        serde_json::to_string(&Payload { challenge, solution }).expect("json")
    }

    #[test]
    fn a_solved_challenge_verifies_as_json_and_as_base64() {
        let captcha = captcha();
        let payload = solve(&captcha.challenge().expect("challenge"));
        assert!(captcha.verify(&payload).is_ok());
        assert!(captcha.verify(&STANDARD.encode(&payload)).is_ok());
    }

    #[test]
    fn a_wrong_key_a_tampered_challenge_or_another_servers_challenge_fails() {
        let captcha = captcha();
        let solved: Payload = serde_json::from_str(&solve(&captcha.challenge().expect("challenge"))).expect("json");
        let mut wrong_key = solved.clone();
        wrong_key.solution.derived_key = "00".repeat(32);
        assert!(captcha.verify(&serde_json::to_string(&wrong_key).expect("json")).is_err());
        let mut longer = solved;
        longer.challenge.parameters.expires_at = longer.challenge.parameters.expires_at.map(|t| t + 3600);
        assert!(captcha.verify(&serde_json::to_string(&longer).expect("json")).is_err());

        let other = Captcha::new(&SecretString::from("other"), 500, chrono::Duration::minutes(5));
        let foreign = solve(&other.challenge().expect("challenge"));
        assert!(captcha.verify(&foreign).is_err());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for junk in ["", "{", "not base64 !!", "e30=", &"x".repeat(10_000)] {
            assert!(captcha().verify(junk).is_err(), "{junk}");
        }
    }
}
