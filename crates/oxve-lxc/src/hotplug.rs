//! NICs plugged into and out of a running container, as pct does: the same veth LXC makes at
//! start (`veth<vmid>i<n>` on the bridge), its peer moved into the container's network
//! namespace under the configured name, MAC, MTU, addresses and gateways.

use oxve_types::lxc::CtNet;

use crate::cmd::run_async;
use crate::engine::LxcEngine;
use crate::error::{LxcError, Result};
use crate::lxcconf::bridge_exists;

/// The host side of NIC `index` of container `vmid`.
pub fn host_veth(vmid: u32, index: u32) -> String {
    format!("veth{vmid}i{index}")
}

/// `ip` inside the network namespace of process `pid`.
async fn ip_in(pid: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["-t", pid, "-n", "ip"];
    all.extend_from_slice(args);
    run_async("nsenter", &all).await
}

impl LxcEngine {
    /// Plugs NIC `index` (`net`) into running container `vmid`; on failure nothing is left.
    pub async fn hotplug_nic(&self, vmid: u32, index: u32, net: &CtNet) -> Result<()> {
        let key = format!("net{index}");
        let bridge = net.bridge().unwrap_or_default();
        if !bridge_exists(&bridge).await {
            return Err(LxcError::NoBridge { vmid, key, bridge });
        }
        let pid = self
            .init_pid(vmid)
            .await
            .ok_or_else(|| LxcError::Tool {
                tool: "lxc-info".into(),
                message: format!("CT {vmid} is not running"),
            })?
            .to_string();
        let host = host_veth(vmid, index);
        // A temporary name for the peer, free in both namespaces.
        let peer = format!("vp{vmid}i{index}");
        run_async(
            "ip",
            &["link", "add", &host, "type", "veth", "peer", "name", &peer],
        )
        .await?;
        let plugged = async {
            if let Some(mtu) = net.mtu() {
                let mtu = mtu.to_string();
                run_async("ip", &["link", "set", &host, "mtu", &mtu]).await?;
                run_async("ip", &["link", "set", &peer, "mtu", &mtu]).await?;
            }
            run_async("ip", &["link", "set", &host, "master", &bridge, "up"]).await?;
            run_async("ip", &["link", "set", &peer, "netns", &pid]).await?;
            let name = net.name();
            ip_in(&pid, &["link", "set", &peer, "name", &name]).await?;
            if let Some(mac) = net.hwaddr() {
                ip_in(&pid, &["link", "set", &name, "address", &mac]).await?;
            }
            if net.link_down() {
                return Ok(());
            }
            ip_in(&pid, &["link", "set", &name, "up"]).await?;
            for (family, addr, gw) in [("-4", net.ip(), net.gw()), ("-6", net.ip6(), net.gw6())] {
                // dhcp, auto and manual are the container's own business
                let Some(addr) = addr.filter(|a| a.contains('/')) else {
                    continue;
                };
                ip_in(&pid, &[family, "addr", "add", &addr, "dev", &name]).await?;
                if let Some(gw) = gw {
                    ip_in(
                        &pid,
                        &[
                            family, "route", "replace", "default", "via", &gw, "dev", &name,
                        ],
                    )
                    .await?;
                }
            }
            Ok::<(), LxcError>(())
        }
        .await;
        if plugged.is_err() {
            // deleting one end of a veth pair removes both, wherever the peer went
            let _ = run_async("ip", &["link", "del", &host]).await;
        }
        plugged
    }

    /// Unplugs NIC `index` of running container `vmid`.
    pub async fn unplug_nic(&self, vmid: u32, index: u32) -> Result<()> {
        run_async("ip", &["link", "del", &host_veth(vmid, index)])
            .await
            .map(|_| ())
    }
}
