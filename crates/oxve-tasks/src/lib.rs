//! Worker tasks identified by Proxmox UPIDs.
//!
//! Every long operation of the daemon runs as a worker task: a tokio task
//! inside the daemon, started with [`TaskManager::spawn`], which returns the
//! task's [`Upid`] at once for the API client to poll. The worker writes its
//! log through a [`TaskContext`]; when it ends, the log gets Proxmox' final
//! line (`TASK OK`, `TASK WARNINGS: n`, `TASK ERROR: msg`) and the task is
//! recorded in the index. Status, log paging, listing with Proxmox' filters,
//! and abort follow pve-manager `PVE/API2/Tasks.pm`.
//!
//! # Task directory layout
//!
//! ```text
//! <task_dir>/
//!   .lock            flock held by the one TaskManager using the directory
//!   active           UPIDs of running tasks, one per line (atomic rewrite:
//!                    temp file + fsync + rename + directory fsync)
//!   index            finished tasks, append-only, fsync per append, lines
//!                    "<UPID> <endtime 8 hex> <exit status>" (Proxmox' format)
//!   index.1          the previous index after rotation (> 1 MiB by default)
//!   0/ .. F/<UPID>   task logs, in the sub-directory named by the last hex
//!                    digit of the start time (as /var/log/pve/tasks)
//! ```
//!
//! On start, a UPID still in `active` but not in the index belongs to a dead
//! daemon: it is archived with the status its log's last line shows, which
//! is `unexpected status` for a task that died mid-run.
//!
//! All tasks share the daemon's pid and process start time, so the manager
//! keeps UPIDs unique by bumping the start time of a would-be duplicate (see
//! [`TaskManager::spawn`]).

mod active;
mod archive;
mod context;
mod dirlock;
mod error;
mod escape;
mod filter;
mod fsutil;
mod index;
mod logfile;
mod manager;
mod procfs;
mod recover;
mod state;
mod status;
mod upid;
mod worker;

pub use context::TaskContext;
pub use error::{Interrupted, TaskError, INTERRUPTED_STATUS};
pub use filter::{TaskFilter, TaskSource};
pub use manager::TaskManager;
pub use state::TaskOptions;
pub use status::{LogLine, RunState, TaskListEntry, TaskStatus, TaskStatusType, UNEXPECTED_STATUS};
pub use upid::{Upid, MAX_UPID_LEN};
