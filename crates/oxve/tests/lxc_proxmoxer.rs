//! Containers driven by proxmoxer (Python), as scripts and Ansible's proxmox module use it
//! (as root, real LXC). scripts/test.sh installs proxmoxer into .venv.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ct::{ct_template as template, TEMPLATE};
use common::{Daemon, ADMIN_PASSWORD};

fn python() -> String {
    std::env::var("OXVE_CLIENT_PYTHON").unwrap_or_else(|_| {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        venv.to_string_lossy().into_owned()
    })
}

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("lxc-stop")
            .args(["-n", "9791", "-k", "-P"])
            .arg(&self.0)
            .output();
    }
}

#[test]
fn proxmoxer_drives_containers() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let d = Daemon::start();
    let _cleanup = Cleanup(d.data_dir.join("run/lxc"));
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(template(), cache.join(TEMPLATE)).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/proxmoxer_lxc.py");
    let out = Command::new(python())
        .arg(&script)
        .env("OXVE_HOST", d.base.trim_start_matches("https://"))
        .env("OXVE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("OXVE_CT_TEMPLATE", format!("local:vztmpl/{TEMPLATE}"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run scripts/test.sh, which installs proxmoxer into .venv): {e}",
                python()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "proxmoxer lxc checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("proxmoxer lxc: all checks passed"));
}
