//! Keeping NAT, DHCP and port forwards in line with the applied configuration: the nftables
//! table, one dnsmasq per NAT bridge with the guests' fixed addresses, IPv4 forwarding.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::dnsmasq::{self, DnsmasqPaths};
use crate::error::Result;
use crate::forwards::Forwards;
use crate::interfaces::{IfaceType, InterfacesFile};
use crate::nat::{self, NatBridge};
use crate::service::{write_atomic, NetworkService};

/// A guest NIC that may need a DHCP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestMac {
    pub bridge: String,
    pub mac: String,
    /// Host name for the lease (`vm<vmid>`).
    pub name: String,
}

/// The NAT bridges a configuration brings up.
pub fn nat_bridges(file: &InterfacesFile) -> Vec<NatBridge> {
    file.ifaces
        .iter()
        .filter(|(n, i)| i.autostart && i.is_nat() && i.iface_type(n) == IfaceType::Bridge)
        .filter_map(|(n, i)| {
            let ula6 = i
                .inet6
                .as_ref()
                .and_then(|f| nat::ula_subnet(f.address.as_deref()?, f.netmask.as_deref()));
            Some(NatBridge {
                bridge: n.clone(),
                cidr: i.cidr()?,
                ula6,
            })
        })
        .collect()
}

/// dnsmasq's configuration for a NAT bridge: DHCP and DNS, and router advertisements when
/// the bridge has an IPv6 subnet (guests configure their IPv6 address themselves).
fn dnsmasq_config(n: &NatBridge, paths: &DnsmasqPaths) -> String {
    let mut conf = dnsmasq::config(&n.bridge, &n.cidr, paths);
    if n.ula6.is_some() {
        conf.push_str(&format!(
            "enable-ra\ndhcp-range=::,constructor:{},ra-only\n",
            n.bridge
        ));
    }
    conf
}

impl NetworkService {
    pub fn forwards_path(&self) -> PathBuf {
        self.dir().join("forwards.json")
    }

    pub fn load_forwards(&self) -> Result<Forwards> {
        Forwards::load(&self.forwards_path())
    }

    pub fn save_forwards(&self, forwards: &Forwards) -> Result<()> {
        forwards.save(&self.forwards_path())
    }

    fn dnsmasq_paths(&self, bridge: &str) -> DnsmasqPaths {
        DnsmasqPaths::new(self.dir(), self.run_dir(), bridge)
    }

    /// Make nftables, dnsmasq and forwarding match the applied configuration, the stored
    /// forwards and the guests' NICs. Call with the lock held. Returns what it did.
    pub fn sync_nat(&self, guests: &[GuestMac]) -> Result<Vec<String>> {
        let mut log = Vec::new();
        let active = self.read_active()?;
        let nats = nat_bridges(&active);
        let forwards: Vec<_> = self
            .load_forwards()?
            .forwards
            .into_iter()
            .filter(|f| nats.iter().any(|n| n.bridge == f.bridge))
            .collect();
        if !nats.is_empty() {
            nat::enable_ip_forward()?;
        }
        if nats.iter().any(|n| n.ula6.is_some()) {
            nat::enable_ipv6_forward()?;
        }
        nat::nft_apply(&nat::ruleset(&nats, &forwards))?;
        if !nats.is_empty() || !forwards.is_empty() {
            log.push(format!(
                "nftables: {} NAT bridge(s), {} port forward(s)",
                nats.len(),
                forwards.len()
            ));
        }
        for n in &nats {
            let paths = self.dnsmasq_paths(&n.bridge);
            let mut leases = dnsmasq::load_leases(&paths.hosts);
            for g in guests.iter().filter(|g| g.bridge == n.bridge) {
                dnsmasq::assign(&mut leases, &g.mac, &g.name, &n.cidr);
            }
            write_atomic(&paths.hosts, &dnsmasq::render_leases(&leases))?;
            dnsmasq::ensure_running(&paths, &dnsmasq_config(n, &paths))?;
            log.push(format!(
                "{}: DHCP/DNS with {} fixed address(es)",
                n.bridge,
                leases.len()
            ));
        }
        // dnsmasq of bridges that are no longer NAT bridges
        if let Ok(entries) = std::fs::read_dir(self.run_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(bridge) = name
                    .strip_prefix("dnsmasq-")
                    .and_then(|r| r.strip_suffix(".conf"))
                {
                    if !nats.iter().any(|n| n.bridge == bridge) {
                        dnsmasq::stop(&self.dnsmasq_paths(bridge));
                        log.push(format!("{bridge}: DHCP/DNS stopped"));
                    }
                }
            }
        }
        Ok(log)
    }

    /// The fixed address of a guest NIC on a NAT bridge (assigned now if new, and handed to
    /// the running dnsmasq); `None` when the bridge is not an applied NAT bridge.
    pub async fn ensure_lease(
        &self,
        bridge: &str,
        mac: &str,
        name: &str,
    ) -> Result<Option<Ipv4Addr>> {
        let _guard = self.lock().await;
        let Some(n) = nat_bridges(&self.read_active()?)
            .into_iter()
            .find(|n| n.bridge == bridge)
        else {
            return Ok(None);
        };
        let paths = self.dnsmasq_paths(bridge);
        let mut leases = dnsmasq::load_leases(&paths.hosts);
        let before = leases.clone();
        let ip = dnsmasq::assign(&mut leases, mac, name, &n.cidr);
        if leases != before {
            write_atomic(&paths.hosts, &dnsmasq::render_leases(&leases))?;
            dnsmasq::ensure_running(&paths, &dnsmasq_config(&n, &paths))?;
        }
        Ok(ip)
    }

    /// The fixed addresses on `bridge`.
    pub fn leases(&self, bridge: &str) -> Vec<dnsmasq::StaticLease> {
        dnsmasq::load_leases(&self.dnsmasq_paths(bridge).hosts)
    }
}

impl NetworkService {
    pub fn vpn_path(&self) -> PathBuf {
        self.dir().join("vpn.json")
    }

    pub fn load_vpn(&self) -> Result<crate::vpn::VpnConfig> {
        crate::vpn::VpnConfig::load(&self.vpn_path())
    }

    pub fn save_vpn(&self, cfg: &crate::vpn::VpnConfig) -> Result<()> {
        cfg.save(&self.vpn_path())
    }

    /// Bring every VPN endpoint of an applied NAT bridge up (with IPv4 forwarding, so its
    /// peers reach the guests). Call with the lock held. Returns what it did.
    pub async fn sync_vpn(&self) -> Result<Vec<String>> {
        let cfg = self.load_vpn()?;
        let nats = nat_bridges(&self.read_active()?);
        let nl = crate::netlink::Netlink::connect()?;
        let mut log = Vec::new();
        for ep in &cfg.endpoints {
            if !nats.iter().any(|n| n.bridge == ep.bridge) {
                crate::vpn::remove_endpoint(&nl, &ep.ifname).await?;
                continue;
            }
            nat::enable_ip_forward()?;
            std::fs::create_dir_all(self.run_dir())
                .map_err(|e| crate::NetError::io("creating", self.run_dir(), e))?;
            let how = crate::vpn::apply_endpoint(&nl, ep, self.run_dir()).await?;
            log.push(format!(
                "{}: WireGuard endpoint {} on port {} ({how}), {} peer(s)",
                ep.bridge,
                ep.ifname,
                ep.listen_port,
                ep.peers.len()
            ));
        }
        Ok(log)
    }
}
