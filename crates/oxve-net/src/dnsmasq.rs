//! DHCP and DNS on NAT bridges: one dnsmasq per bridge, with a fixed address per guest MAC
//! (kept in `<data_dir>/network/dhcp-<bridge>.hosts`, so guests keep their address across
//! restarts) and its runtime files under `<run_dir>/network/`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cidr::Ipv4Cidr;
use crate::error::{NetError, Result};

/// A fixed DHCP address of one guest NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticLease {
    /// Upper-case MAC address.
    pub mac: String,
    pub ip: Ipv4Addr,
    pub name: String,
}

/// Where one bridge's dnsmasq keeps its files.
#[derive(Debug, Clone)]
pub struct DnsmasqPaths {
    pub hosts: PathBuf,
    pub conf: PathBuf,
    pub pid: PathBuf,
    pub leases: PathBuf,
}

impl DnsmasqPaths {
    pub fn new(data_dir: &Path, run_dir: &Path, bridge: &str) -> Self {
        DnsmasqPaths {
            hosts: data_dir.join(format!("dhcp-{bridge}.hosts")),
            conf: run_dir.join(format!("dnsmasq-{bridge}.conf")),
            pid: run_dir.join(format!("dnsmasq-{bridge}.pid")),
            leases: run_dir.join(format!("dnsmasq-{bridge}.leases")),
        }
    }
}

/// Read a hosts file (`MAC,IP,name` lines).
pub fn load_leases(path: &Path) -> Vec<StaticLease> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.trim().split(',');
            let mac = parts.next()?.to_ascii_uppercase();
            let ip = parts.next()?.parse().ok()?;
            let name = parts.next().unwrap_or_default().to_string();
            Some(StaticLease { mac, ip, name })
        })
        .collect()
}

pub fn render_leases(leases: &[StaticLease]) -> String {
    leases
        .iter()
        .map(|l| format!("{},{},{}\n", l.mac, l.ip, l.name))
        .collect()
}

/// The fixed address of `mac` on `cidr`: the one it has, or the lowest free one from the
/// 100th host address on (the lower ones are left for static setups), else any free one.
pub fn assign(
    leases: &mut Vec<StaticLease>,
    mac: &str,
    name: &str,
    cidr: &Ipv4Cidr,
) -> Option<Ipv4Addr> {
    let mac = mac.to_ascii_uppercase();
    if let Some(l) = leases.iter_mut().find(|l| l.mac == mac) {
        if cidr.contains(l.ip) {
            l.name = name.to_string();
            return Some(l.ip);
        }
        let stale = l.mac.clone();
        leases.retain(|l| l.mac != stale);
    }
    let taken = |ip: Ipv4Addr| ip == cidr.addr || leases.iter().any(|l| l.ip == ip);
    let size = 1u32 << (32 - u32::from(cidr.prefix)).min(31);
    let ip = (100..size)
        .chain(1..100.min(size))
        .filter_map(|n| cidr.host(n))
        .find(|ip| !taken(*ip))?;
    leases.push(StaticLease {
        mac,
        ip,
        name: name.to_string(),
    });
    Some(ip)
}

/// dnsmasq's configuration for `bridge` with address `cidr`.
pub fn config(bridge: &str, cidr: &Ipv4Cidr, paths: &DnsmasqPaths) -> String {
    let first = cidr.host(1).unwrap_or(cidr.addr);
    let size = 1u32 << (32 - u32::from(cidr.prefix)).min(31);
    let last = cidr.host(size.saturating_sub(2)).unwrap_or(cidr.addr);
    format!(
        "# written by oxve for NAT bridge {bridge}\n\
         interface={bridge}\n\
         bind-interfaces\n\
         except-interface=lo\n\
         listen-address={gw}\n\
         dhcp-range={first},{last},{mask},1h\n\
         dhcp-option=option:router,{gw}\n\
         dhcp-option=option:dns-server,{gw}\n\
         dhcp-hostsfile={hosts}\n\
         dhcp-leasefile={leases}\n\
         pid-file={pid}\n\
         dhcp-authoritative\n\
         no-hosts\n\
         # its files live under the daemon's private data dir, which user nobody cannot read\n\
         user=root\n",
        gw = cidr.addr,
        mask = cidr.netmask(),
        hosts = paths.hosts.display(),
        leases = paths.leases.display(),
        pid = paths.pid.display(),
    )
}

/// The pid of the dnsmasq running with `conf`, if any.
fn running_pid(paths: &DnsmasqPaths) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(&paths.pid)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let conf = paths.conf.to_string_lossy();
    String::from_utf8_lossy(&cmdline)
        .contains(conf.as_ref())
        .then_some(pid)
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a pid we verified is our dnsmasq.
    unsafe { libc::kill(pid, sig) };
}

/// Run dnsmasq with `conf_text` (restarting it when the configuration changed, re-reading
/// the hosts file otherwise).
pub fn ensure_running(paths: &DnsmasqPaths, conf_text: &str) -> Result<()> {
    let old = std::fs::read_to_string(&paths.conf).ok();
    let running = running_pid(paths);
    if let (Some(pid), Some(old)) = (running, old.as_deref()) {
        if old == conf_text {
            signal(pid, libc::SIGHUP); // re-reads dhcp-hostsfile
            return Ok(());
        }
    }
    if let Some(pid) = running {
        stop_pid(pid);
    }
    crate::service::write_atomic(&paths.conf, conf_text)?;
    if !paths.hosts.exists() {
        crate::service::write_atomic(&paths.hosts, "")?;
    }
    let out = Command::new("dnsmasq")
        .arg(format!("--conf-file={}", paths.conf.display()))
        .output()
        .map_err(|e| NetError::Command {
            command: "dnsmasq".into(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(NetError::Command {
            command: format!("dnsmasq --conf-file={}", paths.conf.display()),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

fn stop_pid(pid: i32) {
    signal(pid, libc::SIGTERM);
    for _ in 0..50 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    signal(pid, libc::SIGKILL);
}

/// Stop a bridge's dnsmasq and remove its runtime files.
pub fn stop(paths: &DnsmasqPaths) {
    if let Some(pid) = running_pid(paths) {
        stop_pid(pid);
    }
    for p in [&paths.conf, &paths.pid] {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_assigned_once_per_mac() {
        let cidr: Ipv4Cidr = "10.10.0.1/24".parse().unwrap();
        let mut leases = Vec::new();
        assert_eq!(
            assign(&mut leases, "bc:24:11:00:00:01", "vm100", &cidr),
            Some("10.10.0.100".parse().unwrap())
        );
        assert_eq!(
            assign(&mut leases, "BC:24:11:00:00:02", "vm101", &cidr),
            Some("10.10.0.101".parse().unwrap())
        );
        assert_eq!(
            assign(&mut leases, "BC:24:11:00:00:01", "vm100", &cidr),
            Some("10.10.0.100".parse().unwrap())
        );
        let text = render_leases(&leases);
        assert_eq!(
            text,
            "BC:24:11:00:00:01,10.10.0.100,vm100\nBC:24:11:00:00:02,10.10.0.101,vm101\n"
        );
        let small: Ipv4Cidr = "192.168.5.1/29".parse().unwrap();
        let mut l = Vec::new();
        assert_eq!(
            assign(&mut l, "AA:00:00:00:00:01", "a", &small),
            Some("192.168.5.2".parse().unwrap())
        );
        let paths = DnsmasqPaths::new(Path::new("/d"), Path::new("/r"), "vmbr1");
        let conf = config("vmbr1", &cidr, &paths);
        assert!(
            conf.contains("dhcp-range=10.10.0.1,10.10.0.254,255.255.255.0,1h"),
            "{conf}"
        );
        assert!(conf.contains("dhcp-hostsfile=/d/dhcp-vmbr1.hosts"));
    }
}
