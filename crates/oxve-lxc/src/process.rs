//! A container as the kernel sees it: the LXC monitor (its pid is in the pidfile written by
//! `lxc-start -p`; it lives exactly as long as the container) and the init's cgroups.

use std::path::Path;

/// The pid in a pidfile, if it holds one.
pub fn read_pidfile(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is the LXC monitor of container `name` under `lxc_path` (and not a zombie):
/// a recycled pid is never taken for the container.
pub fn is_monitor_of(pid: u32, lxc_path: &Path, name: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline);
    let expected = format!("[lxc monitor] {} {name}", lxc_path.display());
    if cmdline.trim_end_matches('\0') != expected {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .trim_start()
        .starts_with('Z')
}

/// The only child of `pid` (`/proc/<pid>/task/<pid>/children`), if it has exactly one.
pub fn only_child(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    let mut children = text.split_whitespace().filter_map(|c| c.parse().ok());
    let first = children.next()?;
    children.next().is_none().then_some(first)
}

/// The cgroup (v1) path of `pid` for `controller`, from `/proc/<pid>/cgroup`.
pub fn cgroup_of(pid: u32, controller: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    parse_cgroup(&text, controller)
}

pub fn parse_cgroup(text: &str, controller: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_string())
    })
}

/// A cgroup v1 file of `pid`'s cgroup, e.g. (`memory`, `memory.usage_in_bytes`).
pub fn cgroup_file(pid: u32, controller: &str, file: &str) -> Option<String> {
    let path = cgroup_of(pid, controller)?;
    let full = format!(
        "/sys/fs/cgroup/{controller}{}/{file}",
        if path == "/" { "" } else { &path }
    );
    std::fs::read_to_string(full)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A cgroup number (`max` and unreadable files give `None`).
pub fn cgroup_u64(pid: u32, controller: &str, file: &str) -> Option<u64> {
    cgroup_file(pid, controller, file)?.parse().ok()
}

/// Bytes received and sent by the container's interfaces other than `lo`, from the init's
/// network namespace.
pub fn net_counters(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    parse_net_dev(&text)
}

pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// Seconds since `pid` started.
pub fn uptime_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let starttime: u64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((uptime as u64).saturating_sub(starttime / ticks.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_and_net_dev() {
        let cg = "9:name=systemd:/lxc.payload.100\n5:cpu,cpuacct:/lxc.payload.100\n4:memory:/lxc.payload.100\n";
        assert_eq!(
            parse_cgroup(cg, "memory").as_deref(),
            Some("/lxc.payload.100")
        );
        assert_eq!(
            parse_cgroup(cg, "cpuacct").as_deref(),
            Some("/lxc.payload.100")
        );
        assert_eq!(parse_cgroup(cg, "pids"), None);
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 2000 10 0 0 0 0 0 0 3000 12 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(dev), (2000, 3000));
    }

    #[test]
    fn own_process_is_no_monitor() {
        assert!(!is_monitor_of(
            std::process::id(),
            Path::new("/run/oxve/lxc"),
            "100"
        ));
        assert!(uptime_of(std::process::id()).is_some());
    }
}
