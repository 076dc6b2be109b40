//! The guest firewall, Proxmox-style: `.fw` files (options and rules) at datacenter and guest
//! level, rule macros, and enforcement in nftables on the guests' taps and veths.

pub mod config;
pub mod macros;
pub mod nft;
pub mod rule;

pub use config::FwConfig;
pub use rule::{Rule, RuleError, RuleType};
