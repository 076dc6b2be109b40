//! A client for the QEMU guest agent (qemu-ga) on the VM's agent socket.
//!
//! The agent speaks QMP-style JSON but has no greeting, no ids and no events, and the channel
//! (a virtio-serial port) keeps whatever an earlier client left unread. So every connection
//! starts with `guest-sync-delimited`: a 0xFF byte resets the agent's parser, the agent answers
//! with 0xFF followed by the random id we sent; everything before that answer is stale.
//! Commands then run one at a time, each with its own timeout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oxve_qmp::qga::QgaError> {
//! use oxve_qmp::qga::QgaClient;
//! let mut qga = QgaClient::connect("/run/oxve/qemu/100.qga").await?;
//! let info = qga.execute("guest-info", None).await?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Time allowed for connecting and the sync handshake: an agent that does not answer by then
/// is not running. (Proxmox allows a few seconds; a bit more here, for guests under TCG on a
/// loaded host.)
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one command (as Proxmox).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to the guest agent.
#[derive(Debug, thiserror::Error)]
pub enum QgaError {
    /// The socket could not be connected (the VM is not running or has no agent socket).
    #[error("cannot connect to guest agent socket {path}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why connecting failed.
        #[source]
        source: std::io::Error,
    },
    /// The agent did not answer the sync handshake: qemu-ga is not running in the guest.
    #[error("QEMU guest agent is not running")]
    NotRunning,
    /// The agent did not answer a command in time.
    #[error("guest agent command '{command}' timed out after {timeout:?}")]
    Timeout {
        /// The command.
        command: String,
        /// The time allowed.
        timeout: Duration,
    },
    /// The agent answered with an error.
    #[error("guest agent command '{command}' failed - {desc}")]
    Command {
        /// The command.
        command: String,
        /// The agent's error class.
        class: String,
        /// The agent's error description.
        desc: String,
    },
    /// The connection failed or closed mid-command.
    #[error("guest agent connection lost during '{command}'")]
    Io {
        /// The command.
        command: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The agent's reply was not valid JSON of the expected shape.
    #[error("unexpected reply from guest agent to '{command}': {reply}")]
    Decode {
        /// The command.
        command: String,
        /// The reply line.
        reply: String,
    },
}

/// One connection to a guest agent, synced and ready for commands.
pub struct QgaClient {
    stream: BufReader<UnixStream>,
}

/// The agent commands that send no reply when they succeed (QAPI `success-response: false`).
fn has_no_reply(command: &str) -> bool {
    matches!(
        command,
        "guest-shutdown" | "guest-suspend-disk" | "guest-suspend-ram" | "guest-suspend-hybrid"
    )
}

/// A random sync id, so a reply to an earlier client's sync can never be mistaken for ours.
fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    // Keep it within what JSON numbers carry exactly everywhere.
    h.finish() >> 12
}

impl QgaClient {
    /// Connects to the agent socket at `path` and syncs (see the module docs).
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, QgaError> {
        Self::connect_with_timeout(path, SYNC_TIMEOUT).await
    }

    /// [`QgaClient::connect`] with a custom handshake timeout.
    pub async fn connect_with_timeout(
        path: impl AsRef<Path>,
        timeout: Duration,
    ) -> Result<Self, QgaError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| QgaError::Connect {
                path: path.to_path_buf(),
                source,
            })?;
        let mut client = QgaClient {
            stream: BufReader::new(stream),
        };
        match tokio::time::timeout(timeout, client.sync()).await {
            Ok(Ok(())) => Ok(client),
            // The socket exists (QEMU runs) but nobody answers inside the guest.
            Ok(Err(QgaError::Io { .. })) | Err(_) => Err(QgaError::NotRunning),
            Ok(Err(e)) => Err(e),
        }
    }

    async fn sync(&mut self) -> Result<(), QgaError> {
        const CMD: &str = "guest-sync-delimited";
        let id = random_id();
        let mut line = vec![0xFF];
        line.extend_from_slice(
            json!({"execute": CMD, "arguments": {"id": id}})
                .to_string()
                .as_bytes(),
        );
        line.push(b'\n');
        self.write(CMD, &line).await?;
        loop {
            // Skip everything up to the sentinel, then read the reply that follows it.
            let mut skipped = Vec::new();
            self.stream
                .read_until(0xFF, &mut skipped)
                .await
                .map_err(|source| io_err(CMD, source))?;
            if skipped.last() != Some(&0xFF) {
                return Err(io_err(CMD, std::io::ErrorKind::UnexpectedEof.into()));
            }
            let reply = self.read_line(CMD).await?;
            if reply.get("return").and_then(Value::as_u64) == Some(id) {
                return Ok(());
            }
        }
    }

    /// Runs `command` with `arguments` under the default timeout of that command (see
    /// [`timeout_for`]); returns the agent's `return` value (`null` for commands without reply).
    pub async fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QgaError> {
        self.execute_with_timeout(command, arguments, timeout_for(command))
            .await
    }

    /// [`QgaClient::execute`] with an explicit timeout.
    pub async fn execute_with_timeout(
        &mut self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QgaError> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut line = msg.to_string().into_bytes();
        line.push(b'\n');
        let run = async {
            self.write(command, &line).await?;
            if has_no_reply(command) {
                return Ok(Value::Null);
            }
            let reply = self.read_line(command).await?;
            if let Some(err) = reply.get("error") {
                return Err(QgaError::Command {
                    command: command.to_string(),
                    class: err["class"].as_str().unwrap_or("GenericError").to_string(),
                    desc: err["desc"].as_str().unwrap_or_default().to_string(),
                });
            }
            match reply.get("return") {
                Some(v) => Ok(v.clone()),
                None => Err(QgaError::Decode {
                    command: command.to_string(),
                    reply: reply.to_string(),
                }),
            }
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| QgaError::Timeout {
                command: command.to_string(),
                timeout,
            })?
    }

    async fn write(&mut self, command: &str, bytes: &[u8]) -> Result<(), QgaError> {
        let s = self.stream.get_mut();
        s.write_all(bytes)
            .await
            .map_err(|source| io_err(command, source))?;
        s.flush().await.map_err(|source| io_err(command, source))
    }

    async fn read_line(&mut self, command: &str) -> Result<Value, QgaError> {
        let mut buf = Vec::new();
        let n = (&mut self.stream)
            .take(64 << 20)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|source| io_err(command, source))?;
        if n == 0 {
            return Err(io_err(command, std::io::ErrorKind::UnexpectedEof.into()));
        }
        serde_json::from_slice(&buf).map_err(|_| QgaError::Decode {
            command: command.to_string(),
            reply: String::from_utf8_lossy(&buf).trim_end().to_string(),
        })
    }
}

fn io_err(command: &str, source: std::io::Error) -> QgaError {
    QgaError::Io {
        command: command.to_string(),
        source,
    }
}

/// How long a command may take (as Proxmox): freezing waits for every file system to be
/// synced, thawing can take a while on a loaded guest; everything else is quick.
pub fn timeout_for(command: &str) -> Duration {
    match command {
        "guest-fsfreeze-freeze" => Duration::from_secs(3600),
        "guest-fsfreeze-thaw" => Duration::from_secs(600),
        "guest-fstrim" => Duration::from_secs(600),
        _ => DEFAULT_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake agent: stale junk first, then answers the sync and one scripted reply.
    async fn fake_agent(listener: UnixListener, reply: Option<&'static str>) {
        let (s, _) = listener.accept().await.unwrap();
        let mut s = BufReader::new(s);
        let mut line = Vec::new();
        s.read_until(b'\n', &mut line).await.unwrap();
        assert_eq!(line[0], 0xFF);
        let v: Value = serde_json::from_slice(&line[1..]).unwrap();
        assert_eq!(v["execute"], "guest-sync-delimited");
        let id = v["arguments"]["id"].as_u64().unwrap();
        // Stale data of an earlier client, a stale sync reply with another id, then ours.
        let mut out = b"{\"return\": 7}\njunk\n".to_vec();
        out.push(0xFF);
        out.extend_from_slice(b"{\"return\": 1}\n");
        out.push(0xFF);
        out.extend_from_slice(format!("{{\"return\": {id}}}\n").as_bytes());
        s.get_mut().write_all(&out).await.unwrap();
        line.clear();
        s.read_until(b'\n', &mut line).await.unwrap();
        if let Some(r) = reply {
            s.get_mut().write_all(r.as_bytes()).await.unwrap();
        }
        // Keep the connection open until the client is done.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    }

    #[tokio::test]
    async fn syncs_past_stale_data_and_runs_a_command() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qga.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let peer = tokio::spawn(fake_agent(
            listener,
            Some("{\"return\": {\"version\": \"7.2\"}}\n"),
        ));
        let mut qga = QgaClient::connect(&path).await.unwrap();
        let info = qga.execute("guest-info", None).await.unwrap();
        assert_eq!(info["version"], "7.2");
        drop(qga);
        peer.await.unwrap();
    }

    #[tokio::test]
    async fn agent_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qga.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let peer = tokio::spawn(fake_agent(
            listener,
            Some("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such file\"}}\n"),
        ));
        let mut qga = QgaClient::connect(&path).await.unwrap();
        let e = qga
            .execute("guest-file-open", Some(json!({"path": "/x"})))
            .await
            .unwrap_err();
        assert!(
            matches!(e, QgaError::Command { ref desc, .. } if desc == "no such file"),
            "{e}"
        );
        drop(qga);
        peer.await.unwrap();
    }

    #[tokio::test]
    async fn silent_agent_is_not_running_and_slow_commands_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qga.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // Accepts but never answers: like QEMU's socket when qemu-ga is not running.
        let peer = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(s);
        });
        let e = QgaClient::connect_with_timeout(&path, Duration::from_millis(300))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, QgaError::NotRunning), "{e}");
        assert_eq!(e.to_string(), "QEMU guest agent is not running");
        peer.abort();

        let listener = UnixListener::bind(dir.path().join("b.sock")).unwrap();
        let peer = tokio::spawn(fake_agent(listener, None));
        let mut qga = QgaClient::connect(dir.path().join("b.sock")).await.unwrap();
        let e = qga
            .execute_with_timeout("guest-ping", None, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, QgaError::Timeout { .. }), "{e}");
        drop(qga);
        peer.await.unwrap();
    }

    #[tokio::test]
    async fn missing_socket_is_a_connect_error() {
        let e = QgaClient::connect("/nonexistent/qga.sock")
            .await
            .err()
            .unwrap();
        assert!(matches!(e, QgaError::Connect { .. }), "{e}");
    }
}
