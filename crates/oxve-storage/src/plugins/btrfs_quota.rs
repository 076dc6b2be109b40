//! btrfs quota groups of subvolumes: the size limit of a container subvolume is the
//! `max_rfer` limit of its level-0 qgroup (`0/<subvolume id>`), its usage the bytes the
//! qgroup references. Quotas are enabled on the file system when a limit is first set.

use std::path::Path;

use crate::command::{Cmd, CommandRunner};
use crate::error::StorageError;

/// One line of `btrfs qgroup show --raw -r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Qgroup {
    /// `0/<subvolume id>` for a subvolume's own qgroup.
    pub id: String,
    /// Bytes referenced (shared with snapshots or not).
    pub referenced: u64,
    /// The limit of referenced bytes; `None`: no limit.
    pub max_referenced: Option<u64>,
}

/// The qgroups in `btrfs qgroup show --raw -r` output (columns qgroupid, rfer, excl,
/// max_rfer, and a path in newer btrfs-progs); header lines are skipped.
pub(crate) fn parse_qgroup_show(text: &str) -> Vec<Qgroup> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || !f[0].contains('/') || f[0].starts_with('-') {
                return None;
            }
            Some(Qgroup {
                id: f[0].to_string(),
                referenced: f[1].parse().ok()?,
                max_referenced: match f[3] {
                    "none" | "0" => None,
                    n => Some(n.parse().ok()?),
                },
            })
        })
        .collect()
}

/// The subvolume id in `btrfs subvolume show` output.
pub(crate) fn parse_subvolume_id(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("Subvolume ID:")
            .or_else(|| l.strip_prefix("Object ID:"))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Quota commands on one btrfs file system.
pub(crate) struct Quota<'a> {
    pub runner: &'a dyn CommandRunner,
}

impl Quota<'_> {
    fn btrfs(&self, args: &[&str], path: &Path) -> Cmd {
        Cmd::new("btrfs").args(args).arg("--").arg(path)
    }

    /// Enable quotas on the file system holding `path` (nothing happens when they are on).
    pub fn enable(&self, path: &Path) -> Result<(), StorageError> {
        // (`quota enable` takes no `--`)
        let cmd = Cmd::new("btrfs").args(["-q", "quota", "enable"]).arg(path);
        self.runner.run_ok(&cmd)?;
        Ok(())
    }

    /// Limit subvolume `subvol` to `bytes` referenced bytes (0: no limit), enabling quotas
    /// first when a limit is set.
    pub fn limit(&self, subvol: &Path, bytes: u64) -> Result<(), StorageError> {
        if bytes > 0 {
            self.enable(subvol)?;
        } else if self.own_qgroup(subvol)?.is_none() {
            return Ok(()); // quotas off: there is no limit to lift
        }
        let size = if bytes == 0 {
            "none".to_string()
        } else {
            bytes.to_string()
        };
        let cmd = Cmd::new("btrfs")
            .args(["-q", "qgroup", "limit", "--", &size])
            .arg(subvol);
        self.runner.run_ok(&cmd)?;
        Ok(())
    }

    /// Every qgroup of the file system holding `path`, or `None` when quotas are off.
    pub fn all(&self, path: &Path) -> Result<Option<Vec<Qgroup>>, StorageError> {
        let out = self
            .runner
            .run(&self.btrfs(&["qgroup", "show", "--raw", "-r"], path))?;
        Ok((out.status == 0).then(|| parse_qgroup_show(&out.stdout)))
    }

    /// The subvolume's own qgroup, or `None` when quotas are off.
    pub fn own_qgroup(&self, subvol: &Path) -> Result<Option<Qgroup>, StorageError> {
        let show = self.btrfs(&["qgroup", "show", "--raw", "-r", "-f"], subvol);
        let out = self.runner.run(&show)?;
        if out.status != 0 {
            return Ok(None);
        }
        let id = format!("0/{}", self.subvolume_id(subvol)?);
        Ok(parse_qgroup_show(&out.stdout)
            .into_iter()
            .find(|q| q.id == id))
    }

    /// The subvolume id of `subvol`.
    pub fn subvolume_id(&self, subvol: &Path) -> Result<u64, StorageError> {
        let out = self
            .runner
            .run_ok(&self.btrfs(&["subvolume", "show"], subvol))?;
        parse_subvolume_id(&out.stdout).ok_or_else(|| StorageError::CommandOutput {
            command: format!("btrfs subvolume show {}", subvol.display()),
            reason: "no subvolume id in the output".into(),
        })
    }

    /// After subvolumes `ids` below `dir` were deleted: wait until btrfs dropped them, then
    /// remove their qgroups (newer kernels do that themselves; errors are ignored).
    pub fn destroy_qgroups(&self, dir: &Path, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        // A commit wakes the cleaner at once (it would wait for the next periodic commit).
        let commit = Cmd::new("btrfs")
            .args(["-q", "filesystem", "sync"])
            .arg(dir);
        let _ = self.runner.run(&commit);
        let sync = Cmd::new("btrfs")
            .args(["-q", "subvolume", "sync"])
            .arg(dir)
            .args(&ids);
        let _ = self.runner.run(&sync);
        for id in ids {
            let destroy = Cmd::new("btrfs")
                .args(["-q", "qgroup", "destroy", &format!("0/{id}")])
                .arg(dir);
            let _ = self.runner.run(&destroy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qgroup_show() {
        let text = "Qgroupid    Referenced    Exclusive  Max referenced   Path \n\
                    --------    ----------    ---------  --------------   ---- \n\
                    0/5              16384        16384            none   <toplevel>\n\
                    0/256        104841216    104841216       104857600   images/100/a\n";
        let q = parse_qgroup_show(text);
        assert_eq!(q.len(), 2);
        assert_eq!(
            q[1],
            Qgroup {
                id: "0/256".into(),
                referenced: 104841216,
                max_referenced: Some(104857600)
            }
        );
        assert_eq!(q[0].max_referenced, None);
        // older btrfs-progs: no path column
        let old = "qgroupid         rfer         excl     max_rfer \n0/257 4096 4096 0\n";
        assert_eq!(parse_qgroup_show(old)[0].max_referenced, None);
    }

    #[test]
    fn parses_subvolume_id() {
        let text = "images/100/subvol-100-disk-0.subvol\n\tName: \t\tsubvol-100-disk-0.subvol\n\
                    \tUUID: \t\t6bb33e80\n\tSubvolume ID: \t\t258\n\tGeneration: \t\t9\n";
        assert_eq!(parse_subvolume_id(text), Some(258));
        assert_eq!(parse_subvolume_id("Name: x\n"), None);
    }
}
