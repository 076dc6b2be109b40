//! A real daemon inside a network namespace of its own, and the client reaching it there.
//!
//! `oxve serve` runs under `ip netns exec` (so its netlink, sysfs and nftables views are the
//! namespace's), listening on the namespace's loopback. The test body runs on a thread that
//! entered the same namespace (`NetDaemon::run`), so its HTTP client reaches that loopback and
//! the commands it spawns see the daemon's interfaces. The namespace (and anything left
//! running in it) goes away when the `NetDaemon` is dropped, also when a test fails.

#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use oxve_net::netns::NamedNetns;

use crate::common::{http, send, Session, ADMIN_PASSWORD};

pub struct NetDaemon {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    _temp: tempfile::TempDir,
    /// Dropped last: kills leftovers and deletes the namespace.
    pub ns: NamedNetns,
}

impl NetDaemon {
    /// Start a daemon in a fresh namespace `oxvetest-<pid>-<n>`, on its loopback.
    pub fn start() -> NetDaemon {
        Self::start_on("127.0.0.1:0")
    }

    /// Start a daemon listening on `listen` (e.g. `0.0.0.0:0` for clients in other namespaces).
    pub fn start_on(listen: &str) -> NetDaemon {
        Self::start_with(listen, false)
    }

    /// Start a daemon that can run containers: `ip netns exec` mounts a fresh sysfs without
    /// the cgroup hierarchies LXC needs, so this enters the namespace with `nsenter` and keeps
    /// them (as `Daemon::start_in_netns` does).
    pub fn start_for_containers() -> NetDaemon {
        Self::start_with("127.0.0.1:0", true)
    }

    fn start_with(listen: &str, containers: bool) -> NetDaemon {
        const KEEP_CGROUPS: &str =
            "set -e; keep=$(mktemp -d); mount --rbind /sys/fs/cgroup \"$keep\"; \
            mount -t sysfs sysfs /sys; mount --move \"$keep\" /sys/fs/cgroup; rmdir \"$keep\"; \
            exec \"$@\"";
        let ns = NamedNetns::create("oxvetest").expect("create a network namespace");
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut cmd = if containers {
            let mut c = std::process::Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{}", ns.name))
                .args(["unshare", "-m", "--propagation", "private", "sh", "-c"])
                .args([KEEP_CGROUPS, "sh", env!("CARGO_BIN_EXE_oxve")]);
            c
        } else {
            ns.command(env!("CARGO_BIN_EXE_oxve"))
        };
        let mut child = cmd
            .args([
                "serve",
                "--listen",
                listen,
                "--node",
                "testnode",
                "--data-dir",
            ])
            .arg(&data_dir)
            .args(["--test-hooks", "--accel", "tcg"])
            .env("OXVE_LOG", "warn")
            .env("OXVE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start oxve serve in the namespace");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("daemon printed its URL in time");
            if let Some(rest) = line.strip_prefix("oxve listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_string();
            }
        };
        // the test reaches the daemon on the namespace's loopback, whatever it listens on
        let port = url.rsplit(':').next().unwrap_or_default();
        let base = format!("https://127.0.0.1:{port}");
        NetDaemon {
            child: Some(child),
            base,
            data_dir,
            _temp: temp,
            ns,
        }
    }

    /// Run `f` inside the daemon's namespace on a fresh runtime.
    /// The daemon's port.
    pub fn port(&self) -> &str {
        self.base.rsplit(':').next().unwrap_or_default()
    }

    pub fn run<F, T>(&self, f: F) -> T
    where
        F: Future<Output = T> + Send,
        T: Send,
    {
        self.ns
            .run(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(f)
            })
            .expect("enter the namespace")
    }

    /// Log in as admin@pve (call inside `run`).
    pub async fn admin(&self) -> Session {
        self.admin_at(&self.base).await
    }

    /// Log in as admin@pve through `base` (`https://addr:port`).
    pub async fn admin_at(&self, base: &str) -> Session {
        let r = send(
            http()
                .post(format!("{base}/api2/json/access/ticket"))
                .form(&[("username", "admin@pve"), ("password", ADMIN_PASSWORD)]),
        )
        .await;
        assert_eq!(r.status, 200, "login failed: {:?}", r.body);
        Session {
            http: http(),
            base: base.to_string(),
            ticket: r.data()["ticket"].as_str().unwrap().to_string(),
            csrf: r.data()["CSRFPreventionToken"]
                .as_str()
                .unwrap()
                .to_string(),
            username: "admin@pve".into(),
        }
    }

    /// Kill the daemon and start it again on the same data dir and namespace.
    pub fn restart(&mut self) {
        self.kill();
        let mut child = self
            .ns
            .command(env!("CARGO_BIN_EXE_oxve"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--node",
                "testnode",
                "--data-dir",
            ])
            .arg(&self.data_dir)
            .args(["--test-hooks", "--accel", "tcg"])
            .env("OXVE_LOG", "warn")
            .env("OXVE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("restart oxve serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        self.base = loop {
            let line = lines.next().expect("daemon output").unwrap();
            if let Some(rest) = line.strip_prefix("oxve listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `ip -j -d link show dev <name>` in the daemon's namespace, if the device exists.
    pub fn link(&self, name: &str) -> Option<serde_json::Value> {
        self.ns
            .ip_json(&["-d", "link", "show", "dev", name])
            .ok()
            .and_then(|v| v.get(0).cloned())
    }

    /// IPv4 addresses (`a.b.c.d/len`) of a device in the daemon's namespace.
    pub fn addrs(&self, name: &str) -> Vec<String> {
        let v = self
            .ns
            .ip_json(&["addr", "show", "dev", name])
            .unwrap_or_default();
        v[0]["addr_info"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|a| a["family"] == "inet")
                    .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for NetDaemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `from` gets an answer to one ping of `to`.
pub fn ping(from: &NamedNetns, to: &str) -> bool {
    from.exec(&["ping", "-c1", "-W2", to])
        .map(|o| o.status.success())
        .unwrap_or(false)
}
