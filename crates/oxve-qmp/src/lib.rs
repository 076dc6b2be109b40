//! An async typed client for QEMU's machine protocol (QMP) over a unix socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oxve_qmp::QmpError> {
//! use std::time::Duration;
//! use oxve_qmp::{events::names, QmpClient};
//!
//! let qmp = QmpClient::connect("/run/oxve/qemu/100.qmp").await?;
//! let mut events = qmp.subscribe();
//! if qmp.query_status().await?.running {
//!     qmp.system_powerdown().await?;
//!     events.wait_for_event(names::SHUTDOWN, Duration::from_secs(60)).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! - [`QmpClient::connect`] reads the greeting and negotiates capabilities; clones of the
//!   client share one connection, commands run concurrently and are matched to their replies by
//!   id, each with a timeout ([`QmpClient::with_timeout`]).
//! - Events go to every [`Events`] stream from [`QmpClient::subscribe`].
//! - [`fake`] is a scriptable fake QEMU for unit tests of code that drives QMP.

mod client;
mod commands;
mod error;
pub mod events;
pub mod fake;
mod protocol;
pub mod qga;
pub mod types;

pub use client::{ConnectOptions, QmpClient};
pub use commands::{BlockRef, BlockdevMirror, DriveMirror, KeyValue, MirrorSync};
pub use error::{QmpError, Result};
pub use events::Events;
pub use protocol::{Event, Greeting, Timestamp};

#[cfg(test)]
mod tests;
