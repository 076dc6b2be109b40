//! /nodes/{node}/network: the host's interfaces (Proxmox's paths and shapes), staged in
//! `interfaces.new` and applied by a reload task; plus oxve's port forwards on NAT bridges.

mod confirm;
mod forwards;
pub(crate) mod guest_nics;
mod interfaces;
mod model;
mod reload;
mod schema;
mod vpn;

use oxve_net::nat_sync::GuestMac;
use oxve_net::NetError;
use oxve_router::{ApiError, ApiMethod};
use oxve_tasks::TaskContext;

use crate::env::RpcEnv;
use crate::state::AppState;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut out = interfaces::methods();
    out.extend(reload::methods());
    out.extend(confirm::methods());
    out.extend(forwards::methods());
    out.extend(vpn::methods());
    out
}

/// A network-layer failure as the API answers it: configuration conflicts name the parameter.
pub fn net_error(err: NetError) -> ApiError {
    match err {
        NetError::Config(c) => ApiError::param(c.param, format!("{}: {}", c.iface, c.message)),
        NetError::Invalid(m) => ApiError::bad_request(m),
        other => ApiError::internal(other.to_string()),
    }
}

/// Bring NAT, DHCP and port forwards in line with the applied configuration and the guests'
/// NICs. Call with the network lock held.
pub async fn sync_nat(state: &AppState, ctx: Option<&TaskContext>) -> Result<(), NetError> {
    let guests: Vec<GuestMac> = guest_nics::guest_nics(state)
        .await
        .into_iter()
        .filter_map(|n| {
            Some(GuestMac {
                bridge: n.bridge,
                mac: n.mac?,
                name: format!("vm{}", n.vmid),
            })
        })
        .collect();
    let log = state.network.sync_nat(&guests)?;
    for line in log {
        match ctx {
            Some(ctx) => ctx.log(line),
            None => tracing::info!("network: {line}"),
        }
    }
    Ok(())
}

/// At daemon start: apply the stored network configuration, NAT and forwards, as a boot
/// would; failures are logged, the daemon still starts.
pub async fn start(state: &std::sync::Arc<AppState>) {
    match state.network.apply_on_start().await {
        Ok(log) => log.iter().for_each(|l| {
            if l.contains("FAILED") {
                tracing::warn!("network: {l}");
            } else {
                tracing::info!("network: {l}");
            }
        }),
        Err(err) => tracing::warn!("cannot apply the network configuration: {err}"),
    }
    // a change applied with a rollback window before a restart still rolls back in time
    confirm::resume(state.clone());
    {
        let _guard = state.network.lock().await;
        if let Err(err) = sync_nat(state, None).await {
            tracing::warn!("cannot set up NAT and port forwards: {err}");
        }
        match state.network.sync_vpn().await {
            Ok(log) => log.iter().for_each(|l| tracing::info!("network: {l}")),
            Err(err) => tracing::warn!("cannot set up the VPN endpoints: {err}"),
        }
    }
    let _guard = state.network.firewall_lock().await;
    if let Err(err) = crate::api::firewall::sync_firewall(state).await {
        tracing::warn!("cannot apply the guest firewalls: {err}");
    }
}

/// A guest NIC as the network layer plugs it.
#[derive(Debug, Clone, Default)]
pub struct PluggedNic<'a> {
    pub vmid: u32,
    /// `tap<vmid>i<n>` or `veth<vmid>i<n>`.
    pub ifname: &'a str,
    pub bridge: &'a str,
    pub mac: Option<&'a str>,
    pub firewall: bool,
    pub port: oxve_net::guest::PortOptions,
}

/// Everything a guest NIC needs once its device exists (VM start, hotplug, container start):
/// plugged into its bridge with MTU/rate/tag/link state, its fixed DHCP address on a NAT
/// bridge, and the guest firewall brought up to date when the NIC has `firewall=1`.
/// Idempotent; container engines that let LXC attach the veth call it too.
pub async fn guest_nic_plugged(state: &AppState, nic: &PluggedNic<'_>) -> Result<(), NetError> {
    let nl = oxve_net::netlink::Netlink::connect()?;
    oxve_net::guest::plug_port(&nl, nic.ifname, nic.bridge, &nic.port).await?;
    if let Some(mac) = nic.mac {
        let name = format!("vm{}", nic.vmid);
        if let Err(e) = state.network.ensure_lease(nic.bridge, mac, &name).await {
            tracing::warn!(vmid = nic.vmid, "no DHCP address for {}: {e}", nic.ifname);
        }
    }
    if nic.firewall {
        let _guard = state.network.firewall_lock().await;
        crate::api::firewall::sync_firewall(state)
            .await
            .map_err(|e| NetError::Command {
                command: "firewall".into(),
                message: e,
            })?;
    }
    Ok(())
}

/// A started container's NICs, after LXC made their veths and put them on their bridges:
/// each is wired as a VM's tap is (MTU, rate, tag, link state, its fixed DHCP address on a
/// NAT bridge, the firewall). The veths go with the container when it stops, and the firewall
/// keys its chains by device name, so a stop needs nothing undone (as for a VM's taps).
pub async fn ct_nics_plugged(
    state: &AppState,
    vmid: u32,
    conf: &oxve_types::lxc::CtConfig,
) -> Result<(), NetError> {
    for (index, net) in conf.nets() {
        let Some(bridge) = net.bridge() else {
            continue;
        };
        let ifname = oxve_net::guest::veth_name(vmid, index);
        let mac = net.hwaddr();
        let nic = PluggedNic {
            vmid,
            ifname: &ifname,
            bridge: &bridge,
            mac: mac.as_deref(),
            firewall: net.firewall(),
            port: oxve_net::guest::PortOptions {
                mtu: net.mtu(),
                rate: net.rate(),
                tag: net.tag(),
                link_down: net.link_down(),
            },
        };
        guest_nic_plugged(state, &nic).await?;
    }
    Ok(())
}
