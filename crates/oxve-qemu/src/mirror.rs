//! Moving a running VM's disk: a `drive-mirror` job copies it into a pre-created target
//! while the guest keeps writing, and switches the drive over once both are in sync.

use std::time::Duration;

use oxve_qmp::{DriveMirror, MirrorSync};

use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};

/// How long the switch-over of a ready mirror may take.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(120);

impl QemuEngine {
    /// Mirrors `key` (`scsi0`, ...) of running VM `vmid` into the existing image `target`
    /// (format `format`) and switches the VM to it. `progress` gets (bytes done, total)
    /// while copying. On failure the job is cancelled and the VM keeps its old disk.
    pub async fn mirror_disk(
        &self,
        vmid: u32,
        key: &str,
        target: &str,
        format: &str,
        bytes_per_sec: Option<u64>,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        let job = format!("mirror-{key}");
        let fail = |message: String| QemuError::Hotplug {
            vmid,
            key: key.to_string(),
            message: format!("mirror failed - {message}"),
        };
        qmp.drive_mirror(&DriveMirror {
            job_id: Some(job.clone()),
            device: format!("drive-{key}"),
            target: target.to_string(),
            format: Some(format.to_string()),
            sync: MirrorSync::Full,
            mode: Some("existing".into()),
            speed: bytes_per_sec,
            granularity: None,
            auto_finalize: None,
            auto_dismiss: Some(false),
        })
        .await
        .map_err(|e| fail(e.to_string()))?;
        let result = async {
            loop {
                let jobs = qmp.query_block_jobs().await.map_err(|e| e.to_string())?;
                let Some(info) = jobs.into_iter().find(|j| j.device == job) else {
                    // Concluded before it was ready: its error says why.
                    qmp.wait_job(&job, COMPLETE_TIMEOUT)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Err("the mirror ended before it was in sync".to_string());
                };
                progress(info.offset, info.len);
                if let Some(error) = info.error {
                    return Err(error);
                }
                if info.ready {
                    qmp.block_job_complete(&job)
                        .await
                        .map_err(|e| e.to_string())?;
                    return qmp
                        .wait_job(&job, COMPLETE_TIMEOUT)
                        .await
                        .map_err(|e| e.to_string());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        .await;
        if let Err(message) = result {
            let _ = qmp.block_job_cancel(&job, true).await;
            let _ = qmp.job_dismiss(&job).await;
            return Err(fail(message));
        }
        Ok(())
    }
}
