//! Containers in tests: the project's busybox template (built once) and a guard that stops
//! the test's containers however the test ends.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TEMPLATE: &str = "oxve-busybox_1.0_amd64.tar.zst";

/// The busybox container template, built by `scripts/build-ct-template.sh` if missing.
pub fn ct_template() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/ct-template");
    let file = out.join(TEMPLATE);
    if !file.exists() {
        let status = Command::new(root.join("scripts/build-ct-template.sh"))
            .arg(&out)
            .status()
            .expect("build the CT template");
        assert!(status.success());
    }
    file
}

/// Whether containers can run here (root and the lxc package); says why not.
pub fn can_run_containers() -> bool {
    let ok = nix::unistd::Uid::effective().is_root() && Path::new("/usr/bin/lxc-start").exists();
    if !ok {
        eprintln!("skipped: needs root and the lxc package");
    }
    ok
}

/// Stops containers `vmids` under `lxc_path` on drop.
pub struct StopContainers {
    pub lxc_path: PathBuf,
    pub vmids: Vec<u32>,
}

impl Drop for StopContainers {
    fn drop(&mut self) {
        for vmid in &self.vmids {
            let _ = Command::new("lxc-stop")
                .args(["-n", &vmid.to_string(), "-k", "-P"])
                .arg(&self.lxc_path)
                .output();
        }
    }
}

/// Puts the busybox template into the daemon's `local` storage (`local:vztmpl/TEMPLATE`).
pub fn install_template(d: &super::Daemon) {
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(ct_template(), cache.join(TEMPLATE)).unwrap();
}

/// Runs `script` with `/bin/sh` in running container `vmid`; its output, trimmed.
pub fn attach(lxc_path: &Path, vmid: u32, script: &str) -> String {
    let out = Command::new("lxc-attach")
        .args(["-n", &vmid.to_string(), "-P"])
        .arg(lxc_path)
        .args(["--clear-env", "--", "/bin/sh", "-c", script])
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
