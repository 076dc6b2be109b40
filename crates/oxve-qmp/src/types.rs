//! Typed replies of the QMP queries the VM engine uses (field names as in QEMU's schema).
//!
//! Structs keep the fields oxve reads as typed fields; the large ones keep everything else in
//! `extra`, so nothing QEMU reports is lost. Enums have an `Unknown` variant for values added by
//! newer QEMU versions.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// QEMU's version (in the greeting and from `query-version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Upstream version numbers.
    pub qemu: VersionTriple,
    /// Distribution package version, e.g. `Debian 1:10.0.2+ds-2`.
    #[serde(default)]
    pub package: String,
}

/// `major.minor.micro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VersionTriple {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Micro version.
    pub micro: u32,
}

impl fmt::Display for VersionTriple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The run state of the VM (`query-status`), what Proxmox shows as `qmpstatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum RunState {
    Debug,
    Inmigrate,
    InternalError,
    IoError,
    Paused,
    Postmigrate,
    Prelaunch,
    FinishMigrate,
    RestoreVm,
    Running,
    SaveVm,
    Shutdown,
    Suspended,
    Watchdog,
    GuestPanicked,
    Colo,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

impl RunState {
    /// The name QEMU uses (`running`, `paused`, `prelaunch`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Debug => "debug",
            RunState::Inmigrate => "inmigrate",
            RunState::InternalError => "internal-error",
            RunState::IoError => "io-error",
            RunState::Paused => "paused",
            RunState::Postmigrate => "postmigrate",
            RunState::Prelaunch => "prelaunch",
            RunState::FinishMigrate => "finish-migrate",
            RunState::RestoreVm => "restore-vm",
            RunState::Running => "running",
            RunState::SaveVm => "save-vm",
            RunState::Shutdown => "shutdown",
            RunState::Suspended => "suspended",
            RunState::Watchdog => "watchdog",
            RunState::GuestPanicked => "guest-panicked",
            RunState::Colo => "colo",
            RunState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reply of `query-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// True when vCPUs run.
    pub running: bool,
    /// The detailed state.
    pub status: RunState,
}

/// One vCPU from `query-cpus-fast`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CpuInfoFast {
    /// Index of the vCPU.
    pub cpu_index: u32,
    /// QOM path of the vCPU object.
    pub qom_path: String,
    /// Host thread id running the vCPU (for pinning and accounting).
    pub thread_id: i64,
    /// Target architecture, e.g. `x86_64`.
    #[serde(default)]
    pub target: String,
    /// Topology properties (socket-id, core-id, thread-id, ...).
    #[serde(default)]
    pub props: Option<Map<String, Value>>,
}

/// One block device from `query-block`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// The drive name (`drive-scsi0`); empty for devices attached with `-blockdev` only.
    pub device: String,
    /// The qdev id or path of the guest device.
    #[serde(default)]
    pub qdev: Option<String>,
    /// True for removable media (CD-ROM).
    pub removable: bool,
    /// True when the guest locked the tray.
    pub locked: bool,
    /// The medium, when one is inserted.
    #[serde(default)]
    pub inserted: Option<BlockDeviceInfo>,
    /// True when the tray is open (removable devices only).
    #[serde(default)]
    pub tray_open: Option<bool>,
    /// `ok`, `failed` or `nospace` when I/O status reporting is on.
    #[serde(default, rename = "io-status")]
    pub io_status: Option<String>,
    /// Everything else QEMU reported.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The medium of a block device (`inserted` in [`BlockInfo`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDeviceInfo {
    /// File name (or JSON description) of the image.
    pub file: String,
    /// The node name of the top node.
    #[serde(default, rename = "node-name")]
    pub node_name: Option<String>,
    /// True when read-only.
    pub ro: bool,
    /// Format driver (`qcow2`, `raw`, ...).
    pub drv: String,
    /// Backing file, when any.
    #[serde(default)]
    pub backing_file: Option<String>,
    /// The image's details.
    #[serde(default)]
    pub image: Option<ImageInfo>,
    /// Everything else QEMU reported (throttling, cache mode, detect_zeroes, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Details of an image (`image` in [`BlockDeviceInfo`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageInfo {
    /// File name.
    pub filename: String,
    /// Format.
    pub format: String,
    /// Size seen by the guest, in bytes.
    pub virtual_size: u64,
    /// Space used on the host, in bytes.
    #[serde(default)]
    pub actual_size: Option<u64>,
    /// Internal snapshots of the image.
    #[serde(default)]
    pub snapshots: Vec<SnapshotInfo>,
    /// Everything else QEMU reported.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An internal snapshot of an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub id: String,
    /// Snapshot name (the tag).
    pub name: String,
    /// Size of the saved VM state, in bytes.
    pub vm_state_size: u64,
    /// Creation time, seconds since the epoch.
    pub date_sec: i64,
    /// Everything else QEMU reported.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `query-blockstats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockStats {
    /// The drive name, when the device has one.
    #[serde(default)]
    pub device: Option<String>,
    /// The qdev id or path of the guest device.
    #[serde(default)]
    pub qdev: Option<String>,
    /// The node name.
    #[serde(default, rename = "node-name")]
    pub node_name: Option<String>,
    /// The counters.
    pub stats: BlockDeviceStats,
    /// Statistics of the protocol layer below (the file itself).
    #[serde(default)]
    pub parent: Option<Box<BlockStats>>,
    /// Statistics of the backing image.
    #[serde(default)]
    pub backing: Option<Box<BlockStats>>,
}

/// I/O counters of a block device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDeviceStats {
    /// Bytes read.
    pub rd_bytes: u64,
    /// Bytes written.
    pub wr_bytes: u64,
    /// Read requests.
    pub rd_operations: u64,
    /// Write requests.
    pub wr_operations: u64,
    /// Flush requests.
    pub flush_operations: u64,
    /// Time spent reading, in nanoseconds.
    #[serde(default)]
    pub rd_total_time_ns: u64,
    /// Time spent writing, in nanoseconds.
    #[serde(default)]
    pub wr_total_time_ns: u64,
    /// Highest offset written, in bytes.
    #[serde(default)]
    pub wr_highest_offset: u64,
    /// Everything else QEMU reported.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Reply of `query-balloon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalloonInfo {
    /// The guest's memory size now, in bytes.
    pub actual: u64,
}

/// Status of a job (block jobs, snapshot jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum JobStatus {
    Undefined,
    Created,
    Running,
    Paused,
    Ready,
    Standby,
    Waiting,
    Pending,
    Aborting,
    Concluded,
    Null,
    /// A status this client does not know.
    #[serde(other)]
    Unknown,
}

/// One block job from `query-block-jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BlockJobInfo {
    /// The job's kind (`mirror`, `commit`, `stream`, `backup`).
    #[serde(rename = "type")]
    pub job_type: String,
    /// The job id.
    pub device: String,
    /// Total work, in bytes (an estimate).
    pub len: u64,
    /// Work done so far.
    pub offset: u64,
    /// True while I/O is in flight.
    pub busy: bool,
    /// True when paused.
    pub paused: bool,
    /// Rate limit in bytes per second.
    pub speed: u64,
    /// True when the job can be completed (a mirror in sync).
    pub ready: bool,
    /// The job's status.
    pub status: JobStatus,
    /// The error, when the job failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// One job from `query-jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JobInfo {
    /// The job id.
    pub id: String,
    /// The job's kind (`snapshot-save`, `mirror`, ...).
    #[serde(rename = "type")]
    pub job_type: String,
    /// The job's status.
    pub status: JobStatus,
    /// Progress so far.
    pub current_progress: u64,
    /// Estimated total.
    pub total_progress: u64,
    /// The error, when the job failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// Status of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum MigrationStatus {
    None,
    Setup,
    Cancelling,
    Cancelled,
    Active,
    PostcopyActive,
    PostcopyPaused,
    PostcopyRecoverSetup,
    PostcopyRecover,
    Completed,
    Failed,
    Colo,
    PreSwitchover,
    Device,
    WaitUnplug,
    /// A status this client does not know.
    #[serde(other)]
    Unknown,
}

/// Reply of `query-migrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MigrationInfo {
    /// Absent before any migration was started.
    #[serde(default)]
    pub status: Option<MigrationStatus>,
    /// RAM transfer counters.
    #[serde(default)]
    pub ram: Option<MigrationStats>,
    /// Milliseconds since the migration started.
    #[serde(default)]
    pub total_time: Option<u64>,
    /// Downtime of a completed migration, in milliseconds.
    #[serde(default)]
    pub downtime: Option<u64>,
    /// Expected downtime while active, in milliseconds.
    #[serde(default)]
    pub expected_downtime: Option<u64>,
    /// Setup time, in milliseconds.
    #[serde(default)]
    pub setup_time: Option<u64>,
    /// Why the migration failed.
    #[serde(default)]
    pub error_desc: Option<String>,
    /// Everything else QEMU reported.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// RAM counters of a migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MigrationStats {
    /// Bytes transferred.
    pub transferred: u64,
    /// Bytes remaining.
    pub remaining: u64,
    /// Total guest RAM, in bytes.
    pub total: u64,
    /// Throughput in megabits per second.
    #[serde(default)]
    pub mbps: f64,
    /// Pages dirtied per second.
    #[serde(default)]
    pub dirty_pages_rate: u64,
    /// Everything else QEMU reported.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_states_decode_and_unknown_ones_do_not_fail() {
        let s: StatusInfo =
            serde_json::from_value(json!({"running": false, "status": "paused"})).unwrap();
        assert_eq!(s.status, RunState::Paused);
        assert_eq!(s.status.to_string(), "paused");
        let s: StatusInfo =
            serde_json::from_value(json!({"running": false, "status": "brand-new-state"})).unwrap();
        assert_eq!(s.status, RunState::Unknown);
        let s: RunState = serde_json::from_value(json!("guest-panicked")).unwrap();
        assert_eq!(s, RunState::GuestPanicked);
        assert_eq!(s.as_str(), "guest-panicked");
    }

    #[test]
    fn block_info_keeps_unknown_fields() {
        let v = json!({
            "device": "drive-scsi0", "qdev": "scsi0", "removable": false, "locked": false,
            "type": "unknown", "io-status": "ok",
            "inserted": {
                "file": "/x.qcow2", "node-name": "n1", "ro": false, "drv": "qcow2",
                "encrypted": false, "bps": 0,
                "image": {"filename": "/x.qcow2", "format": "qcow2", "virtual-size": 1024,
                          "cluster-size": 65536}
            }
        });
        let b: BlockInfo = serde_json::from_value(v).unwrap();
        let ins = b.inserted.unwrap();
        assert_eq!(ins.node_name.as_deref(), Some("n1"));
        assert_eq!(ins.image.unwrap().virtual_size, 1024);
        assert_eq!(ins.extra["bps"], json!(0));
        assert_eq!(b.extra["type"], json!("unknown"));
        assert_eq!(b.io_status.as_deref(), Some("ok"));
    }

    #[test]
    fn migration_info_before_any_migration_is_empty() {
        let m: MigrationInfo = serde_json::from_value(json!({})).unwrap();
        assert_eq!(m.status, None);
        let m: MigrationInfo = serde_json::from_value(json!({
            "status": "completed", "total-time": 120, "downtime": 30,
            "ram": {"transferred": 10, "remaining": 0, "total": 268435456, "mbps": 1.5,
                    "normal": 3}
        }))
        .unwrap();
        assert_eq!(m.status, Some(MigrationStatus::Completed));
        assert_eq!(m.ram.unwrap().extra["normal"], json!(3));
    }
}
