//! A Debian container from the debootstrap template (built on request with
//! `scripts/build-ct-template.sh --debian target/ct-template-debian`; skipped without it):
//! the distribution is detected, systemd runs as init in the unprivileged container, the
//! network config is written the Debian way, and a clean shutdown works.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{wait_task, Daemon, Session};

const TEMPLATE: &str = "debian-12-minbase_12_amd64.tar.zst";

fn template() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let file = std::env::var("OXVE_CT_DEBIAN_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/ct-template-debian").join(TEMPLATE));
    file.exists().then_some(file)
}

struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("lxc-stop")
            .args(["-n", "9771", "-k", "-P"])
            .arg(&self.0)
            .output();
    }
}

#[tokio::test]
async fn debian_container_with_systemd() {
    let Some(tmpl) = template() else {
        eprintln!("skipped: no Debian template (scripts/build-ct-template.sh --debian target/ct-template-debian)");
        return;
    };
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _cleanup = Cleanup(lxc_path.clone());
    let s = Session::admin(&d).await;
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(&tmpl, cache.join(TEMPLATE)).unwrap();
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9771"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:1"),
                ("hostname", "deb"),
                ("net0", "name=eth0,ip=10.98.0.5/24,gw=10.98.0.1"),
                ("start", "1"),
            ],
        )
        .await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let c = s.get("/nodes/testnode/lxc/9771/config", &[]).await;
    assert_eq!(c.data()["ostype"], "debian", "detected from the template");

    let attach = |script: &str| {
        let out = Command::new("lxc-attach")
            .args(["-n", "9771", "-P"])
            .arg(&lxc_path)
            .args(["--clear-env", "--", "/bin/sh", "-c", script])
            .current_dir("/")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(attach("cat /proc/1/comm"), "systemd");
    assert_eq!(attach("hostname"), "deb");
    let interfaces = attach("cat /etc/network/interfaces");
    assert!(
        interfaces.contains("iface eth0 inet static\n\taddress 10.98.0.5/24\n\tgateway 10.98.0.1"),
        "{interfaces}"
    );
    // systemd comes up (degraded is fine in a minimal container)
    let mut state = String::new();
    for _ in 0..60 {
        state = attach("systemctl is-system-running 2>/dev/null");
        if state == "running" || state == "degraded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        state == "running" || state == "degraded",
        "systemd state: {state}"
    );

    let r = s
        .post(
            "/nodes/testnode/lxc/9771/status/shutdown",
            &[("timeout", "60")],
        )
        .await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "clean shutdown of systemd: {t}");
    let r = s.delete("/nodes/testnode/lxc/9771", &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}
