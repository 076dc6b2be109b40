//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oxve_tasks::{LogLine, TaskManager, TaskOptions, Upid};

/// Node name used by the tests.
pub const NODE: &str = "testnode";

/// A manager on `dir` with a short abort grace period.
pub fn manager(dir: &Path) -> Arc<TaskManager> {
    TaskManager::with_options(
        NODE,
        dir.to_path_buf(),
        TaskOptions {
            abort_grace: Duration::from_millis(300),
            ..TaskOptions::default()
        },
    )
    .unwrap()
}

/// All text lines of a task log.
pub async fn log_text(tm: &TaskManager, upid: &Upid) -> Vec<String> {
    let (lines, _) = tm.read_log(upid, 0, 0).await.unwrap();
    lines.into_iter().map(|LogLine { t, .. }| t).collect()
}

/// Path of a task's log file (the documented layout).
pub fn log_file(dir: &Path, upid: &Upid) -> std::path::PathBuf {
    dir.join(upid.log_subdir().to_string())
        .join(upid.to_string())
}
