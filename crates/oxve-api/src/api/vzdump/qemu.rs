//! Backing up one VM in the job's mode.
//!
//! - stopped VM, any mode: the disks are read directly (qemu-nbd for qcow2/vmdk).
//! - `stop`: a clean shutdown (a VM that does not shut down in `stopwait` fails, untouched),
//!   the disks are read, and the VM is started again.
//! - `suspend`: the VM is paused while its disks are read through its own NBD server.
//! - `snapshot`: no downtime; QEMU's backup job copies the disks as they were at its start
//!   into temporary sparse images, which are then archived.

use std::sync::Arc;
use std::time::Duration;

use oxve_storage::{VolumeFormat, VolumeId};
use oxve_types::qemu::{DriveVolume, VmSettings};

use super::archive::{write, ArchiveDisk, ArchivePlan, DiskInput};
use super::job::{log_start, under_backup_lock, Done, GuestLog, JobSpec, Mode};
use crate::api::qemu::agent::fsfreeze;
use crate::api::qemu::status::start_vm;
use crate::api::qemu::store_io::{guest_ref, load};
use crate::env::RpcEnv;

/// The config as it goes into the archive: the current settings only (no snapshots, pending
/// changes or lock).
pub fn archived_config(settings: &VmSettings) -> Result<String, String> {
    let mut conf = oxve_types::qemu::VmConfig::parse("").map_err(|e| e.to_string())?;
    conf.current = settings.clone();
    conf.current.remove("lock");
    conf.to_text().map_err(|e| e.to_string())
}

/// The disks a backup includes: every volume-backed drive but CD-ROMs and `backup=0`.
fn included_disks(settings: &VmSettings, log: &GuestLog) -> Vec<(String, VolumeId)> {
    let mut out = Vec::new();
    for drive in settings.drives() {
        if drive.is_cdrom() {
            continue;
        }
        let key = drive.key();
        if !matches!(drive.volume(), DriveVolume::Volume { .. }) {
            log.info(format!(
                "exclude disk '{key}' '{}' (not a storage volume)",
                drive.file
            ));
            continue;
        }
        if drive.backup == Some(false) {
            log.info(format!("exclude disk '{key}' '{}' (backup=no)", drive.file));
            continue;
        }
        if let Ok(volid) = VolumeId::parse(&drive.file) {
            log.info(format!("include disk '{key}' '{volid}'"));
            out.push((key, volid));
        }
    }
    out
}

pub async fn backup(
    env: &RpcEnv,
    spec: &JobSpec,
    vmid: u32,
    log: &GuestLog,
) -> Result<Done, String> {
    let vm = load(env, vmid).await.map_err(|e| e.message)?;
    under_backup_lock(
        env,
        &guest_ref(env, vmid),
        "VM",
        vm.config.current.lock(),
        backup_locked(env, spec, vmid, &vm.config.current, log),
    )
    .await
}

async fn backup_locked(
    env: &RpcEnv,
    spec: &JobSpec,
    vmid: u32,
    settings: &VmSettings,
    log: &GuestLog,
) -> Result<Done, String> {
    let running = env.state.qemu.is_running(vmid).is_some();
    log_start(log, running);
    log.info(format!("backup mode: {}", spec.mode.as_str()));
    let name = settings.name().map(str::to_string);
    if let Some(n) = &name {
        log.info(format!("VM Name: {n}"));
    }
    let disks = included_disks(settings, log);
    let plan = ArchivePlan::new(
        env,
        spec,
        "qemu",
        vmid,
        ("qemu-server.conf", archived_config(settings)?),
        log,
    )?;
    let (target, work_dir) = (plan.target.clone(), plan.work_dir.clone());
    let result = match (running, spec.mode) {
        (false, _) => offline(env, plan, &disks, log).await,
        (true, Mode::Stop) => {
            log.info("stopping virtual guest");
            env.state
                .qemu
                .shutdown_via(
                    vmid,
                    Duration::from_secs(spec.stopwait * 60),
                    false,
                    settings.agent_enabled(),
                )
                .await
                .map_err(|e| format!("unable to stop the VM: {e}"))?;
            let written = offline(env, plan, &disks, log).await;
            log.info("restarting virtual guest");
            let restarted = start_vm(env, vmid, settings, |m| log.info(m)).await;
            match (written, restarted) {
                (Ok(m), Ok(())) => Ok(m),
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(format!(
                    "backup written, but the VM did not start again: {e}"
                )),
            }
        }
        (true, Mode::Suspend) => {
            log.info("suspending guest");
            let was_running = env
                .state
                .qemu
                .pause_for_snapshot(vmid)
                .await
                .map_err(|e| e.to_string())?;
            let written = paused(env, plan, vmid, &disks, log).await;
            if was_running {
                log.info("resuming guest");
                if let Err(e) = env.state.qemu.resume(vmid).await {
                    log.error(format!("resume failed: {e}"));
                }
            }
            written
        }
        (true, Mode::Snapshot) => point_in_time(env, plan, vmid, settings, &disks, log).await,
    };
    let _ = std::fs::remove_dir_all(&work_dir);
    result.map(|_| Done {
        archive: target,
        name,
    })
}

async fn offline(
    env: &RpcEnv,
    mut plan: ArchivePlan,
    disks: &[(String, VolumeId)],
    log: &GuestLog,
) -> Result<(), String> {
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    for (key, volid) in disks {
        let m = Arc::clone(&manager);
        let v = volid.clone();
        let info = tokio::task::spawn_blocking(move || m.info(&v))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{key}: {e}"))?;
        let input = match info.format {
            VolumeFormat::Raw => DiskInput::Raw(info.path),
            other => DiskInput::Image {
                path: info.path,
                format: other.to_string(),
            },
        };
        plan.disks.push(ArchiveDisk {
            name: format!("drive-{key}"),
            input,
        });
    }
    write(plan, log).await
}

/// Reads the disks of the paused VM through its own NBD server.
async fn paused(
    env: &RpcEnv,
    mut plan: ArchivePlan,
    vmid: u32,
    disks: &[(String, VolumeId)],
    log: &GuestLog,
) -> Result<(), String> {
    let keys: Vec<String> = disks.iter().map(|(k, _)| k.clone()).collect();
    let export = env
        .state
        .qemu
        .start_backup_export(vmid, &keys)
        .await
        .map_err(|e| e.to_string())?;
    for drive in &export.drives {
        plan.disks.push(ArchiveDisk {
            name: format!("drive-{}", drive.key),
            input: DiskInput::Export {
                socket: export.socket.clone(),
                name: drive.export.clone(),
            },
        });
    }
    let written = write(plan, log).await;
    let ended = env.state.qemu.end_backup_export(vmid, export).await;
    written?;
    ended.map_err(|e| format!("cleaning up the backup export: {e}"))
}

/// Copies the disks with QEMU's backup job while the guest runs, then archives the copies.
/// With the guest agent, the guest's file systems are frozen just before the point in time
/// and thawed as soon as it is taken (or the job failed).
async fn point_in_time(
    env: &RpcEnv,
    mut plan: ArchivePlan,
    vmid: u32,
    settings: &VmSettings,
    disks: &[(String, VolumeId)],
    log: &GuestLog,
) -> Result<(), String> {
    let keys: Vec<String> = disks.iter().map(|(k, _)| k.clone()).collect();
    let words = &fsfreeze::VZDUMP;
    let frozen = fsfreeze::fs_freeze(
        env,
        vmid,
        settings,
        words,
        |m| log.info(m),
        |m| log.error(m),
    )
    .await;
    log.info("starting the backup job (point in time of all disks)");
    let (taken_tx, taken_rx) = tokio::sync::oneshot::channel::<()>();
    let mut taken_tx = Some(taken_tx);
    let thaw = async {
        if frozen {
            // Err: the job ended (failed) before its first report; thaw all the same.
            let _ = taken_rx.await;
            fsfreeze::fs_thaw(env, vmid, words, |m| log.info(m), |m| log.error(m)).await;
        }
    };
    let mut next = 0;
    let copy = env
        .state
        .qemu
        // `move`: the sender goes with the closure, so a job that fails before its first report
        // drops it and the thaw still runs.
        .backup_to_images(
            vmid,
            &keys,
            &plan.work_dir,
            plan.bwlimit,
            move |done, total| {
                if next == 0 {
                    // The first report comes once all jobs run: the instant is fixed.
                    log.info("backup job running: the point in time is taken");
                    if let Some(tx) = taken_tx.take() {
                        let _ = tx.send(());
                    }
                    next = 10;
                }
                let percent = (done * 100).checked_div(total).unwrap_or(0);
                if percent >= next {
                    next = percent / 10 * 10 + 10;
                    log.info(format!("backup job: {percent}% copied"));
                }
            },
        );
    let (copies, ()) = tokio::join!(copy, thaw);
    let copies = copies.map_err(|e| e.to_string())?;
    log.info("backup job finished; archiving the copies");
    for copy in &copies {
        plan.disks.push(ArchiveDisk {
            name: format!("drive-{}", copy.key),
            input: DiskInput::Image {
                path: copy.image.clone(),
                format: "qcow2".into(),
            },
        });
    }
    write(plan, log).await
}
