//! IPv6 behind a NAT bridge: a bridge with `nat=1` and a unique local IPv6 subnet announces
//! it (router advertisements), and a "guest" namespace on it configures its own address,
//! reaches an "outside" host over IPv6, which sees the node's uplink address (masquerade).

mod common;
mod netns_daemon;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::wait_task;
use netns_daemon::NetDaemon;
use oxve_net::netns::{veth_between, NamedNetns};

const N: &str = "/nodes/testnode/network";

/// The guest's global IPv6 address in `prefix`, once it has configured one.
fn slaac_address(ns: &NamedNetns, prefix: &str) -> Option<String> {
    let v = ns.ip_json(&["-6", "addr", "show", "dev", "g0"]).ok()?;
    v[0]["addr_info"].as_array()?.iter().find_map(|a| {
        let local = a["local"].as_str()?;
        (local.starts_with(prefix) && a["tentative"].is_null()).then(|| local.to_string())
    })
}

#[test]
fn guest_behind_nat_reaches_out_over_ipv6() {
    let d = NetDaemon::start();
    let outside = NamedNetns::create("oxvetest").unwrap();
    let guest = NamedNetns::create("oxvetest").unwrap();
    veth_between(&d.ns, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "2001:db8:58::2/64", "dev", "up0", "nodad"])
        .unwrap();
    d.run(async {
        let s = d.admin().await;
        for form in [
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("bridge_ports", "eth1"),
                ("cidr6", "2001:db8:58::1/64"),
                ("autostart", "1"),
            ][..],
            &[
                ("iface", "vmbr1"),
                ("type", "bridge"),
                ("cidr", "10.14.14.1/24"),
                ("cidr6", "fd14::1/64"),
                ("nat", "1"),
                ("autostart", "1"),
            ][..],
        ] {
            let r = s.post(N, form).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        let t = wait_task(&s, s.put(N, &[]).await.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
    });
    let table =
        d.ns.exec(&["nft", "list", "table", "ip6", "oxve-nat"])
            .unwrap();
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(
        table.contains("ip6 saddr fd14::/64 ip6 daddr != fd14::/64 masquerade"),
        "{table}"
    );

    // the guest: a namespace on the NAT bridge, configured by router advertisements
    d.ns.ip(&[
        "link",
        "add",
        "veth9001i0",
        "type",
        "veth",
        "peer",
        "name",
        "g0",
        "netns",
        &guest.name,
    ])
    .unwrap();
    d.ns.ip(&["link", "set", "veth9001i0", "master", "vmbr1", "up"])
        .unwrap();
    guest.ip(&["link", "set", "g0", "up"]).unwrap();
    let start = Instant::now();
    let addr = loop {
        if let Some(a) = slaac_address(&guest, "fd14:") {
            break a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no address from router advertisements: {:?}",
            guest.ip_json(&["-6", "addr", "show", "dev", "g0"])
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(addr.starts_with("fd14::"), "{addr}");

    // out through NAT66: the outside host sees the node's uplink address
    let ping = guest
        .exec(&["ping", "-6", "-c1", "-W2", "2001:db8:58::2"])
        .unwrap();
    assert!(
        ping.status.success(),
        "the guest reaches the outside host over IPv6: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let listener = outside
        .run(|| TcpListener::bind("[::]:9600"))
        .unwrap()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().ok()?;
        conn.write_all(b"hi").ok()?;
        Some(peer)
    });
    let to: SocketAddr = "[2001:db8:58::2]:9600".parse().unwrap();
    guest
        .run(move || TcpStream::connect_timeout(&to, Duration::from_secs(3)))
        .unwrap()
        .expect("connect over IPv6");
    let peer = server.join().unwrap().expect("the outside host accepted");
    assert_eq!(
        peer.ip().to_string(),
        "2001:db8:58::1",
        "masqueraded to the node's address"
    );
}
