//! Bearer token → [`Principal`]: the signature against a trusted issuer's keys (the algorithm
//! decided by the key, see [`crate::keys`]), then issuer, audience, `exp` and `nbf` with a small
//! leeway, then the claims mapped onto a principal.

use crate::claims::{ClaimError, ClaimMapping};
use crate::keys::KeySet;
use crate::remote::RemoteKeys;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gridloop_domain::access::Principal;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, Header, Validation};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a token was not accepted. The message says why, and never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token (send `authorization: Bearer <token>`)")]
    Missing,
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token's algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("no trusted key for the token (kid {0})")]
    UnknownKey(String),
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's issuer is not trusted")]
    WrongIssuer,
    #[error("the token is not meant for gridloop (aud)")]
    WrongAudience,
    #[error("the token lacks the claim {0}")]
    MissingClaim(String),
    #[error("the token's claims do not name a principal: {0}")]
    Claims(#[from] ClaimError),
    #[error("the keys of issuer {issuer} are not available yet: {reason}")]
    KeysUnavailable { issuer: String, reason: String },
    #[error(transparent)]
    ApiKey(#[from] crate::api_keys::ApiKeyError),
}

impl TokenError {
    /// A short stable label for metrics and the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Missing => "missing_token",
            TokenError::Malformed(_) => "malformed",
            TokenError::Algorithm(_) => "algorithm",
            TokenError::UnknownKey(_) => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::WrongIssuer => "issuer",
            TokenError::WrongAudience => "audience",
            TokenError::MissingClaim(_) => "missing_claim",
            TokenError::Claims(_) => "claims",
            TokenError::KeysUnavailable { .. } => "keys_unavailable",
            TokenError::ApiKey(crate::api_keys::ApiKeyError::Unknown) => "api_key_unknown",
            TokenError::ApiKey(crate::api_keys::ApiKeyError::Unavailable(_)) => "api_key_unavailable",
        }
    }

    /// How bad the error is as an explanation: with several keys, the most specific one wins
    /// (a token whose signature held but has expired is reported as expired).
    fn specificity(&self) -> u8 {
        match self {
            TokenError::UnknownKey(_) | TokenError::KeysUnavailable { .. } => 0,
            TokenError::BadSignature => 1,
            _ => 2,
        }
    }
}

/// Where an issuer's keys come from.
#[derive(Clone)]
pub enum Keys {
    Fixed(Arc<KeySet>),
    Remote(Arc<RemoteKeys>),
}

/// One trusted issuer: its `iss`, the `aud` its tokens must carry, its keys and claim names.
#[derive(Clone)]
pub struct Issuer {
    pub issuer: String,
    pub audience: String,
    pub keys: Keys,
    pub claims: ClaimMapping,
}

/// Verifies bearer tokens against the trusted issuers.
#[derive(Clone)]
pub struct Verifier {
    issuers: Vec<Issuer>,
    leeway_secs: u64,
    verified: Arc<Verified>,
}

/// Tokens verified lately. A client sends the same token with every call, and checking its
/// signature is most of the cost (gate_bench: ~60 µs per EdDSA token, against ~1 µs for a hit).
/// An entry is the exact token's, and lives until the token's `exp`, at most
/// [`VERIFIED_FOR_SECS`] — so a key the provider withdraws stops working within that time.
#[derive(Default)]
struct Verified {
    entries: Mutex<HashMap<String, (Principal, i64)>>,
}

/// How long a verified token is trusted without checking its signature again.
pub const VERIFIED_FOR_SECS: i64 = 60;
/// How many verified tokens are remembered (the active callers).
const VERIFIED_ENTRIES: usize = 4096;

impl Verified {
    fn get(&self, token: &str, now: i64) -> Option<Principal> {
        let entries = self.entries.lock().expect("lock");
        entries.get(token).filter(|(_, until)| now < *until).map(|(principal, _)| principal.clone())
    }

    fn insert(&self, token: &str, principal: &Principal, until: i64, now: i64) {
        let mut entries = self.entries.lock().expect("lock");
        if entries.len() >= VERIFIED_ENTRIES {
            entries.retain(|_, (_, kept_until)| *kept_until > now);
            if entries.len() >= VERIFIED_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token.to_string(), (principal.clone(), until));
    }
}

impl Verifier {
    pub fn new(issuers: Vec<Issuer>, leeway_secs: u64) -> Verifier {
        Verifier { issuers, leeway_secs, verified: Arc::default() }
    }

    /// The principal `token` stands for.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let now = chrono::Utc::now().timestamp();
        if let Some(principal) = self.verified.get(token, now) {
            return Ok(principal);
        }
        let (principal, expires) = self.verify_anew(token).await?;
        self.verified.insert(token, &principal, expires.min(now + VERIFIED_FOR_SECS), now);
        Ok(principal)
    }

    /// Signature, registered claims and claim mapping; the principal and the token's `exp`.
    async fn verify_anew(&self, token: &str) -> Result<(Principal, i64), TokenError> {
        check_algorithm(token)?;
        let header = decode_header(token).map_err(|error| TokenError::Malformed(error.to_string()))?;
        let mut best: Option<TokenError> = None;
        for issuer in &self.issuers {
            let keys = match &issuer.keys {
                Keys::Fixed(keys) => keys.clone(),
                Keys::Remote(remote) => match remote.keys_for(header.kid.as_deref()).await {
                    Ok(keys) => keys,
                    Err(reason) => {
                        keep_best(&mut best, TokenError::KeysUnavailable { issuer: issuer.issuer.clone(), reason });
                        continue;
                    }
                },
            };
            match self.verify_with(issuer, &keys, &header, token) {
                Ok(principal) => return Ok(principal),
                Err(error) => keep_best(&mut best, error),
            }
        }
        Err(best.unwrap_or_else(|| TokenError::UnknownKey(header.kid.unwrap_or_else(|| "none".into()))))
    }

    fn verify_with(
        &self,
        issuer: &Issuer,
        keys: &KeySet,
        header: &Header,
        token: &str,
    ) -> Result<(Principal, i64), TokenError> {
        let mut best: Option<TokenError> = None;
        for key in keys.candidates(header) {
            let mut validation = Validation::new(header.alg);
            validation.algorithms = key.algorithms.clone();
            validation.leeway = self.leeway_secs;
            validation.validate_nbf = true;
            validation.set_issuer(&[&issuer.issuer]);
            validation.set_audience(&[&issuer.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            match decode::<Value>(token, &key.key, &validation) {
                Ok(data) => {
                    check_time_claims(&data.claims)?;
                    let expires = data.claims["exp"].as_i64().unwrap_or_default();
                    return Ok((issuer.claims.principal(&data.claims)?, expires));
                }
                Err(error) => keep_best(&mut best, token_error(error.kind())),
            }
        }
        Err(best.unwrap_or_else(|| TokenError::UnknownKey(header.kid.clone().unwrap_or_else(|| "none".into()))))
    }

    /// Every issuer whose keys are fetched from a URL, for the refresh task.
    pub fn remote_keys(&self) -> Vec<Arc<RemoteKeys>> {
        self.issuers
            .iter()
            .filter_map(|issuer| match &issuer.keys {
                Keys::Remote(remote) => Some(remote.clone()),
                Keys::Fixed(_) => None,
            })
            .collect()
    }
}

fn keep_best(best: &mut Option<TokenError>, error: TokenError) {
    if best.as_ref().is_none_or(|known| error.specificity() > known.specificity()) {
        *best = Some(error);
    }
}

fn token_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::Algorithm("for its key".into()),
        other => TokenError::Malformed(format!("{other:?}")),
    }
}

/// Only public-key signatures are accepted: `none` and the HMAC algorithms (whose "key" an
/// attacker would pick) are refused by name before anything else is looked at.
fn check_algorithm(token: &str) -> Result<(), TokenError> {
    let header = token.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| TokenError::Malformed("the header is not base64url JSON".into()))?;
    let name = header.get("alg").and_then(Value::as_str).unwrap_or("(none given)");
    match name.parse::<Algorithm>() {
        Ok(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) | Err(_) => Err(TokenError::Algorithm(name.into())),
        Ok(_) => Ok(()),
    }
}

/// The registered time claims must be numbers: a claim of another type is refused, never
/// treated as absent (which would skip its check).
fn check_time_claims(claims: &Value) -> Result<(), TokenError> {
    for name in ["exp", "nbf", "iat"] {
        if claims.get(name).is_some_and(|value| !value.is_number()) {
            return Err(TokenError::Malformed(format!("claim {name} is not a number")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::{SigningKey, LOCAL_AUDIENCE, LOCAL_ISSUER};
    use gridloop_domain::access::Role;

    fn local_verifier(key: &SigningKey) -> Verifier {
        let issuer = Issuer {
            issuer: LOCAL_ISSUER.into(),
            audience: LOCAL_AUDIENCE.into(),
            keys: Keys::Fixed(Arc::new(key.key_set().unwrap())),
            claims: ClaimMapping::default(),
        };
        Verifier::new(vec![issuer], 60)
    }

    #[tokio::test]
    async fn a_verified_token_is_remembered_until_its_expiry_and_never_longer() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = SigningKey::create_or_load(dir.path()).unwrap();
        let verifier = local_verifier(&key);
        let admin = Principal::new("root", Role::Admin, None, None).unwrap();
        let token = key.issue(&admin, chrono::Duration::seconds(30)).unwrap();
        assert_eq!(verifier.verify(&token).await, Ok(admin.clone()));
        let now = chrono::Utc::now().timestamp();
        let until = verifier.verified.entries.lock().unwrap()[&token].1;
        assert!(until <= now + 30, "not past the token's exp");
        assert_eq!(verifier.verified.get(&token, now), Some(admin));
        assert_eq!(verifier.verified.get(&token, until), None, "expired entries are not served");

        let mut forged = token.clone();
        forged.replace_range(forged.len() - 4.., "AAAA");
        assert_eq!(verifier.verify(&forged).await, Err(TokenError::BadSignature), "only the exact token is remembered");
    }
}
