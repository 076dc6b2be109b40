//! Exclusive ownership of a task directory by one task manager.
//!
//! Recovery treats every task in the `active` list as dead, which is only
//! right if no other live manager uses the directory; a `flock` on
//! `<task_dir>/.lock` guarantees that.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::TaskError;

/// Holds the directory lock until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _lock: Flock<File>,
}

impl DirLock {
    /// Takes the lock without waiting.
    pub(crate) fn acquire(task_dir: &Path) -> Result<Self, TaskError> {
        let path = task_dir.join(".lock");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(TaskError::io("open lock file", &path))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(DirLock { _lock: lock }),
            Err((_, Errno::EWOULDBLOCK)) => Err(TaskError::DirLocked { path }),
            Err((_, errno)) => Err(TaskError::Io {
                op: "lock",
                path,
                source: errno.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_until_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(TaskError::DirLocked { .. })
        ));
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
