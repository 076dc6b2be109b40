//! `GET .../vncwebsocket` upgraded to a websocket: the declared method checks credentials,
//! permission and the session ticket, then the socket is bridged to the guest console.
//!
//! - VNC: the raw RFB stream both ways, as binary messages (what noVNC speaks).
//! - Serial and container consoles (termproxy): Proxmox's termproxy protocol. The client first sends `user:ticket\n`
//!   and gets `OK`; then `0:<len>:<data>` carries keystrokes, `1:<cols>:<rows>:` a resize and
//!   `2` a keep-alive; the terminal's output comes back as binary messages. A container's
//!   console command runs on a pseudo terminal for as long as the connection lasts.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::http::Response;
use oxve_lxc::console::PtySession;
use oxve_router::ApiError;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use super::dispatch::{self, ApiRequest, Transport};
use super::{params, response, ApiServer};
use crate::consoles::{ConsoleSession, ConsoleTarget, CtConsoleMode};
use crate::state::AppState;

/// Whether this request asks for a console websocket.
pub fn is_console_upgrade(parts: &Parts) -> bool {
    parts.uri.path().ends_with("/vncwebsocket")
        && parts
            .headers
            .get(axum::http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The VMID in `/nodes/{node}/{qemu,lxc}/{vmid}/vncwebsocket`.
fn vmid_of(path: &str) -> Option<u32> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "qemu" | "lxc", vmid, "vncwebsocket"] => vmid.parse().ok(),
        _ => None,
    }
}

/// Checks the request through the declared `vncwebsocket` method, claims its session and
/// upgrades.
pub async fn upgrade(
    server: &ApiServer,
    transport: Transport,
    parts: Parts,
    ws: WebSocketUpgrade,
) -> Response<Body> {
    let full_path = parts.uri.path();
    let path = full_path.strip_prefix("/api2/json").unwrap_or(full_path);
    let req = ApiRequest {
        method: &parts.method,
        path,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: Bytes::new(),
    };
    if let Err(err) = dispatch::call(server, transport, req, None).await {
        return response::error(&err);
    }
    let mut query = Map::new();
    params::decode_urlencoded(parts.uri.query().unwrap_or("").as_bytes(), &mut query);
    let text = |k: &str| {
        query
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let port: u16 = text("port").parse().unwrap_or(0);
    let session =
        vmid_of(path).and_then(|vmid| server.state.consoles.claim(port, vmid, &text("vncticket")));
    let Some(session) = session else {
        return response::error(&ApiError::forbidden(
            "permission denied - invalid vncticket",
        ));
    };
    let state = Arc::clone(&server.state);
    ws.protocols(["binary"])
        .on_upgrade(move |socket| serve_session(state, session, socket))
}

async fn serve_session(state: Arc<AppState>, session: ConsoleSession, mut socket: WebSocket) {
    let vmid = session.vmid;
    let target = session.target;
    let user = session.user.clone();
    let ticket = session.ticket.clone();
    let closed = session.connected();
    let end = match target {
        ConsoleTarget::Vnc => match connect(&state, vmid, target).await {
            Ok(stream) => {
                let (reader, writer) = stream.into_split();
                bridge(&mut socket, reader, writer, None).await
            }
            Err(e) => e,
        },
        ConsoleTarget::Serial(_) => match termproxy_login(&mut socket, &user, &ticket).await {
            Err(e) => e,
            Ok(()) => match connect(&state, vmid, target).await {
                Ok(stream) => {
                    let (reader, writer) = stream.into_split();
                    let term = TermInput::default();
                    bridge(&mut socket, reader, writer, Some((term, None))).await
                }
                Err(e) => e,
            },
        },
        ConsoleTarget::Container(mode) => {
            match termproxy_login(&mut socket, &user, &ticket).await {
                Err(e) => e,
                Ok(()) => container_console(&state, vmid, mode, &mut socket).await,
            }
        }
    };
    let _ = socket.send(Message::Close(None)).await;
    let _ = closed.send(end);
}

/// Runs the container's console command on a terminal and bridges it; the command ends
/// with the connection.
async fn container_console(
    state: &AppState,
    vmid: u32,
    mode: CtConsoleMode,
    socket: &mut WebSocket,
) -> String {
    let lxc_path = state.lxc.paths().lxc_path();
    let cmd = oxve_lxc::console::console_command(lxc_path, vmid, mode.as_str());
    let session = match PtySession::spawn(cmd) {
        Ok(s) => s,
        Err(e) => return format!("unable to start the console of CT {vmid}: {e}"),
    };
    let reader = session.reader.try_clone().await;
    let writer = session.writer.try_clone().await;
    let (Ok(reader), Ok(writer)) = (reader, writer) else {
        return "unable to open the console terminal".into();
    };
    let resize = |cols, rows| session.resize(cols, rows);
    bridge(
        socket,
        reader,
        writer,
        Some((TermInput::default(), Some(&resize))),
    )
    .await
}

async fn connect(state: &AppState, vmid: u32, target: ConsoleTarget) -> Result<UnixStream, String> {
    let path = match target {
        ConsoleTarget::Vnc => state.qemu.vnc_socket(vmid),
        ConsoleTarget::Serial(index) => state.qemu.serial_socket(vmid, index),
        ConsoleTarget::Container(_) => return Err("not a socket console".into()),
    }
    .map_err(|e| e.to_string())?;
    UnixStream::connect(&path)
        .await
        .map_err(|e| format!("unable to connect to {}: {e}", path.display()))
}

/// termproxy's first message: `user:ticket\n`, answered with `OK`.
async fn termproxy_login(socket: &mut WebSocket, user: &str, ticket: &str) -> Result<(), String> {
    let first = match tokio::time::timeout(std::time::Duration::from_secs(10), socket.recv()).await
    {
        Ok(Some(Ok(Message::Text(t)))) => t.as_str().as_bytes().to_vec(),
        Ok(Some(Ok(Message::Binary(b)))) => b.to_vec(),
        _ => return Err("no login message".into()),
    };
    let line = String::from_utf8_lossy(&first);
    let line = line.trim_end_matches(['\n', '\r']);
    let ok = line
        .split_once(':')
        .is_some_and(|(u, t)| u == user && t == ticket);
    if !ok {
        return Err("authentication failed".into());
    }
    socket
        .send(Message::Text("OK".into()))
        .await
        .map_err(|e| e.to_string())
}

/// Parses termproxy's client messages (`0:len:data`, `1:cols:rows:`, `2`), keeping a partial
/// message for the next websocket message.
#[derive(Default)]
struct TermInput {
    pending: Vec<u8>,
    /// The last terminal size asked for (cols, rows), not applied yet.
    resize: Option<(u16, u16)>,
}

impl TermInput {
    /// The keystrokes in `msg` (resize and keep-alive messages carry none).
    fn feed(&mut self, msg: &[u8]) -> Result<Vec<u8>, String> {
        self.pending.extend_from_slice(msg);
        let mut out = Vec::new();
        loop {
            let buf = &self.pending;
            let Some(&kind) = buf.first() else {
                break;
            };
            let consumed = match kind {
                b'2' => 1,
                b'0' | b'1' => {
                    let fields: Vec<usize> = buf
                        .iter()
                        .enumerate()
                        .filter(|(_, &c)| c == b':')
                        .map(|(i, _)| i)
                        .take(3)
                        .collect();
                    if kind == b'1' {
                        // 1:cols:rows: (a serial line has no size to set; a terminal has)
                        let Some(&end) = fields.get(2) else {
                            break;
                        };
                        let number = |from: usize, to: usize| {
                            std::str::from_utf8(&buf[from + 1..to])
                                .ok()
                                .and_then(|s| s.parse::<u16>().ok())
                        };
                        if let (Some(cols), Some(rows)) =
                            (number(fields[0], fields[1]), number(fields[1], end))
                        {
                            self.resize = Some((cols, rows));
                        }
                        end + 1
                    } else {
                        let (Some(&a), Some(&b)) = (fields.first(), fields.get(1)) else {
                            break;
                        };
                        let len: usize = std::str::from_utf8(&buf[a + 1..b])
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or("malformed termproxy message")?;
                        if buf.len() < b + 1 + len {
                            break;
                        }
                        out.extend_from_slice(&buf[b + 1..b + 1 + len]);
                        b + 1 + len
                    }
                }
                _ => return Err("malformed termproxy message".into()),
            };
            self.pending.drain(..consumed);
        }
        Ok(out)
    }
}

/// How a terminal applies termproxy's resize messages.
type Resize<'a> = &'a (dyn Fn(u16, u16) + Send + Sync);

/// Copies between the websocket and the console until either side closes; returns how it
/// ended (for the task log). `term`: the termproxy protocol (and a terminal to resize).
async fn bridge(
    socket: &mut WebSocket,
    mut reader: impl AsyncRead + Unpin,
    mut writer: impl AsyncWrite + Unpin,
    mut term: Option<(TermInput, Option<Resize<'_>>)>,
) -> String {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let data = match msg {
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(Message::Text(t))) => t.as_str().as_bytes().to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => return "connection closed".into(),
                    Some(Err(e)) => return format!("websocket error: {e}"),
                };
                let data = match term.as_mut() {
                    Some((t, resize)) => {
                        let keys = match t.feed(&data) {
                            Ok(keys) => keys,
                            Err(e) => return e,
                        };
                        if let (Some((cols, rows)), Some(resize)) = (t.resize.take(), resize) {
                            resize(cols, rows);
                        }
                        keys
                    }
                    None => data,
                };
                if !data.is_empty() {
                    let written = match writer.write_all(&data).await {
                        Ok(()) => writer.flush().await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = written {
                        return format!("console write failed: {e}");
                    }
                }
            }
            n = reader.read(&mut buf) => match n {
                Ok(0) => return "console closed".into(),
                Ok(n) => {
                    if socket.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        return "connection closed".into();
                    }
                }
                // A terminal whose command ended reads EIO.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return "console closed".into(),
                Err(e) => return format!("console read failed: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termproxy_messages() {
        let mut t = TermInput::default();
        assert_eq!(t.feed(b"0:3:abc").unwrap(), b"abc");
        assert_eq!(t.feed(b"1:80:24:2").unwrap(), b"");
        assert_eq!(t.resize.take(), Some((80, 24)));
        // A message split across websocket messages, with a ':' in the data.
        assert_eq!(t.feed(b"0:4:a:").unwrap(), b"");
        assert_eq!(t.feed(b"bc0:1:\r").unwrap(), b"a:bc\r");
        assert_eq!(t.feed("0:2:é".as_bytes()).unwrap(), "é".as_bytes());
        assert!(t.feed(b"x").is_err());
        assert_eq!(vmid_of("/nodes/n1/qemu/100/vncwebsocket"), Some(100));
        assert_eq!(vmid_of("/nodes/n1/lxc/100/vncwebsocket"), Some(100));
        assert_eq!(vmid_of("/nodes/n1/lxc/100/other"), None);
    }
}
