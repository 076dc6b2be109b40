//! The few netlink requests the network layer makes (links, addresses, default routes), on a
//! connection in the calling process's network namespace.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{BondMode, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{
    Handle, LinkBond, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, LinkVlan, LinkVxlan,
    LinkWireguard, RouteMessageBuilder,
};

use crate::error::{NetError, Result};

/// A network device as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, `tun`, `vlan`, ...; `None` for physical NICs (and loopback).
    pub kind: Option<String>,
    /// Administratively up.
    pub up: bool,
    /// The bridge (or bond) it is a port of.
    pub master: Option<u32>,
    pub mtu: Option<u32>,
}

/// What to create for a virtual device.
#[derive(Debug, Clone, PartialEq)]
pub enum NewLink {
    Bridge,
    Vlan {
        parent: u32,
        id: u16,
    },
    Bond {
        mode: Option<String>,
    },
    Vxlan {
        id: u32,
        local: Option<Ipv4Addr>,
        remote: Option<Ipv4Addr>,
        dev: Option<u32>,
    },
    Veth {
        peer: String,
    },
    Wireguard,
}

impl NewLink {
    fn feature(&self) -> &'static str {
        match self {
            NewLink::Bridge => "bridges",
            NewLink::Vlan { .. } => "802.1Q VLAN devices (8021q)",
            NewLink::Bond { .. } => "bonding",
            NewLink::Vxlan { .. } => "VXLAN",
            NewLink::Veth { .. } => "veth pairs",
            NewLink::Wireguard => "kernel WireGuard",
        }
    }
}

/// A netlink connection.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

const EOPNOTSUPP: i32 = 95;
const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const ESRCH: i32 = 3;
const EADDRNOTAVAIL: i32 = 99;

fn nl_error(op: impl Into<String>, e: rtnetlink::Error) -> NetError {
    let errno = match &e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    };
    let message = match errno {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => e.to_string(),
    };
    NetError::Netlink {
        op: op.into(),
        message,
        errno,
    }
}

fn link_from(msg: LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        kind: None,
        up: msg.header.flags.contains(LinkFlags::Up),
        master: None,
        mtu: None,
    };
    for attr in msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Controller(m) => link.master = Some(m),
            LinkAttribute::Mtu(m) => link.mtu = Some(m),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn bond_mode(name: &str) -> Option<BondMode> {
    Some(match name {
        "balance-rr" => BondMode::BalanceRr,
        "active-backup" => BondMode::ActiveBackup,
        "balance-xor" => BondMode::BalanceXor,
        "broadcast" => BondMode::Broadcast,
        "802.3ad" => BondMode::Ieee8023Ad,
        "balance-tlb" => BondMode::BalanceTlb,
        "balance-alb" => BondMode::BalanceAlb,
        _ => return None,
    })
}

impl Netlink {
    /// Open a connection in this process's network namespace (needs a tokio runtime).
    pub fn connect() -> Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(NetError::Connect)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Every device.
    pub async fn links(&self) -> Result<Vec<Link>> {
        let mut stream = self.handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| nl_error("listing links", e))?
        {
            out.push(link_from(msg));
        }
        Ok(out)
    }

    /// The device called `name`, if any.
    pub async fn link(&self, name: &str) -> Result<Option<Link>> {
        let mut stream = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match stream.try_next().await {
            Ok(msg) => Ok(msg.map(link_from)),
            Err(e) => {
                let err = nl_error(format!("looking up {name}"), e);
                if err.errno() == Some(ENODEV) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The device called `name`, which must exist.
    pub async fn require(&self, name: &str) -> Result<Link> {
        self.link(name)
            .await?
            .ok_or_else(|| NetError::NoSuchLink(name.to_string()))
    }

    /// Create a virtual device (down; [`Netlink::set_up`] brings it up).
    pub async fn add(&self, name: &str, what: &NewLink) -> Result<()> {
        let msg = match what {
            NewLink::Bridge => LinkBridge::new(name).down().build(),
            NewLink::Vlan { parent, id } => LinkVlan::new(name, *parent, *id).down().build(),
            NewLink::Bond { mode } => {
                let mut b = LinkBond::new(name).down();
                if let Some(m) = mode.as_deref().and_then(bond_mode) {
                    b = b.mode(m);
                }
                b.build()
            }
            NewLink::Vxlan {
                id,
                local,
                remote,
                dev,
            } => {
                let mut b = LinkVxlan::new(name, *id).down().port(4789);
                if let Some(l) = local {
                    b = b.local(*l);
                }
                if let Some(r) = remote {
                    b = b.remote(*r);
                }
                if let Some(d) = dev {
                    b = b.dev(*d);
                }
                b.build()
            }
            NewLink::Veth { peer } => LinkVeth::new(name, peer).down().build(),
            NewLink::Wireguard => LinkWireguard::new(name).down().build(),
        };
        self.handle.link().add(msg).execute().await.map_err(|e| {
            let err = nl_error(format!("creating {name}"), e);
            match err.errno() {
                Some(EOPNOTSUPP) => NetError::Unsupported {
                    iface: name.to_string(),
                    feature: what.feature(),
                    detail: err.to_string(),
                },
                Some(EEXIST) => NetError::Invalid(format!("interface '{name}' already exists")),
                _ => err,
            }
        })
    }

    /// Remove a device (a veth takes its peer along).
    pub async fn delete(&self, link: &Link) -> Result<()> {
        match self.handle.link().del(link.index).execute().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = nl_error(format!("deleting {}", link.name), e);
                if err.errno() == Some(ENODEV) {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn set(&self, op: String, msg: LinkMessage) -> Result<()> {
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| nl_error(op, e))
    }

    pub async fn set_up(&self, link: &Link, up: bool) -> Result<()> {
        let b = LinkUnspec::new_with_index(link.index);
        let b = if up { b.up() } else { b.down() };
        self.set(
            format!("setting {} {}", link.name, if up { "up" } else { "down" }),
            b.build(),
        )
        .await
    }

    /// Make `link` a port of `master`, or of nothing.
    pub async fn set_master(&self, link: &Link, master: Option<&Link>) -> Result<()> {
        let b = LinkUnspec::new_with_index(link.index);
        let (b, op) = match master {
            Some(m) => (
                b.controller(m.index),
                format!("attaching {} to {}", link.name, m.name),
            ),
            None => (b.nocontroller(), format!("detaching {}", link.name)),
        };
        self.set(op, b.build()).await
    }

    pub async fn set_mtu(&self, link: &Link, mtu: u32) -> Result<()> {
        let msg = LinkUnspec::new_with_index(link.index).mtu(mtu).build();
        self.set(format!("setting the MTU of {} to {mtu}", link.name), msg)
            .await
    }

    /// Bridge settings: forward delay (seconds), STP, VLAN filtering.
    pub async fn set_bridge(
        &self,
        link: &Link,
        fd: Option<u32>,
        stp: bool,
        vlan_aware: bool,
    ) -> Result<()> {
        let mut b = LinkMessageBuilder::<LinkBridge>::new(&link.name)
            .index(link.index)
            .stp_state(if stp {
                rtnetlink::packet_route::link::BridgeStpState::KernelStp
            } else {
                rtnetlink::packet_route::link::BridgeStpState::Disabled
            });
        if let Some(fd) = fd {
            // The kernel counts in centiseconds.
            b = b.forward_delay(fd * 100);
        }
        self.handle
            .link()
            .change(b.build())
            .execute()
            .await
            .map_err(|e| nl_error(format!("configuring bridge {}", link.name), e))?;
        if vlan_aware {
            let msg = LinkMessageBuilder::<LinkBridge>::new(&link.name)
                .index(link.index)
                .vlan_filtering(true)
                .build();
            self.handle
                .link()
                .change(msg)
                .execute()
                .await
                .map_err(|e| {
                    let err = nl_error(format!("enabling VLAN filtering on {}", link.name), e);
                    match err.errno() {
                        Some(EOPNOTSUPP) => NetError::Unsupported {
                            iface: link.name.clone(),
                            feature: "bridge VLAN filtering (bridge_vlan_aware)",
                            detail: err.to_string(),
                        },
                        _ => err,
                    }
                })?;
        }
        Ok(())
    }

    /// The addresses of a device with their prefix lengths.
    pub async fn addresses(&self, link: &Link) -> Result<Vec<(IpAddr, u8)>> {
        Ok(self
            .address_messages(link)
            .await?
            .into_iter()
            .filter_map(|m| {
                let prefix = m.header.prefix_len;
                m.attributes
                    .iter()
                    .find_map(|a| match a {
                        AddressAttribute::Local(ip) => Some((*ip, prefix)),
                        _ => None,
                    })
                    .or_else(|| {
                        m.attributes.iter().find_map(|a| match a {
                            AddressAttribute::Address(ip) => Some((*ip, prefix)),
                            _ => None,
                        })
                    })
            })
            .collect())
    }

    async fn address_messages(&self, link: &Link) -> Result<Vec<AddressMessage>> {
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(link.index)
            .execute();
        let mut out = Vec::new();
        while let Some(m) = stream
            .try_next()
            .await
            .map_err(|e| nl_error(format!("listing addresses of {}", link.name), e))?
        {
            out.push(m);
        }
        Ok(out)
    }

    pub async fn add_address(&self, link: &Link, ip: IpAddr, prefix: u8) -> Result<()> {
        match self
            .handle
            .address()
            .add(link.index, ip, prefix)
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = nl_error(format!("adding {ip}/{prefix} to {}", link.name), e);
                if err.errno() == Some(EEXIST) {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    pub async fn del_address(&self, link: &Link, ip: IpAddr, prefix: u8) -> Result<()> {
        for msg in self.address_messages(link).await? {
            let matches = msg.header.prefix_len == prefix
                && msg.attributes.iter().any(|a| {
                    matches!(a, AddressAttribute::Local(x) | AddressAttribute::Address(x) if *x == ip)
                });
            if matches {
                if let Err(e) = self.handle.address().del(msg).execute().await {
                    let err = nl_error(format!("removing {ip}/{prefix} from {}", link.name), e);
                    if err.errno() != Some(EADDRNOTAVAIL) {
                        return Err(err);
                    }
                }
            }
        }
        Ok(())
    }

    /// Point the default IPv4 route at `gateway` through `link`.
    pub async fn set_default_route(&self, link: &Link, gateway: Ipv4Addr) -> Result<()> {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gateway)
            .output_interface(link.index)
            .build();
        self.handle
            .route()
            .add(route)
            .replace()
            .execute()
            .await
            .map_err(|e| {
                nl_error(
                    format!("setting the default route via {gateway} on {}", link.name),
                    e,
                )
            })
    }

    /// Remove the default IPv4 route via `gateway`, if there is one.
    pub async fn del_default_route(&self, gateway: Ipv4Addr) -> Result<()> {
        let mut stream = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute();
        let mut found: Vec<RouteMessage> = Vec::new();
        while let Some(r) = stream
            .try_next()
            .await
            .map_err(|e| nl_error("listing routes", e))?
        {
            let default = r.header.destination_prefix_length == 0
                && r.header.address_family == AddressFamily::Inet;
            let via = r.attributes.iter().any(|a| {
                matches!(a, RouteAttribute::Gateway(rtnetlink::packet_route::route::RouteAddress::Inet(g)) if *g == gateway)
            });
            if default && via {
                found.push(r);
            }
        }
        for r in found {
            if let Err(e) = self.handle.route().del(r).execute().await {
                let err = nl_error(format!("removing the default route via {gateway}"), e);
                if err.errno() != Some(ESRCH) {
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

/// Whether a link's kind is one the interfaces file creates and so may also remove.
pub fn is_virtual_kind(kind: Option<&str>) -> bool {
    matches!(kind, Some("bridge" | "vlan" | "bond" | "vxlan"))
}
