//! `GET /nodes/{node}/lxc/{vmid}/rrddata` of a real running container (as root, real LXC): the
//! sampler records its CPU, memory and block I/O (cgroups) and its network traffic (its veth)
//! in Proxmox's shape. The daemon runs in a network namespace of the test with its own bridge,
//! so the host's interfaces are never touched; the container pings the bridge's address.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{wait_task, Daemon, Session};
use serde_json::Value;

const TEMPLATE: &str = "oxve-busybox_1.0_amd64.tar.zst";
const VMID: u32 = 9771;

fn template() -> PathBuf {
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

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test's network namespace; the container is stopped before it goes.
struct NetNs {
    name: String,
    lxc_path: Option<PathBuf>,
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Some(path) = &self.lxc_path {
            let _ = Command::new("lxc-stop")
                .args(["-n", &VMID.to_string(), "-k", "-P"])
                .arg(path)
                .output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Run `script` in the container (its output discarded; background jobs keep running).
fn attach(lxc_path: &Path, script: &str) {
    let out = Command::new("lxc-attach")
        .args(["-n", &VMID.to_string(), "-P"])
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
}

/// Poll the hour history until some point satisfies `pred` (samples every 10 s).
async fn wait_for(s: &Session, what: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = s
            .get(
                &format!("/nodes/testnode/lxc/{VMID}/rrddata"),
                &[("timeframe", "hour")],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let points = r.data().as_array().expect("an array").clone();
        if points.iter().any(&pred) {
            return points;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in time: {:?}",
            &points[points.len().saturating_sub(3)..]
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn num(p: &Value, field: &str) -> f64 {
    p[field].as_f64().unwrap_or(0.0)
}

#[tokio::test]
async fn rrddata_of_a_running_container() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let mut ns = NetNs {
        name: format!("oxvectrrd{}", std::process::id()),
        lxc_path: None,
    };
    ip(&["netns", "add", &ns.name]);
    ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
    ip(&["-n", &ns.name, "link", "add", "vmbr0", "type", "bridge"]);
    ip(&[
        "-n",
        &ns.name,
        "addr",
        "add",
        "10.97.0.254/24",
        "dev",
        "vmbr0",
    ]);
    ip(&["-n", &ns.name, "link", "set", "vmbr0", "up"]);
    // this test thread (the runtime's only one) reaches the daemon inside the namespace
    let f = std::fs::File::open(format!("/var/run/netns/{}", ns.name)).unwrap();
    // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
    let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());

    let d = Daemon::start_in_netns(&ns.name);
    let lxc_path = d.data_dir.join("run/lxc");
    ns.lxc_path = Some(lxc_path.clone());
    let s = Session::admin(&d).await;
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(template(), cache.join(TEMPLATE)).unwrap();

    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", &VMID.to_string()),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:0.1"),
                ("memory", "96"),
                ("cores", "1"),
                ("net0", "name=eth0,bridge=vmbr0,ip=10.97.0.1/24,firewall=0"),
                ("start", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    // Work for the sampler to see: a busy loop, a file written and synced, a ping stream.
    attach(
        &lxc_path,
        "(i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done) >/dev/null 2>&1 </dev/null & \
         (dd if=/dev/urandom of=/root/blob bs=64k count=160 && sync) >/dev/null 2>&1 </dev/null & \
         (while :; do ping -c 5 -s 1200 -W 1 10.97.0.254; done) >/dev/null 2>&1 </dev/null &",
    );

    let points = wait_for(&s, "network traffic and CPU", |p| {
        num(p, "netout") > 1000.0 && num(p, "netin") > 1000.0 && num(p, "cpu") > 0.0
    })
    .await;
    // Proxmox's shape: 70 points a minute apart, the VM/CT data sources.
    assert_eq!(points.len(), 70);
    let times: Vec<u64> = points.iter().map(|p| p["time"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 60), "{times:?}");
    let last = points
        .iter()
        .rev()
        .find(|p| p.get("maxmem").is_some())
        .unwrap();
    for field in [
        "cpu",
        "maxcpu",
        "mem",
        "maxmem",
        "disk",
        "maxdisk",
        "netin",
        "netout",
        "diskread",
        "diskwrite",
    ] {
        assert!(last[field].is_number(), "{field} missing: {last}");
    }
    assert_eq!(num(last, "maxmem"), 96.0 * 1024.0 * 1024.0, "{last}");
    assert_eq!(num(last, "maxcpu"), 1.0, "{last}");
    assert!(
        num(last, "mem") > 0.0,
        "a running container uses memory: {last}"
    );
    assert!(num(last, "maxdisk") > 90.0 * 1024.0 * 1024.0, "{last}");
    // the rates are per second and plausible for ~3 pings of 1.2 KB a second
    let peak_out = points.iter().map(|p| num(p, "netout")).fold(0.0, f64::max);
    assert!(
        peak_out < 1e6,
        "netout is a rate, not a counter: {peak_out}"
    );

    // The MAX consolidation is served too; the container is stopped by the cleanup.
    let r = s
        .get(
            &format!("/nodes/testnode/lxc/{VMID}/rrddata"),
            &[("timeframe", "hour"), ("cf", "MAX")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .any(|p| num(p, "cpu") > 0.0));
}
