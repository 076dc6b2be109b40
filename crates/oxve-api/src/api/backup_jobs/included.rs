//! Which volumes of a guest a backup includes (Proxmox's `get_backup_volumes` of QemuConfig
//! and LXC::Config), and `GET /cluster/backup/{id}/included_volumes`, the tree of a job's
//! guests and their volumes.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_store::{guest_config_key, GuestKind};
use oxve_types::lxc::{CtConfig, MountSource};
use oxve_types::qemu::VmConfig;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::info::{pool_lookup, selected_guests};
use super::store::read_jobs;
use crate::env::RpcEnv;

/// One volume of a guest and whether backups include it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackupVolume {
    /// Config key (`scsi0`, `rootfs`, `mp1`).
    pub key: String,
    /// The volume (id or path).
    pub volume: String,
    pub included: bool,
    pub reason: String,
}

/// A VM's disks (CD-ROMs left out): included unless `backup=0`; EFI disks only with OVMF.
pub(crate) fn qemu_backup_volumes(conf: &VmConfig) -> Vec<BackupVolume> {
    let ovmf = conf.get("bios") == Some("ovmf");
    conf.drives()
        .into_iter()
        .filter(|d| !d.is_cdrom())
        .map(|d| {
            let key = d.key();
            let (included, reason) = if key.starts_with("efidisk") && !ovmf {
                (false, "efidisk but no OMVF BIOS".to_string())
            } else {
                let reason = format!("backup={}", if d.backup.is_some() { "no" } else { "yes" });
                (d.backup.unwrap_or(true), reason)
            };
            BackupVolume {
                key,
                volume: d.file.clone(),
                included,
                reason,
            }
        })
        .collect()
}

/// A container's root file system (always) and mount points (volumes with `backup=1`).
pub(crate) fn lxc_backup_volumes(conf: &CtConfig) -> Vec<BackupVolume> {
    conf.mount_points()
        .into_iter()
        .map(|(key, mp)| {
            let (included, reason) = if mp.is_rootfs {
                (true, "rootfs")
            } else if !matches!(mp.source(), MountSource::Volume(_)) {
                (false, "not a volume")
            } else if mp.backup() {
                (true, "enabled")
            } else {
                (false, "disabled")
            };
            BackupVolume {
                key,
                volume: mp.volume(),
                included,
                reason: reason.into(),
            }
        })
        .collect()
}

fn volumes_json(list: &[BackupVolume]) -> Value {
    json!(list
        .iter()
        .map(|v| json!({
            "id": v.key,
            "name": v.volume,
            "included": u8::from(v.included),
            "reason": v.reason,
            "leaf": 1,
        }))
        .collect::<Vec<_>>())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Get, "/cluster/backup/{id}/included_volumes", "get_volume_backup_included")
        .description("Returns included guests and the backup status of their disks. Optimized to be used in ExtJS tree views.")
        .parameters(Schema::object("").required("id", super::schema::id_param()))
        .returns(Schema::object("").additional_properties(true))
        .permission(Permission::Privs {
            path: "/",
            privs: &["Sys.Audit"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let id = params.req_str("id");
            let store = env.state.store.as_ref();
            let jobs = read_jobs(store).await?;
            let job = jobs
                .iter()
                .find(|j| j.id == id)
                .ok_or_else(|| ApiError::param("id", format!("No such job '{id}'")))?;
            let guests = store.guests().await.map_err(|e| ApiError::internal(e.to_string()))?;
            let perms = env.permissions().await?;
            let mut children = Vec::new();
            let pools = pool_lookup(&env).await?;
            for vmid in selected_guests(job, &guests, &pools) {
                // Only guests the caller may see, so names do not leak.
                if !perms.has_privs(&format!("/vms/{vmid}"), &["VM.Audit"], false) {
                    continue;
                }
                let Some(guest) = guests.iter().find(|g| g.vmid == vmid) else {
                    children.push(json!({ "id": vmid, "type": "unknown", "leaf": 1 }));
                    continue;
                };
                let text = store
                    .get(&guest_config_key(guest))
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?
                    .map(|e| e.text)
                    .unwrap_or_default();
                let (name, volumes) = match guest.kind {
                    GuestKind::Qemu => {
                        let conf = VmConfig::parse(&text).map_err(|e| ApiError::internal(e.to_string()))?;
                        (conf.get("name").map(str::to_string), qemu_backup_volumes(&conf))
                    }
                    GuestKind::Lxc => {
                        let conf = CtConfig::parse(&text).map_err(|e| ApiError::internal(e.to_string()))?;
                        (conf.hostname().map(str::to_string), lxc_backup_volumes(&conf))
                    }
                };
                children.push(json!({
                    "id": vmid,
                    "type": guest.kind.as_str(),
                    "name": name.unwrap_or_default(),
                    "children": volumes_json(&volumes),
                }));
            }
            Ok(json!({ "children": children }))
        })]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_disks_as_proxmox() {
        let conf = VmConfig::parse(
            "scsi0: local:100/vm-100-disk-0.qcow2,size=1G\n\
             scsi1: local:100/vm-100-disk-1.qcow2,backup=0,size=1G\n\
             ide2: none,media=cdrom\n\
             efidisk0: local:100/vm-100-disk-2.qcow2,size=1M\n",
        )
        .unwrap();
        let got: Vec<_> = qemu_backup_volumes(&conf)
            .into_iter()
            .map(|v| (v.key, v.included, v.reason))
            .collect();
        assert_eq!(
            got,
            [
                ("scsi0".to_string(), true, "backup=yes".to_string()),
                ("scsi1".to_string(), false, "backup=no".to_string()),
                (
                    "efidisk0".to_string(),
                    false,
                    "efidisk but no OMVF BIOS".to_string()
                ),
            ]
        );
    }

    #[test]
    fn lxc_mount_points_as_proxmox() {
        let conf = CtConfig::parse(
            "rootfs: local:101/vm-101-disk-0.raw,size=1G\n\
             mp0: local:101/vm-101-disk-1.raw,mp=/data,backup=1\n\
             mp1: local:101/vm-101-disk-2.raw,mp=/cache\n\
             mp2: /srv/share,mp=/share\n",
        )
        .unwrap();
        let got: Vec<_> = lxc_backup_volumes(&conf)
            .into_iter()
            .map(|v| (v.key, v.included, v.reason))
            .collect();
        assert_eq!(
            got,
            [
                ("rootfs".to_string(), true, "rootfs".to_string()),
                ("mp0".to_string(), true, "enabled".to_string()),
                ("mp1".to_string(), false, "disabled".to_string()),
                ("mp2".to_string(), false, "not a volume".to_string()),
            ]
        );
    }
}
