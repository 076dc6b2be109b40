//! How the CLI reaches a daemon: the local unix socket (root on the node, no password) or
//! HTTPS with a ticket, cached in ~/.cache/oxve/tickets.json for two hours less a margin.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use oxve_router::HttpMethod;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

/// Where and as whom to connect.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectArgs {
    /// Remote node, e.g. https://node1:8006 (default: the local daemon's unix socket).
    #[arg(long, env = "OXVE_HOST", global = true)]
    pub host: Option<String>,
    /// User for remote login, e.g. admin@pve.
    #[arg(long, env = "OXVE_USER", global = true)]
    pub user: Option<String>,
    /// Password for remote login (prompted when missing).
    #[arg(long, env = "OXVE_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// Accept the remote node's self-signed certificate without checking it.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// The local daemon's socket.
    #[arg(
        long,
        env = "OXVE_SOCKET",
        default_value = "/run/oxve/oxve.sock",
        global = true
    )]
    pub socket: PathBuf,
}

/// An API error as the server reported it.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: u16,
    pub message: String,
    pub errors: Option<Value>,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {})", self.message.trim_end(), self.status)?;
        if let Some(Value::Object(errors)) = &self.errors {
            for (k, v) in errors {
                write!(f, "\n{k}: {}", v.as_str().unwrap_or_default())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ApiFailure {}

enum Transport {
    Local(PathBuf),
    Remote {
        base: String,
        http: reqwest::Client,
        ticket: String,
        csrf: String,
        user: String,
    },
}

pub struct Client {
    transport: Transport,
}

/// Tickets live two hours; reuse a cached one for a little less.
const TICKET_REUSE_SECS: u64 = 100 * 60;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn cache_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".cache/oxve/tickets.json"))
}

fn load_cached_ticket(key: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(cache_path()?).ok()?;
    let cache: Value = serde_json::from_str(&text).ok()?;
    let entry = cache.get(key)?;
    let time = entry.get("time")?.as_u64()?;
    (now().saturating_sub(time) < TICKET_REUSE_SECS).then(|| {
        (
            entry["ticket"].as_str().unwrap_or_default().to_string(),
            entry["csrf"].as_str().unwrap_or_default().to_string(),
        )
    })
}

fn store_cached_ticket(key: &str, ticket: &str, csrf: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = cache_path() else {
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut cache: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}));
    cache[key] = json!({"ticket": ticket, "csrf": csrf, "time": now()});
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    std::io::Write::write_all(&mut f, serde_json::to_string_pretty(&cache)?.as_bytes())?;
    std::fs::rename(tmp, path)?;
    Ok(())
}

fn encode_form(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Split an API reply into its data or the server's error.
fn parse_reply(status: u16, body: &[u8]) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(value.get("data").cloned().unwrap_or(Value::Null));
    }
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    Err(ApiFailure {
        status,
        message,
        errors: value.get("errors").cloned(),
    }
    .into())
}

impl Client {
    pub async fn connect(args: &ConnectArgs) -> anyhow::Result<Client> {
        let Some(host) = &args.host else {
            if !args.socket.exists() {
                bail!(
                    "no local daemon socket at {} (is `oxve serve` running here, and are you root?); use --host for a remote node",
                    args.socket.display()
                );
            }
            return Ok(Client {
                transport: Transport::Local(args.socket.clone()),
            });
        };
        let base = host.trim_end_matches('/').to_string();
        let base = if base.contains("://") {
            base
        } else {
            format!("https://{base}:8006")
        };
        let user = args
            .user
            .clone()
            .ok_or_else(|| anyhow!("--user (or OXVE_USER) is needed for a remote node"))?;
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(args.insecure)
            .build()?;
        let key = format!("{base} {user}");
        if let Some((ticket, csrf)) = load_cached_ticket(&key) {
            return Ok(Client {
                transport: Transport::Remote {
                    base,
                    http,
                    ticket,
                    csrf,
                    user,
                },
            });
        }
        let password = match &args.password {
            Some(p) => p.clone(),
            None => rpassword::prompt_password(format!("Password for {user}: "))?,
        };
        let resp = http
            .post(format!("{base}/api2/json/access/ticket"))
            .form(&[("username", user.as_str()), ("password", password.as_str())])
            .send()
            .await
            .with_context(|| format!("connecting to {base}"))?;
        let status = resp.status().as_u16();
        let data = parse_reply(status, &resp.bytes().await?)?;
        let ticket = data["ticket"].as_str().unwrap_or_default().to_string();
        let csrf = data["CSRFPreventionToken"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        store_cached_ticket(&key, &ticket, &csrf)?;
        Ok(Client {
            transport: Transport::Remote {
                base,
                http,
                ticket,
                csrf,
                user,
            },
        })
    }

    pub fn user(&self) -> Option<&str> {
        match &self.transport {
            Transport::Local(_) => Some("root@pam"),
            Transport::Remote { user, .. } => Some(user),
        }
    }

    /// Call `method path` with form parameters; returns `data`.
    pub async fn call(
        &self,
        method: HttpMethod,
        path: &str,
        params: &[(String, String)],
    ) -> anyhow::Result<Value> {
        let path = format!("/api2/json/{}", path.trim_start_matches('/'));
        let form = encode_form(params);
        let in_query = matches!(method, HttpMethod::Get | HttpMethod::Delete);
        let uri = if in_query && !form.is_empty() {
            format!("{path}?{form}")
        } else {
            path
        };
        let body = if in_query { String::new() } else { form };
        match &self.transport {
            Transport::Local(socket) => call_local(socket, method, &uri, body).await,
            Transport::Remote {
                base,
                http,
                ticket,
                csrf,
                ..
            } => {
                let m = reqwest::Method::from_bytes(method.as_str().as_bytes())?;
                let resp = http
                    .request(m, format!("{base}{uri}"))
                    .header("Cookie", format!("PVEAuthCookie={ticket}"))
                    .header("CSRFPreventionToken", csrf)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status().as_u16();
                parse_reply(status, &resp.bytes().await?)
            }
        }
    }
}

async fn call_local(
    socket: &PathBuf,
    method: HttpMethod,
    uri: &str,
    body: String,
) -> anyhow::Result<Value> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("connecting to {}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method.as_str())
        .uri(uri)
        .header("Host", "localhost")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    parse_reply(status, &bytes)
}
