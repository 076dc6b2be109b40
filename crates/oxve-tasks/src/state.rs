//! Shared state of a task manager: running tasks, the archive, and the
//! files in the task directory. Used by the manager's API and by the
//! worker supervisors.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::active::{active_path, write_active};
use crate::archive::Archive;
use crate::dirlock::DirLock;
use crate::error::TaskError;
use crate::index::{IndexEntry, IndexFile};
use crate::logfile::{create_log, log_path};
use crate::upid::Upid;

/// Tuning of a [`crate::TaskManager`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOptions {
    /// How long an aborted worker may take to stop by itself before its
    /// tokio task is dropped (Proxmox waits 5 s before SIGKILL).
    pub abort_grace: Duration,
    /// Size in bytes beyond which `index` is rotated to `index.1`.
    pub index_rotate_bytes: u64,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            abort_grace: Duration::from_secs(5),
            index_rotate_bytes: 1 << 20,
        }
    }
}

/// A running task's controls.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    /// Cancelled to ask the worker to stop.
    pub abort: CancellationToken,
    /// Cancelled once the task has ended and its status is recorded.
    pub done: CancellationToken,
}

/// What is guarded by the state mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Tasks that have not ended.
    pub running: HashMap<Upid, Running>,
    /// Finished tasks.
    pub archive: Archive,
    /// Last start time issued per (type, id, auth id), to keep UPIDs unique.
    pub last_start: HashMap<(String, String, String), i64>,
}

/// Most attempts to find an unused UPID by bumping the start time.
const MAX_UPID_TRIES: i64 = 10_000;

/// Size of `last_start` beyond which stale entries are pruned.
const LAST_START_PRUNE: usize = 1024;

/// The shared core of a task manager.
#[derive(Debug)]
pub(crate) struct Shared {
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub dir: PathBuf,
    pub options: TaskOptions,
    pub state: Mutex<State>,
    pub index: Mutex<IndexFile>,
    /// Serializes rewrites of the `active` file.
    pub active_writer: Mutex<()>,
    pub _lock: DirLock,
}

/// Locks a mutex, ignoring poisoning (state stays consistent because no
/// code panics while holding these locks).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Current time in epoch seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Shared {
    /// Picks a UPID never issued before for this task directory and creates
    /// its log file.
    ///
    /// All tasks of the daemon share its pid and pstart, so two tasks of the
    /// same type, id and user started within one second would get the same
    /// UPID (and the same log file). The start time is then bumped by one
    /// second past the last one issued, and again while a log file with that
    /// name exists (left by an earlier manager of this process). Start times
    /// may thus run slightly ahead of the clock under bursts.
    pub(crate) fn allocate(
        &self,
        wtype: &str,
        wid: &str,
        auth: &str,
    ) -> Result<(Upid, File), TaskError> {
        let now = unix_now();
        let mut upid = Upid::new(&self.node, self.pid, self.pstart, now, wtype, wid, auth)?;
        let key = (wtype.to_string(), wid.to_string(), auth.to_string());
        for _ in 0..MAX_UPID_TRIES {
            {
                let mut state = lock(&self.state);
                if let Some(&last) = state.last_start.get(&key) {
                    if last >= upid.starttime() {
                        upid = upid.with_starttime(last + 1)?;
                    }
                }
                if state.last_start.len() >= LAST_START_PRUNE {
                    state.last_start.retain(|_, t| *t >= now);
                }
                state.last_start.insert(key.clone(), upid.starttime());
            }
            let path = log_path(&self.dir, &upid);
            match create_log(&path) {
                Ok(file) => return Ok((upid, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(TaskError::io("create task log", path)(e)),
            }
        }
        Err(TaskError::Io {
            op: "create task log",
            path: log_path(&self.dir, &upid),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "no unused UPID found"),
        })
    }

    /// Rewrites the `active` file from the running set.
    pub(crate) fn write_active(&self) -> Result<(), TaskError> {
        let _writer = lock(&self.active_writer);
        let mut upids: Vec<Upid> = lock(&self.state).running.keys().cloned().collect();
        upids.sort();
        let path = active_path(&self.dir);
        write_active(&path, &upids).map_err(TaskError::io("write active task list", path))
    }

    /// Records finished tasks: appends them to the index (durably), then
    /// moves them from the running set to the archive. Index write errors
    /// are logged, not
    /// returned: the tasks still end in memory, and recovery picks them up
    /// from the `active` list after a restart.
    pub(crate) fn record_finished(&self, entries: Vec<IndexEntry>) {
        let mut index = lock(&self.index);
        let rotated = match index.append(&entries) {
            Ok(rotated) => rotated,
            Err(e) => {
                tracing::error!(
                    "unable to append to task index in '{}' - {e}",
                    self.dir.display()
                );
                false
            }
        };
        let mut state = lock(&self.state);
        for entry in entries {
            state.running.remove(&entry.upid);
            state.archive.push(entry);
        }
        if rotated {
            state.archive.rotate();
        }
    }
}
