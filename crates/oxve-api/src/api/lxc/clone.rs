//! POST .../lxc/{vmid}/template (turn a stopped container into a template: its volumes
//! become read-only base volumes) and POST .../lxc/{vmid}/clone (a `vzclone` task: linked
//! clones of a template's volumes where the storage can, full copies otherwise). The new
//! VMID is reserved first; a failed clone frees the new volumes and the reservation.

use std::collections::BTreeMap;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_storage::{AllocOptions, ContentType, VolumeId};
use oxve_store::{guest_config_key, Expect, StoreError};
use oxve_types::lxc::snapshot::section_volumes;
use oxve_types::lxc::{CtConfig, MountPoint};
use oxve_types::qemu::{random_mac, DEFAULT_MAC_PREFIX};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::store_io::{guest_ref, load, save, store_error};
use super::{upid_schema, vmid_param, volumes};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// Point mount point `key` of `config` at `volid` (keeping its other options).
fn repoint(
    config: &mut CtConfig,
    key: &str,
    volid: &VolumeId,
    size: Option<u64>,
) -> Result<(), String> {
    let value = config.get(key).ok_or("mount point vanished")?.to_string();
    let mut mp = MountPoint::parse(key, &value).map_err(|e| e.to_string())?;
    mp.set_volume(&volid.to_string(), size.or(mp.size()));
    config.set(key, &mp.print()).map_err(|e| e.to_string())
}

/// The new container's config: the source's settings with new volumes, new MACs, no
/// template flag, snapshots, lock or parent.
fn clone_config(
    source: &CtConfig,
    new_volumes: &BTreeMap<String, (VolumeId, Option<u64>)>,
    hostname: Option<&str>,
    description: Option<&str>,
) -> Result<CtConfig, String> {
    let mut config = CtConfig {
        current: source.current.clone(),
        ..Default::default()
    };
    for key in ["template", "parent", "lock"] {
        config.remove(key);
    }
    let unused: Vec<String> = config
        .unused_volumes()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for key in unused {
        config.remove(&key);
    }
    for (key, (volid, size)) in new_volumes {
        repoint(&mut config, key, volid, *size)?;
    }
    for (i, mut net) in config.nets() {
        net.set_hwaddr(random_mac(Some(DEFAULT_MAC_PREFIX)));
        config
            .set(&format!("net{i}"), &net.print())
            .map_err(|e| e.to_string())?;
    }
    if let Some(h) = hostname {
        config.set("hostname", h).map_err(|e| e.to_string())?;
    }
    if let Some(d) = description {
        config.set("description", d).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/lxc/{vmid}/template", "template")
            .description("Create a Template.")
            .parameters(Schema::object("").required("node", node_param()).required("vmid", vmid_param()))
            .returns(Schema::Null)
            .permission(Permission::Privs { path: "/vms/{vmid}", privs: &["VM.Allocate"], any: false })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let vmid = params.int("vmid").unwrap_or_default() as u32;
                let mut ct = load(&env, vmid).await?;
                if ct.config.template() {
                    return Err(ApiError::internal(format!("CT {vmid} is already a template")));
                }
                if let Some(lock) = ct.config.lock() {
                    return Err(ApiError::internal(format!("CT {vmid} is locked ({lock})")));
                }
                if env.state.lxc.is_running(vmid).is_some() {
                    return Err(ApiError::internal("you can't convert a running CT to a template"));
                }
                for (key, volid) in section_volumes(&ct.config.current) {
                    let id = VolumeId::parse(&volid).map_err(|e| ApiError::internal(e.to_string()))?;
                    let base = env.state.storage.run(env.state.store.as_ref(), move |m| m.create_base(&id)).await?;
                    repoint(&mut ct.config, &key, &base, None).map_err(ApiError::internal)?;
                }
                ct.config.set("template", "1").map_err(|e| ApiError::internal(e.to_string()))?;
                save(env.state.store.as_ref(), &ct).await?;
                env.state.lxc.cleanup(vmid);
                Ok(Value::Null)
            }),
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/lxc/{vmid}/clone", "clone_vm")
            .description("Create a container clone/copy (linked clones of templates where the storage supports them).")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .required("vmid", vmid_param())
                    .required("newid", vmid_param())
                    .optional("full", Schema::boolean("Create a full copy of all disks. This is always done when you clone a normal CT. For CT templates, we try to create a linked clone by default."))
                    .optional("hostname", Schema::string("Set a hostname for the new CT.").format(oxve_types::qemu::formats::DNS_NAME))
                    .optional("description", Schema::string("Description for the new CT."))
                    .optional("storage", Schema::string("Target storage for full clone.").format(oxve_types::format::STORAGE_ID))
                    .optional("pool", Schema::string("Add the new CT to the specified pool.").format(oxve_types::qemu::formats::POOL_ID))
                    .optional("snapname", Schema::string("The name of the snapshot.").max_length(40))
                    .optional("target", Schema::string("Target node.").format(oxve_types::format::NODE))
                    .optional("bwlimit", Schema::number("Override I/O bandwidth limit (in KiB/s).").minimum(0.0)),
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
                if let Some(t) = params.str("target") {
                    local_node(&env, t).map_err(|_| ApiError::param("target", "cloning to another node is not available yet"))?;
                }
                if params.has("snapname") {
                    return Err(ApiError::param("snapname", "cloning from a snapshot is not available yet"));
                }
                let src = load(&env, vmid).await?;
                let template = src.config.template();
                let full = params.bool_or("full", !template);
                if !template && !full {
                    return Err(ApiError::param("full", "linked clones are only possible from templates"));
                }
                if !template && env.state.lxc.is_running(vmid).is_some() {
                    return Err(ApiError::internal(format!("CT {vmid} is running - stop it or take a template to clone it")));
                }
                if let Some(lock) = src.config.lock() {
                    return Err(ApiError::internal(format!("CT {vmid} is locked ({lock})")));
                }
                let target_storage = params.str("storage").map(str::to_string);
                if let Some(st) = &target_storage {
                    let path = format!("/storage/{st}");
                    if !perms.has_privs(&path, &["Datastore.AllocateSpace"], false) {
                        return Err(ApiError::permission_check_failed(&path, "Datastore.AllocateSpace"));
                    }
                }
                let vols = section_volumes(&src.config.current);
                let guest = guest_ref(&env, newid);
                let reserved = env
                    .state
                    .store
                    .create_guest(&guest, "lock: create\n")
                    .await
                    .map_err(|e| match e {
                        StoreError::VmidInUse { .. } => ApiError::internal(format!("CT {newid} already exists on node '{}'", env.state.node)),
                        other => store_error(other),
                    })?;
                let hostname = params.str("hostname").map(str::to_string);
                let description = params.str("description").map(str::to_string);
                let source = src.config.clone();
                let task_env = env.clone();
                let upid = env
                    .state
                    .tasks
                    .spawn("vzclone", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                        let env = task_env;
                        let mut made: BTreeMap<String, (VolumeId, Option<u64>)> = BTreeMap::new();
                        let mut failure = None;
                        for (key, volid) in vols {
                            let id = match VolumeId::parse(&volid) {
                                Ok(id) => id,
                                Err(e) => {
                                    failure = Some(e.to_string());
                                    break;
                                }
                            };
                            let storage = target_storage.clone();
                            let result = env
                                .state
                                .storage
                                .run(env.state.store.as_ref(), move |m| {
                                    let size = m.info(&id)?.size;
                                    let new = if full {
                                        let target = storage.unwrap_or_else(|| id.storage().to_string());
                                        let opts = AllocOptions { vmid: newid, name: None, format: None, size, preallocation: None, content: ContentType::Rootdir };
                                        m.copy_volume(&id, &target, &opts, &mut |_| {})?
                                    } else {
                                        m.clone_image(&id, newid, None)?
                                    };
                                    Ok((new, size))
                                })
                                .await;
                            match result {
                                Ok((new, size)) => {
                                    ctx.log(format!("{key}: {} '{volid}' to '{new}'", if full { "copied" } else { "linked clone of" }));
                                    made.insert(key, (new, Some(size)));
                                }
                                Err(e) => {
                                    failure = Some(format!("{key}: {}", e.message));
                                    break;
                                }
                            }
                        }
                        let outcome = match failure {
                            Some(e) => Err(e),
                            None => match clone_config(&source, &made, hostname.as_deref(), description.as_deref()) {
                                Ok(config) => match config.to_text() {
                                    Ok(text) => env
                                        .state
                                        .store
                                        .put(&guest_config_key(&guest), &text, Expect::Digest(reserved.clone()))
                                        .await
                                        .map(|_| ())
                                        .map_err(|e| e.to_string()),
                                    Err(e) => Err(e.to_string()),
                                },
                                Err(e) => Err(e),
                            },
                        };
                        if let Err(e) = &outcome {
                            ctx.log(format!("clone failed - {e}"));
                            let ids = made.into_values().map(|(v, _)| v).collect();
                            let log_ctx = ctx.clone();
                            volumes::free_volumes(&env, ids, move |m| log_ctx.log(m)).await;
                            let _ = env.state.store.delete(&guest_config_key(&guest), Expect::Any).await;
                        }
                        outcome
                    })
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(json!(upid.to_string()))
            }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_config_gets_new_volumes_and_macs() {
        let src = CtConfig::parse(
            "hostname: tmpl\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp\nparent: s1\n\
             rootfs: bt:base-100-disk-0.raw,size=1G\ntemplate: 1\nunused0: bt:100/vm-100-disk-9.raw\n",
        )
        .unwrap();
        let mut vols = BTreeMap::new();
        vols.insert(
            "rootfs".to_string(),
            (
                VolumeId::parse("bt:100/base-100-disk-0.raw/101/vm-101-disk-0.raw").unwrap(),
                Some(1 << 30),
            ),
        );
        let c = clone_config(&src, &vols, Some("copy"), None).unwrap();
        assert_eq!(c.hostname(), Some("copy"));
        assert!(!c.template() && c.get("parent").is_none() && c.unused_volumes().is_empty());
        assert_eq!(
            c.get("rootfs"),
            Some("bt:100/base-100-disk-0.raw/101/vm-101-disk-0.raw,size=1G")
        );
        let mac = c.nets()[0].1.hwaddr().unwrap();
        assert_ne!(mac, "BC:24:11:00:00:01");
        assert!(mac.starts_with("BC:24:11:"));
    }
}
