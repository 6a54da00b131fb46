//! Who is calling. Identity signs caller tokens (EdDSA JWTs) with its private key; every service
//! verifies them locally with the public key, so no call needs a round trip to identity. The
//! interceptor turns the `authorization` header into a [`Caller`] in the request's extensions, and
//! handlers decide what that caller may do — authorization lives in the service that owns the data.
//! Each part also keeps identity's revocation list (`revocations`), so a blocked contact's or a
//! deactivated agent's tokens stop working everywhere within seconds, not when they expire.

pub mod interceptor;
pub mod keys;
pub mod reply_token;
pub mod revocations;
pub mod service_token;
pub mod token;

pub use interceptor::{Authenticate, bearer, caller};
pub use token::{Caller, StaffRole, TokenError, TokenSigner, TokenVerifier};
