//! Console access for the websocket proxies (`termproxy`, `vncwebsocket`): the socket paths of
//! a running VM's serial ports and VNC display.

use std::path::PathBuf;

use tokio::net::UnixStream;

use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};

impl QemuEngine {
    /// The socket of `serial<index>` of the running VM (configured as `serialN: socket`).
    pub fn serial_socket(&self, vmid: u32, index: u32) -> Result<PathBuf> {
        self.console_socket(
            vmid,
            self.paths.serial(vmid, index),
            format!("serial{index}"),
        )
    }

    /// The VNC socket of the running VM.
    pub fn vnc_socket(&self, vmid: u32) -> Result<PathBuf> {
        self.console_socket(vmid, self.paths.vnc(vmid), "vnc".into())
    }

    fn console_socket(&self, vmid: u32, path: PathBuf, console: String) -> Result<PathBuf> {
        if self.is_running(vmid).is_none() {
            return Err(QemuError::NotRunning { vmid });
        }
        if !path.exists() {
            return Err(QemuError::NoConsole { vmid, console });
        }
        Ok(path)
    }

    /// Connects to `serial<index>` of the running VM (QEMU serves one client at a time).
    pub async fn connect_serial(&self, vmid: u32, index: u32) -> Result<UnixStream> {
        let path = self.serial_socket(vmid, index)?;
        UnixStream::connect(&path)
            .await
            .map_err(|e| QemuError::io(format!("connect to {}", path.display()), e))
    }
}
