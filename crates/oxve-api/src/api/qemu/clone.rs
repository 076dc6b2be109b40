//! `POST .../template` (a stopped VM without snapshots becomes a template: its disks become
//! read-only `base-` volumes) and `POST .../clone` (linked clones of templates as overlays
//! of their base volumes, full copies of any stopped VM to any storage and format), as
//! Proxmox's qmtemplate and qmclone tasks.

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::{AllocOptions, ContentType, VolumeId};
use oxve_store::{
    clear_guest_lock, guest_config_key, set_guest_lock, Expect, GuestLock, StoreError,
};
use oxve_types::qemu::{random_mac, DriveVolume, NetDevice, VmConfig, DEFAULT_MAC_PREFIX};
use oxve_types::schema::Schema;
use serde_json::json;

use super::create::{upid_schema, uuid_v4};
use super::disks;
use super::store_io::{guest_ref, load, save, store_error};
use super::vmid_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// The guests whose config names a volume stacked on one of `bases` (linked clones).
pub async fn linked_clones_of(env: &RpcEnv, bases: &[VolumeId]) -> Result<Vec<u32>, ApiError> {
    if bases.is_empty() {
        return Ok(Vec::new());
    }
    // A linked clone's volume id starts with its base's: `local:100/base-100-disk-0.qcow2/101/...`.
    let prefixes: Vec<String> = bases.iter().map(|b| format!("{b}/")).collect();
    let mut users = Vec::new();
    for guest in env.state.store.guests().await.map_err(store_error)? {
        let Some(entry) = env
            .state
            .store
            .get(&guest_config_key(&guest))
            .await
            .map_err(store_error)?
        else {
            continue;
        };
        if prefixes.iter().any(|p| entry.text.contains(p.as_str())) {
            users.push(guest.vmid);
        }
    }
    Ok(users)
}

async fn make_template(
    env: &RpcEnv,
    vmid: u32,
    only: Option<&str>,
    log: impl Fn(String),
) -> Result<(), String> {
    let mut vm = load(env, vmid).await.map_err(|e| e.message)?;
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    for drive in vm.config.current.drives() {
        let key = drive.key();
        if drive.is_cdrom() || only.is_some_and(|o| o != key) {
            continue;
        }
        let DriveVolume::Volume { .. } = drive.volume() else {
            continue;
        };
        let volid = VolumeId::parse(&drive.file).map_err(|e| e.to_string())?;
        if volid.volname().contains("base-") {
            continue;
        }
        let m = Arc::clone(&manager);
        let v = volid.clone();
        let base = tokio::task::spawn_blocking(move || m.create_base(&v))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{key}: {e}"))?;
        log(format!("{key}: {volid} is now the base volume {base}"));
        let mut moved = drive.clone();
        moved.file = base.to_string();
        vm.config
            .set(&key, &moved.print())
            .map_err(|e| e.to_string())?;
        // Written after each disk, so the config never names a renamed volume.
        vm.digest = save(env.state.store.as_ref(), &vm)
            .await
            .map_err(|e| e.message)?;
    }
    vm.config.set("template", "1").map_err(|e| e.to_string())?;
    save(env.state.store.as_ref(), &vm)
        .await
        .map_err(|e| e.message)?;
    Ok(())
}

/// What a clone copies, and how.
struct CloneJob {
    source: u32,
    /// Clone the VM as it was at this snapshot.
    snapname: Option<String>,
    newid: u32,
    full: bool,
    storage: Option<String>,
    format: Option<oxve_storage::VolumeFormat>,
    name: Option<String>,
    description: Option<String>,
}

async fn clone_vm(
    env: &RpcEnv,
    job: CloneJob,
    log: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let src = load(env, job.source).await.map_err(|e| e.message)?;
    let manager = env
        .state
        .storage
        .manager(env.state.store.as_ref())
        .await
        .map_err(|e| e.message)?;
    let mut conf = VmConfig::parse("").map_err(|e| e.to_string())?;
    conf.current = match &job.snapname {
        Some(snap) => src
            .config
            .snapshots
            .get(snap)
            .cloned()
            .ok_or_else(|| format!("snapshot '{snap}' does not exist"))?,
        None => src.config.current.clone(),
    };
    for key in [
        "template",
        "parent",
        "lock",
        "vmstate",
        "runningmachine",
        "runningcpu",
        "snaptime",
        "description",
    ] {
        conf.current.remove(key);
    }
    let unused: Vec<String> = conf
        .current
        .unused_volumes()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for key in unused {
        conf.current.remove(&key);
    }
    let name = job.name.clone().unwrap_or_else(|| {
        format!(
            "Copy-of-VM-{}",
            src.config.current.name().unwrap_or(&job.source.to_string())
        )
    });
    conf.current.set("name", &name).map_err(|e| e.to_string())?;
    if let Some(d) = &job.description {
        conf.current
            .set("description", d)
            .map_err(|e| e.to_string())?;
    }
    // A clone is a new machine: new MAC addresses, SMBIOS UUID and generation id.
    for (index, nic) in conf.current.nets() {
        let renewed = NetDevice {
            macaddr: Some(random_mac(Some(DEFAULT_MAC_PREFIX))),
            ..nic
        };
        conf.current
            .set(&format!("net{index}"), &renewed.print())
            .map_err(|e| e.to_string())?;
    }
    conf.current
        .set("smbios1", &format!("uuid={}", uuid_v4()))
        .map_err(|e| e.to_string())?;
    conf.current
        .set("vmgenid", &uuid_v4())
        .map_err(|e| e.to_string())?;

    let mut created: Vec<VolumeId> = Vec::new();
    let copied: Result<(), String> = async {
        for drive in conf.current.drives() {
            if drive.is_cdrom() {
                continue;
            }
            let DriveVolume::Volume { .. } = drive.volume() else {
                continue;
            };
            let key = drive.key();
            let volid = VolumeId::parse(&drive.file).map_err(|e| e.to_string())?;
            let m = Arc::clone(&manager);
            let new = if job.full {
                log(format!("{key}: full copy of {volid}"));
                let target = job
                    .storage
                    .clone()
                    .unwrap_or_else(|| volid.storage().to_string());
                let opts = AllocOptions {
                    vmid: job.newid,
                    name: None,
                    format: job.format,
                    size: drive.size.unwrap_or(0),
                    preallocation: None,
                    content: ContentType::Images,
                };
                let progress = log.clone();
                let snap = job.snapname.clone();
                tokio::task::spawn_blocking(move || {
                    let mut last = -10.0;
                    m.copy_volume_at(&volid, snap.as_deref(), &target, &opts, &mut |p| {
                        if p - last >= 10.0 || p >= 100.0 {
                            last = p;
                            progress(format!("{key}: transferred {p:.1}%"));
                        }
                    })
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
            } else {
                tokio::task::spawn_blocking(move || m.clone_image(&volid, job.newid, None))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("{key}: {e}"))?
            };
            log(format!("{}: {new}", drive.key()));
            created.push(new.clone());
            let mut moved = drive.clone();
            moved.file = new.to_string();
            conf.current
                .set(&drive.key(), &moved.print())
                .map_err(|e| e.to_string())?;
        }
        let text = conf.to_text().map_err(|e| e.to_string())?;
        let guest = guest_ref(env, job.newid);
        env.state
            .store
            .put(&guest_config_key(&guest), &text, Expect::Any)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    if let Err(e) = copied {
        log(format!("clone failed - removing what it created: {e}"));
        disks::free_volumes(env, created, log).await;
        let _ = env
            .state
            .store
            .delete(&guest_config_key(&guest_ref(env, job.newid)), Expect::Any)
            .await;
        return Err(e);
    }
    Ok(())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/qemu/{vmid}/template", "template")
            .description("Create a Template.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .optional("disk", Schema::string("If you want to convert only 1 disk to base image.")),
            )
            .returns(upid_schema())
            .permission(Permission::Privs { path: "/vms/{vmid}", privs: &["VM.Allocate"], any: false })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let vm = load(&env, vmid).await?;
                vm.config.check_lock().map_err(|e| ApiError::internal(e.to_string()))?;
                if vm.config.template() {
                    return Err(ApiError::bad_request(format!("VM {vmid} is already a template")));
                }
                if env.state.qemu.is_running(vmid).is_some() {
                    return Err(ApiError::internal("you can't convert a running VM to a template"));
                }
                if !vm.config.snapshots.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "you can't convert a VM with snapshots to a template (delete snapshots {} first)",
                        vm.config.snapshots.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
                let only = params.str("disk").map(str::to_string);
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("qmtemplate", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                        make_template(&task_env, vmid, only.as_deref(), |m| ctx.log(m)).await
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/qemu/{vmid}/clone", "clone_vm")
            .description("Create a copy of virtual machine/template.")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .required("newid", vmid_param())
                    .optional("name", Schema::string("Set a name for the new VM.").format(oxve_types::qemu::formats::DNS_NAME))
                    .optional("description", Schema::string("Description for the new VM."))
                    .optional("target", node_param())
                    .optional("storage", Schema::string("Target storage for full clone.").format(oxve_types::format::STORAGE_ID))
                    .optional("format", Schema::string("Target format for file storage.").enum_values(&["raw", "qcow2", "vmdk"]))
                    .optional("full", Schema::boolean("Create a full copy of all disks. This is always done when you clone a normal VM. For VM templates, we try to create a linked clone by default."))
                    .optional("pool", Schema::string("Add the new VM to the specified pool."))
                    .optional("snapname", Schema::string("The name of the snapshot.").max_length(40))
                    .optional("bwlimit", Schema::integer("Override I/O bandwidth limit (in KiB/s).").minimum(0)),
            )
            .returns(upid_schema())
            .permission(Permission::Custom("VM.Clone on /vms/{vmid}, VM.Allocate on /vms/{newid}, Datastore.AllocateSpace on the target storage"))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let newid = params.int("newid").unwrap_or_default() as u32;
                let perms = env.permissions().await?;
                for (path, privilege) in [(format!("/vms/{vmid}"), "VM.Clone"), (format!("/vms/{newid}"), "VM.Allocate")] {
                    if !perms.has_privs(&path, &[privilege], false) {
                        return Err(ApiError::permission_check_failed(&path, privilege));
                    }
                }
                if let Some(target) = params.str("target") {
                    local_node(&env, target).map_err(|_| ApiError::param("target", "cloning to another node needs a cluster"))?;
                }
                if params.has("pool") {
                    return Err(ApiError::param("pool", "pools are not available yet"));
                }
                let src = load(&env, vmid).await?;
                let template = src.config.template();
                let full = params.bool_or("full", !template);
                let snapname = params.str("snapname").map(str::to_string);
                if let Some(snap) = &snapname {
                    if !src.config.snapshots.contains_key(snap) {
                        return Err(ApiError::param("snapname", format!("snapshot '{snap}' does not exist")));
                    }
                    if !full {
                        return Err(ApiError::param("snapname", "linked clones of snapshots are not possible: use full=1"));
                    }
                }
                if !full && !template {
                    return Err(ApiError::param("full", "linked clone feature is only available for templates"));
                }
                if !full {
                    for p in ["storage", "format"] {
                        if params.has(p) {
                            return Err(ApiError::param(p, "only allowed for full clones"));
                        }
                    }
                }
                if full && snapname.is_none() && env.state.qemu.is_running(vmid).is_some() {
                    return Err(ApiError::internal(format!("VM {vmid} is running - stop it, or clone one of its snapshots (snapname)")));
                }
                let storage = params.str("storage").map(str::to_string);
                if let Some(s) = &storage {
                    let path = format!("/storage/{s}");
                    if !perms.has_privs(&path, &["Datastore.AllocateSpace"], false) {
                        return Err(ApiError::permission_check_failed(&path, "Datastore.AllocateSpace"));
                    }
                }
                let format = match params.str("format") {
                    Some(f) => Some(f.parse().map_err(|e: String| ApiError::param("format", e))?),
                    None => None,
                };
                // Serialize with other operations on the source (templates stay unlocked, so
                // many linked clones can be made at once).
                if !template {
                    set_guest_lock(env.state.store.as_ref(), &guest_ref(&env, vmid), GuestLock::Clone)
                        .await
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                }
                let reserved = env
                    .state
                    .store
                    .create_guest(&guest_ref(&env, newid), "lock: create\n")
                    .await;
                if let Err(e) = reserved {
                    if !template {
                        let _ = clear_guest_lock(env.state.store.as_ref(), &guest_ref(&env, vmid), GuestLock::Clone).await;
                    }
                    return Err(match e {
                        StoreError::VmidInUse { .. } => ApiError::param("newid", format!("VM {newid} already exists")),
                        other => store_error(other),
                    });
                }
                let job = CloneJob {
                    snapname,
                    source: vmid,
                    newid,
                    full,
                    storage,
                    format,
                    name: params.str("name").map(str::to_string),
                    description: params.str("description").map(str::to_string),
                };
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("qmclone", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                        let log = ctx.clone();
                        let result = clone_vm(&task_env, job, move |m| log.log(m)).await;
                        if !template {
                            let _ = clear_guest_lock(task_env.state.store.as_ref(), &guest_ref(&task_env, vmid), GuestLock::Clone).await;
                        }
                        result
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}
