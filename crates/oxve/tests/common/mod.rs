//! A real daemon for integration tests: `oxve serve` on a random loopback port with a temp
//! data dir, and an HTTPS client that talks to it as API clients do.

#![allow(dead_code)]

pub mod btrfs;
pub mod ct;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub mod ws;

pub const ADMIN_PASSWORD: &str = "admin-Secret-1";

/// A running daemon; killed and its data dir removed on drop.
pub struct Daemon {
    child: Option<Child>,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub base: String,
    pub node: String,
}

pub struct DaemonOptions {
    pub admin_password: Option<String>,
    pub extra_args: Vec<String>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            admin_password: Some(ADMIN_PASSWORD.into()),
            // KVM cannot run guests on the build machine: VMs run under TCG in tests.
            extra_args: vec!["--test-hooks".into(), "--accel".into(), "tcg".into()],
        }
    }
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(DaemonOptions::default())
    }

    pub fn start_with(opts: DaemonOptions) -> Daemon {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut d = Self::spawn_in(&data_dir, &opts);
        d._temp = Some(temp);
        d
    }

    /// Start a daemon on an existing data dir (restart after a kill).
    pub fn spawn_in(data_dir: &Path, opts: &DaemonOptions) -> Daemon {
        Self::spawn_cmd(Command::new(env!("CARGO_BIN_EXE_oxve")), data_dir, opts)
    }

    /// Start a daemon inside network namespace `netns` (`ip netns add`), with a /sys of that
    /// namespace in a private mount namespace (LXC and bridge tools read /sys/class/net) that
    /// keeps the host's cgroup mounts; the caller reaches it from a thread in the namespace.
    pub fn start_in_netns(netns: &str) -> Daemon {
        const SETUP: &str = "set -e; keep=$(mktemp -d); mount --rbind /sys/fs/cgroup \"$keep\"; \
            mount -t sysfs sysfs /sys; mount --move \"$keep\" /sys/fs/cgroup; rmdir \"$keep\"; \
            exec \"$@\"";
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/var/run/netns/{netns}"))
            .args([
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                SETUP,
                "sh",
            ])
            .arg(env!("CARGO_BIN_EXE_oxve"));
        let mut d = Self::spawn_cmd(cmd, &data_dir, &DaemonOptions::default());
        d._temp = Some(temp);
        d
    }

    fn spawn_cmd(mut cmd: Command, data_dir: &Path, opts: &DaemonOptions) -> Daemon {
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--node",
            "testnode",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(&opts.extra_args)
        .env("OXVE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        match &opts.admin_password {
            Some(p) => cmd.env("OXVE_ADMIN_PASSWORD", p),
            None => cmd.env_remove("OXVE_ADMIN_PASSWORD"),
        };
        let mut child = cmd.spawn().expect("start oxve serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let base = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("daemon printed its URL in time");
            if let Some(rest) = line.strip_prefix("oxve listening on ") {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/');
                break url.to_string();
            }
        };
        Daemon {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            base,
            node: "testnode".into(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api2/json{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGKILL the daemon (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kill and start again on the same data dir, keeping the temp dir alive.
    pub fn restart(&mut self, opts: &DaemonOptions) {
        self.kill();
        let mut fresh = Self::spawn_in(&self.data_dir, opts);
        self.child = fresh.child.take();
        self.base = fresh.base.clone();
    }

    pub fn socket(&self) -> PathBuf {
        self.data_dir.join("run/oxve.sock")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        // QEMUs a failed test left running (their pidfiles are in the run dir); only the
        // daemon that owns the data dir, not the short-lived handle of a restart.
        if self._temp.is_none() {
            return;
        }
        // Base images of templates are immutable (chattr +i): let the temp dir go.
        let _ = Command::new("chattr")
            .args(["-R", "-i"])
            .arg(&self.data_dir)
            .stderr(Stdio::null())
            .status();
        if let Ok(dir) = std::fs::read_dir(self.data_dir.join("run/qemu")) {
            for entry in dir.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "pid") {
                    if let Some(pid) = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|p| p.trim().parse::<i32>().ok())
                    {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
            }
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A logged-in session: ticket cookie plus CSRF header, as the web UI and proxmoxer use.
#[derive(Clone)]
pub struct Session {
    pub http: reqwest::Client,
    pub base: String,
    pub ticket: String,
    pub csrf: String,
    pub username: String,
}

pub struct Reply {
    pub status: u16,
    pub reason: String,
    pub body: Value,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let reason = resp.status().canonical_reason().unwrap_or("").to_string();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        reason,
        body,
    }
}

pub async fn login(d: &Daemon, username: &str, password: &str) -> Reply {
    send(
        http()
            .post(d.url("/access/ticket"))
            .form(&[("username", username), ("password", password)]),
    )
    .await
}

impl Session {
    pub async fn new(d: &Daemon, username: &str, password: &str) -> Session {
        let r = login(d, username, password).await;
        assert_eq!(r.status, 200, "login of {username} failed: {:?}", r.body);
        Session {
            http: http(),
            base: d.base.clone(),
            ticket: r.data()["ticket"].as_str().unwrap().to_string(),
            csrf: r.data()["CSRFPreventionToken"]
                .as_str()
                .unwrap()
                .to_string(),
            username: username.to_string(),
        }
    }

    pub async fn admin(d: &Daemon) -> Session {
        Self::new(d, "admin@pve", ADMIN_PASSWORD).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api2/json{}", self.base, path)
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header("Cookie", format!("PVEAuthCookie={}", self.ticket))
            .header("CSRFPreventionToken", &self.csrf)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        send(self.auth(self.http.get(self.url(path)).query(query))).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        send(self.auth(self.http.post(self.url(path)).form(form))).await
    }

    pub async fn put(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        send(self.auth(self.http.put(self.url(path)).form(form))).await
    }

    pub async fn delete(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        send(self.auth(self.http.delete(self.url(path)).query(query))).await
    }
}

/// Requests authenticated by an API token.
pub struct TokenClient {
    pub http: reqwest::Client,
    pub base: String,
    pub header: String,
}

impl TokenClient {
    pub fn new(d: &Daemon, full_tokenid: &str, secret: &str) -> TokenClient {
        TokenClient {
            http: http(),
            base: d.base.clone(),
            header: format!("PVEAPIToken={full_tokenid}={secret}"),
        }
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        send(
            self.http
                .get(format!("{}/api2/json{}", self.base, path))
                .query(query)
                .header("Authorization", &self.header),
        )
        .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        send(
            self.http
                .post(format!("{}/api2/json{}", self.base, path))
                .form(form)
                .header("Authorization", &self.header),
        )
        .await
    }
}

/// Poll a task until it stops; returns its final status.
pub async fn wait_task(s: &Session, upid: &str) -> Value {
    for _ in 0..600 {
        let r = s
            .get(&format!("/nodes/testnode/tasks/{upid}/status"), &[])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.data()["status"] == "stopped" {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {upid} did not finish");
}

/// A task's whole log, one line each.
/// Waits for the task a request started and asserts it ended OK; the task's status.
pub async fn task_ok(s: &Session, r: Reply) -> Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    t
}

pub async fn task_log(s: &Session, upid: &str) -> String {
    let r = s
        .get(
            &format!("/nodes/testnode/tasks/{upid}/log"),
            &[("limit", "100000")],
        )
        .await;
    r.data()
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| format!("{}\n", l["t"].as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// The project's guest image (qcow2), built by `scripts/build-guest-image.sh` when missing and
/// refreshed once per test process (the script is cached: it rebuilds only when the guest's
/// sources or package versions changed; an existing image is kept if a rebuild fails).
pub fn guest_image() -> PathBuf {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var("OXVE_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/guest"));
    let image = dir.join("oxve-guest.qcow2");
    CHECKED.call_once(|| {
        let status = std::process::Command::new(root.join("scripts/build-guest-image.sh"))
            .arg(&dir)
            .status()
            .expect("build the guest image");
        if !status.success() {
            assert!(image.exists(), "scripts/build-guest-image.sh failed");
            eprintln!("warning: scripts/build-guest-image.sh failed; using the existing image");
        }
    });
    image
}

/// Creates VM `vmid` booting a copy of the guest image (`scsi0`), with `serial0: socket` and
/// the `extra` config, and starts it; returns once the start task succeeded.
pub async fn create_and_start_guest(d: &Daemon, s: &Session, vmid: u32, extra: &[(&str, &str)]) {
    let dir = d.data_dir.join(format!("local/images/{vmid}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest_image(), dir.join(format!("vm-{vmid}-disk-0.qcow2"))).unwrap();
    let vmid_s = vmid.to_string();
    let disk = format!("local:{vmid}/vm-{vmid}-disk-0.qcow2");
    let mut params = vec![
        ("vmid", vmid_s.as_str()),
        ("memory", "256"),
        ("scsihw", "virtio-scsi-single"),
        ("scsi0", disk.as_str()),
        ("serial0", "socket"),
    ];
    params.extend_from_slice(extra);
    let r = s.post("/nodes/testnode/qemu", &params).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let r = s
        .post(&format!("/nodes/testnode/qemu/{vmid}/status/start"), &[])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
}
