//! `lvm`: raw guest disks as (thick) logical volumes of a volume group, named
//! `vm-<vmid>-disk-N` and tagged `pve-vm-<vmid>`, through `lvcreate`, `lvs`, `lvextend`,
//! `lvremove`, as Proxmox's LVMPlugin does.

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
use crate::plugins::common::{check_alloc_name, check_space, next_disk_name};
use crate::plugins::lvm_tools::{self, LvInfo};
use crate::size::round_up_kib;
use crate::volid::{parse_lvm_volname, VolName};

/// An LVM storage.
pub struct LvmPlugin {
    entry: StorageEntry,
    ctx: PluginContext,
}

/// `<kib>k`, the size argument LVM tools get.
pub(crate) fn kib_arg(bytes: u64) -> String {
    format!("{}k", round_up_kib(bytes) / 1024)
}

/// The volume group of an LVM-based storage.
pub(crate) fn vgname(entry: &StorageEntry) -> Result<&str, StorageError> {
    entry.props.vgname.as_deref().ok_or_else(|| {
        StorageError::option(
            &entry.id,
            "vgname",
            "storage definition has no volume group",
        )
    })
}

/// Image entries of the LVs accepted by `keep`.
pub(crate) fn lv_entries(
    storage: &str,
    lvs: &std::collections::BTreeMap<String, LvInfo>,
    vmid: Option<u32>,
    allow_base: bool,
    keep: impl Fn(&LvInfo) -> bool,
) -> Vec<VolumeEntry> {
    lvs.iter()
        .filter_map(|(name, info)| {
            let v = parse_lvm_volname(name, allow_base).ok()?;
            let owner = v.vmid?;
            if vmid.is_some_and(|x| x != owner) || !keep(info) {
                return None;
            }
            Some(VolumeEntry {
                volid: format!("{storage}:{name}"),
                content: ContentType::Images,
                format: "raw".into(),
                size: info.size,
                used: None,
                vmid: Some(owner),
                ctime: info.ctime,
                parent: None,
                notes: None,
                protected: false,
            })
        })
        .collect()
}

impl LvmPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        LvmPlugin { entry, ctx }
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

    fn parse(&self, volname: &str) -> Result<VolName, StorageError> {
        parse_lvm_volname(volname, false)
    }

    fn lv(&self, volname: &str) -> Result<LvInfo, StorageError> {
        self.parse(volname)?;
        lvm_tools::lvs(self.ctx.runner.as_ref(), self.vg()?)?
            .remove(volname)
            .ok_or_else(|| StorageError::VolumeNotFound {
                volid: format!("{}:{volname}", self.entry.id),
            })
    }

    fn tagged_ok(&self, info: &LvInfo) -> bool {
        if self.entry.props.tagged_only != Some(true) {
            return true;
        }
        info.tags.as_deref().is_some_and(|t| {
            t.split(',').any(|tag| {
                tag.strip_prefix("pve-vm-")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
        })
    }

    fn list_images(&self, vmid: Option<u32>) -> Result<Vec<VolumeEntry>, StorageError> {
        let lvs = lvm_tools::lvs(self.ctx.runner.as_ref(), self.vg()?)?;
        Ok(lv_entries(&self.entry.id, &lvs, vmid, false, |info| {
            matches!(info.lv_type, '-' | 'm' | 'M' | 'r' | 'R') && self.tagged_ok(info)
        }))
    }
}

impl StoragePlugin for LvmPlugin {
    fn entry(&self) -> &StorageEntry {
        &self.entry
    }

    fn capabilities(&self) -> Capabilities {
        use ContentType::*;
        Capabilities {
            formats: set(&[VolumeFormat::Raw]),
            default_format: VolumeFormat::Raw,
            content: content_set(&[Images, Rootdir]),
            snapshot_formats: set(&[]),
            linked_clone_formats: set(&[]),
            template_formats: set(&[]),
            resize_formats: set(&[VolumeFormat::Raw]),
            preallocation: Default::default(),
            shared: self.entry.is_shared(),
            thin_provisioning: false,
            sparse_init: false,
            files: false,
            subvol_quota: false,
        }
    }

    fn activate(&self) -> Result<(), StorageError> {
        let vg = self.vg()?;
        let runner = self.ctx.runner.as_ref();
        if !lvm_tools::vgs(runner)?.contains_key(vg) {
            // LVM scans by itself; this is just to be sure, as Proxmox does.
            let _ = runner.run(&Cmd::new("vgscan").args(["--ignorelockingfailure", "--mknodes"]));
            if !lvm_tools::vgs(runner)?.contains_key(vg) {
                return Err(StorageError::Activate {
                    storage: self.entry.id.clone(),
                    reason: format!("volume group '{vg}' not found"),
                });
            }
        }
        Ok(())
    }

    fn deactivate(&self) -> Result<(), StorageError> {
        self.ctx
            .runner
            .run_ok(&Cmd::new("vgchange").args(["-aln", self.vg()?]))?;
        Ok(())
    }

    fn status(&self) -> Result<StorageStatus, StorageError> {
        let vgs = lvm_tools::vgs(self.ctx.runner.as_ref())?;
        let Some(info) = vgs.get(self.vg()?) else {
            return Ok(StorageStatus::default());
        };
        let provisioned = self.list_images(None)?.iter().map(|v| v.size).sum();
        Ok(StorageStatus {
            total: info.size,
            used: info.size - info.free,
            avail: info.free,
            active: true,
            provisioned: Some(provisioned),
        })
    }

    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError> {
        self.parse(volname)
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
                format!("preallocation '{p}' (LVM volumes are always thick)"),
            ));
        }
        let vg = self.vg()?;
        let runner = self.ctx.runner.as_ref();
        let vgs = lvm_tools::vgs(runner)?;
        let info = vgs.get(vg).ok_or_else(|| StorageError::Activate {
            storage: self.entry.id.clone(),
            reason: format!("no such volume group '{vg}'"),
        })?;
        let lvs = lvm_tools::lvs(runner, vg)?;
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
        check_space(&self.entry.id, round_up_kib(req.size), info.free)?;
        let cmd = Cmd::new("lvcreate")
            .args([
                "-aly",
                "-Wy",
                "--yes",
                "--size",
                &kib_arg(req.size),
                "--name",
                &name,
            ])
            .args([
                "--setautoactivation",
                "n",
                "--addtag",
                &format!("pve-vm-{}", req.vmid),
                vg,
            ]);
        runner.run_ok(&cmd)?;
        Ok(name)
    }

    fn free_image(&self, volname: &str) -> Result<(), StorageError> {
        self.lv(volname)?;
        let vg = self.vg()?;
        let runner = self.ctx.runner.as_ref();
        if self.entry.props.saferemove == Some(true) {
            let del = format!("del-{volname}");
            runner.run_ok(&Cmd::new("lvrename").args([vg, volname, &del]))?;
            let throughput = self
                .entry
                .props
                .saferemove_throughput
                .clone()
                .unwrap_or_else(|| "-10485760".into());
            let wipe = Cmd::new("cstream")
                .args(["-i", "/dev/zero", "-o", &format!("/dev/{vg}/{del}")])
                .args(["-T", "10", "-v", "1", "-b", "1048576", "-t", &throughput]);
            // cstream ends with "No space left on device", which is expected.
            let _ = runner.run(&wipe);
            runner.run_ok(&Cmd::new("lvremove").args(["-f", &format!("{vg}/{del}")]))?;
        } else {
            runner.run_ok(&Cmd::new("lvremove").args(["-f", &format!("{vg}/{volname}")]))?;
        }
        Ok(())
    }

    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError> {
        let info = self.lv(volname)?;
        Ok(VolumeInfo {
            path: self.path(volname)?,
            size: info.size,
            used: info.size,
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
        let vgs = lvm_tools::vgs(self.ctx.runner.as_ref())?;
        let free = vgs.get(self.vg()?).map_or(0, |v| v.free);
        check_space(&self.entry.id, size - info.size, free)?;
        let path = self.path(volname)?;
        self.ctx
            .runner
            .run_ok(&Cmd::new("lvextend").args(["-L", &kib_arg(size)]).arg(&path))?;
        Ok(())
    }

    fn path(&self, volname: &str) -> Result<PathBuf, StorageError> {
        self.parse(volname)?;
        Ok(PathBuf::from(format!("/dev/{}/{volname}", self.vg()?)))
    }

    fn activate_volume(&self, volname: &str) -> Result<(), StorageError> {
        let path = self.path(volname)?;
        self.ctx
            .runner
            .run_ok(&Cmd::new("lvchange").arg("-aey").arg(&path))?;
        Ok(())
    }
}

/// Volume listing of block storages: only guest images exist.
pub(crate) fn list_lv_volumes(
    entry: &StorageEntry,
    filter: &VolumeFilter,
    list_images: impl Fn(Option<u32>) -> Result<Vec<VolumeEntry>, StorageError>,
) -> Result<Vec<VolumeEntry>, StorageError> {
    let types: Vec<ContentType> = match filter.content {
        Some(c) => vec![c],
        None => entry.content().into_iter().collect(),
    };
    if !types.contains(&ContentType::Images) && !types.contains(&ContentType::Rootdir) {
        return Ok(Vec::new());
    }
    let mut res = Vec::new();
    for mut item in list_images(filter.vmid)? {
        let is_ct =
            item.format == "subvol" || item.vmid.is_some_and(|v| filter.containers.contains(&v));
        item.content = if is_ct {
            ContentType::Rootdir
        } else {
            ContentType::Images
        };
        if types.contains(&item.content) {
            res.push(item);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CmdOutput, RecordingRunner};
    use std::sync::Arc;

    fn plugin(runner: Arc<RecordingRunner>, extra: &[(&str, &str)]) -> LvmPlugin {
        let mut params = vec![("vgname", "vg0")];
        params.extend_from_slice(extra);
        let entry = StorageEntry::create("lvm1", "lvm", &params).unwrap();
        let ctx = PluginContext::system(std::path::Path::new("/tmp")).with_runner(runner);
        LvmPlugin::new(entry, ctx)
    }

    fn scripted() -> Arc<RecordingRunner> {
        let r = Arc::new(RecordingRunner::new());
        r.respond(&["vgs"], CmdOutput::ok("  vg0:10737418240:4294967296:2\n"));
        r.respond(
            &["lvs"],
            CmdOutput::ok(
                "  vg0:vm-100-disk-0:1073741824:-wi-a-----::::::pve-vm-100::1700000000\n\
                 \x20 vg0:vm-100-disk-1:2147483648:-wi-------::::::::1700000001\n\
                 \x20 vg0:root:5368709120:-wi-ao----::::::::1600000000\n",
            ),
        );
        r
    }

    #[test]
    fn allocates_with_lvcreate() {
        let r = scripted();
        let p = plugin(r.clone(), &[]);
        let req = AllocRequest {
            vmid: 100,
            name: None,
            format: VolumeFormat::Raw,
            size: 1 << 30,
            preallocation: None,
        };
        assert_eq!(p.alloc_image(&req).unwrap(), "vm-100-disk-2");
        assert_eq!(
            r.lines().last().unwrap(),
            "lvcreate -aly -Wy --yes --size 1048576k --name vm-100-disk-2 --setautoactivation n --addtag pve-vm-100 vg0"
        );
        let big = AllocRequest {
            size: 5 << 30,
            ..req.clone()
        };
        assert!(matches!(
            p.alloc_image(&big),
            Err(StorageError::InsufficientSpace { .. })
        ));
        let qcow = AllocRequest {
            format: VolumeFormat::Qcow2,
            ..req
        };
        assert!(matches!(
            p.alloc_image(&qcow),
            Err(StorageError::Unsupported { .. })
        ));
    }

    #[test]
    fn lists_status_resizes_and_frees() {
        let r = scripted();
        let p = plugin(r.clone(), &[]);
        let vols = p.list_volumes(&VolumeFilter::default()).unwrap();
        let ids: Vec<_> = vols.iter().map(|v| v.volid.as_str()).collect();
        assert_eq!(ids, ["lvm1:vm-100-disk-0", "lvm1:vm-100-disk-1"]);
        let st = p.status().unwrap();
        assert_eq!(
            (st.total, st.avail, st.provisioned),
            (10737418240, 4294967296, Some(3 << 30))
        );
        r.clear();
        assert!(matches!(
            p.resize("vm-100-disk-0", 1 << 29),
            Err(StorageError::ShrinkRefused { .. })
        ));
        p.resize("vm-100-disk-0", 2 << 30).unwrap();
        assert_eq!(
            r.lines().last().unwrap(),
            "lvextend -L 2097152k /dev/vg0/vm-100-disk-0"
        );
        p.free_image("vm-100-disk-0").unwrap();
        assert_eq!(r.lines().last().unwrap(), "lvremove -f vg0/vm-100-disk-0");
        assert!(matches!(
            p.free_image("vm-100-disk-9"),
            Err(StorageError::VolumeNotFound { .. })
        ));
        assert!(p.snapshot_create("vm-100-disk-0", "s1").is_err());
        assert_eq!(
            p.path("vm-100-disk-0").unwrap(),
            PathBuf::from("/dev/vg0/vm-100-disk-0")
        );
    }

    #[test]
    fn saferemove_and_tagged_only() {
        let r = scripted();
        let p = plugin(r.clone(), &[("saferemove", "1"), ("tagged_only", "1")]);
        let vols = p.list_volumes(&VolumeFilter::default()).unwrap();
        assert_eq!(vols.len(), 1);
        r.clear();
        p.free_image("vm-100-disk-1").unwrap();
        assert_eq!(
            r.lines()[1..],
            [
                "lvrename vg0 vm-100-disk-1 del-vm-100-disk-1",
                "cstream -i /dev/zero -o /dev/vg0/del-vm-100-disk-1 -T 10 -v 1 -b 1048576 -t -10485760",
                "lvremove -f vg0/del-vm-100-disk-1",
            ]
        );
    }
}
