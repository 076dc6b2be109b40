//! The NICs of this node's guests (VMs and containers), read from their configs: which
//! bridge each uses and its MAC address. Deleting a bridge checks them; DHCP on a NAT bridge
//! gives each a fixed address.

use oxve_store::guest_config_key;

use crate::state::AppState;

/// One guest NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestNic {
    pub vmid: u32,
    pub index: u32,
    pub bridge: String,
    pub mac: Option<String>,
    /// `firewall=1`.
    pub firewall: bool,
    /// The host-side device: `tap<vmid>i<n>` (VM) or `veth<vmid>i<n>` (container).
    pub device: String,
    /// A container's static addresses (`ip=`, `ip6=`, without prefix length), which its IP
    /// filter allows implicitly, as Proxmox does.
    pub ips: Vec<String>,
}

fn is_mac(value: &str) -> bool {
    let parts: Vec<&str> = value.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The NICs in a guest config's current section (`netN: ...` lines, VM or CT syntax).
pub fn parse_nics(vmid: u32, container: bool, text: &str) -> Vec<GuestNic> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            break; // snapshots and pending sections follow
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Some(index) = key.trim().strip_prefix("net").and_then(|i| i.parse().ok()) else {
            continue;
        };
        let mut bridge = None;
        let mut mac = None;
        let mut firewall = false;
        let mut ips = Vec::new();
        for part in value.trim().split(',') {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            match k {
                "bridge" => bridge = Some(v.to_string()),
                "firewall" => firewall = v == "1",
                "ip" | "ip6" if container && v.contains('/') => {
                    ips.extend(v.split('/').next().map(str::to_string))
                }
                // a VM writes `virtio=MAC`, a container `hwaddr=MAC`
                _ if is_mac(v) && mac.is_none() => mac = Some(v.to_ascii_uppercase()),
                _ => {}
            }
        }
        if let Some(bridge) = bridge {
            let device = if container {
                oxve_net::guest::veth_name(vmid, index)
            } else {
                oxve_net::guest::tap_name(vmid, index)
            };
            out.push(GuestNic {
                vmid,
                index,
                bridge,
                mac,
                firewall,
                device,
                ips,
            });
        }
    }
    out
}

/// Every NIC of every guest on this node.
pub async fn guest_nics(state: &AppState) -> Vec<GuestNic> {
    let store = state.store.as_ref();
    let Ok(guests) = store.guests().await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for guest in guests {
        if guest.node != state.node {
            continue;
        }
        if let Ok(Some(entry)) = store.get(&guest_config_key(&guest)).await {
            let container = guest.kind == oxve_store::GuestKind::Lxc;
            out.extend(parse_nics(guest.vmid, container, &entry.text));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_and_ct_nics() {
        let vm = "memory: 512\nnet0: virtio=bc:24:11:00:00:01,bridge=vmbr1,firewall=1\nnet1: e1000,bridge=vmbr0\n[snap]\nnet2: virtio,bridge=vmbr9\n";
        let nics = parse_nics(100, false, vm);
        assert_eq!(nics.len(), 2);
        assert_eq!(nics[0].mac.as_deref(), Some("BC:24:11:00:00:01"));
        assert_eq!(nics[0].bridge, "vmbr1");
        assert!(nics[0].firewall);
        assert_eq!(nics[0].device, "tap100i0");
        assert_eq!(nics[1].mac, None);
        let ct = "net0: name=eth0,bridge=vmbr1,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,type=veth\n";
        let nics = parse_nics(101, true, ct);
        assert_eq!(nics[0].mac.as_deref(), Some("BC:24:11:AA:BB:CC"));
        assert_eq!(nics[0].device, "veth101i0");
        let ct = "net0: name=eth0,bridge=vmbr1,ip=10.0.0.5/24,ip6=fd00::5/64,type=veth\n";
        assert_eq!(parse_nics(102, true, ct)[0].ips, ["10.0.0.5", "fd00::5"]);
    }
}
