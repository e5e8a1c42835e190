//! One server per data directory. `gridloop up` keeps its stores, outbox relays and durable
//! timers in the data directory; a second server on the same files would run a second set of
//! timers and relays against them. So `up` holds an exclusive lock on `<data dir>/gridloop.lock`
//! for as long as it runs (the operating system's file lock: released when the process exits,
//! however it exits), and a second `up` on the directory stops at once with a clear message.

use anyhow::Context;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "gridloop.lock";

/// The data directory, held by this process until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    pub path: PathBuf,
}

/// Another server holds the data directory.
#[derive(Debug, thiserror::Error)]
#[error(
    "the data directory {dir} is in use by another gridloop server ({holder}); stop it first, or start this one \
     with another --data-dir"
)]
pub struct InUse {
    pub dir: PathBuf,
    /// Who holds it, as its lock file says.
    pub holder: String,
}

impl DataDirLock {
    /// Lock `dir` (created if absent) for this process, writing its pid into the lock file.
    pub fn acquire(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "its process id is not recorded".to_string(),
                    pid => format!("process {pid}"),
                };
                return Err(InUse { dir: dir.to_path_buf(), holder }.into());
            }
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(Self { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_is_refused_until_its_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("gridloop-data");
        let held = DataDirLock::acquire(&data).unwrap();
        let refused = DataDirLock::acquire(&data).unwrap_err();
        let in_use = refused.downcast_ref::<InUse>().expect("in use");
        assert_eq!(in_use.holder, format!("process {}", std::process::id()));
        assert!(refused.to_string().contains("is in use by another gridloop server"), "{refused}");
        drop(held);
        DataDirLock::acquire(&data).expect("free again once the holder is gone");
    }
}
