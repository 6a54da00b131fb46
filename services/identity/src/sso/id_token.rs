//! What an ID token must prove before identity believes it. `openidconnect` checks the issuer
//! (the one discovery named), our client among the audiences, expiry (with a minute of clock
//! skew), our nonce, and the signature by one of the provider's published keys — with only the
//! asymmetric algorithms the provider's metadata lists (RS256 when it lists none usable): never
//! `none`, never an HMAC, which anyone holding the client secret could mint. On top of the
//! library: `azp` must name us when present and must be present when there are several
//! audiences (the library leaves `azp` to its users), and an `at_hash` must match the access
//! token that came with the ID token.

use openidconnect::{
    AccessToken, AccessTokenHash, Audience, ClientId, JwsSigningAlgorithm, Nonce,
    core::{CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata},
};

use super::SsoError;

/// How far behind the provider our clock may be when we read `exp`.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

pub(super) fn verify(
    client_id: &ClientId,
    metadata: &CoreProviderMetadata,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    nonce: &str,
) -> Result<CoreIdTokenClaims, SsoError> {
    let verifier = CoreIdTokenVerifier::new_public_client(
        client_id.clone(),
        metadata.issuer().clone(),
        metadata.jwks().clone(),
    )
    .set_allowed_algs(allowed_algorithms(metadata))
    // Further audiences are accepted only when `azp` names us, checked below.
    .set_other_audience_verifier_fn(|_: &Audience| true)
    .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW);
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce.to_string()))
        .map_err(|e| SsoError::new("id_token", e))?;
    match claims.authorized_party() {
        Some(party) if **party != **client_id => {
            return Err(SsoError::new("id_token", format!("issued to another party ({})", **party)));
        }
        None if claims.audiences().len() > 1 => {
            return Err(SsoError::new("id_token", "several audiences and no authorized party (azp)"));
        }
        _ => {}
    }
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = id_token.signing_alg().map_err(|e| SsoError::new("id_token", e))?;
        let key = id_token.signing_key(&verifier).map_err(|e| SsoError::new("id_token", e))?;
        let actual =
            AccessTokenHash::from_token(access_token, algorithm, key).map_err(|e| SsoError::new("at_hash", e))?;
        if actual != *expected {
            return Err(SsoError::new("id_token", "at_hash does not match the access token"));
        }
    }
    Ok(claims.clone())
}

/// The algorithms the provider says it signs ID tokens with, less `none` and the HMACs.
fn allowed_algorithms(metadata: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    let listed: Vec<_> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| **alg != CoreJwsSigningAlgorithm::None && !alg.uses_shared_secret())
        .cloned()
        .collect();
    if listed.is_empty() { vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256] } else { listed }
}
