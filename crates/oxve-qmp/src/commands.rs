//! Typed helpers for the QMP commands the VM engine uses.
//!
//! Anything not covered here is one [`QmpClient::execute`] call away.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::client::QmpClient;
use crate::error::{QmpError, Result};
use crate::events::{names, JobStatusChange};
use crate::types::{
    BalloonInfo, BlockInfo, BlockJobInfo, BlockStats, CpuInfoFast, JobInfo, JobStatus,
    MigrationInfo, StatusInfo, VersionInfo,
};

/// Names a block device either by its drive/device name or by a block node name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRef<'a> {
    /// The drive name (`-drive id=`) or the guest device's qdev id.
    Device(&'a str),
    /// A block node name (`-blockdev node-name=`).
    Node(&'a str),
}

impl BlockRef<'_> {
    fn insert_into(self, args: &mut Map<String, Value>) {
        match self {
            BlockRef::Device(d) => args.insert("device".into(), d.into()),
            BlockRef::Node(n) => args.insert("node-name".into(), n.into()),
        };
    }
}

/// One key for `send-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum KeyValue {
    /// A QEMU key code name (`ctrl`, `alt`, `delete`, `a`, `ret`, `f1`, ...).
    Qcode(String),
    /// A raw scancode.
    Number(i64),
}

/// How much of the source a mirror copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MirrorSync {
    /// The whole disk including backing files.
    Full,
    /// Only the top image.
    Top,
    /// Only new writes.
    None,
}

/// Arguments of `drive-mirror` (the target is a file QEMU opens or creates).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DriveMirror {
    /// Job id (defaults to the device name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Source drive or node.
    pub device: String,
    /// Target file name.
    pub target: String,
    /// Target format (`qcow2`, `raw`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// What to copy.
    pub sync: MirrorSync,
    /// `existing` to use a pre-created target, `absolute-paths` (default) to create it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Rate limit, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<u64>,
    /// Granularity of the dirty bitmap, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granularity: Option<u32>,
    /// Whether to emit `BLOCK_JOB_COMPLETED` only after an explicit `job-finalize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_finalize: Option<bool>,
    /// Whether the job disappears by itself once concluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_dismiss: Option<bool>,
}

/// Arguments of `blockdev-mirror` (the target is a node added with `blockdev-add`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BlockdevMirror {
    /// Job id (defaults to the device name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Source drive or node.
    pub device: String,
    /// Target node name.
    pub target: String,
    /// What to copy.
    pub sync: MirrorSync,
    /// Rate limit, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<u64>,
    /// Granularity of the dirty bitmap, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granularity: Option<u32>,
    /// Node to replace with the target on completion (when not the source itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// `background` (default) or `write-blocking`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_mode: Option<String>,
    /// Whether to finalize by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_finalize: Option<bool>,
    /// Whether the job disappears by itself once concluded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_dismiss: Option<bool>,
}

impl QmpClient {
    /// `query-status`: whether and how the VM runs.
    pub async fn query_status(&self) -> Result<StatusInfo> {
        self.execute("query-status", &()).await
    }

    /// `query-version`.
    pub async fn query_version(&self) -> Result<VersionInfo> {
        self.execute("query-version", &()).await
    }

    /// `query-cpus-fast`: the vCPUs and their host threads.
    pub async fn query_cpus_fast(&self) -> Result<Vec<CpuInfoFast>> {
        self.execute("query-cpus-fast", &()).await
    }

    /// `query-block`: block devices and their media.
    pub async fn query_block(&self) -> Result<Vec<BlockInfo>> {
        self.execute("query-block", &()).await
    }

    /// `query-blockstats`: I/O counters of the block devices.
    pub async fn query_blockstats(&self) -> Result<Vec<BlockStats>> {
        self.execute("query-blockstats", &()).await
    }

    /// `query-balloon` (fails with `DeviceNotActive` without a balloon device).
    pub async fn query_balloon(&self) -> Result<BalloonInfo> {
        self.execute("query-balloon", &()).await
    }

    /// `balloon`: asks the guest to shrink or grow to `bytes`.
    pub async fn balloon(&self, bytes: u64) -> Result<()> {
        self.execute_unit("balloon", &json!({ "value": bytes }))
            .await
    }

    /// `cont`: resumes a paused VM.
    pub async fn cont(&self) -> Result<()> {
        self.execute_unit("cont", &()).await
    }

    /// `stop`: pauses the VM.
    pub async fn stop(&self) -> Result<()> {
        self.execute_unit("stop", &()).await
    }

    /// `system_powerdown`: presses the ACPI power button.
    pub async fn system_powerdown(&self) -> Result<()> {
        self.execute_unit("system_powerdown", &()).await
    }

    /// `system_reset`: hard reset.
    pub async fn system_reset(&self) -> Result<()> {
        self.execute_unit("system_reset", &()).await
    }

    /// `quit`: QEMU exits at once. The connection closing before the reply counts as success.
    pub async fn quit(&self) -> Result<()> {
        match self.execute_unit("quit", &()).await {
            Err(QmpError::Disconnected { .. }) => Ok(()),
            r => r,
        }
    }

    /// `human-monitor-command`: runs an HMP command and returns its output.
    pub async fn human_monitor_command(&self, command_line: &str) -> Result<String> {
        self.execute(
            "human-monitor-command",
            &json!({ "command-line": command_line }),
        )
        .await
    }

    /// `send-key`: presses `keys` together (then releases them), holding them `hold_time`.
    pub async fn send_key(&self, keys: &[KeyValue], hold_time: Option<Duration>) -> Result<()> {
        let mut args = json!({ "keys": keys });
        if let Some(t) = hold_time {
            args["hold-time"] = json!(t.as_millis());
        }
        self.execute_unit("send-key", &args).await
    }

    /// `send-key` with QEMU key code names, e.g. `["ctrl", "alt", "delete"]`.
    pub async fn send_qcodes(&self, qcodes: &[&str]) -> Result<()> {
        let keys: Vec<KeyValue> = qcodes
            .iter()
            .map(|k| KeyValue::Qcode((*k).to_string()))
            .collect();
        self.send_key(&keys, None).await
    }

    /// `block_resize`: grows (or shrinks) a disk to `size` bytes.
    pub async fn block_resize(&self, target: BlockRef<'_>, size: u64) -> Result<()> {
        let mut args = Map::new();
        target.insert_into(&mut args);
        args.insert("size".into(), size.into());
        self.execute_unit("block_resize", &args).await
    }

    /// `blockdev-add` with QEMU's `BlockdevOptions` as a JSON object, e.g.
    /// `{"driver": "qcow2", "node-name": "n1", "file": {"driver": "file", "filename": "/x"}}`.
    pub async fn blockdev_add(&self, options: &Value) -> Result<()> {
        self.execute_unit("blockdev-add", options).await
    }

    /// `blockdev-del`: removes a node that no device uses.
    pub async fn blockdev_del(&self, node_name: &str) -> Result<()> {
        self.execute_unit("blockdev-del", &json!({ "node-name": node_name }))
            .await
    }

    /// `device_add`: hot-plugs device `driver` with id `id` and further properties
    /// (`bus`, `drive`, `addr`, ...) from `props` (a JSON object or `null`).
    pub async fn device_add(&self, driver: &str, id: &str, props: &Value) -> Result<()> {
        let mut args = match props {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        args.insert("driver".into(), driver.into());
        args.insert("id".into(), id.into());
        self.execute_unit("device_add", &args).await
    }

    /// `device_del`: asks for a device to be unplugged; it is gone at `DEVICE_DELETED`.
    pub async fn device_del(&self, id: &str) -> Result<()> {
        self.execute_unit("device_del", &json!({ "id": id })).await
    }

    /// `drive-mirror`: starts mirroring a disk into a file.
    pub async fn drive_mirror(&self, args: &DriveMirror) -> Result<()> {
        self.execute_unit("drive-mirror", args).await
    }

    /// `blockdev-mirror`: starts mirroring a disk into a node.
    pub async fn blockdev_mirror(&self, args: &BlockdevMirror) -> Result<()> {
        self.execute_unit("blockdev-mirror", args).await
    }

    /// `block-job-cancel`: stops a block job (for a ready mirror: without switching over).
    pub async fn block_job_cancel(&self, job: &str, force: bool) -> Result<()> {
        self.execute_unit(
            "block-job-cancel",
            &json!({ "device": job, "force": force }),
        )
        .await
    }

    /// `block-job-complete`: completes a ready job (a mirror switches the device over).
    pub async fn block_job_complete(&self, job: &str) -> Result<()> {
        self.execute_unit("block-job-complete", &json!({ "device": job }))
            .await
    }

    /// `query-block-jobs`.
    pub async fn query_block_jobs(&self) -> Result<Vec<BlockJobInfo>> {
        self.execute("query-block-jobs", &()).await
    }

    /// `query-jobs`: every job, block jobs and snapshot jobs alike.
    pub async fn query_jobs(&self) -> Result<Vec<JobInfo>> {
        self.execute("query-jobs", &()).await
    }

    /// `job-dismiss`: removes a concluded job.
    pub async fn job_dismiss(&self, id: &str) -> Result<()> {
        self.execute_unit("job-dismiss", &json!({ "id": id })).await
    }

    /// `job-cancel`.
    pub async fn job_cancel(&self, id: &str) -> Result<()> {
        self.execute_unit("job-cancel", &json!({ "id": id })).await
    }

    /// `snapshot-save`: starts job `job_id` saving the VM state into node `vmstate` and
    /// internal snapshots `tag` of `devices` (node names). Finish with [`Self::wait_job`].
    pub async fn snapshot_save(
        &self,
        job_id: &str,
        tag: &str,
        vmstate: &str,
        devices: &[&str],
    ) -> Result<()> {
        let args = json!({ "job-id": job_id, "tag": tag, "vmstate": vmstate, "devices": devices });
        self.execute_unit("snapshot-save", &args).await
    }

    /// `snapshot-load`: starts job `job_id` restoring snapshot `tag` (the VM must be stopped).
    pub async fn snapshot_load(
        &self,
        job_id: &str,
        tag: &str,
        vmstate: &str,
        devices: &[&str],
    ) -> Result<()> {
        let args = json!({ "job-id": job_id, "tag": tag, "vmstate": vmstate, "devices": devices });
        self.execute_unit("snapshot-load", &args).await
    }

    /// `snapshot-delete`: starts job `job_id` deleting snapshot `tag` from `devices`.
    pub async fn snapshot_delete(&self, job_id: &str, tag: &str, devices: &[&str]) -> Result<()> {
        let args = json!({ "job-id": job_id, "tag": tag, "devices": devices });
        self.execute_unit("snapshot-delete", &args).await
    }

    /// Waits up to `timeout` until job `id` concludes, dismisses it, and fails with
    /// [`QmpError::JobFailed`] when the job reported an error.
    ///
    /// Works for jobs that need `job-dismiss` (snapshot jobs, block jobs started with
    /// `auto-dismiss: false`); call it right after starting the job.
    pub async fn wait_job(&self, id: &str, timeout: Duration) -> Result<()> {
        let what = format!("job {id} to conclude");
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        // The job may have concluded before we subscribed: look first, then listen.
        loop {
            let job = self.query_jobs().await?.into_iter().find(|j| j.id == id);
            match job {
                None => {
                    return Err(QmpError::JobFailed {
                        job: id.to_string(),
                        error: "no such job".into(),
                    })
                }
                Some(job) if job.status == JobStatus::Concluded => {
                    self.job_dismiss(id).await?;
                    return match job.error {
                        Some(error) => Err(QmpError::JobFailed {
                            job: id.to_string(),
                            error,
                        }),
                        None => Ok(()),
                    };
                }
                Some(_) => {}
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            events
                .wait_for(&what, left, |e| {
                    e.event == names::JOB_STATUS_CHANGE
                        && e.data_as::<JobStatusChange>()
                            .is_ok_and(|c| c.id == id && c.status == JobStatus::Concluded)
                })
                .await
                .map_err(|e| match e {
                    QmpError::EventTimeout { .. } => QmpError::EventTimeout {
                        waiting_for: what.clone(),
                        timeout,
                    },
                    e => e,
                })?;
        }
    }

    /// `migrate` to `uri` (`tcp:HOST:PORT`, `unix:PATH`, `exec:CMD`, `file:PATH`).
    /// Returns once started; follow it with `MIGRATION` events or [`Self::query_migrate`].
    pub async fn migrate(&self, uri: &str) -> Result<()> {
        self.execute_unit("migrate", &json!({ "uri": uri })).await
    }

    /// `migrate-incoming`: listens on `uri` for a migration (QEMU started with
    /// `-incoming defer`).
    pub async fn migrate_incoming(&self, uri: &str) -> Result<()> {
        self.execute_unit("migrate-incoming", &json!({ "uri": uri }))
            .await
    }

    /// `migrate_cancel`.
    pub async fn migrate_cancel(&self) -> Result<()> {
        self.execute_unit("migrate_cancel", &()).await
    }

    /// `migrate-set-capabilities`, e.g. `[("xbzrle", true), ("events", true)]`.
    pub async fn migrate_set_capabilities(&self, capabilities: &[(&str, bool)]) -> Result<()> {
        let caps: Vec<Value> = capabilities
            .iter()
            .map(|(c, on)| json!({ "capability": c, "state": on }))
            .collect();
        self.execute_unit("migrate-set-capabilities", &json!({ "capabilities": caps }))
            .await
    }

    /// `migrate-set-parameters` with a JSON object such as `{"downtime-limit": 100}`.
    pub async fn migrate_set_parameters(&self, parameters: &Value) -> Result<()> {
        self.execute_unit("migrate-set-parameters", parameters)
            .await
    }

    /// `query-migrate`.
    pub async fn query_migrate(&self) -> Result<MigrationInfo> {
        self.execute("query-migrate", &()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_arguments_use_qemu_names_and_skip_unset_fields() {
        let m = DriveMirror {
            job_id: Some("mirror-scsi0".into()),
            device: "drive-scsi0".into(),
            target: "/tmp/t.qcow2".into(),
            format: Some("qcow2".into()),
            sync: MirrorSync::Full,
            mode: None,
            speed: None,
            granularity: None,
            auto_finalize: None,
            auto_dismiss: Some(false),
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"job-id": "mirror-scsi0", "device": "drive-scsi0", "target": "/tmp/t.qcow2",
                   "format": "qcow2", "sync": "full", "auto-dismiss": false})
        );
    }

    #[test]
    fn keys_are_tagged_like_qemu_expects() {
        let keys = vec![KeyValue::Qcode("ctrl".into()), KeyValue::Number(28)];
        assert_eq!(
            serde_json::to_value(&keys).unwrap(),
            json!([{"type": "qcode", "data": "ctrl"}, {"type": "number", "data": 28}])
        );
    }
}
