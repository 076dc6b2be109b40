//! The handle a worker gets: its UPID, its log, warnings and abort state.

use std::fs::File;
use std::future::Future;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

use crate::error::Interrupted;
use crate::upid::Upid;

/// Passed to a worker; cheap to clone and `Send + Sync`, so sub-tasks of
/// the worker can log too. Once the task has ended, further log calls are
/// ignored (the log's last line stays the `TASK ...` status line).
#[derive(Clone, Debug)]
pub struct TaskContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    upid: Upid,
    log: Mutex<Option<File>>,
    warnings: AtomicU64,
    abort: CancellationToken,
}

impl TaskContext {
    pub(crate) fn new(upid: Upid, log: File, abort: CancellationToken) -> Self {
        TaskContext {
            inner: Arc::new(Inner {
                upid,
                log: Mutex::new(Some(log)),
                warnings: AtomicU64::new(0),
                abort,
            }),
        }
    }

    /// The task's UPID.
    pub fn upid(&self) -> &Upid {
        &self.inner.upid
    }

    /// Appends `msg` to the task log as one line (several lines if it
    /// contains newlines). Each call is written straight to the file, so
    /// readers of the log see it at once.
    pub fn log(&self, msg: impl AsRef<str>) {
        self.write_lines(msg.as_ref());
    }

    /// Logs `WARN: <msg>` and counts a warning; a task with warnings ends
    /// with `TASK WARNINGS: <n>` (Proxmox' `warn`).
    pub fn warn(&self, msg: impl AsRef<str>) {
        self.inner.warnings.fetch_add(1, Ordering::Relaxed);
        self.write_lines(&format!("WARN: {}", msg.as_ref()));
    }

    /// Number of warnings so far.
    pub fn warnings(&self) -> u64 {
        self.inner.warnings.load(Ordering::Relaxed)
    }

    /// Whether the task was asked to stop.
    pub fn is_aborted(&self) -> bool {
        self.inner.abort.is_cancelled()
    }

    /// `Err(Interrupted)` once the task was asked to stop, for `?` in workers.
    pub fn check_abort(&self) -> Result<(), Interrupted> {
        if self.is_aborted() {
            Err(Interrupted)
        } else {
            Ok(())
        }
    }

    /// Completes when the task is asked to stop; use it in `tokio::select!`.
    pub fn aborted(&self) -> impl Future<Output = ()> + Send + '_ {
        self.inner.abort.cancelled()
    }

    /// The task's cancellation token (cancelled on abort), for sub-tasks.
    /// Cancelling it yourself has the same effect as an abort request.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.inner.abort
    }

    /// Writes the final status line, syncs and closes the log.
    pub(crate) fn close(&self, last_line: &str) -> io::Result<()> {
        let Some(mut file) = self.lock_log().take() else {
            return Ok(());
        };
        file.write_all(format!("{last_line}\n").as_bytes())?;
        file.sync_all()
    }

    fn lock_log(&self) -> MutexGuard<'_, Option<File>> {
        self.inner.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lines(&self, msg: &str) {
        let msg = msg.strip_suffix('\n').unwrap_or(msg);
        let mut text = String::with_capacity(msg.len() + 1);
        for line in msg.split('\n') {
            text.push_str(line.strip_suffix('\r').unwrap_or(line));
            text.push('\n');
        }
        let mut guard = self.lock_log();
        if let Some(file) = guard.as_mut() {
            if let Err(e) = file.write_all(text.as_bytes()) {
                tracing::warn!(upid = %self.inner.upid, "unable to write task log - {e}");
            }
        }
    }
}
