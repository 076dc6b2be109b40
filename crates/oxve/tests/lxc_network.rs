//! Two containers on a bridge ping each other (as root, real LXC). The daemon runs inside a
//! network namespace the test creates (`ip netns exec`), with its own bridge, so the host's
//! interfaces are never touched; the test talks to it from a thread in that namespace: each `netN` becomes a veth `veth<vmid>i<n>` on the bridge with the
//! configured MAC and address.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ct::{ct_template as template, TEMPLATE};
use common::{wait_task, Daemon, Session};

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

/// The tests here start containers one test at a time: LXC's loop device setup races when
/// two containers start at the same instant.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A network namespace with bridge `vmbr0`, entered by this test thread (the runtime's only
/// one), so everything the test starts lives in it.
fn enter_netns_with_bridge(prefix: &str, vmids: &[u32]) -> NetNs {
    let ns = NetNs {
        name: format!("{prefix}{}", std::process::id()),
        lxc_path: None,
        vmids: vmids.to_vec(),
    };
    ip(&["netns", "add", &ns.name]);
    ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
    ip(&["-n", &ns.name, "link", "add", "vmbr0", "type", "bridge"]);
    ip(&["-n", &ns.name, "link", "set", "vmbr0", "up"]);
    let f = std::fs::File::open(format!("/var/run/netns/{}", ns.name)).unwrap();
    // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
    let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    ns
}

#[tokio::test]
async fn containers_on_a_bridge_ping_each_other() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let mut ns = enter_netns_with_bridge("oxvect", &[9751, 9752]);
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

/// NICs added to running containers are plugged in at once (the veth on the bridge, the
/// address inside, traffic flows), and removed ones are unplugged.
#[tokio::test]
async fn nics_hotplug_into_running_containers() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let mut ns = enter_netns_with_bridge("oxvehp", &[9753, 9754]);
    let d = Daemon::start_in_netns(&ns.name);
    let lxc_path = d.data_dir.join("run/lxc");
    ns.lxc_path = Some(lxc_path.clone());
    let s = Session::admin(&d).await;
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(template(), cache.join(TEMPLATE)).unwrap();
    let tmpl = format!("local:vztmpl/{TEMPLATE}");
    for vmid in [9753, 9754] {
        let r = s
            .post(
                "/nodes/testnode/lxc",
                &[
                    ("vmid", &vmid.to_string()),
                    ("ostemplate", &tmpl),
                    ("rootfs", "local:0.1"),
                    ("start", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let t = wait_task(&s, r.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
    }

    // plug a NIC into each running container
    for (vmid, addr) in [(9753, "10.98.0.1/24"), (9754, "10.98.0.2/24")] {
        let net1 = format!("name=eth1,bridge=vmbr0,ip={addr},mtu=1400,firewall=0");
        let r = s
            .put(
                &format!("/nodes/testnode/lxc/{vmid}/config"),
                &[("net1", &net1)],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let pending = s
            .get(&format!("/nodes/testnode/lxc/{vmid}/pending"), &[])
            .await;
        let item = pending
            .data()
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == "net1")
            .cloned()
            .unwrap();
        assert!(item.get("pending").is_none(), "applied live: {item}");
    }
    let link = ip(&["-n", &ns.name, "-o", "link", "show", "veth9753i1"]);
    assert!(
        link.contains("master vmbr0") && link.contains("mtu 1400"),
        "{link}"
    );
    let (ok, inside) = attach(&lxc_path, 9753, "ip -4 -o addr show eth1");
    assert!(ok && inside.contains("10.98.0.1/24"), "{inside}");
    let (ok, out) = attach(&lxc_path, 9753, "ping -c 2 -W 2 10.98.0.2");
    assert!(ok, "ping over the hotplugged NICs: {out}");

    // and unplug it again
    let r = s
        .put("/nodes/testnode/lxc/9753/config", &[("delete", "net1")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conf = s.get("/nodes/testnode/lxc/9753/config", &[]).await;
    assert!(conf.data().get("net1").is_none(), "{:?}", conf.data());
    let links = ip(&["-n", &ns.name, "-o", "link"]);
    assert!(!links.contains("veth9753i1"), "{links}");
    let (_, inside) = attach(&lxc_path, 9753, "ls /sys/class/net");
    assert!(!inside.contains("eth1"), "{inside}");

    // a NIC on a bridge that does not exist stays pending, nothing is left behind
    let r = s
        .put(
            "/nodes/testnode/lxc/9754/config",
            &[("net2", "name=eth2,bridge=nosuchbr,ip=10.97.0.1/24")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conf = s
        .get("/nodes/testnode/lxc/9754/config", &[("current", "1")])
        .await;
    assert!(conf.data().get("net2").is_none(), "{:?}", conf.data());
    let links = ip(&["-n", &ns.name, "-o", "link"]);
    assert!(!links.contains("veth9754i2"), "{links}");

    for vmid in [9753, 9754] {
        let r = s
            .delete(&format!("/nodes/testnode/lxc/{vmid}"), &[("force", "1")])
            .await;
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
    }
}
