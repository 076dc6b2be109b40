//! A NAT bridge and port forwards, proven with real packets between namespaces: the daemon's
//! node has an uplink bridge to an "outside" host and a NAT bridge with a "guest" namespace on
//! it. The guest gets its fixed address from dnsmasq (DHCP), reaches the outside host, which
//! sees the node's address (masquerade); the outside host reaches the guest's service through
//! a forwarded host port (DNAT), also after a daemon restart.

mod common;
mod netns_daemon;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::wait_task;
use netns_daemon::{ping, NetDaemon};
use oxve_net::netns::{veth_between, NamedNetns};
use serde_json::Value;

const N: &str = "/nodes/testnode/network";

/// A request that must fail: path, form, the parameter to blame.
type BadForward<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
const GUEST_MAC: &str = "BC:24:11:00:05:00";

fn busybox() -> &'static str {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox (Debian busybox-static) is needed for its DHCP client")
}

/// Accept one connection in `ns` on `port`; answer `reply` and return the peer's address.
fn serve_once(
    ns: &NamedNetns,
    port: u16,
    reply: &'static str,
) -> std::thread::JoinHandle<Option<SocketAddr>> {
    let listener = ns
        .run(move || TcpListener::bind(("0.0.0.0", port)))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        listener.set_nonblocking(false).ok()?;
        let (mut conn, peer) = listener.accept().ok()?;
        conn.write_all(reply.as_bytes()).ok()?;
        Some(peer)
    })
}

/// Connect from `ns` to `addr` and read what the server says.
fn fetch(ns: &NamedNetns, addr: &str) -> std::io::Result<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })?
}

async fn reload(s: &common::Session) -> Value {
    wait_task(s, s.put(N, &[]).await.data().as_str().unwrap()).await
}

#[test]
fn guest_behind_nat_gets_dhcp_reaches_out_and_is_reached_through_a_forward() {
    let mut d = NetDaemon::start();
    let outside = NamedNetns::create("oxvetest").unwrap();
    let guest = NamedNetns::create("oxvetest").unwrap();
    veth_between(&d.ns, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.55.0.2/24", "dev", "up0"])
        .unwrap();

    d.run(async {
        let s = d.admin().await;
        for form in [
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("bridge_ports", "eth1"),
                ("cidr", "10.55.0.1/24"),
                ("autostart", "1"),
            ][..],
            &[
                ("iface", "vmbr1"),
                ("type", "bridge"),
                ("cidr", "10.10.10.1/24"),
                ("nat", "1"),
                ("autostart", "1"),
            ][..],
        ] {
            let r = s.post(N, form).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        let br = s.get(&format!("{N}/vmbr1"), &[]).await;
        assert_eq!(br.data()["nat"], 1);
        // a VM with a NIC on the NAT bridge: its MAC gets a fixed address
        let net0 = format!("virtio={GUEST_MAC},bridge=vmbr1");
        let r = s
            .post(
                "/nodes/testnode/qemu",
                &[("vmid", "500"), ("memory", "128"), ("net0", &net0)],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
        let t = reload(&s).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
        // a bridge that guests use is not deleted under them
        let r = s.delete(&format!("{N}/vmbr1"), &[]).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(
            r.body["errors"]["iface"].as_str().unwrap().contains("500"),
            "{:?}",
            r.body
        );
    });
    let table =
        d.ns.exec(&["nft", "-j", "list", "table", "ip", "oxve-nat"])
            .unwrap();
    assert!(table.status.success(), "oxve's nftables table exists");

    // the "guest": a namespace on the NAT bridge with the VM's MAC, configured by DHCP
    d.ns.ip(&[
        "link",
        "add",
        "veth500i0",
        "type",
        "veth",
        "peer",
        "name",
        "g0",
        "netns",
        &guest.name,
    ])
    .unwrap();
    d.ns.ip(&["link", "set", "veth500i0", "master", "vmbr1", "up"])
        .unwrap();
    guest
        .ip(&["link", "set", "g0", "address", GUEST_MAC, "up"])
        .unwrap();
    let script = d.data_dir.join("udhcpc.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in bound|renew) ip addr add \"$ip/$mask\" dev \"$interface\"; ip route add default via \"${router%% *}\";; esac\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dhcp = guest
        .exec(&[
            busybox(),
            "udhcpc",
            "-i",
            "g0",
            "-n",
            "-q",
            "-f",
            "-t",
            "5",
            "-T",
            "1",
            "-s",
            script.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        dhcp.status.success(),
        "DHCP failed: {}",
        String::from_utf8_lossy(&dhcp.stderr)
    );
    let addrs = guest.ip_json(&["addr", "show", "dev", "g0"]).unwrap();
    let hosts =
        std::fs::read_to_string(d.data_dir.join("network/dhcp-vmbr1.hosts")).unwrap_or_default();
    assert!(
        addrs.to_string().contains("\"10.10.10.100\""),
        "the fixed address from DHCP: {addrs}\nhosts: {hosts}"
    );

    // out through NAT: the outside host sees the node's uplink address
    assert!(
        ping(&guest, "10.55.0.2"),
        "the guest reaches the outside host"
    );
    let server = serve_once(&outside, 9000, "hi");
    let said = guest
        .exec(&[busybox(), "nc", "-w", "3", "10.55.0.2", "9000"])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&said.stdout), "hi");
    let peer = server.join().unwrap().expect("outside accepted");
    assert_eq!(
        peer.ip().to_string(),
        "10.55.0.1",
        "masqueraded to the node's address"
    );
    // the outside host has no route to the guest subnet
    assert!(!ping(&outside, "10.10.10.100"));

    // in through a port forward, chosen by the guest's vmid
    d.run(async {
        let s = d.admin().await;
        let fw = format!("{N}/vmbr1/forwards");
        let r = s
            .post(
                &fw,
                &[
                    ("dport", "8080"),
                    ("guest-port", "80"),
                    ("vmid", "500"),
                    ("comment", "web"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.data()["id"], "tcp-8080");
        assert_eq!(r.data()["guest"], "10.10.10.100");
        // bad input: 400 naming the parameter, nothing applied
        let bad: &[BadForward] = &[
            (&fw, &[("dport", "8080"), ("guest", "10.10.10.7")], "dport"),
            (&fw, &[("dport", "8081"), ("guest", "10.99.0.7")], "guest"),
            (
                &fw,
                &[("dport", "8081"), ("guest", "10.10.10.300")],
                "guest",
            ),
            (&fw, &[("dport", "70000"), ("guest", "10.10.10.7")], "dport"),
            (&fw, &[("dport", "8081")], "guest"),
            (
                "/nodes/testnode/network/vmbr0/forwards",
                &[("dport", "8081"), ("guest", "10.55.0.9")],
                "iface",
            ),
        ];
        for (path, form, param) in bad {
            let r = s.post(path, form).await;
            assert_eq!(r.status, 400, "{form:?}: {:?}", r.body);
            assert!(
                r.body["errors"][*param].is_string(),
                "{form:?} should blame {param}: {:?}",
                r.body
            );
        }
        let list = s.get(&fw, &[]).await;
        assert_eq!(list.data().as_array().unwrap().len(), 1, "{:?}", list.body);
        assert_eq!(list.data()[0]["guest-port"], 80);
    });
    let server = serve_once(&guest, 80, "hello from the guest");
    assert_eq!(
        fetch(&outside, "10.55.0.1:8080").unwrap(),
        "hello from the guest"
    );
    let peer = server.join().unwrap().unwrap();
    assert_eq!(
        peer.ip().to_string(),
        "10.55.0.2",
        "the guest sees the real client"
    );

    // after a restart (and its rules lost), the daemon applies the forward again
    d.kill();
    d.ns.exec(&["nft", "delete", "table", "ip", "oxve-nat"])
        .unwrap();
    d.restart();
    let server = serve_once(&guest, 80, "still here");
    assert_eq!(fetch(&outside, "10.55.0.1:8080").unwrap(), "still here");
    server.join().unwrap();

    // moved to another guest port, then removed
    d.run(async {
        let s = d.admin().await;
        let one = format!("{N}/vmbr1/forwards/tcp-8080");
        let r = s
            .put(&one, &[("guest-port", "81"), ("delete", "comment")])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(r.data().get("comment").is_none());
    });
    let server = serve_once(&guest, 81, "port 81");
    assert_eq!(fetch(&outside, "10.55.0.1:8080").unwrap(), "port 81");
    server.join().unwrap();
    d.run(async {
        let s = d.admin().await;
        assert_eq!(
            s.delete(&format!("{N}/vmbr1/forwards/tcp-8080"), &[])
                .await
                .status,
            200
        );
        assert_eq!(
            s.get(&format!("{N}/vmbr1/forwards/tcp-8080"), &[])
                .await
                .status,
            400
        );
    });
    let _listener = guest
        .run(|| TcpListener::bind(("0.0.0.0", 81)))
        .unwrap()
        .unwrap();
    assert!(
        fetch(&outside, "10.55.0.1:8080").is_err(),
        "no forward any more"
    );
}
