//! The metrics sampler: every [`INTERVAL`] it records the node's, each VM's, each container's
//! and each storage's figures into the node's round-robin archives ([`oxve_rrd::RrdStore`]) and writes the changed
//! series to disk. Counters (network, disk I/O) become rates in bytes per second between two
//! samples. Data source names are those of Proxmox's `rrddata`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxve_store::{guest_config_key, GuestKind};
use oxve_types::lxc::CtConfig;
use oxve_types::qemu::VmConfig;

use crate::state::AppState;

/// Time between two samples.
pub const INTERVAL: Duration = Duration::from_secs(10);

pub const NODE_SOURCES: &[&str] = &[
    "cpu",
    "maxcpu",
    "iowait",
    "loadavg",
    "memtotal",
    "memused",
    "swaptotal",
    "swapused",
    "roottotal",
    "rootused",
    "netin",
    "netout",
];
/// The series of a VM or a container (Proxmox keeps both in the same layout).
pub const VM_SOURCES: &[&str] = &[
    "cpu",
    "maxcpu",
    "mem",
    "maxmem",
    "disk",
    "maxdisk",
    "netin",
    "netout",
    "diskread",
    "diskwrite",
];
pub const STORAGE_SOURCES: &[&str] = &["total", "used"];

/// Turns counters into per-second rates between two samples.
#[derive(Default)]
struct Rates {
    last: HashMap<String, (Instant, Vec<u64>)>,
}

impl Rates {
    /// Rates of `counters` since the previous call for `key` (None the first time or after a
    /// counter went back, e.g. a VM restarted).
    fn rates(&mut self, key: &str, counters: Vec<u64>) -> Vec<Option<f64>> {
        let now = Instant::now();
        let out = match self.last.get(key) {
            Some((at, prev)) if prev.len() == counters.len() => {
                let secs = now.duration_since(*at).as_secs_f64();
                counters
                    .iter()
                    .zip(prev)
                    .map(|(c, p)| (secs > 0.5 && c >= p).then(|| (c - p) as f64 / secs))
                    .collect()
            }
            _ => vec![None; counters.len()],
        };
        self.last.insert(key.to_string(), (now, counters));
        out
    }
}

/// iowait as a fraction of CPU time between two samples, from `/proc/stat`.
#[derive(Default)]
struct IoWait {
    last: Option<(u64, u64)>,
}

impl IoWait {
    fn sample(&mut self) -> Option<f64> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let (wait, total) = parse_iowait(&text)?;
        let out = self
            .last
            .filter(|(w, t)| total > *t && wait >= *w)
            .map(|(w, t)| (wait - w) as f64 / (total - t) as f64);
        self.last = Some((wait, total));
        out
    }
}

/// (iowait ticks, total ticks) of the `cpu` line.
fn parse_iowait(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((*fields.get(4)?, fields.iter().take(8).sum()))
}

/// Received and sent bytes of every interface but loopback, from `/proc/net/dev`.
fn parse_net_dev(text: &str) -> (u64, u64) {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .fold((0, 0), |(rx, tx), (_, rest)| {
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (
                rx + f.first().copied().unwrap_or(0),
                tx + f.get(8).copied().unwrap_or(0),
            )
        })
}

fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct Sampler {
    state: Arc<AppState>,
    rates: Rates,
    iowait: IoWait,
}

impl Sampler {
    fn record(&self, key: &str, sources: &[&str], time: u64, values: &[Option<f64>]) {
        if let Err(e) = self.state.rrd.update(key, sources, time, values) {
            tracing::warn!("rrd {key}: {e}");
        }
    }

    fn node(&mut self, time: u64) {
        let host = &self.state.host;
        let mem = oxve_host::memory_info();
        let root = oxve_host::fs_usage(Path::new("/"));
        let load = oxve_host::load_average()[0].parse::<f64>().ok();
        let (rx, tx) = parse_net_dev(&std::fs::read_to_string("/proc/net/dev").unwrap_or_default());
        let net = self.rates.rates("node", vec![rx, tx]);
        let f = |v: u64| Some(v as f64);
        let values = [
            Some(host.cpu.last()),
            Some(host.cpuinfo.cpus as f64),
            self.iowait.sample(),
            load,
            f(mem.memory.total),
            f(mem.memory.used),
            f(mem.swap.total),
            f(mem.swap.used),
            f(root.total),
            f(root.used),
            net[0],
            net[1],
        ];
        let key = format!("node/{}", self.state.node);
        self.record(&key, NODE_SOURCES, time, &values);
    }

    /// The config text of this node's guests of `kind`, by VMID.
    async fn guest_configs(&self, kind: GuestKind) -> Vec<(u32, String)> {
        let store = &self.state.store;
        let Ok(guests) = store.guests().await else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for guest in guests
            .into_iter()
            .filter(|g| g.kind == kind && g.node == self.state.node)
        {
            if let Ok(Some(entry)) = store.get(&guest_config_key(&guest)).await {
                out.push((guest.vmid, entry.text));
            }
        }
        out
    }

    /// One guest's figures; the four counters (netin, netout, diskread, diskwrite) as rates.
    fn guest(&mut self, key: &str, time: u64, cpu: f64, maxcpu: f64, mem: [u64; 4], io: [u64; 4]) {
        let io = self.rates.rates(key, io.to_vec());
        let f = |v: u64| Some(v as f64);
        let values = [
            Some(cpu),
            Some(maxcpu),
            f(mem[0]),
            f(mem[1]),
            f(mem[2]),
            f(mem[3]),
            io[0],
            io[1],
            io[2],
            io[3],
        ];
        self.record(key, VM_SOURCES, time, &values);
    }

    async fn vms(&mut self, time: u64) {
        for (vmid, text) in self.guest_configs(GuestKind::Qemu).await {
            let Ok(config) = VmConfig::parse(&text) else {
                continue;
            };
            let Ok(st) = self.state.qemu.status(vmid, &config.current).await else {
                continue;
            };
            let mem = [st.mem, st.maxmem, st.disk, st.maxdisk];
            let io = [st.netin, st.netout, st.diskread, st.diskwrite];
            self.guest(
                &format!("qemu/{vmid}"),
                time,
                st.cpu,
                f64::from(st.cpus),
                mem,
                io,
            );
        }
    }

    /// Containers: CPU, memory and block I/O from their cgroups, network from their veths
    /// (what `status/current` reports). CPU is the rate of the cgroup's CPU time since this
    /// sampler's previous reading, not since any other status call's.
    async fn cts(&mut self, time: u64) {
        for (vmid, text) in self.guest_configs(GuestKind::Lxc).await {
            let Ok(config) = CtConfig::parse(&text) else {
                continue;
            };
            let st = self.state.lxc.status(vmid, &config).await;
            let key = format!("lxc/{vmid}");
            let cpu = self.rates.rates(&format!("{key}/cpu"), vec![st.cputime_ns])[0]
                .filter(|_| st.cpus > 0.0)
                .map_or(st.cpu, |ns| (ns / 1e9 / st.cpus).clamp(0.0, 1.0));
            let mem = [st.mem, st.maxmem, st.disk, st.maxdisk];
            let io = [st.netin, st.netout, st.diskread, st.diskwrite];
            self.guest(&key, time, cpu, st.cpus, mem, io);
        }
    }

    async fn storages(&self, time: u64) {
        let node = self.state.node.clone();
        let Ok(summaries) = self
            .state
            .storage
            .run(self.state.store.as_ref(), move |m| {
                Ok(m.summaries(Some(&node)))
            })
            .await
        else {
            return;
        };
        for s in summaries.into_iter().filter(|s| s.status.active) {
            let key = format!("storage/{}/{}", self.state.node, s.storage);
            let values = [Some(s.status.total as f64), Some(s.status.used as f64)];
            self.record(&key, STORAGE_SOURCES, time, &values);
        }
    }
}

/// Start sampling (first sample at once) for as long as the runtime lives.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut sampler = Sampler {
            state,
            rates: Rates::default(),
            iowait: IoWait::default(),
        };
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let time = epoch();
            sampler.node(time);
            sampler.vms(time).await;
            sampler.cts(time).await;
            sampler.storages(time).await;
            let rrd = Arc::clone(&sampler.state.rrd);
            match tokio::task::spawn_blocking(move || rrd.flush()).await {
                Ok(Err(e)) => tracing::warn!("writing metrics: {e}"),
                Err(e) => tracing::warn!("writing metrics: {e}"),
                Ok(Ok(_)) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_parsers() {
        let stat = "cpu  100 0 50 800 40 5 5 0 0 0\ncpu0 1 2 3 4 5 6 7 8\n";
        assert_eq!(parse_iowait(stat), Some((40, 1000)));
        let dev = "Inter-|   Receive\n face |bytes\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n  tap1: 24 1 0 0 0 0 0 0 76 1 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(dev), (1024, 576));
    }

    #[test]
    fn rates_per_second_and_resets() {
        let mut r = Rates::default();
        assert_eq!(r.rates("a", vec![100]), vec![None]);
        r.last.get_mut("a").unwrap().0 -= Duration::from_secs(10);
        let v = r.rates("a", vec![1100]);
        assert!((v[0].unwrap() - 100.0).abs() < 1.0, "{v:?}");
        r.last.get_mut("a").unwrap().0 -= Duration::from_secs(10);
        assert_eq!(
            r.rates("a", vec![5]),
            vec![None],
            "a counter that went back"
        );
    }
}
