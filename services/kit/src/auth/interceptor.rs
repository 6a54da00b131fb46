//! The gRPC side of caller tokens: the server interceptor that turns `authorization: Bearer …`
//! into a [`Caller`], and the helper clients use to attach their token. A request without a token
//! is anonymous (some calls allow that); a request with a bad token is refused outright.

use std::sync::Arc;

use tonic::{Request, Status, metadata::MetadataValue};

use super::token::{Caller, TokenVerifier};

#[derive(Clone)]
pub struct Authenticate(Arc<TokenVerifier>);

impl Authenticate {
    pub fn new(verifier: Arc<TokenVerifier>) -> Self {
        Self(verifier)
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = match request.metadata().get("authorization") {
            None => Caller::Anonymous,
            Some(value) => {
                let token = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or_else(|| Status::unauthenticated("expected `authorization: Bearer <token>`"))?;
                self.0
                    .verify(token.trim())
                    .map_err(|e| Status::unauthenticated(e.to_string()))?
            }
        };
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor found; anonymous when the interceptor did not run.
pub fn caller<T>(request: &Request<T>) -> Caller {
    request.extensions().get::<Caller>().cloned().unwrap_or(Caller::Anonymous)
}

/// Wraps a message in a request that carries the token.
pub fn bearer<T>(message: T, token: &str) -> Result<Request<T>, Status> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Status::unauthenticated("token contains characters a header cannot carry"))?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}
