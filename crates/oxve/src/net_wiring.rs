//! The VM engine's seam to the network layer: QEMU's taps are plugged into their bridges by
//! oxve-net before the vCPUs run.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use oxve_api::AppState;
use oxve_net::guest::{plug_port, PortOptions};
use oxve_net::netlink::Netlink;
use oxve_net::service::NetworkService;
use oxve_qemu::{BoxError, TapNic, TapWiring};

/// Plugs taps into bridges of the daemon's network namespace.
pub struct BridgeWiring {
    pub network: Arc<NetworkService>,
    /// The daemon's state, set once it exists (the engine is made before it): a NIC with
    /// `firewall=1` brings the guest firewall up to date.
    pub state: Arc<OnceLock<Weak<AppState>>>,
}

#[async_trait]
impl TapWiring for BridgeWiring {
    async fn plug(&self, vmid: u32, tap: &TapNic) -> Result<(), BoxError> {
        let nl = Netlink::connect()?;
        let opts = PortOptions {
            mtu: tap.nic.mtu,
            rate: tap.nic.rate,
            tag: tap.nic.tag,
            // QEMU keeps the link state of a VM's NIC (`set_link`); the tap itself stays up.
            link_down: false,
        };
        plug_port(&nl, &tap.ifname, &tap.bridge, &opts).await?;
        // on a NAT bridge the NIC gets its fixed DHCP address before the guest asks
        if let Some(mac) = &tap.nic.macaddr {
            let name = format!("vm{vmid}");
            if let Err(e) = self.network.ensure_lease(&tap.bridge, mac, &name).await {
                tracing::warn!(vmid, "no DHCP address for {}: {e}", tap.ifname);
            }
        }
        if tap.nic.firewall == Some(true) {
            if let Some(state) = self.state.get().and_then(Weak::upgrade) {
                let _guard = state.network.firewall_lock().await;
                oxve_api::api::firewall::sync_firewall(&state).await?;
            }
        }
        Ok(())
    }
}
