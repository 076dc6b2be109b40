//! Load, uptime, kernel version and file system usage.

use std::fs;
use std::path::Path;

use serde::Serialize;

/// The 1/5/15-minute load averages as strings, as Proxmox returns them.
pub fn load_average() -> [String; 3] {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = text.split_whitespace().map(str::to_string);
    [
        it.next().unwrap_or_else(|| "0".into()),
        it.next().unwrap_or_else(|| "0".into()),
        it.next().unwrap_or_else(|| "0".into()),
    ]
}

/// Seconds since boot.
pub fn uptime() -> u64 {
    fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |s| s as u64)
}

/// Boot time as a Unix timestamp (the `btime` line of /proc/stat).
pub fn boot_time() -> u64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `uname` fields, shaped like Proxmox's `current-kernel`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KernelVersion {
    pub sysname: String,
    pub release: String,
    pub version: String,
    pub machine: String,
}

impl KernelVersion {
    /// Proxmox's `kversion` string: "Linux <release> <version>".
    pub fn kversion(&self) -> String {
        format!("{} {} {}", self.sysname, self.release, self.version)
    }
}

pub fn kernel_version() -> KernelVersion {
    let u = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        u.as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    KernelVersion {
        sysname: field(|u| u.sysname()),
        release: field(|u| u.release()),
        version: field(|u| u.version()),
        machine: field(|u| u.machine()),
    }
}

/// Usage of the file system holding `path`, in bytes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct FsUsage {
    pub total: u64,
    pub used: u64,
    pub avail: u64,
    pub free: u64,
}

pub fn fs_usage(path: &Path) -> FsUsage {
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return FsUsage::default();
    };
    let frag = st.fragment_size();
    let total = st.blocks() * frag;
    let free = st.blocks_free() * frag;
    let avail = st.blocks_available() * frag;
    FsUsage {
        total,
        used: total.saturating_sub(free),
        avail,
        free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_host() {
        assert!(uptime() > 0);
        assert!(boot_time() > 1_000_000_000);
        assert_eq!(kernel_version().sysname, "Linux");
        assert!(fs_usage(Path::new("/")).total > 0);
        assert!(load_average()[0].parse::<f64>().is_ok());
    }
}
