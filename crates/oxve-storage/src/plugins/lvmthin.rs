//! `lvmthin`: raw guest disks as thin volumes of an LVM thin pool, as Proxmox's
//! LvmThinPlugin does: thin snapshots `snap_<volume>_<snap>`, templates as read-only
//! `base-` volumes, linked clones as thin snapshots of them.

use std::path::PathBuf;

use crate::capabilities::{set, Capabilities};
use crate::command::Cmd;
use crate::config::StorageEntry;
use crate::content::{content_set, ContentType};
use crate::error::StorageError;
use crate::format::VolumeFormat;
use crate::plugin::{
    AllocRequest, PluginContext, StoragePlugin, StorageStatus, VolumeEntry, VolumeFilter,
    VolumeInfo,
};
use crate::plugins::common::{check_alloc_name, next_disk_name};
use crate::plugins::lvm::{kib_arg, list_lv_volumes, lv_entries, vgname};
use crate::plugins::lvm_tools::{self, LvInfo};
use crate::volid::{check_snapshot_name, parse_lvm_volname, VolName};

/// An LVM-thin storage.
pub struct LvmThinPlugin {
    entry: StorageEntry,
    ctx: PluginContext,
}

impl LvmThinPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        LvmThinPlugin { entry, ctx }
    }

    /// The registry constructor.
    pub fn factory(
        entry: &StorageEntry,
        ctx: &PluginContext,
    ) -> Result<Box<dyn StoragePlugin>, StorageError> {
        Ok(Box::new(Self::new(entry.clone(), ctx.clone())))
    }

    fn vg(&self) -> Result<&str, StorageError> {
        vgname(&self.entry)
    }

    fn pool(&self) -> Result<&str, StorageError> {
        self.entry.props.thinpool.as_deref().ok_or_else(|| {
            StorageError::option(
                &self.entry.id,
                "thinpool",
                "storage definition has no thin pool",
            )
        })
    }

    fn run(&self, cmd: Cmd) -> Result<(), StorageError> {
        self.ctx.runner.run_ok(&cmd)?;
        Ok(())
    }

    fn no_autoactivation(&self, lv: &str) -> Result<(), StorageError> {
        // lvcreate does not take --setautoactivation for thin LVs on every LVM version.
        let cmd = Cmd::new("lvchange").args([
            "--setautoactivation",
            "n",
            &format!("{}/{lv}", self.vg()?),
        ]);
        let _ = self.ctx.runner.run(&cmd);
        Ok(())
    }

    fn lvs(&self) -> Result<std::collections::BTreeMap<String, LvInfo>, StorageError> {
        lvm_tools::lvs(self.ctx.runner.as_ref(), self.vg()?)
    }

    fn lv(&self, volname: &str) -> Result<LvInfo, StorageError> {
        parse_lvm_volname(volname, true)?;
        self.lvs()?
            .remove(volname)
            .ok_or_else(|| StorageError::VolumeNotFound {
                volid: format!("{}:{volname}", self.entry.id),
            })
    }

    fn list_images(&self, vmid: Option<u32>) -> Result<Vec<VolumeEntry>, StorageError> {
        let pool = self.pool()?.to_string();
        let lvs = self.lvs()?;
        Ok(lv_entries(&self.entry.id, &lvs, vmid, true, |info| {
            info.lv_type == 'V' && info.pool_lv.as_deref() == Some(pool.as_str())
        }))
    }

    fn snap_lv(volname: &str, snap: &str) -> String {
        format!("snap_{volname}_{snap}")
    }
}

impl StoragePlugin for LvmThinPlugin {
    fn entry(&self) -> &StorageEntry {
        &self.entry
    }

    fn capabilities(&self) -> Capabilities {
        use ContentType::*;
        let raw = set(&[VolumeFormat::Raw]);
        Capabilities {
            formats: raw.clone(),
            default_format: VolumeFormat::Raw,
            content: content_set(&[Images, Rootdir]),
            snapshot_formats: raw.clone(),
            linked_clone_formats: raw.clone(),
            template_formats: raw.clone(),
            resize_formats: raw,
            preallocation: Default::default(),
            shared: false,
            thin_provisioning: true,
            sparse_init: true,
            files: false,
            subvol_quota: false,
        }
    }

    fn activate(&self) -> Result<(), StorageError> {
        let (vg, pool) = (self.vg()?, self.pool()?);
        let lvs = self.lvs()?;
        let info = lvs.get(pool).ok_or_else(|| StorageError::Activate {
            storage: self.entry.id.clone(),
            reason: format!("no such logical volume {vg}/{pool}"),
        })?;
        if info.state != 'a' {
            self.run(Cmd::new("lvchange").args(["-ay", "-K", &format!("{vg}/{pool}")]))?;
        }
        Ok(())
    }

    fn status(&self) -> Result<StorageStatus, StorageError> {
        let lvs = match self.lvs() {
            Ok(l) => l,
            Err(StorageError::CommandFailed { .. }) => return Ok(StorageStatus::default()),
            Err(e) => return Err(e),
        };
        let pool = self.pool()?;
        let Some(info) = lvs.get(pool).filter(|i| i.lv_type == 't' && i.size > 0) else {
            return Ok(StorageStatus::default());
        };
        let used = info.used.unwrap_or(0);
        let provisioned = lvs
            .iter()
            .filter(|(n, i)| {
                i.pool_lv.as_deref() == Some(pool) && parse_lvm_volname(n, true).is_ok()
            })
            .map(|(_, i)| i.size)
            .sum();
        Ok(StorageStatus {
            total: info.size,
            used,
            avail: info.size.saturating_sub(used),
            active: info.state == 'a',
            provisioned: Some(provisioned),
        })
    }

    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError> {
        parse_lvm_volname(volname, true)
    }

    fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<VolumeEntry>, StorageError> {
        list_lv_volumes(&self.entry, filter, |vmid| self.list_images(vmid))
    }

    fn alloc_image(&self, req: &AllocRequest) -> Result<String, StorageError> {
        if req.format != VolumeFormat::Raw {
            return Err(StorageError::unsupported(
                &self.entry.id,
                format!("format '{}'", req.format),
            ));
        }
        if let Some(p) = req.preallocation {
            return Err(StorageError::unsupported(
                &self.entry.id,
                format!("preallocation '{p}' (thin volumes)"),
            ));
        }
        let (vg, pool) = (self.vg()?, self.pool()?);
        let lvs = self.lvs()?;
        let name = match &req.name {
            Some(n) => check_alloc_name(n, req.vmid, req.format, false)?,
            None => next_disk_name(
                &self.entry.id,
                lvs.keys().map(String::as_str),
                req.vmid,
                req.format,
                "",
            )?,
        };
        if lvs.contains_key(&name) {
            return Err(StorageError::VolumeExists {
                volid: format!("{}:{name}", self.entry.id),
            });
        }
        self.run(
            Cmd::new("lvcreate")
                .args(["-aly", "-V", &kib_arg(req.size), "--name", &name])
                .args(["--thinpool", &format!("{vg}/{pool}")]),
        )?;
        self.no_autoactivation(&name)?;
        Ok(name)
    }

    fn free_image(&self, volname: &str) -> Result<(), StorageError> {
        parse_lvm_volname(volname, true)?;
        let vg = self.vg()?;
        let lvs = self.lvs()?;
        if !lvs.contains_key(volname) {
            return Err(StorageError::VolumeNotFound {
                volid: format!("{}:{volname}", self.entry.id),
            });
        }
        let snap_prefix = format!("snap_{volname}_");
        for lv in lvs.keys().filter(|n| n.starts_with(&snap_prefix)) {
            self.run(Cmd::new("lvremove").args(["-f", &format!("{vg}/{lv}")]))?;
        }
        self.run(Cmd::new("lvremove").args(["-f", &format!("{vg}/{volname}")]))
    }

    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError> {
        let info = self.lv(volname)?;
        Ok(VolumeInfo {
            path: self.path(volname)?,
            size: info.size,
            used: 0,
            format: VolumeFormat::Raw,
            parent: None,
            ctime: info.ctime,
        })
    }

    fn resize(&self, volname: &str, size: u64) -> Result<(), StorageError> {
        let info = self.lv(volname)?;
        let volid = format!("{}:{volname}", self.entry.id);
        let Some(size) = super::common::grow_target(volid, info.size, size)? else {
            return Ok(());
        };
        let path = self.path(volname)?;
        self.run(Cmd::new("lvextend").args(["-L", &kib_arg(size)]).arg(&path))
    }

    fn path(&self, volname: &str) -> Result<PathBuf, StorageError> {
        parse_lvm_volname(volname, true)?;
        Ok(PathBuf::from(format!("/dev/{}/{volname}", self.vg()?)))
    }

    fn activate_volume(&self, volname: &str) -> Result<(), StorageError> {
        let info = self.lv(volname)?;
        if info.state != 'a' {
            self.run(Cmd::new("lvchange").args([
                "-ay",
                "-K",
                &format!("{}/{volname}", self.vg()?),
            ]))?;
        }
        Ok(())
    }

    fn snapshot_create(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        self.lv(volname)?;
        let vg = self.vg()?;
        self.run(Cmd::new("lvcreate").args([
            "-n",
            &Self::snap_lv(volname, snap),
            "-pr",
            "-s",
            &format!("{vg}/{volname}"),
        ]))
    }

    fn snapshot_delete(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        parse_lvm_volname(volname, true)?;
        let vg = self.vg()?;
        self.run(
            Cmd::new("lvremove").args(["-f", &format!("{vg}/{}", Self::snap_lv(volname, snap))]),
        )
    }

    fn snapshot_rollback(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let snap_lv = Self::snap_lv(volname, snap);
        if !self.lvs()?.contains_key(&snap_lv) {
            return Err(StorageError::VolumeNotFound {
                volid: format!("{}:{volname}@{snap}", self.entry.id),
            });
        }
        let vg = self.vg()?;
        self.run(Cmd::new("lvremove").args(["-f", &format!("{vg}/{volname}")]))?;
        self.run(Cmd::new("lvcreate").args([
            "-kn",
            "-n",
            volname,
            "-s",
            &format!("{vg}/{snap_lv}"),
        ]))?;
        self.no_autoactivation(volname)
    }

    fn create_base(&self, volname: &str) -> Result<String, StorageError> {
        let v = parse_lvm_volname(volname, true)?;
        if v.is_base {
            return Err(StorageError::unsupported(
                &self.entry.id,
                "create_base on a base image",
            ));
        }
        let lvs = self.lvs()?;
        if !lvs.contains_key(volname) {
            return Err(StorageError::VolumeNotFound {
                volid: format!("{}:{volname}", self.entry.id),
            });
        }
        let snap_prefix = format!("snap_{volname}_");
        if let Some(snap) = lvs.keys().find(|n| n.starts_with(&snap_prefix)) {
            return Err(StorageError::VolumeInUse {
                volid: format!("{}:{volname}", self.entry.id),
                reason: format!("unable to create base volume - found snapshot '{snap}'"),
            });
        }
        let new_name = volname.replacen("vm-", "base-", 1);
        let vg = self.vg()?;
        self.run(Cmd::new("lvrename").args([vg, volname, &new_name]))?;
        // Inactive, read-only, skipped on activation; best effort as in Proxmox.
        let _ = self.ctx.runner.run(&Cmd::new("lvchange").args([
            "-an",
            "-pr",
            "-ky",
            &format!("{vg}/{new_name}"),
        ]));
        Ok(new_name)
    }

    fn clone_image(
        &self,
        volname: &str,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<String, StorageError> {
        let v = parse_lvm_volname(volname, true)?;
        let vg = self.vg()?;
        let source = match snap {
            Some(s) => {
                check_snapshot_name(s)?;
                format!("{vg}/{}", Self::snap_lv(volname, s))
            }
            None if v.is_base => format!("{vg}/{volname}"),
            None => {
                return Err(StorageError::unsupported(
                    &self.entry.id,
                    "linked clones of images that are not base images",
                ))
            }
        };
        let lvs = self.lvs()?;
        let name = next_disk_name(
            &self.entry.id,
            lvs.keys().map(String::as_str),
            vmid,
            VolumeFormat::Raw,
            "",
        )?;
        self.run(Cmd::new("lvcreate").args(["-n", &name, "-prw", "-kn", "-s", &source]))?;
        self.no_autoactivation(&name)?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CmdOutput, RecordingRunner};
    use std::sync::Arc;

    fn setup() -> (Arc<RecordingRunner>, LvmThinPlugin) {
        let r = Arc::new(RecordingRunner::new());
        r.respond(
            &["lvs"],
            CmdOutput::ok(
                "  pve:data:10737418240:twi-aotz--::50.00:1.00:::::1\n\
                 \x20 pve:vm-100-disk-0:8589934592:Vwi-a-tz--:data:10.00::::::1700000000\n\
                 \x20 pve:base-101-disk-0:8589934592:Vri---tz-k:data:5.00::::::1700000000\n\
                 \x20 pve:snap_vm-100-disk-0_s1:8589934592:Vri---tz-k:data:5.00::::::1700000000\n",
            ),
        );
        let entry = StorageEntry::create(
            "thin",
            "lvmthin",
            &[("vgname", "pve"), ("thinpool", "data")],
        )
        .unwrap();
        let ctx = PluginContext::system(std::path::Path::new("/tmp")).with_runner(r.clone());
        (r, LvmThinPlugin::new(entry, ctx))
    }

    #[test]
    fn reports_thin_overcommit() {
        let (_, p) = setup();
        let st = p.status().unwrap();
        assert_eq!(st.total, 10737418240);
        assert_eq!(st.used, 5368709120);
        assert!(st.provisioned.unwrap() > st.total);
        let ids: Vec<_> = p
            .list_volumes(&VolumeFilter::default())
            .unwrap()
            .into_iter()
            .map(|v| v.volid)
            .collect();
        assert_eq!(ids, ["thin:base-101-disk-0", "thin:vm-100-disk-0"]);
    }

    #[test]
    fn issues_proxmox_commands() {
        let (r, p) = setup();
        let req = AllocRequest {
            vmid: 100,
            name: None,
            format: VolumeFormat::Raw,
            size: 100 << 30,
            preallocation: None,
        };
        assert_eq!(p.alloc_image(&req).unwrap(), "vm-100-disk-1");
        p.snapshot_create("vm-100-disk-0", "s2").unwrap();
        p.snapshot_rollback("vm-100-disk-0", "s1").unwrap();
        p.snapshot_delete("vm-100-disk-0", "s1").unwrap();
        assert_eq!(
            p.clone_image("base-101-disk-0", 102, None).unwrap(),
            "vm-102-disk-0"
        );
        assert!(p.clone_image("vm-100-disk-0", 102, None).is_err());
        assert!(matches!(
            p.create_base("vm-100-disk-0"),
            Err(StorageError::VolumeInUse { .. })
        ));
        p.free_image("vm-100-disk-0").unwrap();
        let lines: Vec<String> = r
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("lvs "))
            .collect();
        assert_eq!(
            lines,
            [
                "lvcreate -aly -V 104857600k --name vm-100-disk-1 --thinpool pve/data",
                "lvchange --setautoactivation n pve/vm-100-disk-1",
                "lvcreate -n snap_vm-100-disk-0_s2 -pr -s pve/vm-100-disk-0",
                "lvremove -f pve/vm-100-disk-0",
                "lvcreate -kn -n vm-100-disk-0 -s pve/snap_vm-100-disk-0_s1",
                "lvchange --setautoactivation n pve/vm-100-disk-0",
                "lvremove -f pve/snap_vm-100-disk-0_s1",
                "lvcreate -n vm-102-disk-0 -prw -kn -s pve/base-101-disk-0",
                "lvchange --setautoactivation n pve/vm-102-disk-0",
                "lvremove -f pve/snap_vm-100-disk-0_s1",
                "lvremove -f pve/vm-100-disk-0",
            ]
        );
    }
}
