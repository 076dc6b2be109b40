//! `nfs`: a directory storage on an NFS export, mounted with
//! `mount -t nfs <server>:<export> <path> [-o <options>]` as Proxmox's NFSPlugin does.

use crate::command::Cmd;
use crate::config::StorageEntry;
use crate::error::StorageError;
use crate::plugin::{PluginContext, StoragePlugin};
use crate::plugins::netfs::{bracket_ipv6, NetFs, NetFsPlugin};

/// The NFS flavour of [`NetFsPlugin`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Nfs;

/// An NFS storage.
pub type NfsPlugin = NetFsPlugin<Nfs>;

fn required<'a>(
    entry: &'a StorageEntry,
    value: &'a Option<String>,
    option: &str,
) -> Result<&'a str, StorageError> {
    value
        .as_deref()
        .ok_or_else(|| StorageError::option(&entry.id, option, "property is missing"))
}

impl NetFs for Nfs {
    fn source(&self, entry: &StorageEntry) -> Result<String, StorageError> {
        let server = required(entry, &entry.props.server, "server")?;
        let export = required(entry, &entry.props.export, "export")?;
        Ok(format!("{}:{export}", bracket_ipv6(server)))
    }

    fn fstype(&self) -> &'static str {
        "nfs"
    }

    fn mount_cmd(&self, entry: &StorageEntry, _ctx: &PluginContext) -> Result<Cmd, StorageError> {
        let path = required(entry, &entry.props.path, "path")?;
        let mut cmd = Cmd::new("mount").args(["-t", "nfs", &self.source(entry)?, path]);
        if let Some(o) = &entry.props.options {
            cmd = cmd.args(["-o", o]);
        }
        Ok(cmd)
    }
}

impl NfsPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        Self::with_kind(entry, ctx, Nfs)
    }

    /// The registry constructor.
    pub fn factory(
        entry: &StorageEntry,
        ctx: &PluginContext,
    ) -> Result<Box<dyn StoragePlugin>, StorageError> {
        Ok(Box::new(Self::new(entry.clone(), ctx.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RecordingRunner;
    use std::sync::Arc;

    #[test]
    fn mounts_when_not_mounted() {
        let dir = tempfile::tempdir().unwrap();
        let mounts = dir.path().join("mounts");
        std::fs::write(&mounts, "proc /proc proc rw 0 0\n").unwrap();
        let path = dir.path().join("mnt");
        let entry = StorageEntry::create(
            "n1",
            "nfs",
            &[
                ("path", path.to_str().unwrap()),
                ("server", "fd00::1"),
                ("export", "/srv/e"),
                ("options", "vers=4.2,soft"),
            ],
        )
        .unwrap();
        let r = Arc::new(RecordingRunner::new());
        let mut ctx = PluginContext::system(dir.path()).with_runner(r.clone());
        ctx.mounts_file = mounts.clone();
        let p = NfsPlugin::new(entry, ctx);
        assert!(!p.status().unwrap().active);
        p.activate().unwrap();
        assert_eq!(
            r.lines(),
            [format!(
                "mount -t nfs '[fd00::1]:/srv/e' {} -o vers=4.2,soft",
                path.display()
            )]
        );
        std::fs::write(
            &mounts,
            format!("[fd00::1]:/srv/e {} nfs4 rw 0 0\n", path.display()),
        )
        .unwrap();
        r.clear();
        p.activate().unwrap();
        assert!(r.lines().is_empty());
        assert!(p.status().unwrap().active);
        assert!(p.capabilities().shared);
        p.deactivate().unwrap();
        assert_eq!(r.lines(), [format!("umount {}", path.display())]);
    }
}
