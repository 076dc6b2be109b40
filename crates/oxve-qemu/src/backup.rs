//! Exporting a running VM's disks for a backup over QEMU's own NBD server.
//!
//! - Point in time (vzdump `snapshot` mode): "image fleecing". Each disk gets a temporary
//!   qcow2 overlay whose backing is the disk itself, and a `blockdev-backup sync=none` job
//!   copies every old block into the overlay before the guest overwrites it. Reading the
//!   overlay therefore shows the disk as it was when the jobs started, while the guest keeps
//!   running. All disks start their jobs in one transaction, so they share that instant.
//! - As it is (vzdump `suspend` mode, VM paused): the disks themselves, read-only.

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
    /// Config key and overlay file of each fleecing job.
    fleece_files: Vec<(String, PathBuf)>,
    fleecing: bool,
    server_started: bool,
}

fn fleece_node(key: &str) -> String {
    format!("oxve-fleece-{key}")
}

impl QemuEngine {
    /// Exports drives `keys` of running VM `vmid` read-only over NBD on a socket in the run
    /// dir. With `fleece_dir`, each export is the point-in-time view of its disk (the overlay
    /// files go there); without it, the disks as they are (pause the VM first).
    pub async fn start_backup_export(
        &self,
        vmid: u32,
        keys: &[String],
        fleece_dir: Option<&Path>,
    ) -> Result<BackupExport> {
        let qmp = self.qmp(vmid).await?;
        let fail = |action: &'static str| move |e| QemuError::qmp(vmid, action, e);
        let blocks: Value = qmp
            .execute_value("query-block", &json!({}))
            .await
            .map_err(fail("query-block"))?;
        let mut export = BackupExport {
            socket: self.paths().dir().join(format!("{vmid}.backup")),
            drives: Vec::new(),
            fleece_files: Vec::new(),
            fleecing: fleece_dir.is_some(),
            server_started: false,
        };
        let result = async {
            let mut nodes = Vec::new();
            for key in keys {
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
                let node = inserted["node-name"].as_str().unwrap_or_default().to_string();
                let size = inserted["image"]["virtual-size"].as_u64().unwrap_or(0);
                nodes.push((key.clone(), node, size));
            }
            let mut exported_nodes = Vec::new();
            if let Some(dir) = fleece_dir {
                let mut actions = Vec::new();
                for (key, node, size) in &nodes {
                    let file = dir.join(format!("fleece-{vmid}-{key}.qcow2"));
                    create_overlay(&file, *size).map_err(|message| QemuError::Config {
                        vmid,
                        key: key.clone(),
                        message,
                    })?;
                    export.fleece_files.push((key.clone(), file.clone()));
                    qmp.blockdev_add(&json!({
                        "driver": "qcow2",
                        "node-name": fleece_node(key),
                        "file": { "driver": "file", "filename": file },
                        "backing": node,
                    }))
                    .await
                    .map_err(fail("blockdev-add"))?;
                    actions.push(json!({
                        "type": "blockdev-backup",
                        "data": {
                            "device": node,
                            "target": fleece_node(key),
                            "sync": "none",
                            "job-id": fleece_node(key),
                            "auto-dismiss": true,
                        },
                    }));
                    exported_nodes.push((key.clone(), fleece_node(key), *size));
                }
                qmp.execute_unit("transaction", &json!({ "actions": actions }))
                    .await
                    .map_err(fail("blockdev-backup"))?;
            } else {
                exported_nodes = nodes;
            }
            let _ = std::fs::remove_file(&export.socket);
            qmp.execute_unit(
                "nbd-server-start",
                &json!({ "addr": { "type": "unix", "data": { "path": export.socket } } }),
            )
            .await
            .map_err(fail("nbd-server-start"))?;
            export.server_started = true;
            for (key, node, size) in exported_nodes {
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

    /// Removes the exports, the NBD server, the fleecing jobs and overlays; the VM's disks
    /// are as they were. Every step runs even if an earlier one fails.
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
        if export.fleecing {
            for (key, file) in &export.fleece_files {
                let node = fleece_node(key);
                let _ = qmp.block_job_cancel(&node, true).await;
                wait_job_gone(&qmp, &node).await;
                note(qmp.blockdev_del(&node).await, "blockdev-del");
                let _ = std::fs::remove_file(file);
            }
        }
        let _ = std::fs::remove_file(&export.socket);
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A job cancelled with `force` goes away on its own (auto-dismiss); the overlay can only be
/// removed after that.
async fn wait_job_gone(qmp: &oxve_qmp::QmpClient, id: &str) {
    for _ in 0..100 {
        let jobs: Value = qmp
            .execute_value("query-block-jobs", &json!({}))
            .await
            .unwrap_or(Value::Null);
        let present = jobs
            .as_array()
            .is_some_and(|all| all.iter().any(|j| j["device"] == id));
        if !present {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn create_overlay(file: &Path, size: u64) -> std::result::Result<(), String> {
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
