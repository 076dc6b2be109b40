//! `oxve-bench-vm OXVE_BINARY`: the VM targets of issue 4, each against a baseline measured in
//! the same run:
//! - control-plane overhead of `start`: API call until the start task is done (QMP answering)
//!   vs launching the same QEMU command line by hand until its QMP answers;
//! - `status/current` of 100 running VMs (all at once, and one after another) vs `GET /version`;
//! - daemon RSS with 100 VMs defined and 10 running.
//!
//! VMs have no disks and `freeze: 1` (vCPUs stopped), so 100 of them fit on 2 cores.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const NODE: &str = "benchnode";
const PASSWORD: &str = "bench-pass-1";

struct Api {
    http: reqwest::Client,
    base: String,
    ticket: String,
    csrf: String,
}

impl Api {
    async fn login(base: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .pool_max_idle_per_host(128)
            .build()?;
        let r: Value = http
            .post(format!("{base}/api2/json/access/ticket"))
            .form(&[("username", "admin@pve"), ("password", PASSWORD)])
            .send()
            .await?
            .json()
            .await?;
        Ok(Api {
            http,
            base: base.to_string(),
            ticket: r["data"]["ticket"].as_str().unwrap_or_default().into(),
            csrf: r["data"]["CSRFPreventionToken"]
                .as_str()
                .unwrap_or_default()
                .into(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let req = self
            .http
            .request(method.clone(), format!("{}/api2/json{path}", self.base))
            .header("Cookie", format!("PVEAuthCookie={}", self.ticket))
            .header("CSRFPreventionToken", &self.csrf);
        let req = if method == reqwest::Method::GET {
            req.query(form)
        } else {
            req.form(form)
        };
        let resp = req.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {body}");
        }
        Ok(body["data"].clone())
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, &[]).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, form).await
    }

    /// Polls the task every 2 ms until it ends; fails unless it ended OK.
    async fn wait(&self, upid: &str) -> anyhow::Result<()> {
        loop {
            let st = self
                .get(&format!("/nodes/{NODE}/tasks/{upid}/status"))
                .await?;
            if st["status"] == "stopped" {
                if st["exitstatus"] != "OK" {
                    bail!("task {upid}: {}", st["exitstatus"]);
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the `showcmd` command line of a VM by hand with its run files moved to `dir`, and
/// times it until QMP answers `query-status`; then kills it.
async fn bare_start(line: &str, run_dir: &Path, dir: &Path) -> anyhow::Result<f64> {
    let words: Vec<String> = shell_words(line);
    let from = run_dir.join("qemu").to_string_lossy().into_owned();
    let to = dir.to_string_lossy().into_owned();
    let args: Vec<String> = words[1..].iter().map(|w| w.replace(&from, &to)).collect();
    let qmp = dir.join(format!("{}.qmp", VMID_BARE));
    let t = Instant::now();
    let status = tokio::process::Command::new(&words[0])
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .await?;
    if !status.success() {
        bail!("bare QEMU failed: {status}");
    }
    let stream = tokio::net::UnixStream::connect(&qmp).await?;
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    lines.next_line().await?; // greeting
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\"}\n")
        .await?;
    let mut answers = 0;
    while answers < 2 {
        let line = lines.next_line().await?.context("QMP closed")?;
        if line.contains("\"return\"") {
            answers += 1;
        }
    }
    let elapsed = t.elapsed().as_secs_f64() * 1000.0;
    w.write_all(b"{\"execute\":\"quit\"}\n").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(elapsed)
}

const VMID_BARE: u32 = 100;

/// Splits `showcmd`'s single-quoted shell line.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: oxve-bench-vm OXVE_BINARY")?,
    );
    let tmp = std::env::temp_dir().join(format!("oxve-bench-vm-{}", std::process::id()));
    let data = tmp.join("data");
    std::fs::create_dir_all(&data)?;
    let mut daemon = Command::new(&binary)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--node",
            NODE,
            "--accel",
            "tcg",
            "--data-dir",
        ])
        .arg(&data)
        .env("OXVE_ADMIN_PASSWORD", PASSWORD)
        .env("OXVE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let result = run(&binary, &data, &tmp, daemon.id(), daemon.stdout.take()).await;
    // Stop every VM (stopall) before the daemon, then clean up.
    let _ = daemon.kill();
    let _ = daemon.wait();
    if let Ok(dir) = std::fs::read_dir(data.join("run/qemu")) {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "pid") {
                if let Some(pid) = std::fs::read_to_string(e.path())
                    .ok()
                    .and_then(|p| p.trim().parse::<i32>().ok())
                {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

async fn run(
    binary: &Path,
    data: &Path,
    tmp: &Path,
    daemon_pid: u32,
    stdout: Option<std::process::ChildStdout>,
) -> anyhow::Result<()> {
    let out = stdout.context("daemon stdout")?;
    let base = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("https://")) {
                return Some(url.trim_end_matches('/').to_string());
            }
        }
        None
    })
    .await?
    .context("daemon did not start")?;
    let api = Api::login(&base).await?;

    // 100 VMs defined, no disks, vCPUs frozen.
    for vmid in 100..200u32 {
        let v = vmid.to_string();
        let upid = api
            .post(
                &format!("/nodes/{NODE}/qemu"),
                &[("vmid", &v), ("memory", "64"), ("freeze", "1")],
            )
            .await?;
        api.wait(upid.as_str().unwrap_or_default()).await?;
    }

    // Start overhead: API vs bare QEMU, alternating, 7 rounds.
    let line = {
        let out = Command::new(binary)
            .args([
                "api",
                "get",
                &format!("/nodes/{NODE}/qemu/{VMID_BARE}/showcmd"),
                "--output-format",
                "json",
                "--socket",
            ])
            .arg(data.join("run/oxve.sock"))
            .output()?;
        let v: Value = serde_json::from_slice(&out.stdout).context("showcmd output")?;
        v.as_str().unwrap_or_default().to_string()
    };
    let bare_dir = tmp.join("bare");
    std::fs::create_dir_all(&bare_dir)?;
    let (mut api_ms, mut bare_ms) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        bare_ms.push(bare_start(&line, &data.join("run"), &bare_dir).await?);
        let t = Instant::now();
        let upid = api
            .post(&format!("/nodes/{NODE}/qemu/101/status/start"), &[])
            .await?;
        api.wait(upid.as_str().unwrap_or_default()).await?;
        api_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let upid = api
            .post(&format!("/nodes/{NODE}/qemu/101/status/stop"), &[])
            .await?;
        api.wait(upid.as_str().unwrap_or_default()).await?;
    }
    let (a, b) = (median(api_ms), median(bare_ms));
    println!("start: API {a:.1} ms, bare QEMU {b:.1} ms (median of 7): overhead {:.1} ms, ratio {:.2} (target: overhead <= 50 ms)", a - b, a / b);

    // 10 running: daemon RSS.
    for vmid in 100..110u32 {
        let upid = api
            .post(&format!("/nodes/{NODE}/qemu/{vmid}/status/start"), &[])
            .await?;
        api.wait(upid.as_str().unwrap_or_default()).await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "daemon RSS with 100 VMs defined, 10 running: {:.1} MB (target < 60 MB)",
        rss_mb(daemon_pid)
    );

    // 100 running: status/current of all.
    for vmid in 110..200u32 {
        let upid = api
            .post(&format!("/nodes/{NODE}/qemu/{vmid}/status/start"), &[])
            .await?;
        api.wait(upid.as_str().unwrap_or_default()).await?;
    }
    let statuses = || async {
        let t = Instant::now();
        let all = futures::future::join_all(
            (100..200u32)
                .map(|vmid| api.get_owned(format!("/nodes/{NODE}/qemu/{vmid}/status/current"))),
        )
        .await;
        for r in &all {
            if let Err(e) = r {
                bail!("status: {e}");
            }
            if r.as_ref()
                .ok()
                .map(|v| v["status"] != "running")
                .unwrap_or(true)
            {
                bail!("a VM is not running: {r:?}");
            }
        }
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    };
    statuses().await?; // open the QMP connections
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cold = statuses().await?; // every VM's QMP facts older than their 2 s reuse time
    let parallel = median(vec![
        statuses().await?,
        statuses().await?,
        statuses().await?,
        statuses().await?,
        statuses().await?,
    ]);
    let t = Instant::now();
    for vmid in 100..200u32 {
        api.get(&format!("/nodes/{NODE}/qemu/{vmid}/status/current"))
            .await?;
    }
    let sequential = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    for _ in 0..100 {
        api.get("/version").await?;
    }
    let version = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    for vmid in 100..200u32 {
        api.get(&format!("/nodes/{NODE}/qemu/{vmid}/config"))
            .await?;
    }
    println!(
        "100 x GET config (no QMP): {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let list = api.get(&format!("/nodes/{NODE}/qemu")).await?;
    let list_ms = t.elapsed().as_secs_f64() * 1000.0;
    let running = list
        .as_array()
        .map(|l| l.iter().filter(|v| v["status"] == "running").count())
        .unwrap_or(0);
    println!("status/current of 100 running VMs: {parallel:.1} ms all at once (median of 5, polled like a dashboard), {cold:.1} ms all at once with every VM's QMP queried, {sequential:.1} ms one after another; baseline 100 x GET /version {version:.1} ms (ratio {:.2}) (target < 20 ms)", parallel / version);
    println!("GET /nodes/{NODE}/qemu with {running} running: {list_ms:.1} ms");
    println!("daemon RSS with 100 running: {:.1} MB", rss_mb(daemon_pid));
    let upid = api
        .post(&format!("/nodes/{NODE}/stopall"), &[("timeout", "0")])
        .await?;
    api.wait(upid.as_str().unwrap_or_default()).await?;
    Ok(())
}

impl Api {
    async fn get_owned(&self, path: String) -> anyhow::Result<Value> {
        self.get(&path).await
    }
}
