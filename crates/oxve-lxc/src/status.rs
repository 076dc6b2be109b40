//! `GET .../status/current` of a container: run state from the monitor, usage from the
//! init's cgroups (v1), network counters from its namespace, disk use from its root.

use std::time::Instant;

use oxve_types::lxc::CtConfig;
use serde::Serialize;

use crate::engine::{lock, LxcEngine};
use crate::process;

/// The last CPU reading of a container, to turn cumulative time into a rate.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    at: Instant,
    usage_ns: u64,
}

/// Proxmox's container status fields.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CtStatus {
    pub vmid: u32,
    pub name: String,
    /// `running` or `stopped`.
    pub status: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub cpus: f64,
    /// CPU use as a fraction of `cpus`.
    pub cpu: f64,
    pub mem: u64,
    pub maxmem: u64,
    pub swap: u64,
    pub maxswap: u64,
    pub disk: u64,
    pub maxdisk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub uptime: u64,
    /// Cumulative CPU time of the container's cgroup (ns): a sampler computes its own rate
    /// from it, as `cpu` is relative to whichever status call came before.
    #[serde(skip)]
    pub cputime_ns: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Set while the container's processes are frozen (suspend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frozen: Option<u8>,
}

/// Sum of `blkio.throttle.io_service_bytes` Read/Write lines.
fn blkio_bytes(text: &str) -> (u64, u64) {
    let mut read = 0;
    let mut write = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 3 {
            let n: u64 = f[2].parse().unwrap_or(0);
            match f[1] {
                "Read" => read += n,
                "Write" => write += n,
                _ => {}
            }
        }
    }
    (read, write)
}

/// One entry of `GET .../interfaces` from one link of `ip -j addr`: the first IPv4 and
/// IPv6 address, as Proxmox reports them.
pub(crate) fn interface_entry(link: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    out.insert(
        "name".into(),
        link["ifname"].as_str().unwrap_or_default().into(),
    );
    out.insert("hwaddr".into(), text(&link["address"]).into());
    for info in link["addr_info"].as_array().into_iter().flatten() {
        let key = match info["family"].as_str() {
            Some("inet") => "inet",
            Some("inet6") => "inet6",
            _ => continue,
        };
        if !out.contains_key(key) {
            let cidr = format!("{}/{}", text(&info["local"]), info["prefixlen"]);
            out.insert(key.into(), cidr.into());
        }
    }
    serde_json::Value::Object(out)
}

impl LxcEngine {
    /// The status of a container as configured by `conf`.
    pub async fn status(&self, vmid: u32, conf: &CtConfig) -> CtStatus {
        let cpus = match (conf.cores(), conf.cpulimit()) {
            (_, l) if l > 0.0 => l,
            (Some(c), _) => c.min(self.host.cpus) as f64,
            (None, _) => self.host.cpus as f64,
        };
        let maxmem = conf.memory_mib() << 20;
        let maxswap = conf.swap_mib() << 20;
        let maxdisk = conf.rootfs().and_then(|r| r.size()).unwrap_or(0);
        let mut st = CtStatus {
            vmid,
            name: conf
                .hostname()
                .map(str::to_string)
                .unwrap_or_else(|| format!("CT{vmid}")),
            status: "stopped".into(),
            kind: "lxc",
            cpus,
            cpu: 0.0,
            mem: 0,
            maxmem,
            swap: 0,
            maxswap,
            disk: 0,
            maxdisk,
            netin: 0,
            netout: 0,
            diskread: 0,
            diskwrite: 0,
            uptime: 0,
            cputime_ns: 0,
            pid: None,
            frozen: None,
        };
        let Some(pid) = self.init_pid(vmid).await else {
            lock(&self.samples).remove(&vmid);
            return st;
        };
        st.status = "running".into();
        st.pid = Some(pid);
        st.uptime = process::uptime_of(pid).unwrap_or(0);
        let mem = process::cgroup_u64(pid, "memory", "memory.usage_in_bytes").unwrap_or(0);
        let cache = process::cgroup_file(pid, "memory", "memory.stat")
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("total_cache ").and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0u64);
        // like Proxmox: page cache does not count as used memory
        st.mem = mem.saturating_sub(cache);
        if let Some(memsw) = process::cgroup_u64(pid, "memory", "memory.memsw.usage_in_bytes") {
            st.swap = memsw.saturating_sub(mem);
        }
        let (rx, tx) = process::net_counters(pid);
        st.netin = rx;
        st.netout = tx;
        if let Some(text) = process::cgroup_file(pid, "blkio", "blkio.throttle.io_service_bytes") {
            (st.diskread, st.diskwrite) = blkio_bytes(&text);
        }
        if let Ok(vfs) = nix::sys::statvfs::statvfs(format!("/proc/{pid}/root").as_str()) {
            let frsize = vfs.fragment_size();
            st.maxdisk = vfs.blocks() * frsize;
            st.disk = vfs.blocks().saturating_sub(vfs.blocks_free()) * frsize;
        }
        if self.is_frozen(pid) {
            st.frozen = Some(1);
        }
        if let Some(usage) = process::cgroup_u64(pid, "cpuacct", "cpuacct.usage") {
            st.cputime_ns = usage;
            let now = Instant::now();
            let prev = lock(&self.samples).insert(
                vmid,
                CpuSample {
                    at: now,
                    usage_ns: usage,
                },
            );
            if let Some(prev) = prev {
                let wall = now.duration_since(prev.at).as_nanos() as f64;
                if wall > 0.0 && cpus > 0.0 {
                    let used = usage.saturating_sub(prev.usage_ns) as f64;
                    st.cpu = (used / wall / cpus).clamp(0.0, 1.0);
                }
            }
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_from_ip_json() {
        let link: serde_json::Value = serde_json::from_str(
            r#"{"ifname":"eth0","address":"bc:24:11:00:00:01","addr_info":[{"family":"inet","local":"10.0.0.2","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64},{"family":"inet","local":"10.0.0.3","prefixlen":24}]}"#,
        )
        .unwrap();
        assert_eq!(
            interface_entry(&link),
            serde_json::json!({"name": "eth0", "hwaddr": "bc:24:11:00:00:01", "inet": "10.0.0.2/24", "inet6": "fe80::1/64"})
        );
    }

    #[test]
    fn blkio_sums_read_and_write() {
        let text = "7:0 Read 4096\n7:0 Write 8192\n7:0 Sync 0\n8:0 Read 1\nTotal 12289\n";
        assert_eq!(blkio_bytes(text), (4097, 8192));
    }
}
