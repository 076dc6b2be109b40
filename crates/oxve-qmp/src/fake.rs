//! A fake QMP peer on a unix socket, for unit tests of code that drives QEMU.
//!
//! Either script a connection step by step ([`FakeQmpServer::accept`], then
//! [`FakeQmpConn::recv`] / [`FakeQmpConn::reply`] / [`FakeQmpConn::event`]), or answer every
//! command with a handler ([`FakeQmpServer::serve`]).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};

/// A listening fake QEMU.
#[derive(Debug)]
pub struct FakeQmpServer {
    listener: UnixListener,
    path: PathBuf,
}

/// A command the fake peer received.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCommand {
    /// The command name.
    pub execute: String,
    /// Its arguments (`null` when none).
    pub arguments: Value,
    /// The id the client sent (`null` when none).
    pub id: Value,
}

/// What a [`FakeQmpServer::serve`] handler answers.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeReply {
    /// `{"return": value}`.
    Return(Value),
    /// `{"error": {"class": .., "desc": ..}}`.
    Error {
        /// Error class.
        class: String,
        /// Description.
        desc: String,
    },
    /// Events sent before the reply, then the reply.
    EventsThen(Vec<(String, Value)>, Box<FakeReply>),
    /// Send nothing (lets the client time out).
    Silence,
    /// Close the connection.
    Close,
}

/// One accepted connection of the fake peer.
#[derive(Debug)]
pub struct FakeQmpConn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// The greeting the fake peer sends: QEMU 10.0.2, no capabilities.
pub fn fake_greeting() -> Value {
    json!({"QMP": {"version": {"qemu": {"major": 10, "minor": 0, "micro": 2}, "package": "fake"},
                   "capabilities": []}})
}

impl FakeQmpServer {
    /// Listens on `path`.
    pub fn bind(path: impl AsRef<Path>) -> std::io::Result<FakeQmpServer> {
        let path = path.as_ref().to_path_buf();
        let listener = UnixListener::bind(&path)?;
        Ok(FakeQmpServer { listener, path })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts a client without greeting it.
    pub async fn accept_raw(&self) -> std::io::Result<FakeQmpConn> {
        let (stream, _) = self.listener.accept().await?;
        Ok(FakeQmpConn::new(stream))
    }

    /// Accepts a client, greets it and answers its `qmp_capabilities`.
    pub async fn accept(&self) -> std::io::Result<FakeQmpConn> {
        let mut conn = self.accept_raw().await?;
        conn.send(&fake_greeting()).await?;
        let cmd = conn.recv().await?.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before handshake")
        })?;
        if cmd.execute != "qmp_capabilities" {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("expected qmp_capabilities, got {}", cmd.execute),
            ));
        }
        conn.reply(&cmd, json!({})).await?;
        Ok(conn)
    }

    /// Accepts clients one after another and answers their commands with `handler` until the
    /// task is dropped or aborted. Spawn it: `tokio::spawn(server.serve(handler))`.
    pub async fn serve<F>(self, mut handler: F)
    where
        F: FnMut(&FakeCommand) -> FakeReply + Send + 'static,
    {
        while let Ok(mut conn) = self.accept().await {
            while let Ok(Some(cmd)) = conn.recv().await {
                if !conn.answer(&cmd, handler(&cmd)).await.unwrap_or(false) {
                    break;
                }
            }
        }
    }
}

impl Drop for FakeQmpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl FakeQmpConn {
    fn new(stream: UnixStream) -> FakeQmpConn {
        let (r, w) = stream.into_split();
        FakeQmpConn {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// Sends one JSON message (QEMU ends lines with CRLF; so does the fake).
    pub async fn send(&mut self, msg: &Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(msg)?;
        line.extend_from_slice(b"\r\n");
        self.writer.write_all(&line).await
    }

    /// Sends raw bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// The next command; `None` when the client closed the connection.
    pub async fn recv(&mut self) -> std::io::Result<Option<FakeCommand>> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Ok(None);
            }
            if !line.trim().is_empty() {
                break;
            }
        }
        let v: Value = serde_json::from_str(&line)?;
        Ok(Some(FakeCommand {
            execute: v["execute"].as_str().unwrap_or_default().to_string(),
            arguments: v.get("arguments").cloned().unwrap_or(Value::Null),
            id: v.get("id").cloned().unwrap_or(Value::Null),
        }))
    }

    /// Answers `cmd` with `{"return": value}`.
    pub async fn reply(&mut self, cmd: &FakeCommand, value: Value) -> std::io::Result<()> {
        self.send(&json!({"return": value, "id": cmd.id})).await
    }

    /// Answers `cmd` with an error.
    pub async fn reply_error(
        &mut self,
        cmd: &FakeCommand,
        class: &str,
        desc: &str,
    ) -> std::io::Result<()> {
        self.send(&json!({"error": {"class": class, "desc": desc}, "id": cmd.id}))
            .await
    }

    /// Sends event `name` with `data`.
    pub async fn event(&mut self, name: &str, data: Value) -> std::io::Result<()> {
        let mut msg = json!({"event": name, "timestamp": {"seconds": 1, "microseconds": 0}});
        if !data.is_null() {
            msg["data"] = data;
        }
        self.send(&msg).await
    }

    /// Sends what `reply` says; `Ok(false)` when the connection should close.
    pub async fn answer(&mut self, cmd: &FakeCommand, reply: FakeReply) -> std::io::Result<bool> {
        match reply {
            FakeReply::Return(v) => self.reply(cmd, v).await?,
            FakeReply::Error { class, desc } => self.reply_error(cmd, &class, &desc).await?,
            FakeReply::EventsThen(events, then) => {
                for (name, data) in events {
                    self.event(&name, data).await?;
                }
                return Box::pin(self.answer(cmd, *then)).await;
            }
            FakeReply::Silence => {}
            FakeReply::Close => return Ok(false),
        }
        Ok(true)
    }
}
