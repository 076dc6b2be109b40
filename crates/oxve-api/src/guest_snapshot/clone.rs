//! `POST .../template` (a stopped guest without snapshots becomes a template: its volumes
//! become read-only `base-` volumes) and `POST .../clone` (linked clones of templates on
//! their storage: qcow2 overlays or btrfs snapshots; full copies of any stopped guest or of
//! a snapshot to any storage), for every guest type. The new VMID is reserved first; a
//! clone that fails frees what it created and the reservation.

use std::sync::Arc;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::{AllocOptions, ContentType, StorageManager, VolumeFormat, VolumeId};
use oxve_store::{guest_config_key, Expect, StoreError};
use oxve_types::params::Params;
use oxve_types::schema::Schema;
use serde_json::Value;

use super::{
    api_path, blocking, free_volumes, lock_guest, manager, spawn_task, task_log, unlock_guest, Log,
    SnapshotGuest,
};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;
use crate::guest_config::{guest_ref, load, save, store_error};

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

fn is_template<G: SnapshotGuest>(s: &G::Settings) -> bool {
    G::get(s, "template") == Some("1")
}

/// Turns the volumes (or only volume `only`) of guest `vmid` into base volumes.
async fn make_template<G: SnapshotGuest>(
    env: &RpcEnv,
    vmid: u32,
    only: Option<&str>,
    log: Log,
) -> Result<(), String> {
    let mut guest = load::<G>(env, vmid).await.map_err(|e| e.message)?;
    let m = manager(env).await?;
    for v in G::volumes(guest.config.current())? {
        if only.is_some_and(|o| o != v.key) || v.volid.volname().contains("base-") {
            continue;
        }
        let (m, volid) = (Arc::clone(&m), v.volid.clone());
        let key = v.key.clone();
        let base =
            blocking(move || m.create_base(&volid).map_err(|e| format!("{key}: {e}"))).await?;
        log(format!(
            "{}: {} is now the base volume {base}",
            v.key, v.volid
        ));
        G::set_volume(guest.config.current_mut(), &v.key, &base)?;
        // Written after each volume, so the config never names a renamed one.
        guest.digest = save(env.state.store.as_ref(), &guest)
            .await
            .map_err(|e| e.message)?;
    }
    G::set(guest.config.current_mut(), "template", "1")?;
    save(env.state.store.as_ref(), &guest)
        .await
        .map_err(|e| e.message)?;
    G::volumes_replaced(env, vmid);
    Ok(())
}

/// Refuses a template of a guest that is one already, is locked, runs or has snapshots.
async fn check_template<G: SnapshotGuest>(env: &RpcEnv, vmid: u32) -> Result<(), ApiError> {
    let guest = load::<G>(env, vmid).await?;
    let label = G::LABEL;
    let current = guest.config.current();
    if let Some(lock) = G::get(current, "lock") {
        return Err(ApiError::internal(format!(
            "{label} {vmid} is locked ({lock})"
        )));
    }
    if is_template::<G>(current) {
        return Err(ApiError::bad_request(format!(
            "{label} {vmid} is already a template"
        )));
    }
    if G::is_running(env, vmid) {
        return Err(ApiError::internal(format!(
            "you can't convert a running {label} to a template"
        )));
    }
    if !guest.config.snapshots().is_empty() {
        let names: Vec<&str> = guest
            .config
            .snapshots()
            .keys()
            .map(String::as_str)
            .collect();
        return Err(ApiError::bad_request(format!(
            "you can't convert a {label} with snapshots to a template (delete snapshots {} first)",
            names.join(", ")
        )));
    }
    Ok(())
}

/// What a clone copies, and how.
struct CloneJob {
    source: u32,
    /// Clone the guest as it was at this snapshot.
    snapname: Option<String>,
    newid: u32,
    full: bool,
    storage: Option<String>,
    format: Option<VolumeFormat>,
    name: Option<String>,
    description: Option<String>,
    /// The pool the new guest joins.
    pool: Option<String>,
    /// Digest of the reserved new config.
    reserved: String,
}

/// The new guest's settings: the source's (or its snapshot's) without template flag, tree,
/// lock or unused volumes, with a new identity, name and description.
fn clone_settings<G: SnapshotGuest>(src: &G, job: &CloneJob) -> Result<G::Settings, String> {
    let mut s = match &job.snapname {
        Some(snap) => src
            .snapshots()
            .get(snap)
            .cloned()
            .ok_or_else(|| format!("snapshot '{snap}' does not exist"))?,
        None => src.current().clone(),
    };
    for key in ["template", "parent", "lock"]
        .iter()
        .chain(G::SNAPSHOT_KEYS)
        .chain(G::NOT_CLONED)
    {
        G::remove(&mut s, key);
    }
    for key in G::unused_keys(&s) {
        G::remove(&mut s, &key);
    }
    let name = job
        .name
        .clone()
        .or_else(|| G::default_clone_name(src.current(), job.source));
    if let Some(n) = name {
        G::set(&mut s, G::CLONE_NAME.0, &n)?;
    }
    if let Some(d) = &job.description {
        G::set(&mut s, "description", d)?;
    }
    G::renew_identity(&mut s)?;
    Ok(s)
}

/// A full copy of one guest volume into a new volume.
pub struct VolumeCopy {
    pub manager: Arc<StorageManager>,
    /// The config key (for messages).
    pub key: String,
    pub volid: VolumeId,
    /// Copy the volume as it was at this snapshot.
    pub snap: Option<String>,
    pub target: String,
    /// The requested format (`None`: the source's where the target has it).
    pub format: Option<VolumeFormat>,
    pub newid: u32,
    pub content: ContentType,
}

/// [`VolumeCopy`] of an image, block by block (`qemu-img convert`), logging the progress.
pub async fn copy_image(c: VolumeCopy, log: Log) -> Result<VolumeId, String> {
    let key = c.key.clone();
    blocking(move || {
        let m = c.manager;
        let size = m.info(&c.volid).map_err(|e| format!("{key}: {e}"))?.size;
        let opts = AllocOptions {
            vmid: c.newid,
            name: None,
            format: c.format,
            size,
            preallocation: None,
            content: c.content,
        };
        let mut last = -10.0;
        m.copy_volume_at(&c.volid, c.snap.as_deref(), &c.target, &opts, &mut |p| {
            if p - last >= 10.0 || p >= 100.0 {
                last = p;
                log(format!("{key}: transferred {p:.1}%"));
            }
        })
        .map_err(|e| format!("{key}: {e}"))
    })
    .await
}

/// Copies or links one volume for the clone.
async fn clone_volume<G: SnapshotGuest>(
    env: &RpcEnv,
    m: &Arc<StorageManager>,
    job: &CloneJob,
    key: &str,
    volid: &VolumeId,
    log: &Log,
) -> Result<VolumeId, String> {
    let (m, volid, key) = (Arc::clone(m), volid.clone(), key.to_string());
    let newid = job.newid;
    if !job.full {
        return blocking(move || {
            m.clone_image(&volid, newid, None)
                .map_err(|e| format!("{key}: {e}"))
        })
        .await;
    }
    log(format!("{key}: full copy of {volid}"));
    let target = job
        .storage
        .clone()
        .unwrap_or_else(|| volid.storage().to_string());
    let copy = VolumeCopy {
        manager: m,
        key,
        volid,
        snap: job.snapname.clone(),
        target,
        format: job.format,
        newid,
        content: G::CONTENT,
    };
    G::full_copy(env, copy, Arc::clone(log)).await
}

/// The clone task: volumes, then the new config; a failure removes what it made.
async fn clone_guest<G: SnapshotGuest>(
    env: &RpcEnv,
    job: CloneJob,
    log: Log,
) -> Result<(), String> {
    let src = load::<G>(env, job.source).await.map_err(|e| e.message)?;
    let m = manager(env).await?;
    let mut created: Vec<VolumeId> = Vec::new();
    let new_key = guest_config_key(&guest_ref::<G>(env, job.newid));
    let copied: Result<(), String> = async {
        let mut config = G::default();
        *config.current_mut() = clone_settings(&src.config, &job)?;
        for v in G::volumes(config.current())? {
            let new = clone_volume::<G>(env, &m, &job, &v.key, &v.volid, &log).await?;
            log(format!("{}: {new}", v.key));
            created.push(new.clone());
            G::set_volume(config.current_mut(), &v.key, &new)?;
        }
        let text = config.to_doc()?;
        env.state
            .store
            .put(&new_key, &text, Expect::Digest(job.reserved.clone()))
            .await
            .map_err(|e| e.to_string())?;
        crate::api::pools::join_pool(env, job.pool.as_deref(), job.newid).await
    }
    .await;
    if let Err(e) = copied {
        log(format!("clone failed - removing what it created: {e}"));
        let l = Arc::clone(&log);
        free_volumes(env, created, move |m| l(m)).await;
        let _ = env.state.store.delete(&new_key, Expect::Any).await;
        return Err(e);
    }
    Ok(())
}

/// Checks a clone request; returns the job (without reservation) and whether the source is
/// a template.
async fn check_clone<G: SnapshotGuest>(
    env: &RpcEnv,
    params: &Params,
) -> Result<(CloneJob, bool), ApiError> {
    local_node(env, params.req_str("node"))?;
    let vmid = params.int("vmid").unwrap_or_default() as u32;
    let newid = params.int("newid").unwrap_or_default() as u32;
    let perms = env.permissions().await?;
    let path = format!("/vms/{vmid}");
    if !perms.has_privs(&path, &["VM.Clone"], false) {
        return Err(ApiError::permission_check_failed(&path, "VM.Clone"));
    }
    let pool = params.str("pool").filter(|p| !p.is_empty());
    crate::api::pools::check_new_guest(env, newid, pool).await?;
    if let Some(target) = params.str("target") {
        local_node(env, target)
            .map_err(|_| ApiError::param("target", "cloning to another node needs a cluster"))?;
    }
    let label = G::LABEL;
    let src = load::<G>(env, vmid).await?;
    let template = is_template::<G>(src.config.current());
    let full = params.bool_or("full", !template);
    let snapname = params.str("snapname").map(str::to_string);
    if let Some(snap) = &snapname {
        if !src.config.snapshots().contains_key(snap) {
            return Err(ApiError::param(
                "snapname",
                format!("snapshot '{snap}' does not exist"),
            ));
        }
        if !full {
            return Err(ApiError::param(
                "snapname",
                "linked clones of snapshots are not possible: use full=1",
            ));
        }
    }
    if !full && !template {
        return Err(ApiError::param(
            "full",
            "linked clone feature is only available for templates",
        ));
    }
    if !full {
        for p in ["storage", "format"] {
            if params.has(p) {
                return Err(ApiError::param(p, "only allowed for full clones"));
            }
        }
    }
    if snapname.is_none() && G::is_running(env, vmid) {
        return Err(ApiError::internal(format!(
            "{label} {vmid} is running - stop it, or clone one of its snapshots (snapname)"
        )));
    }
    let storage = params.str("storage").map(str::to_string);
    if let Some(s) = &storage {
        let path = format!("/storage/{s}");
        if !perms.has_privs(&path, &["Datastore.AllocateSpace"], false) {
            return Err(ApiError::permission_check_failed(
                &path,
                "Datastore.AllocateSpace",
            ));
        }
    }
    let format = match params.str("format") {
        Some(f) => Some(
            f.parse()
                .map_err(|e: String| ApiError::param("format", e))?,
        ),
        None => None,
    };
    let job = CloneJob {
        source: vmid,
        snapname,
        newid,
        full,
        storage,
        format,
        name: params.str(G::CLONE_NAME.0).map(str::to_string),
        description: params.str("description").map(str::to_string),
        pool: pool.map(str::to_string),
        reserved: String::new(),
    };
    Ok((job, template))
}

fn clone_params<G: SnapshotGuest>() -> oxve_types::schema::ObjectSchema {
    let vmid = crate::api::qemu::vmid_param;
    let mut schema = Schema::object("")
        .required("node", node_param())
        .required("vmid", vmid())
        .required("newid", vmid())
        .optional(
            G::CLONE_NAME.0,
            Schema::string(G::CLONE_NAME.1).format(oxve_types::qemu::formats::DNS_NAME),
        )
        .optional("description", Schema::string("Description for the new guest."))
        .optional("target", node_param())
        .optional(
            "storage",
            Schema::string("Target storage for full clone.")
                .format(oxve_types::format::STORAGE_ID),
        )
        .optional("full", Schema::boolean("Create a full copy of all disks. This is always done when you clone a normal guest. For templates, we try to create a linked clone by default."))
        .optional("pool", Schema::string("Add the new guest to the specified pool."))
        .optional("snapname", Schema::string("The name of the snapshot.").max_length(40))
        .optional("bwlimit", Schema::number("Override I/O bandwidth limit (in KiB/s).").minimum(0.0));
    if !G::CLONE_FORMATS.is_empty() {
        schema = schema.optional(
            "format",
            Schema::string("Target format for file storage.").enum_values(G::CLONE_FORMATS),
        );
    }
    schema
}

pub fn methods<G: SnapshotGuest>() -> Vec<ApiMethod<RpcEnv>> {
    let mut template_params = Schema::object("")
        .required("node", node_param())
        .required("vmid", crate::api::qemu::vmid_param());
    if G::TASKS.template.is_some() {
        template_params = template_params.optional(
            "disk",
            Schema::string("If you want to convert only 1 disk to base image."),
        );
    }
    vec![
        ApiMethod::new(HttpMethod::Post, api_path::<G>("/template"), "template")
            .description("Create a Template.")
            .parameters(template_params)
            .returns(match G::TASKS.template {
                Some(_) => Schema::string("The task's UPID.").into(),
                None => Schema::Null,
            })
            .permission(Permission::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                check_template::<G>(&env, vmid).await?;
                let only = params.str("disk").map(str::to_string);
                match G::TASKS.template {
                    Some(task) => spawn_task::<G, _, _>(&env, vmid, task, None, move |env, ctx| async move {
                        make_template::<G>(&env, vmid, only.as_deref(), task_log(&ctx)).await
                    }),
                    None => {
                        let quiet: Log = Arc::new(|_| {});
                        make_template::<G>(&env, vmid, None, quiet)
                            .await
                            .map_err(ApiError::internal)?;
                        Ok(Value::Null)
                    }
                }
            }),
        ApiMethod::new(HttpMethod::Post, api_path::<G>("/clone"), "clone_vm")
            .description("Create a copy of a guest or template.")
            .parameters(clone_params::<G>())
            .returns(Schema::string("The task's UPID."))
            .permission(Permission::Custom("VM.Clone on /vms/{vmid}, VM.Allocate on /vms/{newid} (or on /pool/{pool}), Datastore.AllocateSpace on the target storage"))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let (mut job, template) = check_clone::<G>(&env, &params).await?;
                let (vmid, newid) = (job.source, job.newid);
                // Serialize with other operations on the source (templates stay unlocked,
                // so many linked clones can be made at once).
                let lock = (!template).then_some(G::CLONE_LOCK);
                if let Some(l) = lock {
                    lock_guest::<G>(&env, vmid, l).await?;
                }
                let reserved = env
                    .state
                    .store
                    .create_guest(&guest_ref::<G>(&env, newid), "lock: create\n")
                    .await;
                job.reserved = match reserved {
                    Ok(digest) => digest,
                    Err(e) => {
                        if let Some(l) = lock {
                            unlock_guest::<G>(&env, vmid, l).await;
                        }
                        return Err(match e {
                            StoreError::VmidInUse { .. } => ApiError::param(
                                "newid",
                                format!("{} {newid} already exists", G::LABEL),
                            ),
                            other => store_error(other),
                        });
                    }
                };
                spawn_task::<G, _, _>(&env, vmid, G::TASKS.clone, lock, move |env, ctx| async move {
                    clone_guest::<G>(&env, job, task_log(&ctx)).await
                })
            }),
    ]
}

#[cfg(test)]
mod tests {
    use oxve_types::lxc::CtConfig;
    use oxve_types::qemu::VmConfig;

    use super::*;

    fn job(snapname: Option<&str>, name: Option<&str>) -> CloneJob {
        CloneJob {
            source: 100,
            snapname: snapname.map(str::to_string),
            newid: 101,
            full: true,
            storage: None,
            format: None,
            name: name.map(str::to_string),
            description: None,
            pool: None,
            reserved: String::new(),
        }
    }

    #[test]
    fn container_clone_settings() {
        let src = CtConfig::parse(
            "hostname: tmpl\nmemory: 256\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp\n\
             parent: s1\nrootfs: bt:base-100-disk-0.raw,size=1G\ntemplate: 1\nunused0: bt:100/vm-100-disk-9.raw\n\n\
             [s1]\nhostname: old\nmemory: 64\nrootfs: bt:100/vm-100-disk-0.raw,size=1G\nsnaptime: 1700000000\n",
        )
        .unwrap();
        let s = clone_settings(&src, &job(None, Some("copy"))).unwrap();
        let c = CtConfig {
            current: s,
            ..Default::default()
        };
        assert_eq!(c.hostname(), Some("copy"));
        assert!(!c.template() && c.get("parent").is_none() && c.unused_volumes().is_empty());
        let mac = c.nets()[0].1.hwaddr().unwrap().to_string();
        assert_ne!(mac, "BC:24:11:00:00:01");
        assert!(mac.starts_with("BC:24:11:"));
        // from a snapshot: its settings, without the snapshot's metadata
        let s = clone_settings(&src, &job(Some("s1"), None)).unwrap();
        assert_eq!(<CtConfig as SnapshotGuest>::get(&s, "memory"), Some("64"));
        assert_eq!(
            <CtConfig as SnapshotGuest>::get(&s, "hostname"),
            Some("old")
        );
        assert_eq!(<CtConfig as SnapshotGuest>::get(&s, "snaptime"), None);
        assert!(clone_settings(&src, &job(Some("nope"), None)).is_err());
    }

    #[test]
    fn vm_clone_settings() {
        let src = VmConfig::parse(
            "name: golden\nnet0: virtio=BC:24:11:00:00:02,bridge=vmbr0\nscsi0: local:100/base-100-disk-0.qcow2,size=1G\n\
             template: 1\nvmgenid: 00000000-0000-0000-0000-000000000001\n",
        )
        .unwrap();
        let s = clone_settings(&src, &job(None, None)).unwrap();
        assert_eq!(s.name(), Some("Copy-of-VM-golden"));
        assert!(!s.template());
        assert_ne!(
            s.net(0).unwrap().macaddr.as_deref(),
            Some("BC:24:11:00:00:02")
        );
        assert_ne!(s.get("vmgenid"), src.current.get("vmgenid"));
        let mut s = s;
        let v = VolumeId::parse("local:100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2").unwrap();
        VmConfig::set_volume(&mut s, "scsi0", &v).unwrap();
        assert_eq!(
            s.get("scsi0"),
            Some("local:100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2,size=1G")
        );
    }
}
