//! Host networking for oxve: the interfaces file (ifupdown2 syntax, Proxmox's model), applying
//! it through netlink in the daemon's network namespace, plugging guest taps and veths into
//! bridges, NAT bridges (nftables masquerade + dnsmasq) and port forwards (DNAT).

pub mod apply;
pub mod cidr;
pub mod dnsmasq;
pub mod error;
pub mod firewall;
pub mod forwards;
pub mod guest;
pub mod interfaces;
pub mod nat;
pub mod nat_sync;
pub mod netlink;
pub mod netns;
pub mod service;
pub mod vpn;

pub use error::{ConfigError, NetError, Result};
