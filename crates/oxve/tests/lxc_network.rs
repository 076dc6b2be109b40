//! Two containers on a bridge ping each other (as root, real LXC). The daemon runs inside a
//! network namespace the test creates (`ip netns exec`), with its own bridge, so the host's
//! interfaces are never touched; the test talks to it from a thread in that namespace: each `netN` becomes a veth `veth<vmid>i<n>` on the bridge with the
//! configured MAC and address.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{wait_task, Daemon, Session};

const TEMPLATE: &str = "oxve-busybox_1.0_amd64.tar.zst";

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

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test's network namespace; containers are stopped before it goes.
struct NetNs {
    name: String,
    lxc_path: Option<PathBuf>,
    vmids: Vec<u32>,
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Some(path) = &self.lxc_path {
            for vmid in &self.vmids {
                let _ = Command::new("lxc-stop")
                    .args(["-n", &vmid.to_string(), "-k", "-P"])
                    .arg(path)
                    .output();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn attach(lxc_path: &Path, vmid: u32, script: &str) -> (bool, String) {
    let out = Command::new("lxc-attach")
        .args(["-n", &vmid.to_string(), "-P"])
        .arg(lxc_path)
        .args(["--clear-env", "--", "/bin/sh", "-c", script])
        .current_dir("/")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[tokio::test]
async fn containers_on_a_bridge_ping_each_other() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let mut ns = NetNs {
        name: format!("oxvect{}", std::process::id()),
        lxc_path: None,
        vmids: vec![9751, 9752],
    };
    ip(&["netns", "add", &ns.name]);
    ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
    ip(&["-n", &ns.name, "link", "add", "vmbr0", "type", "bridge"]);
    ip(&["-n", &ns.name, "link", "set", "vmbr0", "up"]);
    // this test thread (the runtime's only one) and everything it starts live in the namespace
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
    let tmpl = format!("local:vztmpl/{TEMPLATE}");

    for (vmid, addr) in [(9751, "10.99.0.1/24"), (9752, "10.99.0.2/24")] {
        let net0 = format!("name=eth0,bridge=vmbr0,ip={addr},firewall=0");
        let r = s
            .post(
                "/nodes/testnode/lxc",
                &[
                    ("vmid", &vmid.to_string()),
                    ("ostemplate", &tmpl),
                    ("rootfs", "local:0.1"),
                    ("net0", &net0),
                    ("start", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let t = wait_task(&s, r.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
    }

    // host side: a veth per NIC, on the bridge
    let link = ip(&["-n", &ns.name, "-o", "link", "show", "veth9751i0"]);
    assert!(link.contains("master vmbr0"), "{link}");
    // container side: the configured MAC and address
    let conf = s.get("/nodes/testnode/lxc/9751/config", &[]).await;
    let net0 = conf.data()["net0"].as_str().unwrap().to_string();
    let mac = net0
        .split(',')
        .find_map(|p| p.strip_prefix("hwaddr="))
        .unwrap()
        .to_ascii_lowercase();
    let (ok, inside) = attach(
        &lxc_path,
        9751,
        "cat /sys/class/net/eth0/address; ip -4 -o addr show eth0",
    );
    assert!(ok);
    assert!(inside.starts_with(&mac), "{inside}");
    assert!(inside.contains("10.99.0.1/24"), "{inside}");

    // the API reports the addresses (Terraform providers wait on this)
    let r = s.get("/nodes/testnode/lxc/9751/interfaces", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let eth0 = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .unwrap()
        .clone();
    assert_eq!(eth0["inet"], "10.99.0.1/24");
    assert_eq!(eth0["hwaddr"], mac.as_str());
    let (ok, out) = attach(&lxc_path, 9751, "ping -c 2 -W 2 10.99.0.2");
    assert!(ok, "ping from CT 9751 to CT 9752: {out}");
    let (ok, out) = attach(&lxc_path, 9752, "ping -c 1 -W 2 10.99.0.1");
    assert!(ok, "ping back: {out}");
    let st = s.get("/nodes/testnode/lxc/9751/status/current", &[]).await;
    assert!(st.data()["netout"].as_u64().unwrap() > 0, "{:?}", st.data());

    for vmid in [9751, 9752] {
        let r = s
            .delete(&format!("/nodes/testnode/lxc/{vmid}"), &[("force", "1")])
            .await;
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
    }
    let links = ip(&["-n", &ns.name, "-o", "link"]);
    assert!(
        !links.contains("veth975"),
        "veths gone with the containers: {links}"
    );
}
