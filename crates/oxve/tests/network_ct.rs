//! A real container (LXC, the project's busybox template) on a NAT bridge: its veth gets its
//! fixed DHCP address and the firewall as a VM's tap does. The container
//! reaches an "outside" host, which sees the node's address; the outside host reaches the
//! container through port forwards; a firewall rule on the container's NIC drops one
//! forwarded port while the other stays open; its IP filter allows its DHCP address only;
//! with a DROP in-policy, replies to its own connections out through NAT still come in. The daemon runs in a namespace of its own.

mod common;
mod netns_daemon;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{wait_task, Session};
use netns_daemon::NetDaemon;
use oxve_net::netns::{veth_between, NamedNetns};

const TEMPLATE: &str = "oxve-busybox_1.0_amd64.tar.zst";
const N: &str = "/nodes/testnode/network";
const VMID: u32 = 9771;
const MAC: &str = "BC:24:11:00:97:71";

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

/// Stops the test's container, also when the test fails (before the namespace goes).
struct CtGuard(String, PathBuf);

impl Drop for CtGuard {
    fn drop(&mut self) {
        let _ = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.0))
            .args(["lxc-stop", "-n", &VMID.to_string(), "-k", "-P"])
            .arg(&self.1)
            .output();
    }
}

/// Run a shell script inside the container: (success, output). LXC's command socket is an
/// abstract socket of the daemon's network namespace, so `lxc-attach` runs there.
fn attach(ns: &NamedNetns, lxc_path: &Path, script: &str) -> (bool, String) {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", ns.name))
        .args(["lxc-attach", "-n", &VMID.to_string(), "-P"])
        .arg(lxc_path)
        .args(["--clear-env", "--", "/bin/sh", "-c", script])
        .current_dir("/")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    )
}

/// What a connection from `ns` to `addr` is told, if it gets through.
fn fetch(ns: &NamedNetns, addr: &str) -> Option<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
    .unwrap()
    .ok()
    .filter(|s| !s.is_empty())
}

async fn ok(r: common::Reply) {
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn task_ok(s: &Session, r: common::Reply) {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
}

#[test]
fn container_behind_nat_reaches_out_is_forwarded_to_and_firewalled() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let d = NetDaemon::start_for_containers();
    let outside = NamedNetns::create("oxvetest").unwrap();
    veth_between(&d.ns, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.57.0.2/24", "dev", "up0"])
        .unwrap();
    let lxc_path = d.data_dir.join("run/lxc");
    let _ct = CtGuard(d.ns.name.clone(), lxc_path.clone());
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(template(), cache.join(TEMPLATE)).unwrap();

    d.run(async {
        let s = d.admin().await;
        for form in [
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("bridge_ports", "eth1"),
                ("cidr", "10.57.0.1/24"),
                ("autostart", "1"),
            ][..],
            &[
                ("iface", "vmbr1"),
                ("type", "bridge"),
                ("cidr", "10.12.12.1/24"),
                ("nat", "1"),
                ("autostart", "1"),
            ][..],
        ] {
            ok(s.post(N, form).await).await;
        }
        task_ok(&s, s.put(N, &[]).await).await;
        let net0 = format!("name=eth0,bridge=vmbr1,hwaddr={MAC},ip=dhcp,firewall=1");
        let tmpl = format!("local:vztmpl/{TEMPLATE}");
        task_ok(
            &s,
            s.post(
                "/nodes/testnode/lxc",
                &[
                    ("vmid", &VMID.to_string()),
                    ("ostemplate", &tmpl),
                    ("rootfs", "local:0.1"),
                    ("net0", &net0),
                    ("start", "1"),
                ],
            )
            .await,
        )
        .await;
    });

    // the veth is wired like a VM's tap: on its bridge, with a fixed address (rate= would need
    // tc's cls_basic, which this build machine's kernel lacks)
    let veth = format!("veth{VMID}i0");
    let link = d.link(&veth).expect("the container's veth");
    assert_eq!(link["master"], "vmbr1", "{link}");
    let hosts =
        std::fs::read_to_string(d.data_dir.join("network/dhcp-vmbr1.hosts")).unwrap_or_default();
    assert!(
        hosts.to_ascii_uppercase().contains(MAC),
        "a static lease: {hosts}"
    );

    // DHCP inside the container (busybox's udhcpc; the template's init runs no DHCP client)
    let (done, out) = attach(
        &d.ns,
        &lxc_path,
        "printf '#!/bin/sh\\ncase \"$1\" in bound|renew) ip addr add \"$ip/$mask\" dev \"$interface\"; ip route add default via \"${router%%%% *}\";; esac\\n' > /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh && udhcpc -i eth0 -n -q -f -t 5 -T 1 -s /tmp/dhcp.sh && ip -4 -o addr show eth0",
    );
    assert!(done, "DHCP in the container: {out}");
    assert!(out.contains("10.12.12.100/24"), "the fixed address: {out}");

    // out through NAT: the outside host sees the node's uplink address
    let (done, out) = attach(&d.ns, &lxc_path, "ping -c 1 -W 2 10.57.0.2");
    assert!(done, "the container reaches the outside host: {out}");
    let listener = outside
        .run(|| TcpListener::bind(("0.0.0.0", 9000)))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().ok()?;
        conn.write_all(b"hi").ok()?;
        Some(peer)
    });
    let (_, said) = attach(&d.ns, &lxc_path, "nc -w 3 10.57.0.2 9000");
    assert_eq!(said, "hi");
    let peer = server.join().unwrap().expect("the outside host accepted");
    assert_eq!(peer.ip().to_string(), "10.57.0.1", "masqueraded");

    // two services in the container, each behind a port forward (served by an attached shell
    // that lives as long as the test needs them; the container's stop ends it)
    let mut services = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", d.ns.name))
        .args(["lxc-attach", "-n", &VMID.to_string(), "-P"])
        .arg(&lxc_path)
        .args(["--clear-env", "--", "/bin/sh", "-c"])
        .arg(
            "(while true; do echo port80 | nc -l -p 80; done) & \
             while true; do echo port81 | nc -l -p 81; done",
        )
        .current_dir("/")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    d.run(async {
        let s = d.admin().await;
        let vmid = VMID.to_string();
        for (dport, gport) in [("8080", "80"), ("8081", "81")] {
            ok(s.post(
                &format!("{N}/vmbr1/forwards"),
                &[("dport", dport), ("guest-port", gport), ("vmid", &vmid)],
            )
            .await)
            .await;
        }
    });
    let wait_for = |addr: &str, want: Option<&str>| {
        // the services start in the background; allow them a moment
        for _ in 0..20 {
            if fetch(&outside, addr).as_deref().map(str::trim) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    };
    assert!(wait_for("10.57.0.1:8080", Some("port80")));
    assert!(wait_for("10.57.0.1:8081", Some("port81")));

    // the firewall on the container's NIC: port 81 dropped, port 80 still open
    d.run(async {
        let s = d.admin().await;
        let fw = format!("/nodes/testnode/lxc/{VMID}/firewall");
        ok(s.post(
            &format!("{fw}/rules"),
            &[
                ("type", "in"),
                ("action", "DROP"),
                ("iface", "net0"),
                ("proto", "tcp"),
                ("dport", "81"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        ok(s.put(
            &format!("{fw}/options"),
            &[("enable", "1"), ("policy_in", "ACCEPT")],
        )
        .await)
        .await;
        ok(s.put("/cluster/firewall/options", &[("enable", "1")]).await).await;
    });
    assert!(
        fetch(&outside, "10.57.0.1:8081").is_none(),
        "port 81 is dropped"
    );
    assert!(wait_for("10.57.0.1:8080", Some("port80")), "port 80 open");
    let table =
        d.ns.exec(&["nft", "list", "table", "bridge", "oxve-fw"])
            .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains(&veth));

    // the IP filter allows the address oxve's DHCP gave it, not another one
    d.run(async {
        let s = d.admin().await;
        let fw = format!("/nodes/testnode/lxc/{VMID}/firewall");
        ok(s.put(&format!("{fw}/options"), &[("ipfilter", "1")]).await).await;
    });
    assert!(
        wait_for("10.57.0.1:8080", Some("port80")),
        "its own address"
    );
    let (done, out) = attach(&d.ns, &lxc_path, "ping -c 1 -W 2 10.57.0.2");
    assert!(done, "out from its own address: {out}");
    let (done, out) = attach(
        &d.ns,
        &lxc_path,
        "ip addr add 10.12.12.77/24 dev eth0 && ping -c 1 -W 2 -I 10.12.12.77 10.57.0.2",
    );
    assert!(
        !done && out.contains("100% packet loss"),
        "another source address is dropped: {out}"
    );

    // a DROP in-policy: new connections in are dropped, replies to the container's own
    // connections out through NAT still come in (connection state)
    d.run(async {
        let s = d.admin().await;
        let fw = format!("/nodes/testnode/lxc/{VMID}/firewall");
        ok(s.put(&format!("{fw}/options"), &[("policy_in", "DROP")])
            .await)
        .await;
    });
    assert!(
        fetch(&outside, "10.57.0.1:8080").is_none(),
        "new connections in are dropped"
    );
    let listener = outside
        .run(|| TcpListener::bind(("0.0.0.0", 9001)))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().ok()?;
        conn.write_all(b"reply").ok()
    });
    let (_, said) = attach(&d.ns, &lxc_path, "nc -w 3 10.57.0.2 9001");
    assert_eq!(said, "reply", "the reply to its own connection comes in");
    server.join().unwrap();

    d.run(async {
        let s = d.admin().await;
        task_ok(
            &s,
            s.post(&format!("/nodes/testnode/lxc/{VMID}/status/stop"), &[])
                .await,
        )
        .await;
    });
    assert!(d.link(&veth).is_none(), "the veth goes with the container");
    let _ = services.kill();
    let _ = services.wait();
}
