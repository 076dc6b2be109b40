//! `cifs`: a directory storage on an SMB/CIFS share, mounted with
//! `mount -t cifs //<server>/<share><subdir> <path> -o soft -o ...` as Proxmox's CIFSPlugin
//! does; the password lives in `<priv_dir>/storage/<id>.pw`, never in storage.cfg.

use std::path::PathBuf;

use crate::command::Cmd;
use crate::config::StorageEntry;
use crate::error::StorageError;
use crate::plugin::{PluginContext, StoragePlugin};
use crate::plugins::netfs::{bracket_ipv6, NetFs, NetFsPlugin};

/// The CIFS flavour of [`NetFsPlugin`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Cifs;

/// A CIFS storage.
pub type CifsPlugin = NetFsPlugin<Cifs>;

/// Where the password of storage `id` is kept.
pub fn credentials_path(ctx: &PluginContext, id: &str) -> PathBuf {
    ctx.priv_dir.join("storage").join(format!("{id}.pw"))
}

/// Store (or with `None` remove) the password of storage `id`, readable by root only.
pub fn set_credentials(
    ctx: &PluginContext,
    id: &str,
    password: Option<&str>,
) -> Result<(), StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = credentials_path(ctx, id);
    let Some(password) = password else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StorageError::io("remove", &path, e))
            }
            _ => Ok(()),
        };
    };
    if password.contains(['\n', '\r', '\0']) {
        return Err(StorageError::option(
            id,
            "password",
            "line breaks are not allowed",
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io("create directory", dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| StorageError::io("write", &path, e))?;
    std::io::Write::write_all(&mut file, format!("password={password}\n").as_bytes())
        .map_err(|e| StorageError::io("write", &path, e))
}

impl NetFs for Cifs {
    fn source(&self, entry: &StorageEntry) -> Result<String, StorageError> {
        let server = entry
            .props
            .server
            .as_deref()
            .ok_or_else(|| StorageError::option(&entry.id, "server", "property is missing"))?;
        let share = entry
            .props
            .share
            .as_deref()
            .ok_or_else(|| StorageError::option(&entry.id, "share", "property is missing"))?;
        let subdir = entry.props.subdir.as_deref().unwrap_or("");
        Ok(format!("//{}/{share}{subdir}", bracket_ipv6(server)))
    }

    fn fstype(&self) -> &'static str {
        "cifs"
    }

    fn mount_cmd(&self, entry: &StorageEntry, ctx: &PluginContext) -> Result<Cmd, StorageError> {
        let path = entry
            .props
            .path
            .as_deref()
            .ok_or_else(|| StorageError::option(&entry.id, "path", "property is missing"))?;
        let mut cmd =
            Cmd::new("mount").args(["-t", "cifs", &self.source(entry)?, path, "-o", "soft", "-o"]);
        let cred = credentials_path(ctx, &entry.id);
        match (&entry.props.username, cred.exists()) {
            (Some(user), true) => {
                cmd = cmd
                    .arg(format!("username={user}"))
                    .arg("-o")
                    .arg(format!("credentials={}", cred.display()));
                if let Some(domain) = &entry.props.domain {
                    cmd = cmd.arg("-o").arg(format!("domain={domain}"));
                }
            }
            _ => cmd = cmd.arg("guest,username=guest"),
        }
        let vers = entry.props.smbversion.as_deref().unwrap_or("default");
        cmd = cmd.arg("-o").arg(format!("vers={vers}"));
        if let Some(o) = &entry.props.options {
            cmd = cmd.args(["-o", o]);
        }
        Ok(cmd)
    }
}

impl CifsPlugin {
    /// A plugin for `entry`.
    pub fn new(entry: StorageEntry, ctx: PluginContext) -> Self {
        Self::with_kind(entry, ctx, Cifs)
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

    #[test]
    fn builds_mount_commands() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = PluginContext::system(dir.path());
        let entry = StorageEntry::create(
            "c1",
            "cifs",
            &[
                ("path", "/mnt/pve/c1"),
                ("server", "10.0.0.5"),
                ("share", "vms"),
                ("username", "anna"),
                ("domain", "CORP"),
                ("smbversion", "3.0"),
            ],
        )
        .unwrap();
        let guest = Cifs.mount_cmd(&entry, &ctx).unwrap();
        assert_eq!(
            guest.to_string(),
            "mount -t cifs //10.0.0.5/vms /mnt/pve/c1 -o soft -o guest,username=guest -o vers=3.0"
        );
        set_credentials(&ctx, "c1", Some("secret")).unwrap();
        let cred = credentials_path(&ctx, "c1");
        assert_eq!(std::fs::read_to_string(&cred).unwrap(), "password=secret\n");
        let user = Cifs.mount_cmd(&entry, &ctx).unwrap();
        assert_eq!(
            user.to_string(),
            format!("mount -t cifs //10.0.0.5/vms /mnt/pve/c1 -o soft -o username=anna -o credentials={} -o domain=CORP -o vers=3.0", cred.display())
        );
        set_credentials(&ctx, "c1", None).unwrap();
        assert!(!cred.exists());
    }
}
