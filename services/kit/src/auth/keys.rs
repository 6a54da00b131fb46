//! Key material on disk: `signing.pem` (Ed25519 private key, identity only), `verify.pem` (its
//! public key, every service) and `service.secret` (the shared secret internal services trade for
//! a service token). Identity creates what is missing at first start, so a laptop needs no set-up;
//! a scaled deployment mounts the same three files from a secret store.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use base64::Engine;
use ed25519_dalek::{
    SigningKey,
    pkcs8::{EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding},
};
use secrecy::SecretString;

const SIGNING: &str = "signing.pem";
const VERIFY: &str = "verify.pem";
const SERVICE_SECRET: &str = "service.secret";

/// A fresh Ed25519 key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM).
pub fn generate_keypair() -> anyhow::Result<(String, String)> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let private = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
    let public = key.verifying_key().to_public_key_pem(LineEnding::LF)?;
    Ok((private, public))
}

/// Creates the key pair and the service secret in `dir` unless they exist.
pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    if !dir.join(SIGNING).exists() {
        let (private, public) = generate_keypair()?;
        write_new(&dir.join(VERIFY), public.as_bytes())?;
        write_new(&dir.join(SIGNING), private.as_bytes())?;
        tracing::info!(dir = %dir.display(), "created a new token signing key");
    }
    if !dir.join(SERVICE_SECRET).exists() {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        write_new(&dir.join(SERVICE_SECRET), secret.as_bytes())?;
    }
    Ok(())
}

pub fn signing_pem(dir: &Path) -> anyhow::Result<Vec<u8>> {
    read(&dir.join(SIGNING))
}

pub fn verify_pem(dir: &Path) -> anyhow::Result<Vec<u8>> {
    read(&dir.join(VERIFY))
}

pub fn service_secret(dir: &Path) -> anyhow::Result<SecretString> {
    let raw = String::from_utf8(read(&dir.join(SERVICE_SECRET))?)?;
    Ok(SecretString::from(raw.trim().to_string()))
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} ({e}); identity creates it at first start, or mount it from your secret store",
            path.display()
        )
    })
}

/// Writes a file readable by its owner only; never overwrites one a concurrent start wrote.
fn write_new(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => Ok(file.write_all(contents)?),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_creates_missing_keys_once_and_keeps_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        ensure(dir.path()).expect("first");
        let first = (signing_pem(dir.path()).expect("signing"), verify_pem(dir.path()).expect("verify"));
        ensure(dir.path()).expect("second");
        let second = (signing_pem(dir.path()).expect("signing"), verify_pem(dir.path()).expect("verify"));
        assert_eq!(first, second);
        assert!(!secrecy::ExposeSecret::expose_secret(&service_secret(dir.path()).expect("secret")).is_empty());
    }

    #[test]
    fn a_missing_key_names_the_file_it_wanted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = verify_pem(dir.path()).expect_err("no key yet").to_string();
        assert!(error.contains("verify.pem"), "{error}");
    }
}
