//! Verification keys from a JWKS (RFC 7517): each key with the algorithms it may verify, decided
//! by the key itself — never by the token's header — so `alg: none`, HMAC tokens and algorithm
//! confusion (an HS256 token "signed" with an RSA or EC public key's bytes) find no key.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header};

/// One trusted public key.
#[derive(Clone)]
pub struct TrustedKey {
    pub kid: Option<String>,
    /// The algorithms this key verifies: the JWK's `alg` if it names one, else its type's.
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey").field("kid", &self.kid).field("algorithms", &self.algorithms).finish()
    }
}

/// The verification keys of one issuer.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<TrustedKey>,
}

/// Why a JWKS cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("not a JWKS document: {0}")]
    NotJwks(#[from] serde_json::Error),
    #[error("the JWKS holds no signature key gridloop can use ({0})")]
    NoUsableKey(String),
}

impl KeySet {
    /// The usable keys of a JWKS document. Keys for encryption, symmetric (`oct`) keys and key
    /// types gridloop does not verify are skipped; a document with no usable key is an error.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, KeySetError> {
        let set: JwkSet = serde_json::from_slice(json)?;
        let mut skipped = Vec::new();
        let mut keys = Vec::new();
        for jwk in &set.keys {
            match trusted(jwk) {
                Ok(key) => keys.push(key),
                Err(reason) => {
                    skipped.push(format!("{}: {reason}", jwk.common.key_id.as_deref().unwrap_or("(no kid)")))
                }
            }
        }
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey(if skipped.is_empty() {
                "it is empty".into()
            } else {
                skipped.join("; ")
            }));
        }
        for reason in skipped {
            tracing::warn!(%reason, "JWKS key skipped");
        }
        Ok(KeySet { keys })
    }

    pub fn from_keys(keys: Vec<TrustedKey>) -> KeySet {
        KeySet { keys }
    }

    /// The keys that may verify a token with this header: same `kid` (when the header names
    /// one) and the header's algorithm among the key's own.
    pub fn candidates<'a>(&'a self, header: &'a Header) -> impl Iterator<Item = &'a TrustedKey> + 'a {
        self.keys.iter().filter(move |key| {
            header.kid.as_ref().is_none_or(|kid| key.kid.as_ref() == Some(kid)) && key.algorithms.contains(&header.alg)
        })
    }

    /// Whether a key with this id is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.kid.as_deref() == Some(kid))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

const RSA_ALGORITHMS: [Algorithm; 6] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

fn trusted(jwk: &Jwk) -> Result<TrustedKey, String> {
    if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return Err("not a signature key (use)".into());
    }
    let own: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => RSA_ALGORITHMS.to_vec(),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err("unsupported curve".into()),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are never trusted".into()),
        _ => return Err("unsupported key type".into()),
    };
    let algorithms = match jwk.common.key_algorithm {
        None => own,
        Some(named) => {
            let named = serde_json::to_value(named)
                .ok()
                .and_then(|name| name.as_str()?.parse::<Algorithm>().ok())
                .ok_or_else(|| "its alg is not a signature algorithm".to_string())?;
            if !own.contains(&named) {
                return Err(format!("its alg {named:?} does not fit its key type"));
            }
            vec![named]
        }
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("invalid key: {e}"))?;
    Ok(TrustedKey { kid: jwk.common.key_id.clone(), algorithms, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}"#;

    #[test]
    fn a_key_verifies_only_its_own_algorithms() {
        let set = KeySet::from_jwks(format!(r#"{{"keys":[{ED}]}}"#).as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("ed".into());
        assert_eq!(set.candidates(&header).count(), 1);
        header.alg = Algorithm::HS256;
        assert_eq!(set.candidates(&header).count(), 0, "an HMAC header never finds a public key");
        header.alg = Algorithm::EdDSA;
        header.kid = Some("other".into());
        assert_eq!(set.candidates(&header).count(), 0);
    }

    #[test]
    fn symmetric_encryption_and_mismatched_keys_are_skipped() {
        let oct = r#"{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}"#;
        let error = KeySet::from_jwks(format!(r#"{{"keys":[{oct}]}}"#).as_bytes()).unwrap_err().to_string();
        assert!(error.contains("hmac: symmetric keys are never trusted"), "{error}");
        let enc = ED.replace(r#""kid":"ed""#, r#""kid":"enc","use":"enc""#);
        let liar = ED.replace(r#""kid":"ed""#, r#""kid":"liar","alg":"RS256""#);
        let set = KeySet::from_jwks(format!(r#"{{"keys":[{oct},{enc},{liar},{ED}]}}"#).as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.has_kid("ed") && !set.has_kid("liar"));
        assert!(KeySet::from_jwks(b"{}").is_err());
    }
}
