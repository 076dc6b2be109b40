//! PUT .../qemu/{vmid}/resize and POST .../qemu/{vmid}/move_disk. For a running VM, resize
//! goes through QMP `block_resize` and move_disk through a `drive-mirror` job.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::size::SizeSpec;
use oxve_storage::{AllocOptions, ContentType, VolumeId};
use oxve_types::qemu::{volume_owner, Drive};
use oxve_types::schema::Schema;
use serde_json::json;

use super::create::upid_schema;
use super::store_io::{check_digest, load, save};
use super::{disks, vmid_param};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

fn disk_keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = Vec::new();
        for (bus, n) in [("ide", 4), ("scsi", 31), ("virtio", 16), ("sata", 6)] {
            for i in 0..n {
                keys.push(&*Box::leak(format!("{bus}{i}").into_boxed_str()));
            }
        }
        keys.push("efidisk0");
        keys.push("tpmstate0");
        keys
    })
}

fn disk_param() -> oxve_types::schema::StringSchema {
    Schema::string("The disk.").enum_values(disk_keys())
}

/// The drive at `key` with its volume, refusing CD-ROMs and non-volume drives.
fn volume_drive(
    config: &oxve_types::qemu::VmConfig,
    key: &str,
) -> Result<(Drive, VolumeId), ApiError> {
    let drive = config
        .drive(key)
        .ok_or_else(|| ApiError::param("disk", format!("disk '{key}' does not exist")))?;
    if drive.is_cdrom() {
        return Err(ApiError::param("disk", "you can't use a CD-ROM drive here"));
    }
    let volid = VolumeId::parse(&drive.file)
        .map_err(|_| ApiError::param("disk", format!("disk '{key}' is not a storage volume")))?;
    Ok((drive, volid))
}

/// Moves `key` of running VM `vmid` from `src` to a new volume on `target` with a QEMU
/// mirror job; returns the new volume (freed again if the mirror fails).
#[allow(clippy::too_many_arguments)]
async fn mirror_to(
    env: &RpcEnv,
    vmid: u32,
    key: &str,
    src: &VolumeId,
    target: &str,
    mut opts: AllocOptions,
    bytes_per_sec: Option<u64>,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<VolumeId, String> {
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    let (source, target_id) = (src.clone(), target.to_string());
    let m = manager.clone();
    let (new, path, format) = tokio::task::spawn_blocking(move || {
        let info = m.info(&source)?;
        opts.size = info.size;
        if opts.format.is_none() {
            opts.format = Some(info.format);
        }
        let new = m.alloc(&target_id, &opts)?;
        let path = m.path(&new)?;
        let format = m.info(&new)?.format;
        Ok::<_, oxve_storage::StorageError>((new, path, format))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    log(format!("mirroring the running disk into {new} ({format})"));
    let progress_log = log.clone();
    let mut last = -10.0;
    let mirrored = env
        .state
        .qemu
        .mirror_disk(
            vmid,
            key,
            &path.to_string_lossy(),
            &format.to_string(),
            bytes_per_sec,
            move |done, total| {
                let p = if total == 0 {
                    100.0
                } else {
                    done as f64 * 100.0 / total as f64
                };
                if p - last >= 10.0 {
                    last = p;
                    progress_log(format!(
                        "drive-{key}: transferred {done} of {total} bytes ({p:.1}%)"
                    ));
                }
            },
        )
        .await;
    match mirrored {
        Ok(()) => {
            log(format!(
                "drive-{key}: mirror complete, the VM now uses {new}"
            ));
            Ok(new)
        }
        Err(e) => {
            disks::free_volumes(env, vec![new], log).await;
            Err(e.to_string())
        }
    }
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Put, "/nodes/{node}/qemu/{vmid}/resize", "resize_vm")
            .description("Extend a volume's size (grow only).")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .required("disk", disk_param())
                    .required("size", Schema::string("The new size. With the `+` sign the value is added to the actual size of the volume and without it, the value is taken as an absolute one.").pattern("\\+?\\d+(\\.\\d+)?[KMGT]?"))
                    .optional("digest", Schema::string("Refuse the change if the config's SHA1 digest differs.").max_length(40))
                    .optional("skiplock", Schema::boolean("Ignore locks (root only).")),
            )
            .returns(upid_schema())
            .permission(Permission::Privs { path: "/vms/{vmid}", privs: &["VM.Config.Disk"], any: false })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let key = params.req_str("disk").to_string();
                let spec = SizeSpec::parse(params.req_str("size")).map_err(|e| ApiError::param("size", e.to_string()))?;
                let vm = load(&env, vmid).await?;
                check_digest(&vm, params.str("digest"))?;
                vm.config.check_lock().map_err(|e| ApiError::internal(e.to_string()))?;
                let (_, volid) = volume_drive(&vm.config, &key)?;
                // Refuse a shrink or bad size before starting a task.
                let probe = volid.clone();
                let current = env.state.storage.run(env.state.store.as_ref(), move |m| m.info(&probe)).await?.size;
                let target = spec.resolve(current).map_err(|e| ApiError::param("size", e.to_string()))?;
                if target < current {
                    return Err(ApiError::param("size", format!("shrinking disks is not supported (current size {current}, requested {target})")));
                }
                let task_env = env.clone();
                let upid = env.state.tasks.spawn("resize", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                    let env = task_env;
                    let v = volid.clone();
                    let new_size = if env.state.qemu.is_running(vmid).is_some() {
                        // Online: QEMU grows the image it holds open and tells the guest.
                        let size = env.state.storage.run(env.state.store.as_ref(), move |m| m.resize_online(&v, spec)).await.map_err(|e| e.message)?;
                        let qmp = env.state.qemu.qmp(vmid).await.map_err(|e| e.to_string())?;
                        qmp.block_resize(oxve_qmp::BlockRef::Device(&format!("drive-{key}")), size).await.map_err(|e| format!("VM {vmid}: block_resize of {key} failed - {e}"))?;
                        ctx.log(format!("resized {key} of the running VM through QEMU"));
                        size
                    } else {
                        env.state.storage.run(env.state.store.as_ref(), move |m| m.resize(&v, spec)).await.map_err(|e| e.message)?
                    };
                    ctx.log(format!("resized {key} ({volid}) to {new_size} bytes"));
                    let mut vm = load(&env, vmid).await.map_err(|e| e.message)?;
                    let mut drive = vm.config.drive(&key).ok_or("disk vanished from the config")?;
                    drive.size = Some(new_size);
                    vm.config.set(&key, &drive.print()).map_err(|e| e.to_string())?;
                    save(env.state.store.as_ref(), &vm).await.map_err(|e| e.message)?;
                    Ok::<(), String>(())
                }).map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/qemu/{vmid}/move_disk", "move_vm_disk")
            .description("Move a volume to another storage and/or format (full copy, progress in the task log).")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .required("disk", disk_param())
                    .optional("storage", Schema::string("Target storage.").format(oxve_types::format::STORAGE_ID))
                    .optional("format", Schema::string("Target format.").enum_values(&["raw", "qcow2", "vmdk"]))
                    .optional("delete", Schema::boolean("Delete the original disk after a successful copy (otherwise it is kept as unusedN).").default(false))
                    .optional("digest", Schema::string("Refuse the change if the config's SHA1 digest differs.").max_length(40))
                    .optional("bwlimit", Schema::integer("Override I/O bandwidth limit (in KiB/s).").minimum(0)),
            )
            .returns(upid_schema())
            .permission(Permission::Privs { path: "/vms/{vmid}", privs: &["VM.Config.Disk"], any: false })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let key = params.req_str("disk").to_string();
                let vm = load(&env, vmid).await?;
                check_digest(&vm, params.str("digest"))?;
                vm.config.check_lock().map_err(|e| ApiError::internal(e.to_string()))?;
                if vm.config.template() {
                    return Err(ApiError::bad_request("you can't move the disk of a template"));
                }
                let (drive, src) = volume_drive(&vm.config, &key)?;
                let target = params.str("storage").unwrap_or(src.storage()).to_string();
                let format = match params.str("format") {
                    Some(f) => Some(f.parse().map_err(|e: String| ApiError::param("format", e))?),
                    None => None,
                };
                if target == src.storage() && format.is_none() {
                    return Err(ApiError::param("storage", "you can't move to the same storage with the same format"));
                }
                let path = format!("/storage/{target}");
                if !env.permissions().await?.has_privs(&path, &["Datastore.AllocateSpace"], false) {
                    return Err(ApiError::permission_check_failed(&path, "Datastore.AllocateSpace"));
                }
                let delete = params.bool_or("delete", false);
                let params_bwlimit = params.int("bwlimit").filter(|b| *b > 0).map(|b| b as u64);
                let task_env = env.clone();
                let upid = env.state.tasks.spawn("qmmove", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                    let env = task_env;
                    ctx.log(format!("moving disk {key} ({src}) to storage '{target}'"));
                    let manager = env.state.storage.manager(env.state.store.as_ref()).await.map_err(|e| e.message)?;
                    let opts = AllocOptions { vmid, name: None, format, size: drive.size.unwrap_or(0), preallocation: None, content: ContentType::Images };
                    let log = ctx.clone();
                    let source = src.clone();
                    let target_id = target.clone();
                    let new = if env.state.qemu.is_running(vmid).is_some() {
                        let bwlimit = params_bwlimit.map(|kib| kib * 1024);
                        mirror_to(&env, vmid, &key, &src, &target, opts, bwlimit, move |m| log.log(m)).await?
                    } else { tokio::task::spawn_blocking(move || {
                        let mut last = -10.0;
                        manager.copy_volume(&source, &target_id, &opts, &mut |p| {
                            if p - last >= 10.0 || p >= 100.0 {
                                last = p;
                                log.log(format!("transferred {p:.1}%"));
                            }
                        })
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())? };
                    ctx.log(format!("new volume '{new}'"));
                    // Point the drive at the copy; the old volume is freed or kept as unused.
                    let switched = async {
                        let mut vm = load(&env, vmid).await?;
                        let mut moved = vm.config.drive(&key).ok_or_else(|| ApiError::internal("disk vanished from the config"))?;
                        if moved.file != src.to_string() {
                            return Err(ApiError::internal("disk changed while it was copied"));
                        }
                        moved.file = new.to_string();
                        vm.config.set(&key, &moved.print()).map_err(|e| ApiError::internal(e.to_string()))?;
                        if !delete && volume_owner(&src.to_string()) == Some(vmid) {
                            vm.config.add_unused_volume(&src.to_string()).map_err(|e| ApiError::internal(e.to_string()))?;
                        }
                        save(env.state.store.as_ref(), &vm).await
                    }
                    .await;
                    let log = ctx.clone();
                    match switched {
                        Ok(_) if delete => {
                            disks::free_volumes(&env, vec![src], move |m| log.log(m)).await;
                            Ok(())
                        }
                        Ok(_) => Ok(()),
                        Err(e) => {
                            disks::free_volumes(&env, vec![new], move |m| log.log(m)).await;
                            Err(e.message)
                        }
                    }
                }).map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}
