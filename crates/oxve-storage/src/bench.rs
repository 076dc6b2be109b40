//! Small benchmark helpers (used by `tests/bench.rs`, run with `--ignored`): time a thin
//! 100 GiB qcow2 allocation through the storage layer, and a full copy through
//! [`StorageManager::copy_volume`] against a bare `qemu-img convert` of the same image.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::content::ContentType;
use crate::error::StorageError;
use crate::format::{Preallocation, VolumeFormat};
use crate::manager::{AllocOptions, StorageManager};
use crate::volid::VolumeId;

/// Flush dirty pages so one run's writeback does not slow down the next.
fn sync_all() {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
}

/// The median of a few runs of `f`.
pub fn median_time(
    runs: usize,
    mut f: impl FnMut() -> Result<(), StorageError>,
) -> Result<Duration, StorageError> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Time allocating (and freeing, untimed) a 100 GiB qcow2 on `storage` (`Off` is thin,
/// `None` the storage default, Proxmox's `metadata`).
pub fn alloc_qcow2_100g(
    manager: &StorageManager,
    storage: &str,
    vmid: u32,
    preallocation: Option<Preallocation>,
    runs: usize,
) -> Result<Duration, StorageError> {
    let opts = AllocOptions {
        vmid,
        name: None,
        format: Some(VolumeFormat::Qcow2),
        size: 100 << 30,
        preallocation,
        content: ContentType::Images,
    };
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let volid = manager.alloc(storage, &opts)?;
        times.push(start.elapsed());
        manager.free(&volid)?;
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Time a full copy of `src` to `target` as `format` through the manager, and a bare
/// `qemu-img convert` of the same file to `scratch`; returns (manager, bare).
pub fn copy_vs_bare(
    manager: &StorageManager,
    src: &VolumeId,
    target: &str,
    vmid: u32,
    format: VolumeFormat,
    scratch: &Path,
) -> Result<(Duration, Duration), StorageError> {
    let src_info = manager.info(src)?;
    let opts = AllocOptions {
        vmid,
        name: None,
        format: Some(format),
        size: 0,
        preallocation: None,
        content: ContentType::Images,
    };
    sync_all();
    let start = Instant::now();
    let copy = manager.copy_volume(src, target, &opts, &mut |_| {})?;
    let ours = start.elapsed();
    manager.free(&copy)?;

    let _ = std::fs::remove_file(scratch);
    sync_all();
    let start = Instant::now();
    let status = Command::new("qemu-img")
        .args([
            "convert",
            "-p",
            "-f",
            src_info.format.as_str(),
            "-O",
            format.as_str(),
        ])
        .arg(&src_info.path)
        .arg(scratch)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| StorageError::io("run qemu-img for", scratch, e))?;
    let bare = start.elapsed();
    let _ = std::fs::remove_file(scratch);
    if !status.success() {
        return Err(StorageError::CommandFailed {
            command: "qemu-img convert (baseline)".into(),
            status: status.code().unwrap_or(-1),
            stderr: String::new(),
        });
    }
    Ok((ours, bare))
}
