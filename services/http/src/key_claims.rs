//! Where a key's role is in its claims: gridloop's own tokens, and an identity provider's as the
//! servers' `--jwt-*-claim` and `--jwt-role-map` flags describe them. Read only to choose whether
//! a key may post; the gRPC edge the request goes to verifies the key itself.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gridloop_auth::claims::ClaimMapping;
use gridloop_auth::AuthArgs;
use gridloop_domain::access::Principal;

/// The claim mappings a key may follow, tried in order.
#[derive(Debug, Clone)]
pub struct KeyClaims(pub Vec<ClaimMapping>);

impl Default for KeyClaims {
    /// gridloop's own tokens.
    fn default() -> Self {
        KeyClaims(vec![ClaimMapping::default()])
    }
}

impl KeyClaims {
    /// gridloop's own tokens, and the identity provider's when the flags configure one.
    pub fn from_auth_args(auth: &AuthArgs) -> Self {
        let mut mappings = KeyClaims::default();
        if auth.jwks_file.is_some() || auth.jwks_url.is_some() || auth.oidc_issuer.is_some() {
            mappings.0.push(ClaimMapping {
                subject: auth.jwt_subject_claim.clone(),
                role: auth.jwt_role_claim.clone(),
                area: auth.jwt_area_claim.clone(),
                department: auth.jwt_department_claim.clone(),
                role_map: auth.jwt_role_map.iter().cloned().collect(),
            });
        }
        mappings
    }

    /// The principal a token's claims name under the first mapping that reads them; `None` for
    /// what is no JWT. Unverified: only to choose, the gRPC edge verifies the token itself.
    pub fn principal(&self, token: &str) -> Option<Principal> {
        let payload = token.trim().split('.').nth(1)?;
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        self.0.iter().find_map(|mapping| mapping.principal(&claims).ok())
    }
}
