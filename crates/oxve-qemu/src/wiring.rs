//! The seam to the network layer: plugging a VM's tap devices into their bridges.

use async_trait::async_trait;

use crate::cmdline::TapNic;
use crate::error::BoxError;

/// Plugs tap devices into bridges (VLAN tag, firewall, rate limit, MTU), as Proxmox's
/// `pve-bridge` script does. Implemented by the network layer; an engine without one puts
/// every NIC on QEMU's user-mode network.
#[async_trait]
pub trait TapWiring: Send + Sync {
    /// Called once per tap NIC after QEMU created the tap and before the vCPUs run; an error
    /// aborts the start (the QEMU process is killed).
    async fn plug(&self, vmid: u32, tap: &TapNic) -> Result<(), BoxError>;
}
