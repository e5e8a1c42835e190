//! The client side: a bearer token sent with every call.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Adds `authorization: Bearer <token>` to every request (nothing without a token).
#[derive(Clone, Default)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

/// A channel whose calls carry a bearer token.
pub type AuthChannel = InterceptedService<Channel, BearerToken>;

impl BearerToken {
    pub fn new(token: &str) -> anyhow::Result<BearerToken> {
        let value = format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| anyhow::anyhow!("the token contains characters a header cannot carry"))?;
        Ok(BearerToken(Some(value)))
    }

    /// Wrap `channel` so its calls carry this token.
    pub fn channel(self, channel: Channel) -> AuthChannel {
        InterceptedService::new(channel, self)
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "BearerToken(…)" } else { "BearerToken(none)" })
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}
