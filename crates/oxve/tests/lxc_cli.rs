//! `oxve ct ...` against a real daemon and real LXC (as root): create, start, `ct exec`,
//! list, stop and destroy through the CLI, over the root-only socket.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ct::{ct_template as template, TEMPLATE};
use common::Daemon;

fn oxve(socket: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args(args)
        .env("OXVE_SOCKET", socket)
        .env_remove("OXVE_HOST")
        .output()
        .expect("run oxve");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run an alias that starts a task: the CLI follows the task log and fails when the task
/// fails.
fn task(socket: &str, args: &[&str]) {
    let (ok, out, err) = oxve(socket, args);
    assert!(ok, "{args:?}: {out}\n{err}");
}

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("lxc-stop")
            .args(["-n", "9731", "-k", "-P"])
            .arg(&self.0)
            .output();
    }
}

#[test]
fn ct_commands() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let d = rt.block_on(async { Daemon::start() });
    let _cleanup = Cleanup(d.data_dir.join("run/lxc"));
    let socket = d.socket();
    let socket = socket.to_str().unwrap();
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(template(), cache.join(TEMPLATE)).unwrap();

    let tmpl = format!("local:vztmpl/{TEMPLATE}");
    task(
        socket,
        &[
            "ct",
            "create",
            "testnode",
            "9731",
            &tmpl,
            "--rootfs",
            "local:0.1",
            "--hostname",
            "cli-ct",
        ],
    );
    task(socket, &["ct", "start", "testnode", "9731"]);
    let (ok, out, err) = oxve(
        socket,
        &[
            "ct",
            "exec",
            "9731",
            "--",
            "/bin/sh",
            "-c",
            "hostname; id -u",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "cli-ct\n0");
    let (ok, _, err) = oxve(socket, &["ct", "exec", "9731", "--", "/bin/false"]);
    assert!(!ok, "the command's exit status is passed on: {err}");
    let (ok, out, _) = oxve(
        socket,
        &["ct", "list", "testnode", "--output-format", "json"],
    );
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["vmid"], 9731);
    assert_eq!(list[0]["status"], "running");
    task(socket, &["ct", "stop", "testnode", "9731"]);
    let (ok, _, err) = oxve(socket, &["ct", "exec", "9731", "--", "true"]);
    assert!(!ok, "exec on a stopped container fails: {err}");
    task(socket, &["ct", "destroy", "testnode", "9731"]);
    drop(d);
}
