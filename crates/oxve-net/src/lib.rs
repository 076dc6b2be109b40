//! Host networking for oxve: the interfaces file (ifupdown2 syntax, Proxmox's model), applying
//! it through netlink in the daemon's network namespace, plugging guest taps and veths into
//! bridges, NAT bridges (nftables masquerade + dnsmasq) and port forwards (DNAT), WireGuard
//! access to NAT bridges, and the guest firewall (Proxmox `.fw` rules in nftables).
//!
//! oxve only ever touches what it declared: its own nftables tables (`ip oxve-nat`,
//! `bridge oxve-fw`), the devices its interfaces file creates, and its dnsmasq/wireguard-go
//! processes; each is replaced as a whole in one transaction.

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
pub mod rollback;
pub mod service;
pub mod vpn;

pub use error::{ConfigError, NetError, Result};
