//! A new container's root file system: a file system on the volume (ext4 on raw images),
//! the template unpacked into it, ids shifted for unprivileged containers, then hostname,
//! DNS, root's password and SSH keys written. Runs on a blocking thread.

use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::Path;

use oxve_types::lxc::CtConfig;

use crate::cmd::run;
use crate::error::{io, LxcError, Result};
use crate::lxcconf::{VolumePath, IDMAP_SIZE};
use crate::mount::HostMount;
use crate::setup::{self, RootIds};

/// What goes into a new root file system.
pub struct RootfsSpec<'a> {
    pub vmid: u32,
    pub conf: &'a CtConfig,
    /// The `vztmpl` archive (`.tar`, `.tar.gz`, `.tar.xz`, `.tar.zst`).
    pub template: &'a Path,
    pub password: Option<&'a str>,
    pub ssh_public_keys: Option<&'a str>,
}

/// The distribution in a root file system, as pve-container detects it; `None` when it is
/// none of the known ones (such containers keep `ostype` unset).
pub fn detect_ostype(root: &Path) -> Option<&'static str> {
    let has = |p: &str| std::fs::symlink_metadata(root.join(p)).is_ok();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
    if has("etc/alpine-release") {
        Some("alpine")
    } else if read("etc/lsb-release").contains("DISTRIB_ID=Ubuntu") {
        Some("ubuntu")
    } else if has("etc/devuan_version") {
        Some("devuan")
    } else if has("etc/debian_version") {
        Some("debian")
    } else if has("etc/fedora-release") {
        Some("fedora")
    } else if has("etc/redhat-release") || has("etc/centos-release") {
        Some("centos")
    } else if has("etc/arch-release") {
        Some("archlinux")
    } else if has("etc/SuSE-brand") || read("etc/os-release").contains("opensuse") {
        Some("opensuse")
    } else if has("etc/gentoo-release") {
        Some("gentoo")
    } else if has("etc/NIXOS") {
        Some("nixos")
    } else {
        None
    }
}

/// Build the root file system on `volume`, mounting it at `mount_dir` meanwhile. Returns
/// the detected distribution.
pub fn create_rootfs(
    spec: &RootfsSpec<'_>,
    volume: &VolumePath,
    mount_dir: &Path,
    log: &dyn Fn(String),
) -> Result<Option<&'static str>> {
    let template = spec.template;
    let meta = std::fs::metadata(template).map_err(|e| LxcError::Template {
        path: template.to_path_buf(),
        message: format!("cannot open: {e}"),
    })?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(LxcError::Template {
            path: template.to_path_buf(),
            message: "not a template archive".into(),
        });
    }
    let ids = RootIds::for_config(spec.conf);
    match volume {
        VolumePath::Image(p) | VolumePath::Block(p) => {
            log(format!("Creating filesystem ext4 on {}", p.display()));
            make_ext4(p, (ids.uid, ids.gid))?;
        }
        VolumePath::Dir(p) => {
            lchown(p, Some(ids.uid), Some(ids.gid)).map_err(io("chown", p))?;
        }
    }
    let mount = HostMount::mount(volume, mount_dir)?;
    let root = mount.path().to_path_buf();
    log(format!("extracting archive '{}'", template.display()));
    let root_arg = root.to_string_lossy().into_owned();
    run(
        "tar",
        &[
            "--numeric-owner",
            "-xpf",
            &template.to_string_lossy(),
            "-C",
            &root_arg,
            "--anchored",
            "--exclude=./dev/*",
        ],
    )
    .map_err(|e| LxcError::Template {
        path: template.to_path_buf(),
        message: format!("extracting failed: {e}"),
    })?;
    if ids.uid != 0 {
        log(format!("shifting ownership by {} (unprivileged)", ids.uid));
        shift_ids(&root, ids.uid)?;
    }
    let ostype = detect_ostype(&root);
    let mut conf = spec.conf.clone();
    if let (None, Some(os)) = (conf.ostype(), ostype) {
        let _ = conf.set("ostype", os);
    }
    setup::apply_config(&root, spec.vmid, &conf)?;
    setup::set_root_credentials(&root, ids, spec.password, spec.ssh_public_keys)?;
    mount.unmount()?;
    Ok(ostype)
}

/// A new ext4 file system on image or device `path`, its root directory owned by `owner`
/// (uid, gid).
pub fn make_ext4(path: &Path, owner: (u32, u32)) -> Result<()> {
    let owner = format!("root_owner={}:{}", owner.0, owner.1);
    run(
        "mkfs.ext4",
        &["-q", "-F", "-E", &owner, &path.to_string_lossy()],
    )?;
    Ok(())
}

/// Add `base` to the owner and group of every file below `root` (one file system, never
/// following symlinks), keeping setuid/setgid bits that chown clears.
pub fn shift_ids(root: &Path, base: u32) -> Result<()> {
    let dev = std::fs::symlink_metadata(root)
        .map_err(io("reading", root))?
        .dev();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(io("reading", &path))?;
        if meta.dev() != dev {
            continue;
        }
        let shift = |id: u32| if id < IDMAP_SIZE { id + base } else { id };
        lchown(&path, Some(shift(meta.uid())), Some(shift(meta.gid())))
            .map_err(io("chown", &path))?;
        let ft = meta.file_type();
        if !ft.is_symlink() && meta.mode() & 0o6000 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(io("chmod", &path))?;
        }
        if ft.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(io("listing", &path))? {
                stack.push(entry.map_err(io("listing", &path))?.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_owners_and_keeps_setuid() {
        if !nix::unistd::Uid::effective().is_root() {
            return; // chown needs root
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/su"), "x").unwrap();
        lchown(root.join("bin/su"), Some(0), Some(5)).unwrap();
        std::fs::set_permissions(root.join("bin/su"), std::fs::Permissions::from_mode(0o4755))
            .unwrap();
        std::os::unix::fs::symlink("su", root.join("bin/link")).unwrap();
        shift_ids(root, 100_000).unwrap();
        let m = std::fs::metadata(root.join("bin/su")).unwrap();
        assert_eq!((m.uid(), m.gid()), (100_000, 100_005));
        assert_eq!(m.mode() & 0o7777, 0o4755);
        let l = std::fs::symlink_metadata(root.join("bin/link")).unwrap();
        assert_eq!(l.uid(), 100_000);
    }
}
