//! The node-local run state of each backup job (Proxmox's `/var/lib/pve-manager/jobs/
//! vzdump-<id>.json`), under `DATA/jobs/`: when it last ran (or was created, or had its
//! schedule changed), with which task, and the schedule/enabled it was last seen with. The
//! scheduler computes the next run from it, so a restart neither repeats a run nor forgets one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The schedule and enabled flag the state was last updated for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SeenConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<String>,
}

/// One job's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobState {
    /// `created`, `starting`, `started` (a task runs) or `stopped`.
    pub state: String,
    /// When it was created or last started.
    #[serde(default)]
    pub time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upid: Option<String>,
    /// Why the last start failed, or `OK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// When the schedule or enabled flag changed (or the scheduler started without
    /// `repeat-missed`): the next run is computed from then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<i64>,
    #[serde(default)]
    pub config: SeenConfig,
}

impl JobState {
    /// A job created at `now`.
    pub fn created(now: i64, schedule: Option<&str>, enabled: Option<&str>) -> Self {
        JobState {
            state: "created".into(),
            time: now,
            upid: None,
            msg: None,
            updated: None,
            config: SeenConfig {
                schedule: schedule.map(str::to_string),
                enabled: enabled.map(str::to_string),
            },
        }
    }

    /// What the next run is computed from (Proxmox's `get_last_runtime`).
    pub fn last_runtime(&self) -> i64 {
        self.updated.unwrap_or(self.time)
    }
}

/// The state files' directory.
pub(crate) fn state_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("jobs")
}

/// The state file of job `id`; `None` for ids that cannot be file names.
pub(crate) fn state_path(data_dir: &Path, id: &str) -> Option<PathBuf> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    ok.then(|| state_dir(data_dir).join(format!("vzdump-{id}.json")))
}

pub(crate) fn read_state(data_dir: &Path, id: &str) -> Option<JobState> {
    let text = std::fs::read(state_path(data_dir, id)?).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Write a job's state (through a temp file and rename, then fsync'd by the rename's dir).
pub(crate) fn write_state(data_dir: &Path, id: &str, state: &JobState) -> std::io::Result<()> {
    let Some(path) = state_path(data_dir, id) else {
        return Ok(());
    };
    std::fs::create_dir_all(state_dir(data_dir))?;
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
}

pub(crate) fn remove_state(data_dir: &Path, id: &str) {
    if let Some(path) = state_path(data_dir, id) {
        let _ = std::fs::remove_file(path);
    }
}

/// Ids of every job with a state file.
pub(crate) fn state_ids(data_dir: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(state_dir(data_dir)) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some(
                name.strip_prefix("vzdump-")?
                    .strip_suffix(".json")?
                    .to_string(),
            )
        })
        .collect()
}
