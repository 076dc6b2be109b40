//! A `qemu-nbd` process serving one image file on a Unix socket for as long as the handle
//! lives: how backups read stopped qcow2/vmdk disks and restores write into new ones.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{NbdError, Result};

/// The export name `qemu-nbd` serves.
pub const EXPORT: &str = "disk";

pub struct QemuNbd {
    child: Child,
    socket: PathBuf,
}

impl QemuNbd {
    /// Serves `image` (in `format`) on `socket`; read-only unless `writable`.
    pub fn serve(image: &Path, format: &str, socket: &Path, writable: bool) -> Result<QemuNbd> {
        let _ = std::fs::remove_file(socket);
        let mut cmd = Command::new("qemu-nbd");
        cmd.arg("--persistent")
            .arg("--shared=4")
            .arg(format!("--format={format}"))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--export-name={EXPORT}"))
            .arg("--cache=none")
            .arg("--aio=io_uring");
        if writable {
            cmd.arg("--discard=unmap").arg("--detect-zeroes=unmap");
        } else {
            cmd.arg("--read-only");
        }
        cmd.arg(image)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(NbdError::Tool(format!(
                    "qemu-nbd exited ({status}): {}",
                    err.trim()
                )));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NbdError::Tool("qemu-nbd did not come up".into()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(QemuNbd {
            child,
            socket: socket.to_path_buf(),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Stops the server the clean way (SIGTERM: it flushes the image's metadata and exits)
    /// and says whether it did.
    pub fn stop(mut self) -> Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<()> {
        let _ = std::fs::remove_file(&self.socket);
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return if status.success() || status.signal() == Some(libc::SIGTERM) {
                    Ok(())
                } else {
                    Err(NbdError::Tool(format!("qemu-nbd exited with {status}")))
                };
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(NbdError::Tool("qemu-nbd did not stop".into()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for QemuNbd {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}
