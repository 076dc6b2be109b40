//! What the resource list shows of each guest, read from its config text. The full typed
//! configs come with the VM and container engines; this reads only the summary keys.

use oxve_store::{GuestKind, GuestRef};
use serde_json::{json, Value};

/// Summary figures of one guest.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestSummary {
    pub guest: GuestRef,
    pub name: Option<String>,
    pub maxmem: u64,
    pub maxcpu: f64,
    pub maxdisk: u64,
    pub template: bool,
    pub tags: Option<String>,
    pub lock: Option<String>,
}

/// `key: value` pairs of the main section (before the first `[section]`).
fn main_section(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
}

/// Parse a Proxmox size (`32G`, `512M`, `1T`, bytes without unit) into bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (num, mult) = match text.chars().last()? {
        'K' | 'k' => (&text[..text.len() - 1], 1u64 << 10),
        'M' | 'm' => (&text[..text.len() - 1], 1 << 20),
        'G' | 'g' => (&text[..text.len() - 1], 1 << 30),
        'T' | 't' => (&text[..text.len() - 1], 1 << 40),
        _ => (text, 1),
    };
    let value: f64 = num.parse().ok()?;
    (value >= 0.0).then_some((value * mult as f64) as u64)
}

fn size_option(value: &str) -> Option<u64> {
    value
        .split(',')
        .find_map(|part| part.strip_prefix("size="))
        .and_then(parse_size)
}

fn is_qemu_disk_key(key: &str) -> bool {
    ["scsi", "virtio", "sata", "ide"].iter().any(|bus| {
        key.strip_prefix(bus)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl GuestSummary {
    pub fn from_config(guest: GuestRef, text: &str) -> GuestSummary {
        let mut s = GuestSummary {
            guest,
            name: None,
            maxmem: 512 << 20,
            maxcpu: 1.0,
            maxdisk: 0,
            template: false,
            tags: None,
            lock: None,
        };
        let (mut sockets, mut cores, mut vcpus) = (1.0, 1.0, None);
        let mut boot_disk_seen = false;
        for (key, value) in main_section(text) {
            match key {
                "name" | "hostname" => s.name = Some(value.to_string()),
                "memory" => {
                    // qemu's memory is a property string with default key `current`.
                    let current = value
                        .split(',')
                        .map(|p| p.strip_prefix("current=").unwrap_or(p))
                        .next()
                        .and_then(|v| v.parse::<u64>().ok());
                    if let Some(mib) = current {
                        s.maxmem = mib << 20;
                    }
                }
                "cores" => cores = value.parse().unwrap_or(1.0),
                "sockets" => sockets = value.parse().unwrap_or(1.0),
                "vcpus" => vcpus = value.parse().ok(),
                "cpulimit" if s.guest.kind == GuestKind::Lxc => {
                    vcpus = value.parse().ok().filter(|v: &f64| *v > 0.0)
                }
                "template" => s.template = value == "1",
                "tags" => s.tags = Some(value.to_string()),
                "lock" => s.lock = Some(value.to_string()),
                "rootfs" => s.maxdisk = size_option(value).unwrap_or(0),
                k if is_qemu_disk_key(k) && !boot_disk_seen && !value.contains("media=cdrom") => {
                    boot_disk_seen = true;
                    s.maxdisk = size_option(value).unwrap_or(0);
                }
                _ => {}
            }
        }
        s.maxcpu = match s.guest.kind {
            GuestKind::Qemu => vcpus.unwrap_or(sockets * cores),
            GuestKind::Lxc => vcpus.unwrap_or(cores),
        };
        s
    }

    /// This guest as an entry of /cluster/resources, with the run state the engine reports
    /// (containers are stopped until their engine exists).
    pub fn resource_entry_live(&self, qemu: &oxve_qemu::QemuEngine) -> Value {
        let mut entry = self.resource_entry();
        if self.guest.kind == GuestKind::Qemu {
            if let Some(pid) = qemu.is_running(self.guest.vmid) {
                entry["status"] = json!("running");
                entry["pid"] = json!(pid);
            }
        }
        entry
    }

    /// Mark a running container in its resource entry (the LXC engine knows).
    pub fn mark_lxc_running(&self, entry: &mut Value, lxc: &oxve_lxc::LxcEngine) {
        if self.guest.kind == GuestKind::Lxc && lxc.is_running(self.guest.vmid).is_some() {
            entry["status"] = json!("running");
        }
    }

    /// This guest as an entry of /cluster/resources, as configured (stopped).
    pub fn resource_entry(&self) -> Value {
        let kind = match self.guest.kind {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        };
        let vmid = self.guest.vmid;
        let mut entry = json!({
            "id": format!("{kind}/{vmid}"),
            "type": kind,
            "vmid": vmid,
            "node": self.guest.node,
            "name": self.name.clone().unwrap_or_else(|| format!("{}{vmid}", if kind == "qemu" { "VM " } else { "CT" })),
            "status": "stopped",
            "template": u8::from(self.template),
            "maxcpu": self.maxcpu,
            "cpu": 0,
            "maxmem": self.maxmem,
            "mem": 0,
            "maxdisk": self.maxdisk,
            "disk": 0,
            "netin": 0,
            "netout": 0,
            "diskread": 0,
            "diskwrite": 0,
            "uptime": 0,
        });
        if let Some(tags) = &self.tags {
            entry["tags"] = json!(tags);
        }
        if let Some(lock) = &self.lock {
            entry["lock"] = json!(lock);
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_a_qemu_config() {
        let text = "#my vm\nboot: order=scsi0\ncores: 2\nide2: none,media=cdrom\nmemory: 2048\nname: web\nscsi0: local:100/vm-100-disk-0.qcow2,size=32G\nsockets: 2\ntags: a;b\n\n[snap1]\ncores: 8\n";
        let guest = GuestRef {
            node: "n1".into(),
            kind: GuestKind::Qemu,
            vmid: 100,
        };
        let s = GuestSummary::from_config(guest, text);
        assert_eq!(s.name.as_deref(), Some("web"));
        assert_eq!(s.maxmem, 2048 << 20);
        assert_eq!(s.maxcpu, 4.0);
        assert_eq!(s.maxdisk, 32 << 30);
        let e = s.resource_entry();
        assert_eq!(e["id"], "qemu/100");
        assert_eq!(e["vmid"], 100);
        assert_eq!(e["tags"], "a;b");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8G"), Some(8 << 30));
        assert_eq!(parse_size("1.5K"), Some(1536));
        assert_eq!(parse_size("x"), None);
    }
}
