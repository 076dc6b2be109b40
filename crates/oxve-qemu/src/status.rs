//! `status/current`: what a VM is doing, with Proxmox's JSON keys.
//!
//! Process facts come from `/proc/<pid>` (uptime from the start time, CPU from the CPU time
//! between two calls, memory as RSS); guest facts from QMP, queried in parallel on the cached
//! connection (`query-status`, `query-blockstats`, `query-balloon`; QEMU version and machine
//! type once per process); NIC counters from the tap devices (user-mode NICs have none).
//!
//! A QMP round trip costs ~0.2 ms of QEMU's main loop, so the QMP facts are reused for up to
//! [`FACTS_TTL`], as Proxmox's pvestatd samples them periodically; any run-state event QEMU
//! sent since (`STOP`, `RESUME`, `RESET`, ...) makes them stale at once, so `qmpstatus` never
//! lags a pause, resume or guest reset.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use oxve_types::qemu::{DriveBus, VmSettings};

use crate::cmdline::net::tap_name;
use crate::engine::QemuEngine;
use crate::error::Result;
use crate::process;

/// `status`: whether QEMU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Stopped,
}

/// `ballooninfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BalloonStatus {
    /// Memory the guest has now, in bytes.
    pub actual: u64,
    /// The configured maximum, in bytes.
    pub max_mem: u64,
}

/// Traffic of one NIC, in bytes, seen from the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NicCounters {
    pub netin: u64,
    pub netout: u64,
}

/// A VM's current status, serialized with Proxmox's keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmStatus {
    pub vmid: u32,
    pub status: RunStatus,
    /// QEMU's run state (`running`, `paused`, `prelaunch`, ...), `stopped` when not running.
    pub qmpstatus: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Seconds since QEMU started.
    pub uptime: u64,
    /// CPU usage as a fraction of the VM's vCPUs (1.0: all busy).
    pub cpu: f64,
    pub cpus: u32,
    /// Memory in use (QEMU's resident memory), bytes.
    pub mem: u64,
    pub maxmem: u64,
    pub disk: u64,
    /// Size of the boot disk, bytes.
    pub maxdisk: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub netin: u64,
    pub netout: u64,
    /// The balloon's current size, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balloon: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ballooninfo: Option<BalloonStatus>,
    /// Per tap NIC (`net0`) counters.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nics: BTreeMap<String, NicCounters>,
    /// The machine type QEMU runs (`pc-i440fx-10.0`).
    #[serde(rename = "running-machine", skip_serializing_if = "Option::is_none")]
    pub running_machine: Option<String>,
    /// The QEMU version running the VM.
    #[serde(rename = "running-qemu", skip_serializing_if = "Option::is_none")]
    pub running_qemu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u8>,
}

/// How long QMP facts of a running VM are reused.
pub const FACTS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Events after which cached QMP facts are stale.
const STALE_AFTER: &[&str] = &[
    "STOP",
    "RESUME",
    "RESET",
    "SUSPEND",
    "SUSPEND_DISK",
    "WAKEUP",
    "SHUTDOWN",
    "POWERDOWN",
    "GUEST_PANICKED",
    "BALLOON_CHANGE",
    "DEVICE_DELETED",
    "BLOCK_JOB_COMPLETED",
    "MIGRATION",
];

/// What QMP said about a running VM, and the events since.
pub(crate) struct QmpFacts {
    at: Instant,
    events: oxve_qmp::Events,
    qmpstatus: String,
    diskread: u64,
    diskwrite: u64,
    balloon: Option<u64>,
}

impl QmpFacts {
    /// `(qmpstatus, diskread, diskwrite, balloon)` if still fresh.
    fn fresh(&mut self) -> Option<(String, u64, u64, Option<u64>)> {
        if self.at.elapsed() > FACTS_TTL {
            return None;
        }
        while let Some(event) = self.events.try_recv() {
            if STALE_AFTER.contains(&event.event.as_str()) {
                return None;
            }
        }
        Some((
            self.qmpstatus.clone(),
            self.diskread,
            self.diskwrite,
            self.balloon,
        ))
    }
}

/// The CPU time of a VM at one moment, to compute usage between two status calls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSample {
    pid: u32,
    ticks: u64,
    at: Instant,
}

impl VmStatus {
    fn set_balloon(&mut self, actual: Option<u64>) {
        self.balloon = actual;
        self.ballooninfo = actual.map(|actual| BalloonStatus {
            actual,
            max_mem: self.maxmem,
        });
    }

    /// The status of a stopped VM with settings `conf`.
    pub fn stopped(vmid: u32, conf: &VmSettings) -> Self {
        let maxdisk = conf
            .boot_devices()
            .iter()
            .filter_map(|d| conf.drive(d))
            .find(|d| !d.is_cdrom())
            .or_else(|| {
                conf.drives()
                    .into_iter()
                    .find(|d| !d.is_cdrom() && d.bus.bootable())
            })
            .and_then(|d| d.size)
            .unwrap_or(0);
        VmStatus {
            vmid,
            status: RunStatus::Stopped,
            qmpstatus: "stopped".into(),
            name: conf.name().map(str::to_string),
            pid: None,
            uptime: 0,
            cpu: 0.0,
            cpus: conf.vcpus(),
            mem: 0,
            maxmem: conf.memory_mib() * 1024 * 1024,
            disk: 0,
            maxdisk,
            diskread: 0,
            diskwrite: 0,
            netin: 0,
            netout: 0,
            balloon: None,
            ballooninfo: None,
            nics: BTreeMap::new(),
            running_machine: None,
            running_qemu: None,
            agent: conf.agent_enabled().then_some(1),
            serial: conf
                .serials()
                .iter()
                .any(|(_, s)| s == "socket")
                .then_some(1),
        }
    }
}

fn read_counter(iface: &str, name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/statistics/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl QemuEngine {
    /// The status of VM `vmid` (settings `conf` give name, vCPUs, memory and disks). A VM that
    /// stopped by itself is reported stopped and its run files are removed.
    pub async fn status(&self, vmid: u32, conf: &VmSettings) -> Result<VmStatus> {
        let mut st = VmStatus::stopped(vmid, conf);
        let Some(pid) = self.is_running(vmid) else {
            self.cleanup_if_stale(vmid).await;
            return Ok(st);
        };
        st.status = RunStatus::Running;
        st.pid = Some(pid);
        if let Some(stat) = process::read_stat(pid) {
            st.uptime = process::process_uptime(&stat);
            st.cpu = self.cpu_usage(vmid, pid, stat.cpu_ticks(), st.uptime, st.cpus);
        }
        st.mem = process::rss_bytes(pid).unwrap_or(0);
        for (index, _) in conf.nets() {
            let tap = tap_name(vmid, index);
            // The tap's receive is what the guest sent.
            if let (Some(rx), Some(tx)) = (
                read_counter(&tap, "rx_bytes"),
                read_counter(&tap, "tx_bytes"),
            ) {
                st.netin += tx;
                st.netout += rx;
                st.nics.insert(
                    format!("net{index}"),
                    NicCounters {
                        netin: tx,
                        netout: rx,
                    },
                );
            }
        }
        let qmp = match self.qmp(vmid).await {
            Ok(qmp) => qmp,
            Err(e) => {
                if self.is_running(vmid).is_none() {
                    self.cleanup_if_stale(vmid).await;
                    return Ok(VmStatus::stopped(vmid, conf));
                }
                tracing::warn!(vmid, "status: {e}");
                st.qmpstatus = "unknown".into();
                return Ok(st);
            }
        };
        let (cached_version, cached_machine, fresh) = self
            .with_conn(vmid, |c| {
                let fresh = c.facts.as_mut().and_then(QmpFacts::fresh);
                if fresh.is_none() {
                    c.facts = None;
                }
                (c.qemu_version.clone(), c.machine.clone(), fresh)
            })
            .await
            .unwrap_or((None, None, None));
        let balloon_device = conf.balloon() != Some(0);
        if let (Some((qmpstatus, rd, wr, balloon)), Some(version), Some(machine)) =
            (fresh, cached_version.clone(), cached_machine.clone())
        {
            st.qmpstatus = qmpstatus;
            st.diskread = rd;
            st.diskwrite = wr;
            st.set_balloon(balloon.filter(|_| balloon_device));
            st.running_qemu = Some(version);
            st.running_machine = Some(machine);
            return Ok(st);
        }
        // Listen before asking, so no event between the answers and the next call is missed.
        let events = qmp.subscribe();
        let (status, blockstats, balloon, version, machine) = tokio::join!(
            qmp.query_status(),
            qmp.query_blockstats(),
            async {
                if balloon_device {
                    qmp.query_balloon().await.ok()
                } else {
                    None
                }
            },
            async {
                match cached_version {
                    Some(v) => Some(v),
                    None => qmp.query_version().await.ok().map(|v| v.qemu.to_string()),
                }
            },
            async {
                match cached_machine {
                    Some(m) => Some(m),
                    None => qmp
                        .execute::<_, String>(
                            "qom-get",
                            &json!({ "path": "/machine", "property": "type" }),
                        )
                        .await
                        .ok()
                        .map(|t| t.strip_suffix("-machine").unwrap_or(&t).to_string()),
                }
            },
        );
        match status {
            Ok(s) => st.qmpstatus = s.status.as_str().to_string(),
            Err(e) => {
                tracing::warn!(vmid, "status: query-status: {e}");
                st.qmpstatus = "unknown".into();
            }
        }
        if let Ok(stats) = blockstats {
            // Top-level entries are the guest's drives; `parent`/`backing` are their layers.
            let is_drive = |device: &Option<String>| {
                device
                    .as_deref()
                    .and_then(|d| d.strip_prefix("drive-"))
                    .is_some_and(|key| DriveBus::from_key(key).is_some())
            };
            for entry in stats.iter().filter(|s| is_drive(&s.device)) {
                st.diskread += entry.stats.rd_bytes;
                st.diskwrite += entry.stats.wr_bytes;
            }
        }
        st.set_balloon(balloon.map(|b| b.actual));
        let (v, m) = (version.clone(), machine.clone());
        let facts = QmpFacts {
            at: Instant::now(),
            events,
            qmpstatus: st.qmpstatus.clone(),
            diskread: st.diskread,
            diskwrite: st.diskwrite,
            balloon: st.balloon,
        };
        let keep = st.qmpstatus != "unknown";
        let _ = self
            .with_conn(vmid, |c| {
                c.qemu_version = c.qemu_version.take().or(v);
                c.machine = c.machine.take().or(m);
                if keep {
                    c.facts = Some(facts);
                }
            })
            .await;
        st.running_qemu = version;
        st.running_machine = machine;
        Ok(st)
    }

    /// CPU usage since the previous call (or since QEMU started, on the first call).
    fn cpu_usage(&self, vmid: u32, pid: u32, ticks: u64, uptime: u64, cpus: u32) -> f64 {
        let now = Instant::now();
        let hz = process::clock_ticks() as f64;
        let cpus = f64::from(cpus.max(1));
        let previous = self
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                vmid,
                CpuSample {
                    pid,
                    ticks,
                    at: now,
                },
            );
        let (used, elapsed) = match previous {
            Some(p) if p.pid == pid && ticks >= p.ticks => (
                (ticks - p.ticks) as f64 / hz,
                now.duration_since(p.at).as_secs_f64(),
            ),
            _ => (ticks as f64 / hz, uptime as f64),
        };
        if elapsed <= 0.0 {
            return 0.0;
        }
        used / elapsed / cpus
    }
}
