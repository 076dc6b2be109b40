//! CPU model and usage. Usage is a fraction of all CPUs (0.0..=1.0) between two samples of
//! `/proc/stat`, as Proxmox reports `cpu`.

use std::fs;
use std::sync::Mutex;

use serde::Serialize;

/// Static CPU facts, shaped like Proxmox's `cpuinfo` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuInfo {
    pub model: String,
    pub cpus: u32,
    pub cores: u32,
    pub sockets: u32,
    pub mhz: String,
    pub hvm: String,
    pub flags: String,
    pub user_hz: u32,
}

/// Parse `/proc/cpuinfo`.
pub fn cpu_info() -> CpuInfo {
    let text = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    parse_cpuinfo(&text)
}

fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut model = String::new();
    let mut mhz = String::new();
    let mut flags = String::new();
    let mut cpus = 0;
    let mut physical_ids = std::collections::BTreeSet::new();
    let mut cores_per_socket = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => cpus += 1,
            "model name" if model.is_empty() => model = value.to_string(),
            "cpu MHz" if mhz.is_empty() => mhz = value.to_string(),
            "flags" if flags.is_empty() => flags = value.to_string(),
            "physical id" => {
                physical_ids.insert(value.to_string());
            }
            "cpu cores" => cores_per_socket = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let sockets = physical_ids.len().max(1) as u32;
    let hvm = flags.split_whitespace().any(|f| f == "vmx" || f == "svm");
    CpuInfo {
        model,
        cpus: cpus.max(1),
        cores: if cores_per_socket > 0 {
            cores_per_socket
        } else {
            cpus.max(1)
        },
        sockets,
        mhz,
        hvm: if hvm { "1".into() } else { "0".into() },
        flags,
        user_hz: 100,
    }
}

/// Cumulative CPU jiffies from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

impl CpuTimes {
    pub fn read() -> CpuTimes {
        let text = fs::read_to_string("/proc/stat").unwrap_or_default();
        parse_stat(&text)
    }
}

fn parse_stat(text: &str) -> CpuTimes {
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return CpuTimes::default();
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    }
}

/// Remembers the previous sample so each call reports usage since the last one.
#[derive(Debug, Default)]
pub struct CpuSampler {
    last: Mutex<(CpuTimes, f64)>,
}

impl CpuSampler {
    pub fn new() -> Self {
        CpuSampler {
            last: Mutex::new((CpuTimes::read(), 0.0)),
        }
    }

    /// Take a sample; returns the usage fraction since the previous one (or the last known
    /// value when too little time passed).
    pub fn sample(&self) -> f64 {
        let now = CpuTimes::read();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (prev, prev_usage) = *last;
        let total = now.total.saturating_sub(prev.total);
        if total < 10 {
            return prev_usage;
        }
        let usage = now.busy.saturating_sub(prev.busy) as f64 / total as f64;
        *last = (now, usage);
        usage
    }

    /// The last computed usage without sampling.
    pub fn last(&self) -> f64 {
        self.last.lock().map(|l| l.1).unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_cpuinfo() {
        let t = parse_stat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n");
        assert_eq!(t.total, 1000);
        assert_eq!(t.busy, 150);
        let info = parse_cpuinfo(
            "processor\t: 0\nmodel name\t: Test CPU\nflags\t: fpu vmx sse\nphysical id\t: 0\ncpu cores\t: 2\nprocessor\t: 1\nphysical id\t: 0\n",
        );
        assert_eq!(info.cpus, 2);
        assert_eq!(info.cores, 2);
        assert_eq!(info.sockets, 1);
        assert_eq!(info.hvm, "1");
        assert_eq!(info.model, "Test CPU");
    }

    #[test]
    fn real_host_has_cpus() {
        assert!(cpu_info().cpus >= 1);
        assert!(CpuTimes::read().total > 0);
    }
}
