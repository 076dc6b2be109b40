//! Console sessions: what `vncproxy` / `termproxy` prepared and `vncwebsocket` connects to.
//!
//! Proxmox starts a proxy process listening on a port in 5900-5999 and hands out that port with
//! a one-time ticket; the websocket endpoint then connects the browser to the port. oxve bridges
//! in-process instead, but keeps the shape: a session is keyed by a "port" in the same range,
//! claimed once by a websocket carrying its ticket, and lives as a task (`vncproxy` /
//! `termproxy`) that ends when the connection closes or nobody connects in time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use tokio::sync::oneshot;

/// The range Proxmox hands out console ports from.
pub const PORTS: std::ops::RangeInclusive<u16> = 5900..=5999;

/// How long a prepared session waits for its websocket (Proxmox's proxies wait 10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The guest console a session reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleTarget {
    /// The VM's VNC display (raw RFB over the websocket).
    Vnc,
    /// `serial<N>` of the VM, spoken through the termproxy protocol.
    Serial(u32),
    /// A container's console in its `cmode`, on a terminal, through the termproxy protocol.
    Container(CtConsoleMode),
}

/// A container's console mode (`cmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtConsoleMode {
    /// One of the container's ttys.
    Tty,
    /// `/dev/console`.
    Console,
    /// A shell inside the container.
    Shell,
}

impl CtConsoleMode {
    pub fn parse(cmode: &str) -> Self {
        match cmode {
            "console" => CtConsoleMode::Console,
            "shell" => CtConsoleMode::Shell,
            _ => CtConsoleMode::Tty,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CtConsoleMode::Tty => "tty",
            CtConsoleMode::Console => "console",
            CtConsoleMode::Shell => "shell",
        }
    }
}

/// A prepared session, claimed by the websocket that presents its ticket.
#[derive(Debug)]
pub struct ConsoleSession {
    pub vmid: u32,
    pub target: ConsoleTarget,
    /// The user the session was made for (`user@realm`), checked again by termproxy's login.
    pub user: String,
    pub ticket: String,
    claimed: oneshot::Sender<()>,
    closed: oneshot::Sender<String>,
}

impl ConsoleSession {
    /// Tells the session's task that the websocket is connected; returns the sender that
    /// reports how the connection ended.
    pub fn connected(self) -> oneshot::Sender<String> {
        let _ = self.claimed.send(());
        self.closed
    }
}

/// What the session's task waits on.
#[derive(Debug)]
pub struct SessionWatch {
    pub claimed: oneshot::Receiver<()>,
    pub closed: oneshot::Receiver<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConsoleError {
    #[error("unable to find free port (5900-5999)")]
    NoFreePort,
}

/// The node's open console sessions.
#[derive(Default)]
pub struct ConsoleSessions {
    sessions: Mutex<HashMap<u16, ConsoleSession>>,
}

fn new_ticket() -> String {
    let bytes = oxve_auth::authkey::random_bytes(24);
    format!(
        "PVEVNC:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Compares in time independent of where the strings differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl ConsoleSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u16, ConsoleSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prepares a session on the lowest free port; returns the port, the ticket and what its
    /// task waits on.
    pub fn open(
        &self,
        vmid: u32,
        target: ConsoleTarget,
        user: &str,
    ) -> Result<(u16, String, SessionWatch), ConsoleError> {
        let mut sessions = self.lock();
        let port = PORTS
            .clone()
            .find(|p| !sessions.contains_key(p))
            .ok_or(ConsoleError::NoFreePort)?;
        let ticket = new_ticket();
        let (claimed_tx, claimed_rx) = oneshot::channel();
        let (closed_tx, closed_rx) = oneshot::channel();
        sessions.insert(
            port,
            ConsoleSession {
                vmid,
                target,
                user: user.to_string(),
                ticket: ticket.clone(),
                claimed: claimed_tx,
                closed: closed_tx,
            },
        );
        Ok((
            port,
            ticket,
            SessionWatch {
                claimed: claimed_rx,
                closed: closed_rx,
            },
        ))
    }

    /// Whether `port` holds an unclaimed session of `vmid` with `ticket`.
    pub fn is_valid(&self, port: u16, vmid: u32, ticket: &str) -> bool {
        self.lock()
            .get(&port)
            .is_some_and(|s| s.vmid == vmid && same_secret(&s.ticket, ticket))
    }

    /// Takes the session of `port` if `vmid` and `ticket` match (once).
    pub fn claim(&self, port: u16, vmid: u32, ticket: &str) -> Option<ConsoleSession> {
        let mut sessions = self.lock();
        if !sessions
            .get(&port)
            .is_some_and(|s| s.vmid == vmid && same_secret(&s.ticket, ticket))
        {
            return None;
        }
        sessions.remove(&port)
    }

    /// Drops the session of `port` if still unclaimed (its task gave up waiting).
    pub fn expire(&self, port: u16, ticket: &str) {
        let mut sessions = self.lock();
        if sessions.get(&port).is_some_and(|s| s.ticket == ticket) {
            sessions.remove(&port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_claimed_once_with_their_ticket() {
        let sessions = ConsoleSessions::default();
        let (p1, t1, _w1) = sessions.open(100, ConsoleTarget::Vnc, "root@pam").unwrap();
        let (p2, t2, _w2) = sessions
            .open(101, ConsoleTarget::Serial(0), "root@pam")
            .unwrap();
        assert_eq!((p1, p2), (5900, 5901));
        assert!(t1.starts_with("PVEVNC:") && t1 != t2);
        assert!(!sessions.is_valid(p1, 100, &t2));
        assert!(!sessions.is_valid(p1, 101, &t1));
        assert!(sessions.claim(p1, 100, "PVEVNC:wrong").is_none());
        let s = sessions.claim(p1, 100, &t1).unwrap();
        assert_eq!(s.target, ConsoleTarget::Vnc);
        assert!(sessions.claim(p1, 100, &t1).is_none(), "claimed only once");
        // The freed port is handed out again.
        let (p3, _, _w3) = sessions.open(102, ConsoleTarget::Vnc, "root@pam").unwrap();
        assert_eq!(p3, 5900);
        sessions.expire(p2, &t2);
        assert!(!sessions.is_valid(p2, 101, &t2));
    }

    #[test]
    fn ports_run_out() {
        let sessions = ConsoleSessions::default();
        let mut watches = Vec::new();
        for _ in PORTS {
            watches.push(sessions.open(100, ConsoleTarget::Vnc, "u@pve").unwrap());
        }
        assert_eq!(
            sessions.open(100, ConsoleTarget::Vnc, "u@pve").unwrap_err(),
            ConsoleError::NoFreePort
        );
    }
}
