//! NICs: `-netdev` (the host side) and `-device <model>,mac=...,netdev=...` (the guest side).
//!
//! A NIC whose bridge exists on the host gets a tap device `tap<vmid>i<n>`, created by QEMU
//! (`script=no,downscript=no`); plugging it into the bridge (VLAN tag, firewall, rate limit)
//! belongs to the network layer, which the engine calls through
//! [`TapWiring`](crate::TapWiring) before the vCPUs run. When tap wiring is off
//! ([`HostFacts::wire_taps`](crate::HostFacts)), the NIC has no bridge, or its bridge does not
//! exist here, the NIC uses QEMU's user-mode network (`-netdev user`: NAT, no inbound
//! traffic), so the guest still sees its NIC and reaches out.

use oxve_types::qemu::{mac_from_seed, NetDevice, DEFAULT_MAC_PREFIX};

use super::args::Opts;
use super::{Builder, TapNic};
use crate::error::Result;

/// The QEMU device of a NIC model.
pub fn nic_device(model: &str) -> &str {
    match model {
        "virtio" => "virtio-net-pci",
        other => other,
    }
}

/// The tap device name of `net<index>` of VM `vmid` (Proxmox's naming).
pub fn tap_name(vmid: u32, index: u32) -> String {
    format!("tap{vmid}i{index}")
}

impl Builder<'_> {
    /// Every `netN`.
    pub(crate) fn nets(&mut self) -> Result<()> {
        for (index, nic) in self.conf.nets() {
            self.nic(index, nic)?;
        }
        Ok(())
    }

    pub(crate) fn nic(&mut self, index: u32, nic: NetDevice) -> Result<()> {
        let id = format!("net{index}");
        let mac = match &nic.macaddr {
            Some(mac) => mac.clone(),
            None => {
                let seed = (u64::from(self.vmid) << 8) | u64::from(index);
                let mac = mac_from_seed(seed, Some(DEFAULT_MAC_PREFIX));
                self.note(format!("{id}: no MAC address in the config - using {mac}"));
                mac
            }
        };
        let queues = nic.queues.filter(|q| *q > 1);
        let tap_bridge = match &nic.bridge {
            Some(bridge) if self.host.wire_taps && self.host.bridges.contains(bridge) => {
                Some(bridge.clone())
            }
            Some(bridge) if !self.host.wire_taps => {
                self.note(format!(
                    "{id}: network wiring is off - user-mode network instead of bridge {bridge}"
                ));
                None
            }
            Some(bridge) => {
                self.note(format!(
                    "{id}: bridge {bridge} does not exist on this host - user-mode network"
                ));
                None
            }
            None => None,
        };
        let netdev = match &tap_bridge {
            Some(bridge) => {
                let ifname = tap_name(self.vmid, index);
                let vhost = self.kvm() && self.host.vhost_net && nic.is_virtio();
                self.taps.push(TapNic {
                    index,
                    ifname: ifname.clone(),
                    bridge: bridge.clone(),
                    nic: nic.clone(),
                });
                Opts::empty()
                    .kv("type", "tap")
                    .kv("id", &id)
                    .kv("ifname", ifname)
                    .kv("script", "no")
                    .kv("downscript", "no")
                    .opt("queues", queues)
                    .kv_if(vhost, "vhost", "on")
            }
            None => Opts::empty().kv("type", "user").kv("id", &id),
        };
        self.push("-netdev", netdev.build());
        let mut device = Opts::new(nic_device(&nic.model))
            .kv("mac", mac)
            .kv("netdev", &id)
            .kv("id", &id);
        if nic.is_virtio() {
            if let Some(q) = queues.filter(|_| tap_bridge.is_some()) {
                device = device.kv("mq", "on").kv("vectors", 2 * u32::from(q) + 2);
            }
            device = device.opt("host_mtu", nic.mtu.filter(|m| *m > 1));
        }
        device = device.opt("bootindex", self.boot.get(&id));
        self.push("-device", device.build());
        if nic.link_down == Some(true) {
            self.links_down.push(id);
        }
        Ok(())
    }
}
