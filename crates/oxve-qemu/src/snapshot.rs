//! Snapshots of a running VM: while it is paused, QEMU takes internal snapshots of its qcow2
//! disks in one transaction and can write its RAM and device state to a file (a migration to
//! `file:`), so disks and RAM belong to the same instant. Other disks (btrfs, ...) are
//! snapshotted by the storage layer in the same pause.

use std::path::Path;

use serde_json::json;

use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};

impl QemuEngine {
    /// Pauses the VM for a snapshot; returns whether it was running (to resume it after).
    pub async fn pause_for_snapshot(&self, vmid: u32) -> Result<bool> {
        let qmp = self.qmp(vmid).await?;
        let running = qmp
            .query_status()
            .await
            .map_err(|e| QemuError::qmp(vmid, "query-status", e))?
            .running;
        if running {
            qmp.stop()
                .await
                .map_err(|e| QemuError::qmp(vmid, "stop", e))?;
        }
        Ok(running)
    }

    /// Internal snapshots `name` of the qcow2 `drives` (config keys), all or none.
    pub async fn internal_snapshots(&self, vmid: u32, name: &str, drives: &[String]) -> Result<()> {
        if drives.is_empty() {
            return Ok(());
        }
        let qmp = self.qmp(vmid).await?;
        let actions: Vec<_> = drives
            .iter()
            .map(|key| {
                json!({
                    "type": "blockdev-snapshot-internal-sync",
                    "data": { "device": format!("drive-{key}"), "name": name },
                })
            })
            .collect();
        qmp.execute_unit("transaction", &json!({ "actions": actions }))
            .await
            .map_err(|e| QemuError::qmp(vmid, "snapshot", e))
    }

    /// Deletes internal snapshot `name` of the qcow2 `drives` of the running VM; returns the
    /// errors per drive (a missing snapshot is not one).
    pub async fn delete_internal_snapshots(
        &self,
        vmid: u32,
        name: &str,
        drives: &[String],
    ) -> Result<Vec<(String, String)>> {
        let qmp = self.qmp(vmid).await?;
        let mut errors = Vec::new();
        for key in drives {
            let result = qmp
                .execute_value(
                    "blockdev-snapshot-delete-internal-sync",
                    &json!({ "device": format!("drive-{key}"), "name": name }),
                )
                .await;
            if let Err(e) = result {
                let text = e.to_string();
                if !text.contains("not found") && !text.contains("Can't find") {
                    errors.push((key.clone(), text));
                }
            }
        }
        Ok(errors)
    }

    /// Writes the paused VM's RAM and device state to `file` (QEMU then holds its disks
    /// inactive until [`Self::resume_after_snapshot`]).
    pub async fn save_state(&self, vmid: u32, file: &Path) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        crate::vmstate::migrate_to_file(vmid, &qmp, file).await?;
        crate::vmstate::wait_migration(vmid, &qmp, "saving the VM state").await?;
        crate::vmstate::sync_file(vmid, file)
    }

    /// Ends a snapshot pause: runs the VM again if it ran before; a VM that was paused stays
    /// paused (after `cont` re-activated its disks, if the state was saved).
    pub async fn resume_after_snapshot(
        &self,
        vmid: u32,
        was_running: bool,
        saved_state: bool,
    ) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        if was_running || saved_state {
            qmp.cont()
                .await
                .map_err(|e| QemuError::qmp(vmid, "cont", e))?;
        }
        if !was_running && saved_state {
            qmp.stop()
                .await
                .map_err(|e| QemuError::qmp(vmid, "stop", e))?;
        }
        Ok(())
    }
}
