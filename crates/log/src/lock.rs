//! An exclusive lock on a data directory: `flock(LOCK_EX | LOCK_NB)` on `<dir>/.lock`, held for as
//! long as the `DirLock` lives. The kernel drops the lock when the process dies (even by SIGKILL),
//! so a crashed broker never leaves a stale lock behind, unlike a pid file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, LogError, Result};

pub const LOCK_FILE: &str = ".lock";

#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    // Closing the file releases the lock.
    _file: File,
}

impl DirLock {
    /// Takes the lock on `dir` (created if missing). Fails with `LogError::Locked` when another
    /// process (or another `DirLock` in this one) holds it. The file records the holder's pid.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ctx(|| format!("open {}", path.display()))?;
        // SAFETY: flock on an fd we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(LogError::Locked { path, holder: holder.trim().to_string() });
            }
            return Err(LogError::storage(format!("lock {}", path.display()), err));
        }
        file.set_len(0).and_then(|_| writeln!(file, "{}", std::process::id())).ctx(|| format!("write {}", path.display()))?;
        Ok(DirLock { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert_eq!(err.code(), "DATA_DIR_LOCKED");
        assert!(err.to_string().contains(&std::process::id().to_string()), "{err}");
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
