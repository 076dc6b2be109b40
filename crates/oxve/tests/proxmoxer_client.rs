//! The API checked with a real Proxmox VE client: proxmoxer (Python), as scripts and
//! Ansible's modules use it. The README's test command installs it into .venv.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Daemon, ADMIN_PASSWORD};

fn python() -> String {
    std::env::var("OXVE_CLIENT_PYTHON").unwrap_or_else(|_| {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        venv.to_string_lossy().into_owned()
    })
}

#[test]
fn proxmoxer_drives_the_api() {
    let d = Daemon::start();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients/proxmoxer_check.py");
    let host = d.base.trim_start_matches("https://").to_string();
    let out = Command::new(python())
        .arg(&script)
        .env("OXVE_HOST", &host)
        .env("OXVE_ADMIN_PASSWORD", ADMIN_PASSWORD)
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
        "proxmoxer checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("proxmoxer: all checks passed"));
}
