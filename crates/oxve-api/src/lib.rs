//! The HTTP API of an oxve node: Proxmox-compatible request handling (`http`) and the
//! handlers of each path (`api`). Handlers stay thin and call the engine crates.

pub mod api;
pub mod cache;
pub mod consoles;
pub mod env;
pub mod guest_config;
pub mod guest_destroy;
pub mod guest_snapshot;
pub mod guests;
pub mod http;
pub mod rrd_sampler;
pub mod scheduler;
pub mod state;
pub mod storage_service;

pub use env::RpcEnv;
pub use http::{serve, ApiServer, Listeners};
pub use state::{AppState, HostInfo};
