//! The command a container console runs on a terminal, as Proxmox's termproxy does for each
//! `cmode`: `tty` attaches to one of the container's ttys and `console` to `/dev/console`
//! (both with `lxc-console`, escape disabled), `shell` runs a shell inside (`lxc-attach`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The console command of container `vmid` under `lxc_path` for console mode `cmode`.
pub fn console_command(lxc_path: &Path, vmid: u32, cmode: &str) -> Command {
    let name = vmid.to_string();
    let mut cmd;
    if cmode == "shell" {
        cmd = Command::new("lxc-attach");
        cmd.args(["-n", &name, "-P"])
            .arg(lxc_path)
            .args(["--clear-env", "--keep-var", "TERM"]);
    } else {
        cmd = Command::new("lxc-console");
        cmd.args(["-n", &name, "-P"]).arg(lxc_path);
        if cmode == "console" {
            cmd.args(["-t", "0"]);
        }
        cmd.args(["-e", "-1"]);
    }
    cmd.env("TERM", "xterm-256color").current_dir("/");
    cmd
}

/// A console command running on a pseudo terminal: its output is read from `reader`,
/// keystrokes go to `writer`. Dropping it kills the command's process group.
pub struct PtySession {
    pub reader: tokio::fs::File,
    pub writer: tokio::fs::File,
    master: OwnedFd,
    child: std::process::Child,
}

impl PtySession {
    /// Runs `cmd` as a session leader with a new terminal as its controlling terminal.
    pub fn spawn(mut cmd: Command) -> std::io::Result<PtySession> {
        let pty = nix::pty::openpty(None, None).map_err(std::io::Error::from)?;
        cmd.stdin(Stdio::from(pty.slave.try_clone()?))
            .stdout(Stdio::from(pty.slave.try_clone()?))
            .stderr(Stdio::from(pty.slave));
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        // The slave ends in the parent close with `cmd`, so reads end when the command does.
        drop(cmd);
        let file = |fd: &OwnedFd| -> std::io::Result<tokio::fs::File> {
            Ok(tokio::fs::File::from_std(std::fs::File::from(
                fd.try_clone()?,
            )))
        };
        Ok(PtySession {
            reader: file(&pty.master)?,
            writer: file(&pty.master)?,
            master: pty.master,
            child,
        })
    }

    /// Sets the terminal size (termproxy's resize message).
    pub fn resize(&self, cols: u16, rows: u16) {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer on our own master fd.
        unsafe {
            libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size);
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        // The command leads its own process group (setsid): end it and what it started.
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGHUP);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Command) -> Vec<String> {
        std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[tokio::test]
    async fn commands_run_on_a_terminal() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut cmd = Command::new("/bin/sh");
        cmd.args([
            "-c",
            "stty size; test -t 0 && echo TTY; read x; echo got-$x",
        ]);
        let mut s = PtySession::spawn(cmd).unwrap();
        s.resize(100, 30);
        s.writer.write_all(b"abc\n").await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        // the output ends with EIO once the command is gone
        while let Ok(n) = s.reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("TTY") && out.contains("got-abc"), "{out}");
    }

    #[test]
    fn modes() {
        let p = Path::new("/run/oxve/lxc");
        assert_eq!(
            args(&console_command(p, 100, "tty")),
            [
                "lxc-console",
                "-n",
                "100",
                "-P",
                "/run/oxve/lxc",
                "-e",
                "-1"
            ]
        );
        assert_eq!(
            args(&console_command(p, 100, "console")),
            [
                "lxc-console",
                "-n",
                "100",
                "-P",
                "/run/oxve/lxc",
                "-t",
                "0",
                "-e",
                "-1"
            ]
        );
        assert_eq!(
            args(&console_command(p, 100, "shell"))[..6],
            [
                "lxc-attach",
                "-n",
                "100",
                "-P",
                "/run/oxve/lxc",
                "--clear-env"
            ]
        );
    }
}
