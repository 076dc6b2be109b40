//! The connection: handshake, command ids matched to replies, events fanned out to subscribers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{QmpError, Result};
use crate::events::Events;
use crate::protocol::{CommandLine, ErrorBody, Event, Greeting, Incoming};

/// How to connect, and the defaults of the connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Time allowed for connecting, reading the greeting and negotiating capabilities.
    pub handshake_timeout: Duration,
    /// Default time allowed for one command (see [`QmpClient::with_timeout`]).
    pub command_timeout: Duration,
    /// How many events a slow subscriber may fall behind before it loses some.
    pub event_capacity: usize,
    /// Keep retrying this long while the socket does not exist yet or refuses connections
    /// (QEMU still starting). Zero: try once.
    pub wait_for_socket: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            handshake_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(30),
            event_capacity: 1024,
            wait_for_socket: Duration::ZERO,
        }
    }
}

type Reply = std::result::Result<Value, ErrorBody>;

/// State shared by the client handles and the reader task.
struct Shared {
    state: Mutex<State>,
    closed: watch::Sender<bool>,
}

struct State {
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    events: Option<broadcast::Sender<Event>>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves the maps consistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn complete(&self, id: Option<Value>, reply: Reply) {
        let Some(id) = id.as_ref().and_then(Value::as_u64) else {
            tracing::debug!(?id, "QMP reply without a known id");
            return;
        };
        let sender = self.lock().pending.remove(&id);
        match sender {
            // The receiver is gone when the command timed out: drop the late reply.
            Some(tx) => drop(tx.send(reply)),
            None => tracing::debug!(id, "late or unexpected QMP reply"),
        }
    }

    fn publish(&self, event: Event) {
        if let Some(tx) = &self.lock().events {
            // No subscriber is fine.
            let _ = tx.send(event);
        }
    }

    fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        // Dropping the senders fails every waiting command and ends every event stream.
        st.pending.clear();
        st.events = None;
        drop(st);
        self.closed.send_replace(true);
    }
}

/// Removes a pending command when its caller stops waiting (timeout or cancellation).
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().pending.remove(&self.id);
    }
}

struct Connection {
    path: PathBuf,
    greeting: Greeting,
    shared: Arc<Shared>,
    lines: mpsc::UnboundedSender<Vec<u8>>,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The writer task ends when `lines` is dropped; the reader holds the socket open.
        self.reader.abort();
    }
}

/// An open QMP connection to one QEMU process.
///
/// Cheap to clone: clones share the connection (commands from several tasks run concurrently
/// and are matched to their replies by id) and differ only in their default command timeout.
/// The connection closes when the last clone is dropped.
#[derive(Clone)]
pub struct QmpClient {
    conn: Arc<Connection>,
    timeout: Duration,
}

impl std::fmt::Debug for QmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QmpClient")
            .field("path", &self.conn.path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl QmpClient {
    /// Connects to the QMP unix socket at `path` with default options.
    pub async fn connect(path: impl AsRef<Path>) -> Result<QmpClient> {
        QmpClient::connect_with(path, ConnectOptions::default()).await
    }

    /// Connects, reads the greeting and leaves capabilities negotiation mode.
    pub async fn connect_with(path: impl AsRef<Path>, opts: ConnectOptions) -> Result<QmpClient> {
        let path = path.as_ref().to_path_buf();
        let timeout = opts.handshake_timeout + opts.wait_for_socket;
        match tokio::time::timeout(timeout, handshake(&path, &opts)).await {
            Ok(r) => r,
            Err(_) => Err(QmpError::ConnectTimeout { path, timeout }),
        }
    }

    /// The greeting QEMU sent (its version and capabilities).
    pub fn greeting(&self) -> &Greeting {
        &self.conn.greeting
    }

    /// The socket path this client is connected to.
    pub fn path(&self) -> &Path {
        &self.conn.path
    }

    /// The default time allowed for one command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A handle on the same connection whose commands may take up to `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> QmpClient {
        QmpClient {
            conn: self.conn.clone(),
            timeout,
        }
    }

    /// Subscribes to the events QEMU sends from now on.
    pub fn subscribe(&self) -> Events {
        let rx = match &self.conn.shared.lock().events {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        };
        Events::new(rx)
    }

    /// True once the connection has closed (QEMU exited or closed the socket).
    pub fn is_closed(&self) -> bool {
        *self.conn.shared.closed.borrow()
    }

    /// Waits until the connection closes.
    pub async fn closed(&self) {
        let mut rx = self.conn.shared.closed.subscribe();
        // An error means the sender is gone, which only happens once closed.
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Runs `command` with `arguments` (any serializable object; `()` or `None` for none) and
    /// decodes its `return` value.
    pub async fn execute<A, R>(&self, command: &str, arguments: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let value = self.execute_value(command, arguments).await?;
        R::deserialize(value).map_err(|source| QmpError::Decode {
            command: command.to_string(),
            source,
        })
    }

    /// Runs `command` and ignores its return value.
    pub async fn execute_unit<A>(&self, command: &str, arguments: &A) -> Result<()>
    where
        A: Serialize + ?Sized,
    {
        self.execute_value(command, arguments).await.map(drop)
    }

    /// Runs `command` and returns its raw `return` value.
    pub async fn execute_value<A>(&self, command: &str, arguments: &A) -> Result<Value>
    where
        A: Serialize + ?Sized,
    {
        let encode = |source| QmpError::Encode {
            command: command.to_string(),
            source,
        };
        let arguments = match serde_json::to_value(arguments).map_err(encode)? {
            Value::Null => None,
            v => Some(v),
        };
        let id = self.conn.next_id.fetch_add(1, Ordering::Relaxed);
        let mut line = serde_json::to_vec(&CommandLine {
            execute: command,
            arguments,
            id,
        })
        .map_err(encode)?;
        line.push(b'\n');

        let disconnected = || QmpError::Disconnected {
            command: command.to_string(),
        };
        let shared = &self.conn.shared;
        let (tx, rx) = oneshot::channel();
        {
            let mut st = shared.lock();
            if st.closed {
                return Err(disconnected());
            }
            st.pending.insert(id, tx);
        }
        let _guard = PendingGuard { shared, id };
        self.conn.lines.send(line).map_err(|_| disconnected())?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(error))) => Err(QmpError::Command {
                command: command.to_string(),
                class: error.class,
                desc: error.desc,
            }),
            Ok(Err(_)) => Err(disconnected()),
            Err(_) => Err(QmpError::Timeout {
                command: command.to_string(),
                timeout: self.timeout,
            }),
        }
    }
}

async fn connect_socket(path: &Path, wait: Duration) -> Result<UnixStream> {
    let deadline = Instant::now() + wait;
    loop {
        match UnixStream::connect(path).await {
            Ok(s) => return Ok(s),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(source) => {
                return Err(QmpError::Connect {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

async fn handshake(path: &Path, opts: &ConnectOptions) -> Result<QmpClient> {
    let fail = |reason: String| QmpError::Handshake {
        path: path.to_path_buf(),
        reason,
    };
    let stream = connect_socket(path, opts.wait_for_socket).await?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);

    let greeting = match read_message(&mut reader).await {
        Ok(Some(Incoming::Greeting(g))) => g,
        Ok(Some(other)) => return Err(fail(format!("expected a greeting, got {other:?}"))),
        Ok(None) => return Err(fail("connection closed before the greeting".into())),
        Err(e) => return Err(fail(format!("reading the greeting: {e}"))),
    };

    write
        .write_all(b"{\"execute\":\"qmp_capabilities\",\"id\":0}\n")
        .await
        .map_err(|e| fail(format!("sending qmp_capabilities: {e}")))?;
    loop {
        match read_message(&mut reader).await {
            Ok(Some(Incoming::Return { .. })) => break,
            Ok(Some(Incoming::Error { error, .. })) => {
                return Err(fail(format!(
                    "qmp_capabilities failed: {}: {}",
                    error.class, error.desc
                )))
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(fail("connection closed during qmp_capabilities".into())),
            Err(e) => return Err(fail(format!("reading the qmp_capabilities reply: {e}"))),
        }
    }

    let (events, _) = broadcast::channel(opts.event_capacity.max(1));
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            pending: HashMap::new(),
            events: Some(events),
            closed: false,
        }),
        closed: watch::channel(false).0,
    });
    let (lines, lines_rx) = mpsc::unbounded_channel();
    tokio::spawn(write_loop(write, lines_rx, shared.clone()));
    let reader = tokio::spawn(read_loop(reader, shared.clone()));
    Ok(QmpClient {
        conn: Arc::new(Connection {
            path: path.to_path_buf(),
            greeting,
            shared,
            lines,
            next_id: AtomicU64::new(1),
            reader,
        }),
        timeout: opts.command_timeout,
    })
}

/// Reads the next non-empty line; `Ok(None)` at end of stream.
async fn read_message(reader: &mut BufReader<OwnedReadHalf>) -> std::io::Result<Option<Incoming>> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return Incoming::parse(&line)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    }
}

async fn read_loop(mut reader: BufReader<OwnedReadHalf>, shared: Arc<Shared>) {
    loop {
        match read_message(&mut reader).await {
            Ok(Some(Incoming::Return { id, value })) => shared.complete(id, Ok(value)),
            Ok(Some(Incoming::Error { id, error })) => shared.complete(id, Err(error)),
            Ok(Some(Incoming::Event(event))) => shared.publish(event),
            Ok(Some(Incoming::Unknown(value))) => {
                tracing::debug!(%value, "ignoring unexpected QMP message")
            }
            Ok(Some(Incoming::Greeting(_))) => tracing::debug!("ignoring a second QMP greeting"),
            Ok(None) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                tracing::warn!(error = %e, "ignoring a QMP line that is not JSON")
            }
            Err(e) => {
                tracing::debug!(error = %e, "QMP read failed");
                break;
            }
        }
    }
    shared.close();
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut lines: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    // Whole lines are written here, never cancelled halfway by a command's timeout.
    while let Some(line) = lines.recv().await {
        if let Err(e) = write.write_all(&line).await {
            tracing::debug!(error = %e, "QMP write failed");
            shared.close();
            return;
        }
    }
}
