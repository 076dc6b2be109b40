//! `btrfs`: like `dir`, but each guest disk lives in its own subvolume, laid out as
//! Proxmox's BTRFSPlugin does: volume `100/vm-100-disk-0.raw` is the file
//! `images/100/vm-100-disk-0/disk.raw`, where `vm-100-disk-0/` is a subvolume; container
//! volumes `100/subvol-100-disk-0.subvol` are subvolumes themselves. Snapshots are read-only
//! subvolume snapshots `<subvol>@<snap>`; templates are read-only subvolumes and linked
//! clones are writable snapshots of them. A container subvolume's size is the limit of its
//! quota group (see [`btrfs_quota`](super::btrfs_quota)); size 0 means no limit.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::capabilities::{set, Capabilities};
use crate::command::Cmd;
use crate::config::StorageEntry;
use crate::content::ContentType;
use crate::error::{escape, StorageError};
use crate::format::{Preallocation, VolumeFormat};
use crate::fsutil;
use crate::plugin::{
    AllocRequest, PluginContext, StoragePlugin, StorageStatus, VolumeEntry, VolumeFilter,
    VolumeInfo,
};
use crate::plugins::btrfs_quota::{Qgroup, Quota};
use crate::plugins::dir::DirPlugin;
use crate::plugins::dir_images::fill_raw_file;
use crate::plugins::dir_list::{self, dir_names, file_image_info, guest_dirs, image_entry};
use crate::revert::Revert;
use crate::volid::{check_snapshot_name, VolName};

/// A btrfs storage.
pub struct BtrfsPlugin {
    dir: DirPlugin,
}

impl BtrfsPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        BtrfsPlugin {
            dir: DirPlugin::new(entry, ctx),
        }
    }

    /// The registry constructor.
    pub fn factory(
        entry: &StorageEntry,
        ctx: &PluginContext,
    ) -> Result<Box<dyn StoragePlugin>, StorageError> {
        Ok(Box::new(Self::new(entry.clone(), ctx.clone())))
    }

    fn btrfs(&self, args: &[&str], paths: &[&Path]) -> Result<(), StorageError> {
        let cmd = Cmd::new("btrfs").arg("-q").args(args).arg("--").args(paths);
        self.dir.ctx().runner.run_ok(&cmd)?;
        Ok(())
    }

    fn quota(&self) -> Quota<'_> {
        Quota {
            runner: self.dir.ctx().runner.as_ref(),
        }
    }

    /// Delete subvolumes `paths` (all in one directory) and, when quotas are on, their
    /// quota groups.
    fn delete_subvols(&self, paths: &[PathBuf]) -> Result<(), StorageError> {
        let Some(first) = paths.first() else {
            return Ok(());
        };
        let quota = self.quota();
        let ids: Vec<u64> = match quota.own_qgroup(first) {
            Ok(Some(_)) => paths
                .iter()
                .filter_map(|p| quota.subvolume_id(p).ok())
                .collect(),
            _ => Vec::new(),
        };
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        self.btrfs(&["subvolume", "delete"], &refs)?;
        if let Some(dir) = first.parent() {
            quota.destroy_qgroups(dir, &ids);
        }
        Ok(())
    }

    /// Size limit and referenced bytes of a subvolume (0, 0 without quotas).
    fn subvol_usage(&self, subvol: &Path) -> Result<(u64, u64), StorageError> {
        Ok(match self.quota().own_qgroup(subvol)? {
            Some(q) => (q.max_referenced.unwrap_or(0), q.referenced),
            None => (0, 0),
        })
    }

    /// The quota limit of a subvolume, if it has one.
    fn subvol_limit(&self, subvol: &Path) -> Option<u64> {
        self.quota()
            .own_qgroup(subvol)
            .ok()
            .flatten()
            .and_then(|q| q.max_referenced)
    }

    /// The subvolume of an image volume (without snapshot suffix).
    fn subvol_path(
        &self,
        v: &VolName,
        vmid: u32,
        format: VolumeFormat,
    ) -> Result<PathBuf, StorageError> {
        let dir = self.dir.image_dir(vmid)?;
        Ok(match format {
            VolumeFormat::Raw => dir.join(v.name.strip_suffix(".raw").unwrap_or(&v.name)),
            _ => dir.join(&v.name),
        })
    }

    fn parse(&self, volname: &str) -> Result<(VolName, u32, VolumeFormat, PathBuf), StorageError> {
        let (v, vmid, format) = self.dir.parse_image(volname)?;
        if !matches!(format, VolumeFormat::Raw | VolumeFormat::Subvol) {
            return Err(StorageError::unsupported(
                self.id(),
                format!("format '{format}'"),
            ));
        }
        let subvol = self.subvol_path(&v, vmid, format)?;
        Ok((v, vmid, format, subvol))
    }

    fn snap_path(subvol: &Path, snap: &str) -> PathBuf {
        let mut s = subvol.as_os_str().to_os_string();
        s.push(format!("@{snap}"));
        PathBuf::from(s)
    }

    /// Existing snapshots (`<name>@<snap>`) of a subvolume.
    fn snapshots_of(subvol: &Path) -> Vec<PathBuf> {
        let (Some(dir), Some(base)) =
            (subvol.parent(), subvol.file_name().and_then(|n| n.to_str()))
        else {
            return Vec::new();
        };
        let prefix = format!("{base}@");
        dir_names(dir)
            .into_iter()
            .filter(|n| n.starts_with(&prefix) && n.len() > prefix.len())
            .map(|n| dir.join(n))
            .collect()
    }

    /// The `disk.raw` of a new raw volume in subvolume `subvol`.
    fn fill_raw(
        &self,
        subvol: &Path,
        size: u64,
        prealloc: Option<Preallocation>,
    ) -> Result<(), StorageError> {
        let file = subvol.join("disk.raw");
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
            .map_err(|e| StorageError::io("create image", &file, e))?;
        if self.entry().props.nocow == Some(true) {
            self.dir
                .ctx()
                .runner
                .run_ok(&Cmd::new("chattr").arg("+C").arg(&file))?;
        }
        fill_raw_file(&mut f, &file, size, prealloc.unwrap_or(Preallocation::Off))
    }

    fn list_images(&self, vmid: Option<u32>) -> Result<Vec<VolumeEntry>, StorageError> {
        let entry = self.dir.entry();
        let Some(images) = entry.content_dir(ContentType::Images) else {
            return Ok(Vec::new());
        };
        let runner = self.dir.ctx().runner.as_ref();
        // One look at the quotas for all subvolumes (a listing is part of every status).
        let qgroups: BTreeMap<String, Qgroup> = match self.quota().all(&images) {
            Ok(Some(all)) => all.into_iter().map(|q| (q.id.clone(), q)).collect(),
            _ => BTreeMap::new(),
        };
        let mut res = Vec::new();
        for (owner, dir) in guest_dirs(&images, vmid) {
            for name in dir_names(&dir) {
                if name.contains('@') || name.starts_with('.') {
                    continue;
                }
                let path = dir.join(&name);
                let (vol_name, format, file) = match name.split_once('.') {
                    None => (
                        format!("{name}.raw"),
                        VolumeFormat::Raw,
                        path.join("disk.raw"),
                    ),
                    Some((_, "subvol")) => (name.clone(), VolumeFormat::Subvol, path.clone()),
                    Some(_) => continue,
                };
                if !file.exists() {
                    continue;
                }
                let Ok(mut info) = file_image_info(runner, &file, format) else {
                    continue;
                };
                if format == VolumeFormat::Subvol {
                    let id = fsutil::btrfs_subvol_id(&file).map(|id| format!("0/{id}"));
                    if let Some(q) = id.ok().and_then(|id| qgroups.get(&id)) {
                        (info.size, info.used) = (q.max_referenced.unwrap_or(0), q.referenced);
                    }
                }
                res.push(image_entry(&entry.id, owner, &vol_name, format, info));
            }
        }
        Ok(res)
    }
}

impl StoragePlugin for BtrfsPlugin {
    fn entry(&self) -> &StorageEntry {
        self.dir.entry()
    }

    fn capabilities(&self) -> Capabilities {
        use VolumeFormat::*;
        let mut caps = self.dir.file_caps();
        caps.snapshot_formats = set(&[Raw, Subvol]);
        caps.linked_clone_formats = set(&[Raw, Subvol]);
        caps.template_formats = set(&[Raw, Subvol]);
        caps.resize_formats = set(&[Raw, Subvol]);
        caps.subvol_quota = true;
        caps
    }

    fn activate(&self) -> Result<(), StorageError> {
        let path = self.dir.base_path()?;
        if let Some(mp) = self.dir.mountpoint_required() {
            if !self.dir.is_mounted(&mp)? {
                return Err(StorageError::Activate {
                    storage: self.id().to_string(),
                    reason: format!(
                        "directory is expected to be a mount point but is not mounted: '{}'",
                        mp.display()
                    ),
                });
            }
        }
        if !path.exists()
            && self.entry().props.mkdir != Some(false)
            && self.entry().props.create_base_path != Some(false)
        {
            fs::create_dir_all(&path)
                .map_err(|e| StorageError::io("create directory", &path, e))?;
        }
        if fsutil::fs_magic(&path)? != fsutil::BTRFS_MAGIC {
            return Err(StorageError::Activate {
                storage: self.id().to_string(),
                reason: format!("'{}' is not a btrfs file system", path.display()),
            });
        }
        self.dir.activate_dirs()
    }

    fn status(&self) -> Result<StorageStatus, StorageError> {
        self.dir.dir_status(|| self.list_images(None))
    }

    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError> {
        self.dir.parse_volname(volname)
    }

    fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<VolumeEntry>, StorageError> {
        dir_list::list_volumes_with(self.entry(), filter, |vmid| self.list_images(vmid))
    }

    fn alloc_image(&self, req: &AllocRequest) -> Result<String, StorageError> {
        let existing = dir_names(&self.dir.image_dir(req.vmid)?);
        let (name, prealloc, size) = self.dir.prepare_alloc(req, existing, true)?;
        let volname = format!("{}/{name}", req.vmid);
        let stem = name
            .strip_suffix(&format!(".{}", req.format))
            .unwrap_or(&name);
        if stem.contains('.') {
            return Err(StorageError::InvalidFilename {
                name: escape(&name),
                reason: "btrfs volume names cannot contain '.' before the extension".into(),
            });
        }
        let mut revert = Revert::new();
        let dir = self.dir.make_image_dir(req.vmid, &mut revert)?;
        let subvol = dir.join(name.strip_suffix(".raw").unwrap_or(&name));
        if subvol.exists() {
            return Err(StorageError::VolumeExists {
                volid: self.dir.volid(&volname),
            });
        }
        self.btrfs(&["subvolume", "create"], &[&subvol])?;
        let created = match req.format {
            VolumeFormat::Raw => self.fill_raw(&subvol, size, prealloc),
            // A container volume's size is its quota.
            _ if size > 0 => self.quota().limit(&subvol, size),
            _ => Ok(()),
        };
        if let Err(e) = created {
            let _ = self.delete_subvols(std::slice::from_ref(&subvol));
            return Err(e);
        }
        revert.commit();
        Ok(volname)
    }

    fn free_image(&self, volname: &str) -> Result<(), StorageError> {
        let (_, _, _, subvol) = self.parse(volname)?;
        if !subvol.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: self.dir.volid(volname),
            });
        }
        let mut paths = Self::snapshots_of(&subvol);
        paths.push(subvol.clone());
        self.delete_subvols(&paths)?;
        if let Some(parent) = subvol.parent() {
            let _ = fs::remove_dir(parent);
        }
        Ok(())
    }

    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError> {
        let (_, _, format, _) = self.parse(volname)?;
        let path = self.path(volname)?;
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: self.dir.volid(volname),
            });
        }
        let mut info = file_image_info(self.dir.ctx().runner.as_ref(), &path, format)?;
        if format == VolumeFormat::Subvol {
            (info.size, info.used) = self.subvol_usage(&path)?;
        }
        Ok(VolumeInfo {
            path,
            size: info.size,
            used: info.used,
            format,
            parent: info.parent,
            ctime: Some(info.ctime),
        })
    }

    fn resize(&self, volname: &str, size: u64) -> Result<(), StorageError> {
        let (_, _, format, subvol) = self.parse(volname)?;
        match format {
            // Only the quota changes: no file system to grow, so it works while mounted.
            VolumeFormat::Subvol => return self.quota().limit(&subvol, size),
            VolumeFormat::Raw => {}
            _ => {
                return Err(StorageError::unsupported(
                    self.id(),
                    format!("resizing '{format}' volumes"),
                ))
            }
        }
        let path = self.path(volname)?;
        self.dir.resize_file_image(volname, &path, format, size)
    }

    fn path(&self, volname: &str) -> Result<PathBuf, StorageError> {
        let v = self.dir.parse_volname(volname)?;
        match (v.content, v.vmid, v.format) {
            (ContentType::Images, Some(vmid), Some(VolumeFormat::Raw)) => Ok(self
                .subvol_path(&v, vmid, VolumeFormat::Raw)?
                .join("disk.raw")),
            _ => self.dir.path(volname),
        }
    }

    fn content_path(&self, content: ContentType, name: &str) -> Result<PathBuf, StorageError> {
        self.dir.content_path(content, name)
    }

    fn snapshot_path(&self, volname: &str, snap: &str) -> Result<PathBuf, StorageError> {
        let (_, _, format, subvol) = self.parse(volname)?;
        let snapshot = Self::snap_path(&subvol, snap);
        let path = match format {
            VolumeFormat::Raw => snapshot.join("disk.raw"),
            _ => snapshot,
        };
        if !path.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: format!("{}@{snap}", self.dir.volid(volname)),
            });
        }
        Ok(path)
    }

    fn snapshot_create(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let (_, _, _, subvol) = self.parse(volname)?;
        let target = Self::snap_path(&subvol, snap);
        if target.exists() {
            return Err(StorageError::VolumeExists {
                volid: format!("{}@{snap}", self.dir.volid(volname)),
            });
        }
        self.btrfs(&["subvolume", "snapshot", "-r"], &[&subvol, &target])
    }

    fn snapshot_delete(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let (_, _, _, subvol) = self.parse(volname)?;
        let target = Self::snap_path(&subvol, snap);
        if !target.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: format!("{}@{snap}", self.dir.volid(volname)),
            });
        }
        self.delete_subvols(&[target])
    }

    fn snapshot_rollback(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        check_snapshot_name(snap)?;
        let (_, _, _, subvol) = self.parse(volname)?;
        let source = Self::snap_path(&subvol, snap);
        if !source.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: format!("{}@{snap}", self.dir.volid(volname)),
            });
        }
        let mut tmp = subvol.as_os_str().to_os_string();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        // The snapshot's size limit (or the current one) stays with the volume.
        let limit = self
            .subvol_limit(&source)
            .or_else(|| self.subvol_limit(&subvol));
        // Build the new state next to the old one, swap atomically, drop the old state.
        self.btrfs(&["subvolume", "snapshot"], &[&source, &tmp])?;
        let limited = match limit {
            Some(bytes) => self.quota().limit(&tmp, bytes),
            None => Ok(()),
        };
        let swapped = limited.and_then(|()| fsutil::exchange(&tmp, &subvol));
        let cleanup = self.delete_subvols(&[tmp]);
        swapped?;
        cleanup
    }

    fn create_base(&self, volname: &str) -> Result<String, StorageError> {
        let (v, vmid, format, subvol) = self.parse(volname)?;
        if v.is_base {
            return Err(StorageError::unsupported(
                self.id(),
                "create_base on a base image",
            ));
        }
        // As Proxmox: `vm-` disks become `base-`, subvolumes keep their name (read-only).
        let new_name = match v.name.strip_prefix("vm-") {
            Some(r) => format!("base-{r}"),
            None if format == VolumeFormat::Subvol => v.name.clone(),
            None => {
                return Err(StorageError::unsupported(
                    self.id(),
                    "base images of volumes not named 'vm-*'",
                ))
            }
        };
        let new_volname = format!("{vmid}/{new_name}");
        let (nv, _, _) = self.dir.parse_image(&new_volname)?;
        let new_subvol = self.subvol_path(&nv, vmid, format)?;
        let renamed = new_subvol != subvol;
        if renamed {
            if new_subvol.exists() {
                return Err(StorageError::VolumeExists {
                    volid: self.dir.volid(&new_volname),
                });
            }
            fs::rename(&subvol, &new_subvol).map_err(|e| StorageError::io("rename", &subvol, e))?;
        }
        let cmd = Cmd::new("btrfs")
            .args(["-q", "property", "set"])
            .arg(&new_subvol)
            .args(["ro", "true"]);
        if let Err(e) = self.dir.ctx().runner.run_ok(&cmd) {
            if renamed {
                let _ = fs::rename(&new_subvol, &subvol);
            }
            return Err(e);
        }
        Ok(new_volname)
    }

    fn clone_image(
        &self,
        volname: &str,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<String, StorageError> {
        let (_, _, format, subvol) = self.parse(volname)?;
        let source = match snap {
            Some(s) => {
                check_snapshot_name(s)?;
                Self::snap_path(&subvol, s)
            }
            None => subvol,
        };
        if !source.exists() {
            return Err(StorageError::VolumeNotFound {
                volid: format!(
                    "{}{}",
                    self.dir.volid(volname),
                    snap.map(|s| format!("@{s}")).unwrap_or_default()
                ),
            });
        }
        let req = AllocRequest {
            vmid,
            name: None,
            format,
            size: 0,
            preallocation: None,
        };
        let existing = dir_names(&self.dir.image_dir(vmid)?);
        let (name, _, _) = self.dir.prepare_alloc(&req, existing, true)?;
        let mut revert = Revert::new();
        let dir = self.dir.make_image_dir(vmid, &mut revert)?;
        let target = dir.join(name.strip_suffix(".raw").unwrap_or(&name));
        self.btrfs(&["subvolume", "snapshot"], &[&source, &target])?;
        // The clone keeps the source's size limit.
        if let Some(bytes) = self.subvol_limit(&source) {
            if let Err(e) = self.quota().limit(&target, bytes) {
                let _ = self.delete_subvols(&[target]);
                return Err(e);
            }
        }
        revert.commit();
        Ok(format!("{vmid}/{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CmdOutput, RecordingRunner};
    use std::sync::Arc;

    const SUBVOL: &str = "images/100/subvol-100-disk-0.subvol";

    fn setup() -> (Arc<RecordingRunner>, BtrfsPlugin, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let r = Arc::new(RecordingRunner::new());
        let path = dir.path().to_str().unwrap().to_string();
        let entry = StorageEntry::create("bt", "btrfs", &[("path", &path)]).unwrap();
        let ctx = PluginContext::system(dir.path()).with_runner(r.clone());
        (r, BtrfsPlugin::new(entry, ctx), dir)
    }

    fn subvol_request(size: u64) -> AllocRequest {
        AllocRequest {
            vmid: 100,
            name: None,
            format: VolumeFormat::Subvol,
            size,
            preallocation: None,
        }
    }

    fn quotas_on(r: &RecordingRunner) {
        r.respond(
            &["btrfs", "qgroup", "show"],
            CmdOutput::ok(
                "Qgroupid Referenced Exclusive Max referenced Path\n\
                 -------- ---------- --------- -------------- ----\n\
                 0/258 52428800 52428800 1073741824 images/100/subvol-100-disk-0.subvol\n",
            ),
        );
        r.respond(
            &["btrfs", "subvolume", "show"],
            CmdOutput::ok("subvol\n\tSubvolume ID: \t\t258\n"),
        );
    }

    #[test]
    fn sized_subvolume_gets_a_quota() {
        let (r, p, dir) = setup();
        let sv = dir.path().join(SUBVOL);
        let sv = sv.display();
        assert_eq!(
            p.alloc_image(&subvol_request(1 << 30)).unwrap(),
            "100/subvol-100-disk-0.subvol"
        );
        assert_eq!(
            r.lines(),
            [
                format!("btrfs -q subvolume create -- {sv}"),
                format!("btrfs -q quota enable {sv}"),
                format!("btrfs -q qgroup limit -- 1073741824 {sv}"),
            ]
        );
        // size 0: a plain subvolume, no quota
        r.clear();
        p.alloc_image(&subvol_request(0)).unwrap();
        assert_eq!(r.lines().len(), 1, "{:?}", r.lines());
    }

    #[test]
    fn failed_quota_deletes_the_new_subvolume() {
        let (r, p, dir) = setup();
        r.respond(
            &["btrfs", "-q", "qgroup", "limit"],
            CmdOutput::failed(1, "quota failure"),
        );
        r.respond(&["btrfs", "qgroup", "show"], CmdOutput::failed(1, "off"));
        let err = p.alloc_image(&subvol_request(1 << 30)).unwrap_err();
        assert!(err.to_string().contains("quota failure"), "{err}");
        let sv = dir.path().join(SUBVOL);
        assert!(r
            .lines()
            .contains(&format!("btrfs -q subvolume delete -- {}", sv.display())));
        assert!(!dir.path().join("images/100").exists());
    }

    #[test]
    fn size_is_the_quota_limit_and_resize_sets_it() {
        let (r, p, dir) = setup();
        quotas_on(&r);
        std::fs::create_dir_all(dir.path().join(SUBVOL)).unwrap();
        let info = p.volume_info("100/subvol-100-disk-0.subvol").unwrap();
        assert_eq!((info.size, info.used), (1 << 30, 50 << 20));
        assert_eq!(info.format, VolumeFormat::Subvol);
        r.clear();
        p.resize("100/subvol-100-disk-0.subvol", 2 << 30).unwrap();
        let sv = dir.path().join(SUBVOL);
        assert_eq!(
            r.lines().last().unwrap(),
            &format!("btrfs -q qgroup limit -- 2147483648 {}", sv.display())
        );
        assert!(p
            .capabilities()
            .resize_formats
            .contains(&VolumeFormat::Subvol));
        assert!(p.capabilities().subvol_quota);
    }

    #[test]
    fn free_removes_subvolume_snapshots_and_qgroups() {
        let (r, p, dir) = setup();
        quotas_on(&r);
        let sv = dir.path().join(SUBVOL);
        std::fs::create_dir_all(&sv).unwrap();
        std::fs::create_dir_all(dir.path().join(format!("{SUBVOL}@s1"))).unwrap();
        p.free_image("100/subvol-100-disk-0.subvol").unwrap();
        let lines = r.lines();
        let (sv, images) = (sv.display(), dir.path().join("images/100"));
        assert!(
            lines.contains(&format!("btrfs -q subvolume delete -- {sv}@s1 {sv}")),
            "{lines:?}"
        );
        assert!(lines.contains(&format!(
            "btrfs -q subvolume sync {} 258 258",
            images.display()
        )));
        assert_eq!(
            lines.last().unwrap(),
            &format!("btrfs -q qgroup destroy 0/258 {}", images.display())
        );
    }

    #[test]
    fn subvolume_template_keeps_its_name() {
        let (r, p, dir) = setup();
        std::fs::create_dir_all(dir.path().join(SUBVOL)).unwrap();
        let base = p.create_base("100/subvol-100-disk-0.subvol").unwrap();
        assert_eq!(base, "100/subvol-100-disk-0.subvol");
        assert_eq!(
            r.lines(),
            [format!(
                "btrfs -q property set {} ro true",
                dir.path().join(SUBVOL).display()
            )]
        );
    }
}
