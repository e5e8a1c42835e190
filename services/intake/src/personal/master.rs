//! The master key: it wraps every reporter's data key. From `GRIDLOOP_MASTER_KEY` (base64 of 32
//! bytes; a Kubernetes Secret mounted as an environment variable), from `--master-key-file`
//! (the same base64 text; a Secret mounted as a file), or else `<data dir>/personal/master.key`,
//! created on first start (mode 0600 in a 0700 directory). Keys it replaced are passed as
//! previous keys: data keys wrapped by them are re-wrapped by the current one at start.

use super::seal::{self, Key};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file a data directory keeps its master key in when none is configured.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("personal").join("master.key")
}

/// Why a master key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("a master key is the base64 encoding of 32 random bytes ({0})")]
    Malformed(String),
    #[error("cannot read or create the master key {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A master key and its id (recorded with every data key it wraps).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn from_bytes(key: Key) -> MasterKey {
        // The id names the key without revealing it: a keyed hash under the key itself.
        let digest = seal::hmac(&key, b"gridloop master key id");
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey { id, key }
    }

    /// A key from its base64 text (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<MasterKey, MasterKeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|e| MasterKeyError::Malformed(e.to_string()))?;
        let key: Key =
            bytes.try_into().map_err(|b: Vec<u8>| MasterKeyError::Malformed(format!("{} bytes, not 32", b.len())))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// The key in `path`.
    pub fn load(path: &Path) -> Result<MasterKey, MasterKeyError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| MasterKeyError::Io { path: path.to_path_buf(), source })?;
        MasterKey::parse(&text)
    }

    /// The key in `path`, created if there is none (mode 0600, directory 0700). Several processes
    /// starting at once end up with the same key: the file appears atomically, never overwritten.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), MasterKeyError> {
        let io = |source| MasterKeyError::Io { path: path.to_path_buf(), source };
        if path.exists() {
            return Ok((MasterKey::load(path)?, false));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(io)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        restrict(file.path(), 0o600).map_err(io)?;
        writeln!(file, "{}", STANDARD.encode(seal::random_key())).map_err(io)?;
        let created = match file.persist_noclobber(path) {
            Ok(_) => true,
            Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(error) => return Err(io(error.error)),
        };
        Ok((MasterKey::load(path)?, created))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }
}

/// The current master key, and the ones it replaced (still able to unwrap until re-wrapped).
#[derive(Debug, Clone)]
pub struct MasterKeys {
    pub current: MasterKey,
    pub previous: Vec<MasterKey>,
}

impl MasterKeys {
    pub fn new(current: MasterKey) -> MasterKeys {
        MasterKeys { current, previous: Vec::new() }
    }

    /// The key with this id, current or previous.
    pub fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|key| key.id == id)
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict(dir, 0o700)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_and_loaded_the_same_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path());
        let (created, was_created) = MasterKey::load_or_create(&path).unwrap();
        assert!(was_created);
        let (loaded, again) = MasterKey::load_or_create(&path).unwrap();
        assert!(!again);
        assert_eq!((loaded.id(), loaded.key()), (created.id(), created.key()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[test]
    fn a_key_is_32_bytes_of_base64_and_its_id_reveals_nothing_of_it() {
        let key = MasterKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(key.id().len(), 16);
        assert!(!key.id().contains("0707"));
        assert!(matches!(MasterKey::parse("c2hvcnQ="), Err(MasterKeyError::Malformed(m)) if m.contains("5 bytes")));
        assert!(MasterKey::parse("not base64!").is_err());
        let keys = MasterKeys { current: key.clone(), previous: vec![MasterKey::from_bytes([9u8; 32])] };
        assert!(keys.find(key.id()).is_some());
        assert!(keys.find(&MasterKey::from_bytes([9u8; 32]).id).is_some());
        assert!(keys.find("ffff").is_none());
    }
}
