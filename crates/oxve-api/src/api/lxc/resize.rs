//! PUT .../lxc/{vmid}/resize: grow `rootfs` or an `mpN` volume and its file system, online
//! when the container runs.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::size::SizeSpec;
use oxve_storage::VolumeId;
use oxve_types::lxc::{MountPoint, MountSource};
use oxve_types::schema::Schema;
use serde_json::json;

use super::store_io::{check_digest, load, save};
use super::{upid_schema, vmid_param, volumes};
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

fn disk_keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = vec!["rootfs"];
        keys.extend((0..256).map(|i| &*Box::leak(format!("mp{i}").into_boxed_str())));
        keys
    })
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Put, "/nodes/{node}/lxc/{vmid}/resize", "resize_vm")
        .description("Resize a container mount point (grow only).")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("vmid", vmid_param())
                .required("disk", Schema::string("The disk you want to resize.").enum_values(disk_keys()))
                .required("size", Schema::string("The new size. With the '+' sign the value is added to the actual size of the volume and without it, the value is taken as an absolute one.").pattern("\\+?\\d+(\\.\\d+)?[KMGT]?"))
                .optional("digest", Schema::string("Prevent changes if current configuration file has different SHA1 digest.").max_length(40)),
        )
        .returns(upid_schema())
        .permission(Permission::Privs { path: "/vms/{vmid}", privs: &["VM.Config.Disk"], any: false })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let vmid = params.int("vmid").unwrap_or_default() as u32;
            let key = params.req_str("disk").to_string();
            let spec = SizeSpec::parse(params.req_str("size")).map_err(|e| ApiError::param("size", e.to_string()))?;
            let ct = load(&env, vmid).await?;
            check_digest(&ct, params.str("digest"))?;
            ct.config.check_lock().map_err(|e| ApiError::internal(e.to_string()))?;
            let value = ct.config.get(&key).ok_or_else(|| ApiError::param("disk", format!("disk '{key}' does not exist")))?;
            let mp = MountPoint::parse(&key, value).map_err(|e| ApiError::internal(e.to_string()))?;
            let MountSource::Volume(volid) = mp.source() else {
                return Err(ApiError::param("disk", format!("disk '{key}' is not a storage volume")));
            };
            let volid = VolumeId::parse(&volid).map_err(|e| ApiError::param("disk", e.to_string()))?;
            let probe = volid.clone();
            let current = env.state.storage.run(env.state.store.as_ref(), move |m| m.info(&probe)).await?.size;
            let target = spec.resolve(current).map_err(|e| ApiError::param("size", e.to_string()))?;
            if target < current {
                return Err(ApiError::param("size", format!("unable to shrink disk size (current size {current}, requested {target})")));
            }
            let task_env = env.clone();
            let upid = env.state.tasks.spawn("resize", Some(&vmid.to_string()), &env.caller_string(), move |ctx| async move {
                let env = task_env;
                let v = volid.clone();
                let new_size = env.state.storage.run(env.state.store.as_ref(), move |m| m.resize(&v, spec)).await.map_err(|e| e.message)?;
                ctx.log(format!("resized {key} ({volid}) to {new_size} bytes"));
                // the config records the volume's new size first; growing the file system
                // can be repeated (a resize to the current size) if it fails
                let mut ct = load(&env, vmid).await.map_err(|e| e.message)?;
                let value = ct.config.get(&key).ok_or("disk vanished from the config")?.to_string();
                let mut mp = MountPoint::parse(&key, &value).map_err(|e| e.to_string())?;
                mp.set_volume(&volid.to_string(), Some(new_size));
                ct.config.set(&key, &mp.print()).map_err(|e| e.to_string())?;
                save(env.state.store.as_ref(), &ct).await.map_err(|e| e.message)?;
                let resolver = volumes::resolver(&env).await.map_err(|e| e.message)?;
                let path = oxve_lxc::VolumeResolver::resolve(&resolver, &volid.to_string())?;
                let work_dir = env.state.lxc.paths().mount_point(vmid, &format!("resize-{key}"));
                let note = oxve_lxc::grow_filesystem(&path, &work_dir).await.map_err(|e| e.to_string())?;
                ctx.log(note);
                Ok::<(), String>(())
            }).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        })]
}
