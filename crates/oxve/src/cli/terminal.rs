//! `oxve vm terminal VMID`: a VM's serial console in this terminal, like `qm terminal`.
//!
//! It is a client of the public API like the web UI: `termproxy` prepares a session, the
//! `vncwebsocket` upgrade carries it, spoken in Proxmox's termproxy protocol. The escape key
//! (default Ctrl-O) ends the session. With stdin not a terminal, input is sent as it comes and
//! the session ends once stdin is at its end and the guest has been quiet for a second.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures::{SinkExt, StreamExt};
use oxve_router::HttpMethod;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::{Client, ConnectArgs};

struct Options {
    vmid: u32,
    node: String,
    iface: String,
    escape: u8,
    socket: std::path::PathBuf,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut opts = Options {
        vmid: 0,
        node: "localhost".into(),
        iface: "serial0".into(),
        escape: 0x0f,
        socket: std::env::var("OXVE_SOCKET")
            .unwrap_or_else(|_| "/run/oxve/oxve.sock".into())
            .into(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--node" => opts.node = value("--node")?,
            "--iface" => opts.iface = value("--iface")?,
            "--socket" => opts.socket = value("--socket")?.into(),
            "--escape" => opts.escape = escape_key(&value("--escape")?)?,
            vmid if !vmid.starts_with('-') && opts.vmid == 0 => {
                opts.vmid = vmid.parse().with_context(|| format!("invalid VMID '{vmid}'"))?
            }
            other => bail!("unexpected argument '{other}' (usage: oxve vm terminal VMID [--iface serialN] [--escape ^O] [--node NODE])"),
        }
    }
    if opts.vmid == 0 {
        bail!("usage: oxve vm terminal VMID [--iface serialN] [--escape ^O] [--node NODE]");
    }
    Ok(opts)
}

/// `^O` style or a single character; `0` disables the escape key.
fn escape_key(text: &str) -> anyhow::Result<u8> {
    match text.as_bytes() {
        [b'0'] => Ok(0),
        [b'^', c] if c.is_ascii_alphabetic() => Ok(c.to_ascii_uppercase() - b'@'),
        [c] => Ok(*c),
        _ => bail!("invalid escape key '{text}' (use e.g. ^O, or 0 for none)"),
    }
}

/// Puts the terminal in raw mode until dropped.
struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    fn enter() -> RawMode {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawMode(None);
        }
        let Ok(saved) = tcgetattr(&stdin) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let opts = parse(&args)?;
    let connect = ConnectArgs {
        host: None,
        user: None,
        password: None,
        insecure: false,
        socket: opts.socket.clone(),
    };
    let client = Client::connect(&connect).await?;
    let vm_path = format!("/nodes/{}/qemu/{}", opts.node, opts.vmid);
    let session = client
        .call(
            HttpMethod::Post,
            &format!("{vm_path}/termproxy"),
            &[("serial".into(), opts.iface.clone())],
        )
        .await?;
    let port = session["port"].as_u64().unwrap_or_default();
    let ticket = session["ticket"].as_str().unwrap_or_default();
    let user = session["user"].as_str().unwrap_or_default();

    let url = format!(
        "ws://localhost/api2/json{vm_path}/vncwebsocket?port={port}&vncticket={}",
        utf8_percent_encode(ticket, NON_ALPHANUMERIC)
    );
    let stream = tokio::net::UnixStream::connect(&opts.socket)
        .await
        .with_context(|| format!("connecting to {}", opts.socket.display()))?;
    let request = url.into_client_request()?;
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .context("websocket upgrade")?;
    ws.send(Message::text(format!("{user}:{ticket}\n"))).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str() == "OK" => {}
        other => bail!("terminal login failed: {other:?}"),
    }

    let interactive = std::io::stdin().is_terminal();
    if interactive {
        let name = if opts.escape == 0 {
            "none".to_string()
        } else {
            format!("^{}", (opts.escape + b'@') as char)
        };
        eprintln!(
            "starting serial terminal on interface {} (press {name} to exit)\r",
            opts.iface
        );
    }
    let _raw = RawMode::enter();
    let (input_tx, mut input_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if input_tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut stdout = std::io::stdout();
    let mut input_open = true;
    loop {
        let quiet = tokio::time::sleep(Duration::from_secs(1));
        tokio::select! {
            data = input_rx.recv(), if input_open => match data {
                Some(data) => {
                    let (data, quit) = match data.iter().position(|&b| opts.escape != 0 && b == opts.escape) {
                        Some(at) => (data[..at].to_vec(), true),
                        None => (data, false),
                    };
                    if !data.is_empty() {
                        let mut msg = format!("0:{}:", data.len()).into_bytes();
                        msg.extend_from_slice(&data);
                        ws.send(Message::binary(msg)).await?;
                    }
                    if quit {
                        break;
                    }
                }
                None => input_open = false,
            },
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    stdout.write_all(&b)?;
                    stdout.flush()?;
                }
                Some(Ok(Message::Text(t))) => {
                    stdout.write_all(t.as_bytes())?;
                    stdout.flush()?;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            },
            _ = quiet, if !input_open => break,
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args: Vec<String> = ["100", "--iface", "serial1", "--escape", "^A"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = parse(&args).unwrap();
        assert_eq!((o.vmid, o.iface.as_str(), o.escape), (100, "serial1", 1));
        assert_eq!(escape_key("0").unwrap(), 0);
        assert_eq!(escape_key("^o").unwrap(), 0x0f);
        assert!(escape_key("^^x").is_err());
        assert!(parse(&[]).is_err());
    }
}
