//! Directory storages on a network file system that the plugin mounts itself (`nfs`,
//! `cifs`): activation mounts the share at `path` when it is not mounted yet, status
//! reports an unmounted share as inactive, and everything else works as in `dir`.

use std::path::{Path, PathBuf};

use crate::capabilities::Capabilities;
use crate::command::Cmd;
use crate::config::StorageEntry;
use crate::content::ContentType;
use crate::error::StorageError;
use crate::fsutil;
use crate::plugin::{
    AllocRequest, CopyTarget, PluginContext, StoragePlugin, StorageStatus, VolumeEntry,
    VolumeFilter, VolumeInfo,
};
use crate::plugins::dir::DirPlugin;
use crate::volid::VolName;

/// What differs between network file systems.
pub trait NetFs: Send + Sync {
    /// The mount source as it appears in `/proc/mounts` (`server:/export`, `//server/share`).
    fn source(&self, entry: &StorageEntry) -> Result<String, StorageError>;
    /// File system type prefix in `/proc/mounts` (`nfs` also matches `nfs4`).
    fn fstype(&self) -> &'static str;
    /// The mount command.
    fn mount_cmd(&self, entry: &StorageEntry, ctx: &PluginContext) -> Result<Cmd, StorageError>;
}

/// `[addr]` for IPv6 literals, as mount sources need.
pub fn bracket_ipv6(server: &str) -> String {
    if server.contains(':') && !server.starts_with('[') {
        format!("[{server}]")
    } else {
        server.to_string()
    }
}

/// A mounted directory storage.
pub struct NetFsPlugin<K: NetFs> {
    dir: DirPlugin,
    kind: K,
}

impl<K: NetFs> NetFsPlugin<K> {
    /// A plugin for `entry`.
    pub fn with_kind(entry: StorageEntry, ctx: PluginContext, kind: K) -> Self {
        NetFsPlugin {
            dir: DirPlugin::new(entry, ctx),
            kind,
        }
    }

    fn mount_path(&self) -> Result<PathBuf, StorageError> {
        self.dir.base_path()
    }

    /// Whether the share is mounted at `path`.
    pub fn is_mounted(&self) -> Result<bool, StorageError> {
        let source = self.kind.source(self.dir.entry())?;
        let path = self.mount_path()?;
        let mounts = fsutil::read_mounts(&self.dir.ctx().mounts_file)?;
        Ok(mounts.iter().any(|m| {
            m.fstype.starts_with(self.kind.fstype())
                && m.source.trim_end_matches('/') == source.trim_end_matches('/')
                && Path::new(&m.target) == path
        }))
    }
}

impl<K: NetFs> StoragePlugin for NetFsPlugin<K> {
    fn entry(&self) -> &StorageEntry {
        self.dir.entry()
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.dir.file_caps();
        caps.shared = true;
        caps
    }

    fn activate(&self) -> Result<(), StorageError> {
        if !self.is_mounted()? {
            let path = self.mount_path()?;
            // Only create the mount point when not mounted: a dead server would hang mkdir.
            if !path.is_dir()
                && self.entry().props.mkdir != Some(false)
                && self.entry().props.create_base_path != Some(false)
            {
                std::fs::create_dir_all(&path)
                    .map_err(|e| StorageError::io("create directory", &path, e))?;
            }
            if !path.is_dir() {
                return Err(StorageError::Activate {
                    storage: self.id().to_string(),
                    reason: format!("directory '{}' does not exist", path.display()),
                });
            }
            let cmd = self.kind.mount_cmd(self.entry(), self.dir.ctx())?;
            self.dir.ctx().runner.run_ok(&cmd)?;
        }
        self.dir.activate_dirs()
    }

    fn deactivate(&self) -> Result<(), StorageError> {
        if self.is_mounted()? {
            let cmd = Cmd::new("umount").arg(self.mount_path()?);
            self.dir.ctx().runner.run_ok(&cmd)?;
        }
        Ok(())
    }

    fn status(&self) -> Result<StorageStatus, StorageError> {
        if !self.is_mounted()? {
            return Ok(StorageStatus::default());
        }
        self.dir.status()
    }

    fn parse_volname(&self, volname: &str) -> Result<VolName, StorageError> {
        self.dir.parse_volname(volname)
    }

    fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<VolumeEntry>, StorageError> {
        self.dir.list_volumes(filter)
    }

    fn alloc_image(&self, req: &AllocRequest) -> Result<String, StorageError> {
        self.dir.alloc_image(req)
    }

    fn alloc_copy_target(&self, req: &AllocRequest) -> Result<(String, CopyTarget), StorageError> {
        self.dir.alloc_copy_target(req)
    }

    fn free_image(&self, volname: &str) -> Result<(), StorageError> {
        self.dir.free_image(volname)
    }

    fn volume_info(&self, volname: &str) -> Result<VolumeInfo, StorageError> {
        self.dir.volume_info(volname)
    }

    fn resize(&self, volname: &str, size: u64) -> Result<(), StorageError> {
        self.dir.resize(volname, size)
    }

    fn path(&self, volname: &str) -> Result<PathBuf, StorageError> {
        self.dir.path(volname)
    }

    fn content_path(&self, content: ContentType, name: &str) -> Result<PathBuf, StorageError> {
        self.dir.content_path(content, name)
    }

    fn snapshot_create(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        self.dir.snapshot_create(volname, snap)
    }

    fn snapshot_delete(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        self.dir.snapshot_delete(volname, snap)
    }

    fn snapshot_rollback(&self, volname: &str, snap: &str) -> Result<(), StorageError> {
        self.dir.snapshot_rollback(volname, snap)
    }

    fn create_base(&self, volname: &str) -> Result<String, StorageError> {
        self.dir.create_base(volname)
    }

    fn clone_image(
        &self,
        volname: &str,
        vmid: u32,
        snap: Option<&str>,
    ) -> Result<String, StorageError> {
        self.dir.clone_image(volname, vmid, snap)
    }
}
