//! The VM engine's seam to the network layer: QEMU's taps are plugged into their bridges
//! (and get their DHCP address and firewall) before the vCPUs run, and again on hotplug.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use oxve_api::api::network::{guest_nic_plugged, PluggedNic};
use oxve_api::AppState;
use oxve_net::guest::PortOptions;
use oxve_qemu::{BoxError, TapNic, TapWiring};

/// Plugs taps into bridges of the daemon's network namespace.
pub struct BridgeWiring {
    /// The daemon's state, set once it exists (the engine is made before it).
    pub state: Arc<OnceLock<Weak<AppState>>>,
}

#[async_trait]
impl TapWiring for BridgeWiring {
    async fn plug(&self, vmid: u32, tap: &TapNic) -> Result<(), BoxError> {
        let state = self
            .state
            .get()
            .and_then(Weak::upgrade)
            .ok_or("the daemon is not ready to plug NICs")?;
        let nic = PluggedNic {
            vmid,
            ifname: &tap.ifname,
            bridge: &tap.bridge,
            mac: tap.nic.macaddr.as_deref(),
            firewall: tap.nic.firewall == Some(true),
            port: PortOptions {
                mtu: tap.nic.mtu,
                rate: tap.nic.rate,
                tag: tap.nic.tag,
                // QEMU keeps the link state of a VM's NIC (`set_link`); the tap stays up.
                link_down: false,
            },
        };
        guest_nic_plugged(&state, &nic).await?;
        Ok(())
    }
}
