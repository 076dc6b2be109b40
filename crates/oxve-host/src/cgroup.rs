//! A guest's own cgroup, for CPU weight and limit (`cpuunits`, `cpulimit`) and accounting,
//! on cgroup v1 (one hierarchy per controller, as on this build machine) or v2 (unified).
//!
//! Proxmox maps `cpuunits` to `cpu.shares` (v1, default 1024) or `cpu.weight` (v2, default
//! 100), and `cpulimit` to a CFS quota of `cpulimit` CPUs per 100 ms period.

use std::path::{Path, PathBuf};

/// The CFS period the quota is expressed in (100 ms, as Proxmox).
const PERIOD_US: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no usable cgroup hierarchy under {0}")]
    NoHierarchy(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Which cgroup layout the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl CgroupVersion {
    /// Looks at `root` (normally `/sys/fs/cgroup`).
    pub fn detect(root: &Path) -> Option<CgroupVersion> {
        if root.join("cgroup.controllers").exists() {
            Some(CgroupVersion::V2)
        } else if root.join("cpu/cpu.shares").exists() {
            Some(CgroupVersion::V1)
        } else {
            None
        }
    }
}

/// The cgroup of one guest: `<root>/<controller>/<parent>/<name>` on v1, `<root>/<parent>/<name>`
/// on v2.
#[derive(Debug, Clone)]
pub struct GuestCgroup {
    version: CgroupVersion,
    /// One directory per controller (v1: cpu, cpuacct, memory, pids) or the one (v2).
    dirs: Vec<PathBuf>,
}

const V1_CONTROLLERS: &[&str] = &["cpu", "cpuacct", "memory", "pids"];

impl GuestCgroup {
    /// The cgroup `parent/name` under `root` (not created yet).
    pub fn new(root: &Path, parent: &str, name: &str) -> Result<GuestCgroup, CgroupError> {
        let version =
            CgroupVersion::detect(root).ok_or_else(|| CgroupError::NoHierarchy(root.into()))?;
        let dirs = match version {
            CgroupVersion::V1 => V1_CONTROLLERS
                .iter()
                .map(|c| root.join(c).join(parent).join(name))
                .filter(|d| d.parent().and_then(Path::parent).is_some_and(Path::exists))
                .collect(),
            CgroupVersion::V2 => vec![root.join(parent).join(name)],
        };
        Ok(GuestCgroup { version, dirs })
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        match self.version {
            CgroupVersion::V2 => self.dirs.first().map(PathBuf::as_path),
            CgroupVersion::V1 => self
                .dirs
                .iter()
                .find(|d| {
                    d.parent()
                        .and_then(Path::parent)
                        .and_then(Path::file_name)
                        .is_some_and(|c| c == controller)
                })
                .map(PathBuf::as_path),
        }
    }

    /// Creates the cgroup (and its parent) and moves process `pid` with all its threads in.
    pub fn attach(&self, pid: u32) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            if self.version == CgroupVersion::V2 {
                // Controllers must be enabled in every ancestor's subtree for the leaf.
                if let Some(parent) = dir.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                    for ancestor in [parent.parent(), Some(parent)].into_iter().flatten() {
                        let control = ancestor.join("cgroup.subtree_control");
                        let _ = std::fs::write(&control, "+cpu +memory +pids");
                    }
                }
            }
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string()).map_err(io(&procs))?;
        }
        Ok(())
    }

    fn write(&self, controller: &str, file: &str, value: &str) -> Result<(), CgroupError> {
        let Some(dir) = self.dir(controller) else {
            return Ok(());
        };
        let path = dir.join(file);
        std::fs::write(&path, value).map_err(io(&path))
    }

    fn read(&self, controller: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir(controller)?.join(file)).ok()
    }

    /// `cpuunits`: the relative CPU weight (`None`: the default).
    pub fn set_cpu_units(&self, units: Option<u64>) -> Result<(), CgroupError> {
        match self.version {
            CgroupVersion::V1 => {
                let shares = units.unwrap_or(1024).clamp(2, 262_144);
                self.write("cpu", "cpu.shares", &shares.to_string())
            }
            CgroupVersion::V2 => {
                let weight = units.unwrap_or(100).clamp(1, 10_000);
                self.write("cpu", "cpu.weight", &weight.to_string())
            }
        }
    }

    /// `cpulimit`: at most this many CPUs' worth of time (`None` or 0: unlimited).
    pub fn set_cpu_limit(&self, cpus: Option<f64>) -> Result<(), CgroupError> {
        let quota = cpus
            .filter(|c| *c > 0.0)
            .map(|c| (c * PERIOD_US as f64) as u64);
        match self.version {
            CgroupVersion::V1 => {
                self.write("cpu", "cpu.cfs_period_us", &PERIOD_US.to_string())?;
                let q = quota.map_or("-1".to_string(), |q| q.to_string());
                self.write("cpu", "cpu.cfs_quota_us", &q)
            }
            CgroupVersion::V2 => {
                let q = quota.map_or("max".to_string(), |q| q.to_string());
                self.write("cpu", "cpu.max", &format!("{q} {PERIOD_US}"))
            }
        }
    }

    /// The CFS quota now set, in CPUs (`None`: unlimited).
    pub fn cpu_limit(&self) -> Option<f64> {
        let (quota, period) = match self.version {
            CgroupVersion::V1 => (
                self.read("cpu", "cpu.cfs_quota_us")?
                    .trim()
                    .parse::<i64>()
                    .ok()?,
                self.read("cpu", "cpu.cfs_period_us")?
                    .trim()
                    .parse::<i64>()
                    .ok()?,
            ),
            CgroupVersion::V2 => {
                let text = self.read("cpu", "cpu.max")?;
                let mut parts = text.split_whitespace();
                let quota = parts.next()?.parse::<i64>().ok()?;
                (quota, parts.next()?.parse::<i64>().ok()?)
            }
        };
        (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
    }

    /// The CPU weight now set.
    pub fn cpu_units(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "cpu.shares",
            CgroupVersion::V2 => "cpu.weight",
        };
        self.read("cpu", file)?.trim().parse().ok()
    }

    /// CPU time used so far, in nanoseconds.
    pub fn cpu_usage_ns(&self) -> Option<u64> {
        match self.version {
            CgroupVersion::V1 => self.read("cpuacct", "cpuacct.usage")?.trim().parse().ok(),
            CgroupVersion::V2 => self
                .read("cpu", "cpu.stat")?
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|us| us * 1000),
        }
    }

    /// Memory charged to the guest, in bytes.
    pub fn memory_usage(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "memory.usage_in_bytes",
            CgroupVersion::V2 => "memory.current",
        };
        self.read("memory", file)?.trim().parse().ok()
    }

    /// Removes the cgroup once its processes are gone (missing is fine), and its parent when
    /// that is empty now.
    pub fn remove(&self) {
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_gets_its_own_limits_on_this_host() {
        let root = Path::new("/sys/fs/cgroup");
        if CgroupVersion::detect(root).is_none() || !nix::unistd::geteuid().is_root() {
            eprintln!("no writable cgroup hierarchy here; skipped");
            return;
        }
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let name = format!("cgtest-{}", std::process::id());
        let cg = GuestCgroup::new(root, "oxve-unit-test", &name).unwrap();
        cg.attach(child.id()).unwrap();
        cg.set_cpu_units(Some(2048)).unwrap();
        cg.set_cpu_limit(Some(1.5)).unwrap();
        assert_eq!(cg.cpu_limit(), Some(1.5));
        assert_eq!(cg.cpu_units(), Some(2048));
        cg.set_cpu_limit(None).unwrap();
        assert_eq!(cg.cpu_limit(), None);
        let procs = std::fs::read_to_string(cg.dirs[0].join("cgroup.procs")).unwrap();
        assert!(procs.lines().any(|p| p == child.id().to_string()));
        child.kill().unwrap();
        child.wait().unwrap();
        cg.remove();
        assert!(cg
            .dirs
            .iter()
            .all(|d| !d.exists() && !d.parent().unwrap().exists()));
    }
}
