//! Backing up one container: its config and the volumes of its rootfs and of the mount points
//! marked `backup=1`: images byte for byte, directory volumes (subvolumes) as trees of files
//! with their numeric owners, so file ownership, including the shifted ids of an
//! unprivileged container, comes back exactly either way.
//!
//! - stopped, any mode: the images are read directly.
//! - `stop`: a clean shutdown, the images are read, the container is started again.
//! - `suspend`: the container is frozen and the file systems of its images are frozen on
//!   the host (`FIFREEZE`, which writes out everything cached first) while they are read;
//!   directory volumes are read through the host's own file system (never frozen: the
//!   archive goes there too), unchanging while the container is frozen.
//! - `snapshot`: where every included volume's storage has snapshots (btrfs, raw images and
//!   subvolumes alike), the container
//!   and its file systems are frozen only for the moment the snapshots (`vzdump`) take, and
//!   the archive is read from the snapshots while it runs on. Elsewhere (image files on
//!   `dir`), as Proxmox does when a volume cannot snapshot, it falls back to `suspend` and says
//!   so.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oxve_lxc::{HostMount, VolumePath};
use oxve_storage::{VolumeFormat, VolumeId};
use oxve_types::lxc::{CtConfig, MountSource};

use super::archive::{write, ArchiveDisk, ArchivePlan, DiskInput};
use super::job::{log_start, under_backup_lock, Done, GuestLog, JobSpec, Mode};
use crate::api::lxc::status::start_now;
use crate::api::lxc::store_io::{guest_ref, load};
use crate::env::RpcEnv;

/// The config as archived: current settings only, without lock.
pub fn archived_config(conf: &CtConfig) -> Result<String, String> {
    let mut copy = CtConfig::parse("").map_err(|e| e.to_string())?;
    copy.current = conf.current.clone();
    copy.remove("lock");
    copy.to_text().map_err(|e| e.to_string())
}

pub async fn backup(
    env: &RpcEnv,
    spec: &JobSpec,
    vmid: u32,
    log: &GuestLog,
) -> Result<Done, String> {
    let ct = load(env, vmid).await.map_err(|e| e.message)?;
    under_backup_lock(
        env,
        &guest_ref(env, vmid),
        "CT",
        ct.config.lock(),
        backup_locked(env, spec, vmid, &ct.config, log),
    )
    .await
}

async fn backup_locked(
    env: &RpcEnv,
    spec: &JobSpec,
    vmid: u32,
    conf: &CtConfig,
    log: &GuestLog,
) -> Result<Done, String> {
    let running = env.state.lxc.is_running(vmid).is_some();
    log_start(log, running);
    let name = conf.get("hostname").map(str::to_string);
    if let Some(n) = &name {
        log.info(format!("CT Name: {n}"));
    }
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    let mut disks = Vec::new();
    // The image volumes' file systems as the running container has them mounted (the host
    // holds no mount of its own after the start), frozen while their images are read.
    let init = match running {
        true => env.state.lxc.init_pid(vmid).await,
        false => None,
    };
    let mut frozen_mounts = Vec::new();
    // Image volumes read as trees of files (`exclude-path` asks for files): disk index, and
    // the image, mounted read-only when the container is stopped.
    let mut images_as_trees: Vec<(usize, VolumePath)> = Vec::new();
    // The included volumes, and whether each can be snapshotted.
    let mut volumes: Vec<(String, VolumeId, bool)> = Vec::new();
    for (key, mp) in conf.mount_points() {
        if !mp.backup() {
            log.info(format!(
                "excluding volume mount point {key} ('{}') from backup",
                mp.mp()
            ));
            continue;
        }
        let MountSource::Volume(volid) = mp.source() else {
            log.info(format!(
                "excluding {key} ('{}'): not a storage volume",
                mp.mp()
            ));
            continue;
        };
        let volid = VolumeId::parse(&volid).map_err(|e| format!("{key}: {e}"))?;
        let m = Arc::clone(&manager);
        let v = volid.clone();
        let info = tokio::task::spawn_blocking(move || m.info(&v))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{key}: {e}"))?;
        let snapshots = matches!(info.format, VolumeFormat::Raw | VolumeFormat::Subvol)
            && manager
                .capabilities(volid.storage())
                .is_ok_and(|c| c.supports_snapshots(info.format));
        volumes.push((key.clone(), volid, snapshots));
        let mount = mp.mp().to_string();
        let input = match info.format {
            VolumeFormat::Subvol => DiskInput::Tree {
                root: info.path,
                mount,
            },
            // Where to read it from is known once the container's state is settled.
            VolumeFormat::Raw if spec.exclusions.explicit() => {
                images_as_trees.push((disks.len(), VolumePath::from_storage(info.path, "raw")));
                DiskInput::Tree {
                    root: PathBuf::new(),
                    mount,
                }
            }
            VolumeFormat::Raw => DiskInput::Raw(info.path),
            other => DiskInput::Image {
                path: info.path,
                format: other.to_string(),
            },
        };
        log.info(format!(
            "including mount point {key} ('{}') in backup",
            mp.mp()
        ));
        // A directory volume is read through the host's file system, which must not be
        // frozen (the archive is written there too); the frozen container changes nothing.
        if let (Some(pid), false) = (init, matches!(input, DiskInput::Tree { .. })) {
            frozen_mounts.push(in_container(pid, &mp.mp()));
        }
        disks.push(ArchiveDisk { name: key, input });
    }
    let mut mode = spec.mode;
    let snapshot_mode = running && mode == Mode::Snapshot && volumes.iter().all(|(_, _, s)| *s);
    if running && mode == Mode::Snapshot && !snapshot_mode {
        log.info("mode failure - some volumes do not support snapshots");
        log.info("trying 'suspend' mode instead");
        mode = Mode::Suspend;
    } else if running && mode == Mode::Snapshot && !images_as_trees.is_empty() {
        log.info("mode failure - exclude-path reads the files of image volumes, not a snapshot");
        log.info("trying 'suspend' mode instead");
        mode = Mode::Suspend;
    }
    if !images_as_trees.is_empty() {
        log.info("exclude-path given: image volumes are archived as trees of files");
    }
    log.info(format!("backup mode: {}", mode.as_str()));
    let mut plan = ArchivePlan::new(
        env,
        spec,
        "lxc",
        vmid,
        ("pct.conf", archived_config(conf)?),
        log,
    )?;
    plan.disks = disks;
    let (target, work_dir) = (plan.target.clone(), plan.work_dir.clone());
    let result = match (running, mode) {
        (false, _) => write_mounted(plan, &images_as_trees, log).await,
        (true, Mode::Stop) => {
            log.info("stopping virtual guest");
            env.state
                .lxc
                .shutdown(vmid, Duration::from_secs(spec.stopwait * 60), false)
                .await
                .map_err(|e| format!("unable to stop the container: {e}"))?;
            let written = write_mounted(plan, &images_as_trees, log).await;
            log.info("restarting virtual guest");
            let restarted = start_now(env, vmid, log.ctx()).await;
            match (written, restarted) {
                (Ok(()), Ok(())) => Ok(()),
                (Err(e), _) => Err(e),
                (Ok(()), Err(e)) => Err(format!(
                    "backup written, but the container did not start again: {e}"
                )),
            }
        }
        (true, Mode::Snapshot) => {
            let snapped =
                take_snapshots(env, &manager, vmid, &volumes, &frozen_mounts, log).await?;
            for (disk, (_, path)) in plan.disks.iter_mut().zip(&snapped) {
                match &mut disk.input {
                    DiskInput::Tree { root, .. } => *root = path.clone(),
                    other => *other = DiskInput::Raw(path.clone()),
                }
            }
            let written = write(plan, log).await;
            let m = Arc::clone(&manager);
            let _ = tokio::task::spawn_blocking(move || {
                for (volid, _) in snapped {
                    let _ = m.snapshot_delete(&volid, VZDUMP_SNAPSHOT);
                }
            })
            .await;
            written
        }
        (true, _) => {
            // Image volumes read as files: through the container's own mounts, frozen.
            let pid = match (images_as_trees.is_empty(), init) {
                (true, _) => 0,
                (false, Some(pid)) => pid,
                (false, None) => return Err("cannot reach the container's file systems".into()),
            };
            for (index, _) in &images_as_trees {
                if let DiskInput::Tree { root, mount } = &mut plan.disks[*index].input {
                    *root = in_container(pid, mount);
                }
            }
            log.info("freezing guest");
            env.state
                .lxc
                .suspend(vmid)
                .await
                .map_err(|e| format!("unable to freeze the container: {e}"))?;
            let mut thaw = Vec::new();
            for dir in &frozen_mounts {
                match FsFreeze::freeze(dir) {
                    Ok(f) => {
                        log.info(format!("froze the file system at {}", dir.display()));
                        thaw.push(f)
                    }
                    Err(e) => log.info(format!(
                        "cannot freeze the file system at {}: {e}",
                        dir.display()
                    )),
                }
            }
            let written = write(plan, log).await;
            drop(thaw);
            log.info("resuming guest");
            if let Err(e) = env.state.lxc.resume(vmid).await {
                log.error(format!("unable to thaw the container: {e}"));
            }
            written
        }
    };
    let _ = std::fs::remove_dir_all(&work_dir);
    result.map(|_| Done {
        archive: target,
        name,
    })
}

/// Where the host reaches `path` as the running container (init `pid`) sees it: through its
/// own mounts, which the host holds none of after the start.
fn in_container(pid: u32, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root")).join(path.trim_start_matches('/'))
}

/// Writes the archive of a stopped container; image volumes read as trees are mounted
/// read-only (under the work directory) while it is written.
async fn write_mounted(
    mut plan: ArchivePlan,
    images: &[(usize, VolumePath)],
    log: &GuestLog,
) -> Result<(), String> {
    let mut mounts = Vec::new();
    for (index, image) in images {
        let disk = &mut plan.disks[*index];
        let dir = plan.work_dir.join(format!("mnt-{}", disk.name));
        let (image, at) = (image.clone(), dir.clone());
        let mounted = tokio::task::spawn_blocking(move || HostMount::mount_read_only(&image, &at))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: mounting read-only: {e}", disk.name))?;
        if let DiskInput::Tree { root, .. } = &mut disk.input {
            *root = mounted.path().to_path_buf();
        }
        mounts.push(mounted);
    }
    let written = write(plan, log).await;
    let unmounted = tokio::task::spawn_blocking(move || {
        mounts
            .into_iter()
            .try_for_each(|m| m.unmount().map_err(|e| e.to_string()))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    written.and(unmounted)
}

/// The snapshot a backup takes and removes again (a name users cannot take, as in Proxmox).
const VZDUMP_SNAPSHOT: &str = "vzdump";

/// Freezes the container and its file systems, snapshots every volume, thaws; returns each
/// snapshot's volume and readable file. On failure the snapshots taken are deleted.
async fn take_snapshots(
    env: &RpcEnv,
    manager: &Arc<oxve_storage::StorageManager>,
    vmid: u32,
    volumes: &[(String, VolumeId, bool)],
    mounts: &[PathBuf],
    log: &GuestLog,
) -> Result<Vec<(VolumeId, PathBuf)>, String> {
    log.info("create storage snapshot 'vzdump'");
    env.state
        .lxc
        .suspend(vmid)
        .await
        .map_err(|e| format!("unable to freeze the container: {e}"))?;
    let frozen: Vec<FsFreeze> = mounts
        .iter()
        .filter_map(|m| FsFreeze::freeze(m).ok())
        .collect();
    let m = Arc::clone(manager);
    let ids: Vec<VolumeId> = volumes.iter().map(|(_, v, _)| v.clone()).collect();
    let taken = tokio::task::spawn_blocking(move || {
        let mut done: Vec<(VolumeId, PathBuf)> = Vec::new();
        for volid in ids {
            let made = m
                .snapshot_create(&volid, VZDUMP_SNAPSHOT)
                .and_then(|()| m.snapshot_path(&volid, VZDUMP_SNAPSHOT));
            match made {
                Ok(path) => done.push((volid, path)),
                Err(e) => {
                    let _ = m.snapshot_delete(&volid, VZDUMP_SNAPSHOT);
                    for (v, _) in &done {
                        let _ = m.snapshot_delete(v, VZDUMP_SNAPSHOT);
                    }
                    return Err(format!("snapshot of {volid}: {e}"));
                }
            }
        }
        Ok(done)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    drop(frozen);
    if let Err(e) = env.state.lxc.resume(vmid).await {
        log.error(format!("unable to thaw the container: {e}"));
    }
    log.info("guest runs on; reading the snapshots");
    taken
}

/// A host file system frozen with `FIFREEZE` (everything cached is written first, new writes
/// wait), thawed on drop.
struct FsFreeze {
    dir: std::fs::File,
    path: PathBuf,
}

const FIFREEZE: libc::c_ulong = 0xC004_5877;
const FITHAW: libc::c_ulong = 0xC004_5878;

impl FsFreeze {
    fn freeze(path: &Path) -> std::io::Result<FsFreeze> {
        // Only ever the root of a file system: freezing a plain directory would freeze the
        // file system holding it (the host's own, perhaps).
        let (here, up) = (
            std::fs::metadata(path)?,
            std::fs::metadata(path.join(".."))?,
        );
        if here.dev() == up.dev() && here.ino() != up.ino() {
            return Err(std::io::Error::other("not the root of a file system"));
        }
        let dir = std::fs::File::open(path)?;
        // SAFETY: ioctl on an open directory; FIFREEZE takes no argument.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as above.
        if unsafe { libc::ioctl(dir.as_raw_fd(), FIFREEZE as _, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(FsFreeze {
            dir,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for FsFreeze {
    fn drop(&mut self) {
        // SAFETY: ioctl on an open directory; FITHAW takes no argument.
        if unsafe { libc::ioctl(self.dir.as_raw_fd(), FITHAW as _, 0) } != 0 {
            tracing::warn!(path = %self.path.display(), "thawing the file system failed");
        }
    }
}
