//! Suspend to disk: the VM's RAM and device state written to a file through QEMU's migration
//! to a `file:` URI, QEMU ended; later a new QEMU (`-incoming defer`) reads the file back and
//! the guest continues where it was.

use std::path::Path;
use std::time::Duration;

use oxve_qmp::types::MigrationStatus;
use oxve_qmp::QmpClient;

use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};
use crate::process;

/// How long writing or reading the state may take (large RAM on slow storage).
const STATE_TIMEOUT: Duration = Duration::from_secs(1800);

fn failed(vmid: u32, what: &str, message: impl std::fmt::Display) -> QemuError {
    QemuError::StartFailed {
        vmid,
        message: format!("{what}: {message}"),
    }
}

/// Writes the state to `file` through a migration, without QEMU's default network bandwidth
/// cap (128 MiB/s), which would otherwise bound a local disk write.
pub(crate) async fn migrate_to_file(vmid: u32, qmp: &QmpClient, file: &Path) -> Result<()> {
    qmp.migrate_set_parameters(&serde_json::json!({ "max-bandwidth": i64::MAX / 2 }))
        .await
        .map_err(|e| QemuError::qmp(vmid, "migrate-set-parameters", e))?;
    qmp.migrate(&format!("file:{}", file.display()))
        .await
        .map_err(|e| QemuError::qmp(vmid, "migrate", e))
}

/// Flushes the written state file to disk: a snapshot or hibernation recorded in the config
/// must survive a host crash.
pub(crate) fn sync_file(vmid: u32, file: &Path) -> Result<()> {
    std::fs::File::open(file)
        .and_then(|f| f.sync_all())
        .map_err(|e| failed(vmid, "syncing the VM state", e))
}

/// Waits until the migration of `qmp`'s QEMU (outgoing or incoming) is done.
pub(crate) async fn wait_migration(vmid: u32, qmp: &QmpClient, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + STATE_TIMEOUT;
    loop {
        let info = qmp
            .query_migrate()
            .await
            .map_err(|e| QemuError::qmp(vmid, "query-migrate", e))?;
        match info.status {
            Some(MigrationStatus::Completed) => return Ok(()),
            Some(MigrationStatus::Failed | MigrationStatus::Cancelled) => {
                let why = info.error_desc.unwrap_or_else(|| "migration failed".into());
                return Err(failed(vmid, what, why));
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(vmid, what, "timed out"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl QemuEngine {
    /// Pauses the running VM, writes its state to `file` and ends QEMU. If writing fails the
    /// VM runs on.
    pub async fn save_state_and_stop(&self, vmid: u32, file: &Path) -> Result<()> {
        let _guard = self.lock_vm(vmid).await;
        let pid = self
            .is_running(vmid)
            .ok_or(QemuError::NotRunning { vmid })?;
        let qmp = self.qmp(vmid).await?;
        let was_running = qmp
            .query_status()
            .await
            .map_err(|e| QemuError::qmp(vmid, "query-status", e))?
            .running;
        qmp.stop()
            .await
            .map_err(|e| QemuError::qmp(vmid, "stop", e))?;
        let saved = async {
            migrate_to_file(vmid, &qmp, file).await?;
            wait_migration(vmid, &qmp, "saving the VM state").await?;
            sync_file(vmid, file)
        }
        .await;
        if let Err(e) = saved {
            if was_running {
                let _ = qmp.cont().await;
            }
            return Err(e);
        }
        let _ = qmp.quit().await;
        if !process::wait_exit(pid, &self.paths.qmp(vmid), Duration::from_secs(10)).await {
            process::signal(pid, nix::sys::signal::Signal::SIGKILL);
            process::wait_exit(pid, &self.paths.qmp(vmid), Duration::from_secs(5)).await;
        }
        self.cleanup(vmid).await
    }

    /// Reads the state of a suspended VM into its freshly started (`-incoming defer`) QEMU.
    pub(crate) async fn load_state(&self, vmid: u32, qmp: &QmpClient, file: &Path) -> Result<()> {
        qmp.migrate_incoming(&format!("file:{}", file.display()))
            .await
            .map_err(|e| QemuError::qmp(vmid, "migrate-incoming", e))?;
        wait_migration(vmid, qmp, "loading the VM state").await
    }
}
