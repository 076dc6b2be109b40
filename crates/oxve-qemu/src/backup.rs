//! Reading a running VM's disks for a backup.
//!
//! - Point in time (vzdump `snapshot` mode): QEMU's own backup job (`blockdev-backup
//!   sync=full`) copies each disk into a temporary sparse qcow2 while the guest keeps running;
//!   blocks the guest overwrites are copied first, so the copy is the disk as it was when the
//!   jobs started. All disks start in one transaction, so they share that instant.
//! - As it is (vzdump `suspend` mode, VM paused): the disks themselves, exported read-only
//!   over QEMU's NBD server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};

/// One exported disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedDrive {
    /// The config key (`scsi0`, ...).
    pub key: String,
    /// The NBD export name on [`BackupExport::socket`].
    pub export: String,
    /// Virtual size in bytes.
    pub size: u64,
}

/// What [`QemuEngine::start_backup_export`] set up; hand it to
/// [`QemuEngine::end_backup_export`].
#[derive(Debug)]
pub struct BackupExport {
    pub socket: PathBuf,
    pub drives: Vec<ExportedDrive>,
    server_started: bool,
}

impl QemuEngine {
    /// Exports drives `keys` of running VM `vmid`, as they are, read-only over NBD on a socket
    /// in the run dir (pause the VM first for a consistent view).
    pub async fn start_backup_export(&self, vmid: u32, keys: &[String]) -> Result<BackupExport> {
        let nodes = self.drive_nodes(vmid, keys).await?;
        let qmp = self.qmp(vmid).await?;
        let fail = |action: &'static str| move |e| QemuError::qmp(vmid, action, e);
        let mut export = BackupExport {
            socket: self.paths().dir().join(format!("{vmid}.backup")),
            drives: Vec::new(),
            server_started: false,
        };
        let result = async {
            let _ = std::fs::remove_file(&export.socket);
            qmp.execute_unit(
                "nbd-server-start",
                &json!({ "addr": { "type": "unix", "data": { "path": export.socket } } }),
            )
            .await
            .map_err(fail("nbd-server-start"))?;
            export.server_started = true;
            for (key, node, size) in nodes {
                qmp.execute_unit(
                    "block-export-add",
                    &json!({
                        "type": "nbd",
                        "id": format!("oxve-backup-{key}"),
                        "node-name": node,
                        "name": key,
                        "writable": false,
                    }),
                )
                .await
                .map_err(fail("block-export-add"))?;
                export.drives.push(ExportedDrive {
                    export: key.clone(),
                    key,
                    size,
                });
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = self.end_backup_export(vmid, export).await;
            return Err(e);
        }
        Ok(export)
    }

    /// Removes the exports and the NBD server. Every step runs even if an earlier one fails.
    pub async fn end_backup_export(&self, vmid: u32, export: BackupExport) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        let mut first_error = None;
        let mut note = |r: std::result::Result<(), oxve_qmp::QmpError>, action: &'static str| {
            if let Err(e) = r {
                first_error.get_or_insert(QemuError::qmp(vmid, action, e));
            }
        };
        for drive in &export.drives {
            let id = format!("oxve-backup-{}", drive.key);
            note(
                qmp.execute_unit("block-export-del", &json!({ "id": id, "mode": "hard" }))
                    .await,
                "block-export-del",
            );
        }
        if export.server_started {
            note(
                qmp.execute_unit("nbd-server-stop", &json!({})).await,
                "nbd-server-stop",
            );
        }
        let _ = std::fs::remove_file(&export.socket);
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// One disk copied by [`QemuEngine::backup_to_images`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedDrive {
    pub key: String,
    /// The point-in-time copy (qcow2).
    pub image: PathBuf,
    pub size: u64,
}

impl QemuEngine {
    /// The block node and virtual size of each of `keys`.
    async fn drive_nodes(&self, vmid: u32, keys: &[String]) -> Result<Vec<(String, String, u64)>> {
        let qmp = self.qmp(vmid).await?;
        let blocks: Value = qmp
            .execute_value("query-block", &json!({}))
            .await
            .map_err(|e| QemuError::qmp(vmid, "query-block", e))?;
        keys.iter()
            .map(|key| {
                let device = format!("drive-{key}");
                let inserted = blocks
                    .as_array()
                    .and_then(|all| all.iter().find(|b| b["device"] == device.as_str()))
                    .map(|b| &b["inserted"])
                    .filter(|i| i.is_object())
                    .ok_or_else(|| QemuError::Config {
                        vmid,
                        key: key.clone(),
                        message: "the running VM has no such disk".into(),
                    })?;
                Ok((
                    key.clone(),
                    inserted["node-name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    inserted["image"]["virtual-size"].as_u64().unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Copies drives `keys` of running VM `vmid` into sparse qcow2 images in `dir` with
    /// QEMU's backup job, all from the same instant, while the guest runs. `progress` gets
    /// (bytes done, total); `bytes_per_sec` limits the copy. On failure nothing is left in `dir` or in the VM.
    pub async fn backup_to_images(
        &self,
        vmid: u32,
        keys: &[String],
        dir: &Path,
        bytes_per_sec: Option<u64>,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<Vec<CopiedDrive>> {
        let nodes = self.drive_nodes(vmid, keys).await?;
        let qmp = self.qmp(vmid).await?;
        let fail = |action: &'static str| move |e| QemuError::qmp(vmid, action, e);
        let target = |key: &str| format!("oxve-backup-target-{key}");
        let job = |key: &str| format!("oxve-backup-{key}");
        let mut copied = Vec::new();
        let mut added = Vec::new();
        let result = async {
            let mut actions = Vec::new();
            for (key, node, size) in &nodes {
                let image = dir.join(format!("backup-{vmid}-{key}.qcow2"));
                create_sparse_qcow2(&image, *size).map_err(|message| QemuError::Config {
                    vmid,
                    key: key.clone(),
                    message,
                })?;
                copied.push(CopiedDrive {
                    key: key.clone(),
                    image: image.clone(),
                    size: *size,
                });
                qmp.blockdev_add(&json!({
                    "driver": "qcow2",
                    "node-name": target(key),
                    "file": { "driver": "file", "filename": image },
                }))
                .await
                .map_err(fail("blockdev-add"))?;
                added.push(target(key));
                actions.push(json!({
                    "type": "blockdev-backup",
                    "data": {
                        "device": node,
                        "target": target(key),
                        "sync": "full",
                        "job-id": job(key),
                        "auto-dismiss": false,
                        "speed": bytes_per_sec.unwrap_or(0),
                    },
                }));
            }
            qmp.execute_unit("transaction", &json!({ "actions": actions }))
                .await
                .map_err(fail("blockdev-backup"))?;
            loop {
                let jobs = qmp.query_jobs().await.map_err(fail("query-jobs"))?;
                let ours: Vec<_> = jobs
                    .iter()
                    .filter(|j| nodes.iter().any(|(k, _, _)| j.id == job(k)))
                    .collect();
                let done: u64 = ours.iter().map(|j| j.current_progress).sum();
                let total: u64 = ours.iter().map(|j| j.total_progress).sum();
                progress(done, total);
                if let Some(error) = ours.iter().find_map(|j| j.error.clone()) {
                    return Err(QemuError::Config {
                        vmid,
                        key: "backup".into(),
                        message: error,
                    });
                }
                if ours.len() == nodes.len()
                    && ours
                        .iter()
                        .all(|j| j.status == oxve_qmp::types::JobStatus::Concluded)
                {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        .await;
        for (key, _, _) in &nodes {
            let _ = qmp.job_cancel(&job(key)).await;
            let _ = qmp.job_dismiss(&job(key)).await;
        }
        for node in &added {
            let _ = qmp.blockdev_del(node).await;
        }
        if let Err(e) = result {
            for c in &copied {
                let _ = std::fs::remove_file(&c.image);
            }
            return Err(e);
        }
        Ok(copied)
    }
}

fn create_sparse_qcow2(file: &Path, size: u64) -> std::result::Result<(), String> {
    let out = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(file)
        .arg(size.to_string())
        .output()
        .map_err(|e| format!("qemu-img create: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "qemu-img create: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
