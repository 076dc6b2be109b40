//! Guest NICs on bridges: a VM's tap (`tap<vmid>i<n>`, created by QEMU) or a container's veth
//! (`veth<vmid>i<n>`) is plugged into its bridge with the NIC's MTU, rate limit and link state,
//! as Proxmox's `pve-bridge` / `lxcnetaddbr` hooks do.

use std::process::Command;

use crate::error::{NetError, Result};
use crate::netlink::{Netlink, NewLink};

/// How a guest NIC is plugged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortOptions {
    /// MTU; `None` or `Some(1)` take the bridge's.
    pub mtu: Option<u32>,
    /// Rate limit in MB/s, both directions.
    pub rate: Option<f64>,
    /// Access VLAN tag.
    pub tag: Option<u16>,
    /// Keep the host side down (containers; a VM's link state is QEMU's).
    pub link_down: bool,
}

/// The host-side veth of container `vmid`'s `net<index>`.
pub fn veth_name(vmid: u32, index: u32) -> String {
    format!("veth{vmid}i{index}")
}

/// The tap of VM `vmid`'s `net<index>`.
pub fn tap_name(vmid: u32, index: u32) -> String {
    format!("tap{vmid}i{index}")
}

fn tc(args: &[&str]) -> std::result::Result<(), String> {
    let out = Command::new("tc")
        .args(args)
        .output()
        .map_err(|e| format!("tc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stderr);
        Err(text.trim().lines().collect::<Vec<_>>().join("; "))
    }
}

/// Limit `ifname` to `rate` MB/s each way (tbf towards the guest, policing from it), as
/// Proxmox does; `None` removes a limit.
pub fn set_rate_limit(ifname: &str, rate: Option<f64>) -> Result<()> {
    // deleting what is not there fails harmlessly
    let _ = tc(&["qdisc", "del", "dev", ifname, "ingress"]);
    let _ = tc(&["qdisc", "del", "dev", ifname, "root"]);
    let Some(rate) = rate.filter(|r| *r > 0.0) else {
        return Ok(());
    };
    let bps = format!("{}bps", (rate * 1024.0 * 1024.0) as u64);
    let burst = "1048576b";
    let unsupported = |what: &'static str, detail: String| NetError::Unsupported {
        iface: ifname.to_string(),
        feature: what,
        detail,
    };
    tc(&[
        "qdisc", "add", "dev", ifname, "root", "tbf", "rate", &bps, "burst", burst, "latency",
        "25ms",
    ])
    .map_err(|e| unsupported("the tbf qdisc (rate=)", e))?;
    let policed =
        tc(&["qdisc", "add", "dev", ifname, "handle", "ffff:", "ingress"]).and_then(|_| {
            tc(&[
                "filter", "add", "dev", ifname, "parent", "ffff:", "prio", "50", "basic", "police",
                "rate", &bps, "burst", burst, "mtu", "64kb", "drop",
            ])
        });
    if let Err(e) = policed {
        let _ = tc(&["qdisc", "del", "dev", ifname, "ingress"]);
        let _ = tc(&["qdisc", "del", "dev", ifname, "root"]);
        return Err(unsupported(
            "tc ingress policing (cls_basic, act_police) for the guest-to-host direction of rate=",
            e,
        ));
    }
    Ok(())
}

/// Put an access VLAN on a bridge port (needs a VLAN-aware bridge, i.e. bridge VLAN filtering).
fn set_access_vlan(ifname: &str, tag: u16) -> Result<()> {
    let out = Command::new("bridge")
        .args([
            "vlan",
            "add",
            "dev",
            ifname,
            "vid",
            &tag.to_string(),
            "pvid",
            "untagged",
            "master",
        ])
        .output()
        .map_err(|e| NetError::Command {
            command: "bridge vlan add".into(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(NetError::Unsupported {
        iface: ifname.to_string(),
        feature: "bridge VLAN filtering (for tag= on a guest NIC)",
        detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Plug an existing guest device `ifname` into `bridge`.
pub async fn plug_port(nl: &Netlink, ifname: &str, bridge: &str, opts: &PortOptions) -> Result<()> {
    let br = nl
        .link(bridge)
        .await?
        .filter(|l| l.kind.as_deref() == Some("bridge"))
        .ok_or_else(|| NetError::Invalid(format!("bridge '{bridge}' does not exist")))?;
    let port = nl.require(ifname).await?;
    let mtu = match opts.mtu {
        None | Some(1) => br.mtu,
        Some(m) => Some(m),
    };
    if let Some(m) = mtu.filter(|m| Some(*m) != port.mtu) {
        nl.set_mtu(&port, m).await?;
    }
    if port.master != Some(br.index) {
        nl.set_master(&port, Some(&br)).await?;
    }
    if let Some(tag) = opts.tag {
        set_access_vlan(ifname, tag)?;
    }
    set_rate_limit(ifname, opts.rate)?;
    nl.set_up(&port, !opts.link_down).await?;
    Ok(())
}

/// Create container `vmid`'s veth pair for `net<index>`: the host side `veth<vmid>i<n>` and
/// its peer `peer` (which the container engine moves into the container). Returns the host
/// side's name.
pub async fn create_ct_veth(nl: &Netlink, vmid: u32, index: u32, peer: &str) -> Result<String> {
    let host = veth_name(vmid, index);
    if let Some(old) = nl.link(&host).await? {
        // a leftover of a container that died without cleanup
        nl.delete(&old).await?;
    }
    nl.add(
        &host,
        &NewLink::Veth {
            peer: peer.to_string(),
        },
    )
    .await?;
    Ok(host)
}

/// Remove a guest device (a veth takes its peer along); a missing one is fine.
pub async fn unplug(nl: &Netlink, ifname: &str) -> Result<()> {
    match nl.link(ifname).await? {
        Some(link) => nl.delete(&link).await,
        None => Ok(()),
    }
}
