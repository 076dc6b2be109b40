//! The QEMU process as the kernel sees it: pidfile, `/proc/<pid>` (identity, state, CPU time,
//! start time, memory), signals, and waiting for it to exit.
//!
//! A pid from a pidfile is only trusted when `/proc/<pid>/cmdline` names the VM's QMP socket,
//! so a recycled pid is never mistaken for the VM; a zombie (QEMU exited, not reaped yet by
//! whoever adopted the daemonized process) counts as gone.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::{sysconf, Pid, SysconfVar};
use tokio::time::Instant;

use crate::cmdline::path_str;

/// The fields of `/proc/<pid>/stat` the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// `R`, `S`, `D`, `Z`, ...
    pub state: char,
    /// User CPU time, in clock ticks.
    pub utime: u64,
    /// System CPU time, in clock ticks.
    pub stime: u64,
    /// Start time after boot, in clock ticks.
    pub starttime: u64,
}

impl ProcStat {
    /// Parses the text of `/proc/<pid>/stat` (the command name may hold spaces and parens).
    pub fn parse(text: &str) -> Option<ProcStat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state): field N is fields[N - 3].
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        Some(ProcStat {
            state: fields.first()?.chars().next()?,
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
        })
    }

    /// User plus system CPU time, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime + self.stime
    }
}

/// `/proc/<pid>/stat`, if the process exists.
pub fn read_stat(pid: u32) -> Option<ProcStat> {
    ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The pid in a pidfile, if it holds one.
pub fn read_pidfile(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True when `pid` is a live (not zombie) QEMU serving the QMP socket `qmp`.
pub fn is_qemu_of(pid: u32, qmp: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // The `-qmp` value is `unix:<path>,server=on,wait=off`.
    let prefix = format!("unix:{},", crate::cmdline::qmp_arg_path(&path_str(qmp)));
    let found = cmdline
        .split(|b| *b == 0)
        .any(|arg| arg.starts_with(prefix.as_bytes()));
    found && read_stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

/// Clock ticks per second (`_SC_CLK_TCK`).
pub fn clock_ticks() -> u64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

/// The page size in bytes.
pub fn page_size() -> u64 {
    match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(s)) if s > 0 => s as u64,
        _ => 4096,
    }
}

/// Seconds since the host booted (`/proc/uptime`).
pub fn system_uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Seconds a process with `stat` has been running.
pub fn process_uptime(stat: &ProcStat) -> u64 {
    let started = stat.starttime as f64 / clock_ticks() as f64;
    system_uptime().map_or(0, |now| (now - started).max(0.0) as u64)
}

/// Resident memory of `pid` in bytes (`/proc/<pid>/statm`).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// Sends `signal` to `pid`; false when the process is gone.
pub fn signal(pid: u32, signal: Signal) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    kill(Pid::from_raw(raw), signal).is_ok()
}

/// Waits until `pid` no longer is the QEMU of `qmp`, polling; false after `timeout`.
pub async fn wait_exit(pid: u32, qmp: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_qemu_of(pid, qmp) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing() {
        let text = "1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    5 0 98765 1000000 500 18446744073709551615";
        let s = ProcStat::parse(text).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!((s.utime, s.stime, s.starttime), (250, 50, 98765));
        assert_eq!(s.cpu_ticks(), 300);
        assert!(ProcStat::parse("garbage").is_none());
    }

    #[test]
    fn own_process() {
        let me = std::process::id();
        let stat = read_stat(me).unwrap();
        assert_ne!(stat.state, 'Z');
        assert!(rss_bytes(me).unwrap() > 0);
        assert!(clock_ticks() > 0);
        // the test binary is not a QEMU of any socket
        assert!(!is_qemu_of(me, Path::new("/nonexistent/100.qmp")));
        assert!(!is_qemu_of(u32::MAX, Path::new("/x")));
    }
}
