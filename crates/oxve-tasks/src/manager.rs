//! [`TaskManager`]: starts worker tasks and answers status, log, list and
//! abort requests.

use std::fmt::Display;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::archive::Archive;
use crate::context::TaskContext;
use crate::dirlock::DirLock;
use crate::error::TaskError;
use crate::filter::{TaskFilter, TaskSource};
use crate::index::IndexFile;
use crate::logfile::{log_path, read_exit_status, read_lines};
use crate::procfs::own_pid_and_start;
use crate::recover::recover_dead_tasks;
use crate::state::{lock, Running, Shared, State, TaskOptions};
use crate::status::{LogLine, TaskListEntry, TaskStatus};
use crate::upid::Upid;
use crate::worker::supervise;

/// Runs worker tasks of one node and keeps their logs and statuses in a
/// task directory (see the crate documentation for its layout).
///
/// One manager per task directory: a second one (in any process) fails
/// with [`TaskError::DirLocked`] until the first and all its running tasks
/// are gone. Methods may be called concurrently from many tasks.
#[derive(Debug)]
pub struct TaskManager {
    shared: Arc<Shared>,
}

impl TaskManager {
    /// Opens `task_dir` (created if missing) for `node` with default options.
    ///
    /// Tasks left running by a previous daemon are archived with the status
    /// their log shows, `unexpected status` if they died mid-run.
    pub fn new(node: &str, task_dir: PathBuf) -> Result<Arc<Self>, TaskError> {
        Self::with_options(node, task_dir, TaskOptions::default())
    }

    /// Like [`TaskManager::new`] with explicit options.
    pub fn with_options(
        node: &str,
        task_dir: PathBuf,
        options: TaskOptions,
    ) -> Result<Arc<Self>, TaskError> {
        let (pid, pstart) = own_pid_and_start()?;
        Upid::new(node, pid, pstart, 0, "check", "", "check@pam")?;
        std::fs::create_dir_all(&task_dir)
            .map_err(TaskError::io("create task directory", &task_dir))?;
        let dir_lock = DirLock::acquire(&task_dir)?;
        let (mut index, loaded) = IndexFile::open(&task_dir, options.index_rotate_bytes)
            .map_err(TaskError::io("open task index", task_dir.join("index")))?;
        let mut archive = Archive::new(loaded);
        recover_dead_tasks(&task_dir, &mut index, &mut archive)?;
        let shared = Shared {
            node: node.to_string(),
            pid,
            pstart,
            dir: task_dir,
            options,
            state: Mutex::new(State {
                archive,
                ..State::default()
            }),
            index: Mutex::new(index),
            active_writer: Mutex::new(()),
            _lock: dir_lock,
        };
        Ok(Arc::new(TaskManager {
            shared: Arc::new(shared),
        }))
    }

    /// The node name put into UPIDs.
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// The task directory.
    pub fn task_dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Starts a worker task and returns its UPID at once.
    ///
    /// `f` gets the task's [`TaskContext`] and runs on the current tokio
    /// runtime. The log file exists when this returns. The task ends with
    /// `TASK OK`, `TASK WARNINGS: n` (if the context counted warnings) or
    /// `TASK ERROR: <error>` (the error's `Display`, on one line); a panic
    /// ends it as an error too. `worker_id` is usually the vmid.
    ///
    /// All tasks carry the daemon's pid and pstart, so if this type, id and
    /// auth id were already used for a UPID with the current second as
    /// start time, the start time is bumped one second past the last one
    /// issued (and further while a log of that name exists), so that no two
    /// tasks share a UPID or a log file.
    ///
    /// Before returning, this creates the log file and rewrites the `active`
    /// list (a small synchronous write with fsync).
    pub fn spawn<F, Fut, E>(
        &self,
        worker_type: &str,
        worker_id: Option<&str>,
        auth_id: &str,
        f: F,
    ) -> Result<Upid, TaskError>
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TaskError::NoRuntime)?;
        let (upid, log) = self
            .shared
            .allocate(worker_type, worker_id.unwrap_or(""), auth_id)?;
        let running = Running {
            abort: CancellationToken::new(),
            done: CancellationToken::new(),
        };
        lock(&self.shared.state)
            .running
            .insert(upid.clone(), running.clone());
        if let Err(e) = self.shared.write_active() {
            lock(&self.shared.state).running.remove(&upid);
            let _ = std::fs::remove_file(log_path(&self.shared.dir, &upid));
            return Err(e);
        }
        let ctx = TaskContext::new(upid.clone(), log, running.abort);
        runtime.spawn(supervise(self.shared.clone(), ctx, running.done, f));
        Ok(upid)
    }

    /// Stops a running task and returns once it has ended.
    ///
    /// The worker's cancellation token is cancelled; a worker that has not
    /// ended after the abort grace period is dropped. Either way the exit
    /// status is `received interrupt` unless the worker returned its own
    /// error. Aborting a finished task does nothing.
    pub async fn abort(&self, upid: &Upid) -> Result<(), TaskError> {
        self.check_node(upid)?;
        let running = lock(&self.shared.state).running.get(upid).cloned();
        match running {
            Some(running) => {
                running.abort.cancel();
                running.done.cancelled().await;
                Ok(())
            }
            None if self.is_known(upid) => Ok(()),
            None => Err(no_such_task(upid)),
        }
    }

    /// Waits until a task has ended and returns its final status.
    pub async fn wait(&self, upid: &Upid) -> Result<TaskStatus, TaskError> {
        self.check_node(upid)?;
        let done = lock(&self.shared.state)
            .running
            .get(upid)
            .map(|r| r.done.clone());
        if let Some(done) = done {
            done.cancelled().await;
        }
        self.status(upid).await
    }

    /// Status of a task (`GET /nodes/{node}/tasks/{upid}/status`).
    ///
    /// Tasks not known to this manager (an index entry rotated away, or a
    /// log left by a crashed daemon) are read from their log file.
    pub async fn status(&self, upid: &Upid) -> Result<TaskStatus, TaskError> {
        self.check_node(upid)?;
        {
            let state = lock(&self.shared.state);
            if state.running.contains_key(upid) {
                return Ok(TaskStatus::new(upid, None));
            }
            if let Some((endtime, status)) = state.archive.get(upid) {
                return Ok(TaskStatus::new(upid, Some((endtime, status.to_string()))));
            }
        }
        let path = log_path(&self.shared.dir, upid);
        let read = blocking(move || read_exit_status(&path)).await;
        match read {
            Ok((status, endtime)) => Ok(TaskStatus::new(upid, Some((endtime, status)))),
            Err(e) => Err(self.log_error(upid, e)),
        }
    }

    /// Lines of a task log (`GET .../log`): `limit` lines from offset
    /// `start` (`limit` 0 means all), numbered from 1, and the total line
    /// count. An empty log reads as `[{n: 1, t: "no content"}]`, total 1.
    pub async fn read_log(
        &self,
        upid: &Upid,
        start: usize,
        limit: usize,
    ) -> Result<(Vec<LogLine>, usize), TaskError> {
        self.check_node(upid)?;
        let path = log_path(&self.shared.dir, upid);
        blocking(move || read_lines(&path, start, limit))
            .await
            .map_err(|e| self.log_error(upid, e))
    }

    /// The task list (`GET /nodes/{node}/tasks`) and the number of tasks
    /// matching the filter. Running tasks (source `active`/`all`) come
    /// first, newest first, with status `RUNNING`; then finished tasks,
    /// most recently finished first.
    pub fn list(&self, filter: &TaskFilter) -> (Vec<TaskListEntry>, usize) {
        let state = lock(&self.shared.state);
        let mut entries = Vec::new();
        let mut total = 0;
        let mut consider = |upid: &Upid, end: Option<(i64, &str)>| {
            if !filter.matches(upid, end.map(|(_, status)| status)) {
                return;
            }
            total += 1;
            if total > filter.start && entries.len() < filter.limit {
                entries.push(TaskListEntry::new(upid, end));
            }
        };
        if filter.source != TaskSource::Archive {
            let mut running: Vec<&Upid> = state.running.keys().collect();
            running.sort_by(|a, b| b.starttime().cmp(&a.starttime()).then_with(|| b.cmp(a)));
            for upid in running {
                consider(upid, None);
            }
        }
        if filter.source != TaskSource::Active {
            for entry in state.archive.newest_first() {
                consider(&entry.upid, Some((entry.endtime, &entry.status)));
            }
        }
        (entries, total)
    }

    /// UPIDs of the tasks running now.
    pub fn running_tasks(&self) -> Vec<Upid> {
        lock(&self.shared.state).running.keys().cloned().collect()
    }

    fn check_node(&self, upid: &Upid) -> Result<(), TaskError> {
        if upid.node() == self.shared.node {
            Ok(())
        } else {
            Err(no_such_task(upid))
        }
    }

    fn is_known(&self, upid: &Upid) -> bool {
        lock(&self.shared.state).archive.get(upid).is_some()
            || log_path(&self.shared.dir, upid).exists()
    }

    fn log_error(&self, upid: &Upid, e: io::Error) -> TaskError {
        if e.kind() == io::ErrorKind::NotFound {
            no_such_task(upid)
        } else {
            TaskError::Io {
                op: "read task log",
                path: log_path(&self.shared.dir, upid),
                source: e,
            }
        }
    }
}

fn no_such_task(upid: &Upid) -> TaskError {
    TaskError::NoSuchTask {
        upid: upid.to_string(),
    }
}

/// Runs blocking file I/O off the async worker threads.
async fn blocking<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
}
