//! Reading and writing disk images through NBD, the way backups and restores reach disks that
//! are not plain files: a running VM's point-in-time view exported by its own QEMU, or a
//! stopped qcow2/vmdk image exported by `qemu-nbd`.
//!
//! - [`NbdClient`]: the client side of the protocol (fixed newstyle handshake, `NBD_OPT_GO`,
//!   simple replies): read, write, write zeroes, flush.
//! - [`map_extents`]: where an export holds data, from `qemu-img map` (which asks the server
//!   for block status), so zero ranges are never read.
//! - [`QemuNbd`]: a `qemu-nbd` process serving one image on a Unix socket, stopped on drop.
//! - [`NbdSource`] / [`NbdTarget`]: an export as an archive disk source or restore target.

mod adapters;
mod client;
mod error;
mod extents;
mod process;

pub use adapters::{NbdSource, NbdTarget};
pub use client::NbdClient;
pub use error::NbdError;
pub use extents::map_extents;
pub use process::QemuNbd;

/// The export name a [`QemuNbd`] serves.
pub fn process_export() -> &'static str {
    process::EXPORT
}

/// The `nbd+unix://` URI of export `name` on `socket`, as QEMU's tools take it.
pub fn export_uri(socket: &std::path::Path, name: &str) -> String {
    format!("nbd+unix:///{name}?socket={}", socket.display())
}
