//! Start-up recovery of tasks that were running when a previous daemon
//! (or task manager) on the same task directory stopped.
//!
//! Every UPID in the `active` list that is not in the index belongs to a
//! dead daemon (the directory lock rules out a live one). Like Proxmox'
//! `active_workers`, its exit status is read from the last line of its log:
//! a task that died mid-run has no `TASK ...` line and gets
//! `unexpected status`. The end time is the log's last modification. The
//! results are appended to the index, then the `active` list is emptied.

use std::io;
use std::path::Path;

use crate::active::{active_path, read_active, write_active};
use crate::archive::Archive;
use crate::error::TaskError;
use crate::index::{IndexEntry, IndexFile};
use crate::logfile::{log_path, read_exit_status};
use crate::state::unix_now;
use crate::status::UNEXPECTED_STATUS;
use crate::upid::Upid;

/// Archives the dead tasks of the `active` list; returns their UPIDs.
pub(crate) fn recover_dead_tasks(
    task_dir: &Path,
    index: &mut IndexFile,
    archive: &mut Archive,
) -> Result<Vec<Upid>, TaskError> {
    let path = active_path(task_dir);
    let active = read_active(&path).map_err(TaskError::io("read active task list", &path))?;
    let mut entries: Vec<IndexEntry> = Vec::new();
    for upid in active {
        if archive.get(&upid).is_some() || entries.iter().any(|e| e.upid == upid) {
            continue;
        }
        let log = log_path(task_dir, &upid);
        let (status, endtime) = match read_exit_status(&log) {
            Ok(found) => found,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                (UNEXPECTED_STATUS.to_string(), unix_now())
            }
            Err(e) => return Err(TaskError::io("read task log", log)(e)),
        };
        tracing::warn!(%upid, %status, "task was running when its daemon stopped");
        entries.push(IndexEntry {
            upid,
            endtime,
            status,
        });
    }
    let rotated = index.append(&entries).map_err(TaskError::io(
        "append to task index",
        task_dir.join("index"),
    ))?;
    let recovered = entries.iter().map(|e| e.upid.clone()).collect();
    for entry in entries {
        archive.push(entry);
    }
    if rotated {
        archive.rotate();
    }
    if path.exists() {
        write_active(&path, std::iter::empty())
            .map_err(TaskError::io("write active task list", &path))?;
    }
    Ok(recovered)
}
