//! `zfspool`: guest disks as zvols (`<pool>/vm-<vmid>-disk-N`, raw) and container volumes as
//! datasets (`<pool>/subvol-<vmid>-disk-N`), through `zfs create/list/destroy/snapshot/...`,
//! as Proxmox's ZFSPoolPlugin does. Templates are `base-` zvols with a `@__base__` snapshot,
//! linked clones are `zfs clone`s of it (`base-100-disk-0/vm-101-disk-0`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

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
use crate::plugins::lvm::list_lv_volumes;
use crate::size::round_up_kib;
use crate::volid::{check_snapshot_name, parse_zfs_volname, VolName};

/// One dataset from `zfs list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZfsVolume {
    /// Name below the pool.
    pub name: String,
    /// volsize (zvols) or refquota (datasets, 0 = none).
    pub size: u64,
    /// The origin snapshot below the pool (linked clones).
    pub origin: Option<String>,
    /// `raw` for zvols, `subvol` for file systems.
    pub format: VolumeFormat,
    /// Owning guest.
    pub vmid: u32,
}

/// Parse `zfs list -o name,volsize,origin,type,refquota -t volume,filesystem -d1 -Hp <pool>`.
pub fn parse_zfs_list(text: &str, pool: &str) -> Vec<ZfsVolume> {
    let mut res = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || !matches!(f[3], "volume" | "filesystem") {
            continue;
        }
        let Some((parent, name)) = f[0].rsplit_once('/') else {
            continue;
        };
        if parent != pool {
            continue;
        }
        let Ok(v) = parse_zfs_volname(name) else {
            continue;
        };
        let Some(vmid) = v.vmid else {
            continue;
        };
        let (format, size) = if f[3] == "filesystem" {
            (VolumeFormat::Subvol, f[4].parse().unwrap_or(0))
        } else {
            (VolumeFormat::Raw, f[1].parse().unwrap_or(0))
        };
        let origin = (f[2] != "-").then(|| {
            f[2].strip_prefix(&format!("{pool}/"))
                .unwrap_or(f[2])
                .to_string()
        });
        res.push(ZfsVolume {
            name: name.to_string(),
            size,
            origin,
            format,
            vmid,
        });
    }
    res
}

/// A ZFS pool storage.
pub struct ZfsPoolPlugin {
    entry: StorageEntry,
    ctx: PluginContext,
    zvol_link_timeout: Duration,
}

impl ZfsPoolPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        ZfsPoolPlugin {
            entry,
            ctx,
            zvol_link_timeout: Duration::from_secs(10),
        }
    }

    /// How long `alloc_image` waits for `/dev/zvol/...` to appear (zero: do not wait).
    pub fn with_zvol_link_timeout(mut self, timeout: Duration) -> Self {
        self.zvol_link_timeout = timeout;
        self
    }

    /// The registry constructor.
    pub fn factory(
        entry: &StorageEntry,
        ctx: &PluginContext,
    ) -> Result<Box<dyn StoragePlugin>, StorageError> {
        Ok(Box::new(Self::new(entry.clone(), ctx.clone())))
    }

    fn pool(&self) -> Result<&str, StorageError> {
        self.entry.props.pool.as_deref().ok_or_else(|| {
            StorageError::option(&self.entry.id, "pool", "storage definition has no pool")
        })
    }

    fn zfs(&self, args: &[&str]) -> Result<String, StorageError> {
        Ok(self.ctx.runner.run_ok(&Cmd::new("zfs").args(args))?.stdout)
    }

    fn dataset(&self, name: &str) -> Result<String, StorageError> {
        Ok(format!("{}/{name}", self.pool()?))
    }

    fn list(&self) -> Result<Vec<ZfsVolume>, StorageError> {
        let pool = self.pool()?;
        let out = self.zfs(&[
            "list",
            "-o",
            "name,volsize,origin,type,refquota",
            "-t",
            "volume,filesystem",
            "-d1",
            "-Hp",
            pool,
        ])?;
        Ok(parse_zfs_list(&out, pool))
    }

    fn get_props(&self, props: &str, dataset: &str) -> Result<Vec<String>, StorageError> {
        let out = self.zfs(&["get", "-o", "value", "-Hp", props, dataset])?;
        Ok(out.lines().map(str::to_string).collect())
    }

    fn parse(&self, volname: &str) -> Result<(VolName, String), StorageError> {
        let v = parse_zfs_volname(volname)?;
        let ds = self.dataset(&v.name)?;
        Ok((v, ds))
    }

    fn find(&self, volname: &str) -> Result<ZfsVolume, StorageError> {
        let (v, _) = self.parse(volname)?;
        self.list()?
            .into_iter()
            .find(|z| z.name == v.name)
            .ok_or_else(|| StorageError::VolumeNotFound {
                volid: format!("{}:{volname}", self.entry.id),
            })
    }

    fn list_images(&self, vmid: Option<u32>) -> Result<Vec<VolumeEntry>, StorageError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|z| vmid.is_none_or(|v| v == z.vmid))
            .map(|z| {
                let volname = match z
                    .origin
                    .as_deref()
                    .and_then(|o| o.strip_suffix("@__base__"))
                {
                    Some(base) => format!("{base}/{}", z.name),
                    None => z.name.clone(),
                };
                VolumeEntry {
                    volid: format!("{}:{volname}", self.entry.id),
                    content: ContentType::Images,
                    format: z.format.to_string(),
                    size: z.size,
                    used: None,
                    vmid: Some(z.vmid),
                    ctime: None,
                    parent: z.origin,
                    notes: None,
                    protected: false,
                }
            })
            .collect())
    }

    fn wait_for_link(&self, path: &std::path::Path) -> Result<(), StorageError> {
        if self.zvol_link_timeout.is_zero() {
            return Ok(());
        }
        let start = Instant::now();
        while !path.exists() {
            if start.elapsed() >= self.zvol_link_timeout {
                return Err(StorageError::Activate {
                    storage: self.entry.id.clone(),
                    reason: format!("timeout: no zvol device link '{}' found", path.display()),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn destroy(&self, dataset: &str) -> Result<(), StorageError> {
        let cmd = Cmd::new("zfs").args(["destroy", "-r", dataset]);
        for _ in 0..6 {
            let out = self.ctx.runner.run(&cmd)?;
            if out.status == 0 || out.stderr.contains("dataset does not exist") {
                return Ok(());
            }
            if !out.stderr.contains("dataset is busy") {
                crate::command::check_status(&cmd, out)?;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        crate::command::check_status(&cmd, self.ctx.runner.run(&cmd)?).map(|_| ())
    }
}

impl StoragePlugin for ZfsPoolPlugin {
    fn entry(&self) -> &StorageEntry {
        &self.entry
    }

    fn capabilities(&self) -> Capabilities {
        use ContentType::*;
        use VolumeFormat::*;
        Capabilities {
            formats: set(&[Raw, Subvol]),
            default_format: Raw,
            content: content_set(&[Images, Rootdir]),
            snapshot_formats: set(&[Raw, Subvol]),
            linked_clone_formats: set(&[Raw, Subvol]),
            template_formats: set(&[Raw, Subvol]),
            resize_formats: set(&[Raw, Subvol]),
            preallocation: Default::default(),
            shared: false,
            thin_provisioning: self.entry.props.sparse == Some(true),
            sparse_init: true,
            files: false,
            subvol_quota: true,
        }
    }

    fn activate(&self) -> Result<(), StorageError> {
        let pool = self.pool()?;
        let root = pool.split('/').next().unwrap_or(pool);
        let listed = self
            .ctx
            .runner
            .run(&Cmd::new("zpool").args(["list", root]))?;
        if listed.status != 0 {
            let import = Cmd::new("zpool").args([
                "import",
                "-d",
                "/dev/disk/by-id/",
                "-o",
                "cachefile=none",
                root,
            ]);
            self.ctx.runner.run_ok(&import)?;
        }
        Ok(())
    }

    fn status(&self) -> Result<StorageStatus, StorageError> {
        let Ok(values) = self.get_props("available,used", self.pool()?) else {
            return Ok(StorageStatus::default());
        };
        let num = |i: usize| {
            values
                .get(i)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let (avail, used) = (num(0), num(1));
        let provisioned = self.list()?.iter().map(|z| z.size).sum();
        Ok(StorageStatus {
            total: avail + used,
            used,
            avail,
            active: true,
            provisioned: Some(provisioned),
        })
    }

    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError> {
        parse_zfs_volname(volname)
    }

    fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<VolumeEntry>, StorageError> {
        list_lv_volumes(&self.entry, filter, |vmid| self.list_images(vmid))
    }

    fn alloc_image(&self, req: &AllocRequest) -> Result<String, StorageError> {
        if !self.capabilities().supports_format(req.format) {
            return Err(StorageError::unsupported(
                &self.entry.id,
                format!("format '{}'", req.format),
            ));
        }
        if let Some(p) = req.preallocation {
            return Err(StorageError::unsupported(
                &self.entry.id,
                format!("preallocation '{p}' (use the 'sparse' option)"),
            ));
        }
        let existing = self.list()?;
        let name = match &req.name {
            Some(n) => check_alloc_name(n, req.vmid, req.format, false)?,
            None => next_disk_name(
                &self.entry.id,
                existing.iter().map(|z| z.name.as_str()),
                req.vmid,
                req.format,
                "",
            )?,
        };
        if existing.iter().any(|z| z.name == name) {
            return Err(StorageError::VolumeExists {
                volid: format!("{}:{name}", self.entry.id),
            });
        }
        let dataset = self.dataset(&name)?;
        // Sizes aligned to 1 MiB, as Proxmox does for zvols.
        let size_kib = round_up_kib(req.size) / 1024;
        let size_kib = size_kib.div_ceil(1024) * 1024;
        if req.format == VolumeFormat::Raw {
            if self.entry.props.sparse != Some(true) {
                let avail = self.get_props("available", self.pool()?)?;
                let avail = avail
                    .first()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                check_space(&self.entry.id, size_kib * 1024, avail)?;
            }
            let mut args = vec!["create".to_string()];
            if self.entry.props.sparse == Some(true) {
                args.push("-s".into());
            }
            if let Some(bs) = &self.entry.props.blocksize {
                args.extend(["-b".into(), bs.clone()]);
            }
            args.extend(["-V".into(), format!("{size_kib}k"), dataset.clone()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            self.zfs(&refs)?;
            if let Err(e) = self.wait_for_link(&PathBuf::from(format!("/dev/zvol/{dataset}"))) {
                let _ = self.destroy(&dataset);
                return Err(e);
            }
        } else {
            let quota = if req.size == 0 {
                "none".to_string()
            } else {
                format!("{}k", round_up_kib(req.size) / 1024)
            };
            self.zfs(&[
                "create",
                "-o",
                "acltype=posixacl",
                "-o",
                "xattr=sa",
                "-o",
                &format!("refquota={quota}"),
                &dataset,
            ])?;
        }
        Ok(name)
    }

    fn free_image(&self, volname: &str) -> Result<(), StorageError> {
        let (_, dataset) = self.parse(volname)?;
        self.find(volname)?;
        self.destroy(&dataset)
    }

    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError> {
        let (v, dataset) = self.parse(volname)?;
        let format = v.format.unwrap_or(VolumeFormat::Raw);
        let attr = if format == VolumeFormat::Subvol {
            "refquota"
        } else {
            "volsize"
        };
        let values = self.get_props(&format!("{attr},usedbydataset"), &dataset)?;
        let num = |i: usize| values.get(i).and_then(|x| x.trim().parse::<u64>().ok());
        let size = num(0).ok_or_else(|| StorageError::CommandOutput {
            command: format!("zfs get {attr} {dataset}"),
            reason: "could not get zfs volume size".into(),
        })?;
        Ok(VolumeInfo {
            path: self.path(volname)?,
            size,
            used: num(1).unwrap_or(0),
            format,
            parent: v.base.map(|b| b.name),
            ctime: None,
        })
    }

    fn resize(&self, volname: &str, size: u64) -> Result<(), StorageError> {
        let info = self.volume_info(volname)?;
        let volid = format!("{}:{volname}", self.entry.id);
        // Setting the same size again is harmless for ZFS, so no early return.
        let size = super::common::grow_target(volid, info.size, size)?.unwrap_or(info.size);
        let (_, dataset) = self.parse(volname)?;
        let kib = size / 1024;
        if info.format == VolumeFormat::Subvol {
            self.zfs(&["set", &format!("refquota={kib}k"), &dataset])?;
        } else {
            let kib = kib.div_ceil(1024) * 1024;
            self.zfs(&["set", &format!("volsize={kib}k"), &dataset])?;
        }
        Ok(())
    }

    fn path(&self, volname: &str) -> Result<PathBuf, StorageError> {
        let (v, dataset) = self.parse(volname)?;
        if v.format == Some(VolumeFormat::Subvol) {
            let mp = match &self.entry.props.mountpoint {
                Some(m) => m.clone(),
                None => format!("/{}", self.pool()?),
            };
            Ok(PathBuf::from(format!("{mp}/{}", v.name)))
        } else {
            Ok(PathBuf::from(format!("/dev/zvol/{dataset}")))
        }
    }

    fn snapshot_create(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let (_, dataset) = self.parse(volname)?;
        self.zfs(&["snapshot", &format!("{dataset}@{snap}")])
            .map(|_| ())
    }

    fn snapshot_delete(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let (_, dataset) = self.parse(volname)?;
        self.zfs(&["destroy", &format!("{dataset}@{snap}")])
            .map(|_| ())
    }

    fn snapshot_rollback(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let (_, dataset) = self.parse(volname)?;
        self.zfs(&["rollback", &format!("{dataset}@{snap}")])
            .map(|_| ())
    }

    fn create_base(&self, volname: &str) -> Result<String, StorageError> {
        let (v, dataset) = self.parse(volname)?;
        if v.is_base {
            return Err(StorageError::unsupported(
                &self.entry.id,
                "create_base on a base image",
            ));
        }
        let new_name = if let Some(r) = v.name.strip_prefix("vm-") {
            format!("base-{r}")
        } else if let Some(r) = v.name.strip_prefix("subvol-") {
            format!("basevol-{r}")
        } else {
            return Err(StorageError::unsupported(
                &self.entry.id,
                "base images of volumes not named 'vm-*' or 'subvol-*'",
            ));
        };
        let new_dataset = self.dataset(&new_name)?;
        self.zfs(&["rename", &dataset, &new_dataset])?;
        self.zfs(&["set", "readonly=on", &new_dataset])?;
        self.zfs(&["snapshot", &format!("{new_dataset}@__base__")])?;
        Ok(match v.base {
            Some(b) => format!("{}/{new_name}", b.name),
            None => new_name,
        })
    }

    fn clone_image(
        &self,
        volname: &str,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<String, StorageError> {
        let (v, dataset) = self.parse(volname)?;
        let snap = match snap {
            Some(s) => {
                check_snapshot_name(s)?;
                s
            }
            None if v.is_base => "__base__",
            None => {
                return Err(StorageError::unsupported(
                    &self.entry.id,
                    "linked clones of images that are not base images",
                ))
            }
        };
        let format = v.format.unwrap_or(VolumeFormat::Raw);
        let existing = self.list()?;
        let name = next_disk_name(
            &self.entry.id,
            existing.iter().map(|z| z.name.as_str()),
            vmid,
            format,
            "",
        )?;
        let target = self.dataset(&name)?;
        let origin = format!("{dataset}@{snap}");
        if format == VolumeFormat::Subvol {
            let quota = self.get_props("refquota", &dataset)?;
            let quota = quota.first().cloned().unwrap_or_else(|| "none".into());
            self.zfs(&[
                "clone",
                "-p",
                "-o",
                &format!("refquota={quota}"),
                &origin,
                &target,
            ])?;
        } else {
            self.zfs(&["clone", &origin, &target])?;
        }
        Ok(format!("{}/{name}", v.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CmdOutput, RecordingRunner};
    use std::sync::Arc;

    const LIST: &str = "tank/data\t-\t-\tfilesystem\tnone\n\
        tank/data/vm-100-disk-0\t8589934592\t-\tvolume\t-\n\
        tank/data/subvol-101-disk-0\t-\t-\tfilesystem\t4294967296\n\
        tank/data/base-102-disk-0\t8589934592\t-\tvolume\t-\n\
        tank/data/vm-103-disk-0\t8589934592\ttank/data/base-102-disk-0@__base__\tvolume\t-\n";

    fn setup(extra: &[(&str, &str)]) -> (Arc<RecordingRunner>, ZfsPoolPlugin) {
        let r = Arc::new(RecordingRunner::new());
        r.respond(&["zfs", "list"], CmdOutput::ok(LIST));
        r.respond(
            &["zfs", "get", "-o", "value", "-Hp", "available,used"],
            CmdOutput::ok("10737418240\n2147483648\n"),
        );
        r.respond(
            &["zfs", "get", "-o", "value", "-Hp", "available"],
            CmdOutput::ok("10737418240\n"),
        );
        let mut params = vec![("pool", "tank/data")];
        params.extend_from_slice(extra);
        let entry = StorageEntry::create("zfs1", "zfspool", &params).unwrap();
        let ctx = PluginContext::system(std::path::Path::new("/tmp")).with_runner(r.clone());
        (
            r,
            ZfsPoolPlugin::new(entry, ctx).with_zvol_link_timeout(Duration::ZERO),
        )
    }

    #[test]
    fn lists_with_linked_clones() {
        let (_, p) = setup(&[]);
        let vols = p.list_volumes(&VolumeFilter::default()).unwrap();
        let ids: Vec<_> = vols.iter().map(|v| (v.volid.as_str(), v.content)).collect();
        assert_eq!(
            ids,
            [
                ("zfs1:vm-100-disk-0", ContentType::Images),
                ("zfs1:subvol-101-disk-0", ContentType::Rootdir),
                ("zfs1:base-102-disk-0", ContentType::Images),
                ("zfs1:base-102-disk-0/vm-103-disk-0", ContentType::Images),
            ]
        );
        let st = p.status().unwrap();
        assert_eq!((st.total, st.used), (12884901888, 2147483648));
    }

    #[test]
    fn issues_proxmox_commands() {
        let (r, p) = setup(&[("sparse", "1"), ("blocksize", "16k")]);
        let req = AllocRequest {
            vmid: 100,
            name: None,
            format: VolumeFormat::Raw,
            size: 1_000_000,
            preallocation: None,
        };
        assert_eq!(p.alloc_image(&req).unwrap(), "vm-100-disk-1");
        let sub = AllocRequest {
            vmid: 101,
            format: VolumeFormat::Subvol,
            size: 8 << 30,
            ..req.clone()
        };
        assert_eq!(p.alloc_image(&sub).unwrap(), "subvol-101-disk-1");
        p.snapshot_create("vm-100-disk-0", "s1").unwrap();
        p.snapshot_rollback("vm-100-disk-0", "s1").unwrap();
        p.snapshot_delete("vm-100-disk-0", "s1").unwrap();
        assert_eq!(p.create_base("vm-100-disk-0").unwrap(), "base-100-disk-0");
        assert_eq!(
            p.clone_image("base-102-disk-0", 104, None).unwrap(),
            "base-102-disk-0/vm-104-disk-0"
        );
        p.free_image("vm-100-disk-0").unwrap();
        let lines: Vec<String> = r
            .lines()
            .into_iter()
            .filter(|l| !l.starts_with("zfs list") && !l.starts_with("zfs get"))
            .collect();
        assert_eq!(
            lines,
            [
                "zfs create -s -b 16k -V 1024k tank/data/vm-100-disk-1",
                "zfs create -o acltype=posixacl -o xattr=sa -o refquota=8388608k tank/data/subvol-101-disk-1",
                "zfs snapshot tank/data/vm-100-disk-0@s1",
                "zfs rollback tank/data/vm-100-disk-0@s1",
                "zfs destroy tank/data/vm-100-disk-0@s1",
                "zfs rename tank/data/vm-100-disk-0 tank/data/base-100-disk-0",
                "zfs set readonly=on tank/data/base-100-disk-0",
                "zfs snapshot tank/data/base-100-disk-0@__base__",
                "zfs clone tank/data/base-102-disk-0@__base__ tank/data/vm-104-disk-0",
                "zfs destroy -r tank/data/vm-100-disk-0",
            ]
        );
    }

    #[test]
    fn thick_zvols_must_fit() {
        let (_, p) = setup(&[]);
        let req = AllocRequest {
            vmid: 100,
            name: None,
            format: VolumeFormat::Raw,
            size: 20 << 30,
            preallocation: None,
        };
        assert!(matches!(
            p.alloc_image(&req),
            Err(StorageError::InsufficientSpace { .. })
        ));
        assert!(!p.capabilities().thin_provisioning);
    }
}
