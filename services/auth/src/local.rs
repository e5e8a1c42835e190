//! The installation's own signing key: `gridloop up` creates it on first start in
//! `<data dir>/auth/signing-key.pem` (Ed25519, PKCS#8, mode 0600, in a 0700 directory) and trusts
//! it; `gridloop token issue` mints tokens with it, and the local CLI mints itself a short admin
//! token with it — whoever can read the key is the installation's administrator. The public half is
//! written beside it as `jwks.json`, to hand to other services (`--jwks-file`).

use crate::claims::{AREA_CLAIM, DEPARTMENT_CLAIM, ROLE_CLAIM};
use crate::keys::{KeySet, TrustedKey};
use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gridloop_domain::access::Principal;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters,
    OctetKeyPairType, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `iss` of tokens the installation mints itself.
pub const LOCAL_ISSUER: &str = "gridloop";
/// The `aud` of tokens the installation mints itself.
pub const LOCAL_AUDIENCE: &str = "gridloop";
/// The longest a minted token may live.
pub const MAX_TTL: chrono::Duration = chrono::Duration::days(366);

const KEY_FILE: &str = "signing-key.pem";
const JWKS_FILE: &str = "jwks.json";

/// Where the signing key lives under a data directory.
pub fn auth_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("auth")
}

/// The installation's signing key.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
    path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("path", &self.path).finish()
    }
}

impl SigningKey {
    /// The key in `data_dir`, created if there is none. Several processes starting at once on
    /// the same directory end up with the same key: the file appears atomically, never overwritten.
    pub fn create_or_load(data_dir: &Path) -> anyhow::Result<(SigningKey, bool)> {
        if let Some(key) = Self::load(data_dir)? {
            return Ok((key, false));
        }
        let dir = auth_dir(data_dir);
        create_private_dir(&dir)?;
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).context("cannot generate a key")?.serialize_pem();
        let mut file = tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("cannot create the signing key in {} (read-only?)", dir.display()))?;
        file.write_all(pem.as_bytes())?;
        restrict(file.path(), 0o600)?;
        let path = dir.join(KEY_FILE);
        let created = match file.persist_noclobber(&path) {
            Ok(_) => true,
            Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(error) => return Err(error.error).with_context(|| format!("cannot write {}", path.display())),
        };
        let key = Self::load(data_dir)?.context("the signing key vanished as it was written")?;
        if created {
            key.write_jwks()?;
        }
        Ok((key, created))
    }

    /// The key in `data_dir`, if there is one.
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<SigningKey>> {
        let path = auth_dir(data_dir).join(KEY_FILE);
        let pem = match std::fs::read(&path) {
            Ok(pem) => pem,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error).with_context(|| format!("cannot read the signing key {}", path.display())),
        };
        warn_if_exposed(&path);
        Self::from_pem(&pem, path.clone()).with_context(|| format!("invalid signing key {}", path.display())).map(Some)
    }

    fn from_pem(pem: &[u8], path: PathBuf) -> anyhow::Result<SigningKey> {
        let encoding = EncodingKey::from_ed_pem(pem)?;
        let pair = rcgen::KeyPair::from_pem(std::str::from_utf8(pem)?)?;
        anyhow::ensure!(pair.is_compatible(&rcgen::PKCS_ED25519), "not an Ed25519 key");
        let mut public = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(pair.public_key_raw()),
            }),
        };
        let kid = public.thumbprint(ThumbprintHash::SHA256)?;
        public.common.key_id = Some(kid.clone());
        Ok(SigningKey { kid, encoding, public, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, to verify the tokens this key mints.
    pub fn key_set(&self) -> anyhow::Result<KeySet> {
        let key = DecodingKey::from_jwk(&self.public)?;
        Ok(KeySet::from_keys(vec![TrustedKey { kid: Some(self.kid.clone()), algorithms: vec![Algorithm::EdDSA], key }]))
    }

    /// The public half as a JWKS document.
    pub fn jwks_json(&self) -> String {
        serde_json::to_string_pretty(&JwkSet { keys: vec![self.public.clone()] }).expect("a JWK serialises")
    }

    fn write_jwks(&self) -> anyhow::Result<()> {
        let path = self.path.with_file_name(JWKS_FILE);
        std::fs::write(&path, self.jwks_json() + "\n").with_context(|| format!("cannot write {}", path.display()))
    }

    /// A token for `principal`, valid from now for `ttl` (at most [`MAX_TTL`]).
    pub fn issue(&self, principal: &Principal, ttl: chrono::Duration) -> anyhow::Result<String> {
        anyhow::ensure!(
            ttl > chrono::Duration::zero() && ttl <= MAX_TTL,
            "a token lives between 1 second and 366 days"
        );
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "sub": principal.subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl.num_seconds(),
            ROLE_CLAIM: principal.role.as_str(),
        });
        if let Some(area) = &principal.area {
            claims[AREA_CLAIM] = json!(area.as_str());
        }
        if let Some(department) = &principal.department {
            claims[DEPARTMENT_CLAIM] = json!(department);
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    restrict(dir, 0o700)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot restrict {} to mode {mode:o}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// A key others can read is a key others can use: say so. (Group read is allowed: a Kubernetes
/// Secret is mounted 0440 for the pod's group.)
fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o026 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"),
                    "the signing key is readable or writable by other users: chmod 600 it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridloop_domain::access::Role;

    #[test]
    fn created_once_private_and_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let (key, created) = SigningKey::create_or_load(dir.path()).unwrap();
        assert!(created);
        let (again, created) = SigningKey::create_or_load(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(key.kid(), again.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(key.path()), 0o600);
            assert_eq!(mode(&auth_dir(dir.path())), 0o700);
        }
        let jwks = std::fs::read(auth_dir(dir.path()).join(JWKS_FILE)).unwrap();
        assert_eq!(KeySet::from_jwks(&jwks).unwrap().len(), 1, "the public half is a usable JWKS");
        assert!(!String::from_utf8(jwks).unwrap().contains("\"d\""), "no private part in the JWKS");
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let kids: Vec<String> = std::thread::scope(|scope| {
            let starts: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| SigningKey::create_or_load(dir.path()).unwrap().0.kid().to_string()))
                .collect();
            starts.into_iter().map(|s| s.join().unwrap()).collect()
        });
        assert!(kids.windows(2).all(|w| w[0] == w[1]), "{kids:?}");
        assert_eq!(std::fs::read_dir(auth_dir(dir.path())).unwrap().count(), 2, "no temporary files left");
    }

    #[test]
    fn a_ttl_outside_a_year_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = SigningKey::create_or_load(dir.path()).unwrap();
        let admin = Principal::new("root", Role::Admin, None, None).unwrap();
        assert!(key.issue(&admin, chrono::Duration::days(400)).is_err());
        assert!(key.issue(&admin, chrono::Duration::zero()).is_err());
        assert_eq!(key.issue(&admin, chrono::Duration::hours(8)).unwrap().split('.').count(), 3);
    }
}
