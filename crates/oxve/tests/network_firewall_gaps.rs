//! The guest firewall beyond plain IPv4 DROP, with real packets: REJECT answers (TCP reset,
//! so a client is refused at once instead of timing out), connection state (replies to
//! connections the guest opens pass a DROP in-policy), IPv6 addresses, IP sets and the Ping
//! macro, guest-level IP sets and aliases, and the IP filter. A "guest" namespace sits on the
//! bridge port `tap700i0` (VM 700's tap), a "peer" namespace on another port.

mod common;
mod netns_daemon;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{wait_task, Session};
use netns_daemon::NetDaemon;
use oxve_net::netns::NamedNetns;

const FW: &str = "/nodes/testnode/qemu/700/firewall";
const GUEST4: &str = "10.46.0.70";
const GUEST6: &str = "fd46::70";
const PEER4: &str = "10.46.0.2";
const PEER6: &str = "fd46::2";

/// Answer every connection on `port` (both families) in `ns` with "port <port>".
fn serve(ns: &NamedNetns, port: u16) {
    let listener = ns
        .run(move || TcpListener::bind(("::", port)))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let _ = conn.write_all(format!("port {port}").as_bytes());
        }
    });
}

/// How a connection from `ns` to `ip`:`port` goes.
#[derive(Debug, PartialEq)]
enum Outcome {
    Answered,
    /// Refused at once (a TCP reset).
    Refused,
    /// No answer (dropped).
    TimedOut,
}

fn connect(ns: &NamedNetns, ip: &str, port: u16) -> Outcome {
    let addr = SocketAddr::new(ip.parse().unwrap(), port);
    ns.run(move || {
        let start = Instant::now();
        match TcpStream::connect_timeout(&addr, Duration::from_millis(1500)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut out = String::new();
                match s.read_to_string(&mut out) {
                    Ok(_) if out.starts_with("port") => Outcome::Answered,
                    _ => Outcome::TimedOut,
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                assert!(start.elapsed() < Duration::from_secs(1), "refused late");
                Outcome::Refused
            }
            Err(_) => Outcome::TimedOut,
        }
    })
    .unwrap()
}

fn ping(ns: &NamedNetns, to: &str) -> bool {
    ns.exec(&["ping", "-c1", "-W1", to])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn ok(r: common::Reply) {
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn rule(s: &Session, form: &[(&str, &str)]) {
    let mut form = form.to_vec();
    form.push(("enable", "1"));
    ok(s.post(&format!("{FW}/rules"), &form).await).await;
}

/// A namespace on the daemon's bridge behind port `port`, with its addresses.
fn attach(d: &NetDaemon, port: &str, mac: &str, v4: &str, v6: &str) -> NamedNetns {
    let ns = NamedNetns::create("oxvetest").unwrap();
    d.ns.ip(&[
        "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
    ])
    .unwrap();
    d.ns.ip(&["link", "set", port, "master", "vmbr0", "up"])
        .unwrap();
    ns.ip(&["link", "set", "eth0", "address", mac]).unwrap();
    ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", "eth0"])
        .unwrap();
    ns.ip(&["addr", "add", &format!("{v6}/64"), "dev", "eth0", "nodad"])
        .unwrap();
    ns.ip(&["link", "set", "eth0", "up"]).unwrap();
    ns
}

#[test]
fn reject_state_ipv6_sets_and_ipfilter() {
    let d = NetDaemon::start();
    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/nodes/testnode/network",
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("cidr", "10.46.0.1/24"),
                ("autostart", "1"),
            ],
        )
        .await)
        .await;
        let r = s.put("/nodes/testnode/network", &[]).await;
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
        let r = s
            .post(
                "/nodes/testnode/qemu",
                &[
                    ("vmid", "700"),
                    ("memory", "128"),
                    ("net0", "virtio=BC:24:11:00:07:00,bridge=vmbr0,firewall=1"),
                ],
            )
            .await;
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
    });
    // the node's own IPv6 address on the bridge: resets are routed from the node
    d.ns.ip(&["addr", "add", "fd46::1/64", "dev", "vmbr0", "nodad"])
        .unwrap();
    let guest = attach(&d, "tap700i0", "bc:24:11:00:07:00", GUEST4, GUEST6);
    let peer = attach(&d, "peer0", "bc:24:11:00:07:02", PEER4, PEER6);
    for port in [80, 81, 84, 85, 86] {
        serve(&guest, port);
    }
    for port in [82, 83] {
        serve(&peer, port);
    }
    assert_eq!(connect(&peer, GUEST6, 84), Outcome::Answered);

    d.run(async {
        let s = d.admin().await;
        // a datacenter IP set with an IPv6 member, a guest alias and a guest IP set
        ok(s.post("/cluster/firewall/ipset", &[("name", "v6peers")])
            .await)
        .await;
        ok(
            s.post("/cluster/firewall/ipset/v6peers", &[("cidr", "fd46::/64")])
                .await,
        )
        .await;
        ok(s.post(
            &format!("{FW}/aliases"),
            &[("name", "peer"), ("cidr", PEER4)],
        )
        .await)
        .await;
        let alias = s.get(&format!("{FW}/aliases/peer"), &[]).await;
        assert_eq!(alias.data()["cidr"], PEER4, "{:?}", alias.body);
        ok(s.post(&format!("{FW}/ipset"), &[("name", "peers6")]).await).await;
        ok(s.post(&format!("{FW}/ipset/peers6"), &[("cidr", PEER6)])
            .await)
        .await;
        // bad input: 400 naming the parameter
        let r = s
            .post(&format!("{FW}/ipset/peers6"), &[("cidr", "fd46::/129")])
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        let r = s
            .post(
                &format!("{FW}/rules"),
                &[
                    ("type", "in"),
                    ("action", "DROP"),
                    ("source", "10.46.0.0/24,fd46::/64"),
                ],
            )
            .await;
        assert!(r.body["errors"]["source"].is_string(), "{:?}", r.body);
        let r = s
            .post(
                &format!("{FW}/rules"),
                &[("type", "in"), ("action", "DROP"), ("source", "+nosuchset")],
            )
            .await;
        assert!(r.body["errors"]["source"].is_string(), "{:?}", r.body);

        rule(
            &s,
            &[
                ("type", "in"),
                ("action", "REJECT"),
                ("proto", "tcp"),
                ("dport", "81"),
            ],
        )
        .await;
        rule(
            &s,
            &[
                ("type", "out"),
                ("action", "REJECT"),
                ("proto", "tcp"),
                ("dport", "82"),
            ],
        )
        .await;
        rule(
            &s,
            &[
                ("type", "in"),
                ("action", "DROP"),
                ("source", "+v6peers"),
                ("proto", "tcp"),
                ("dport", "85"),
            ],
        )
        .await;
        rule(
            &s,
            &[
                ("type", "in"),
                ("action", "DROP"),
                ("source", "+peers6"),
                ("proto", "tcp"),
                ("dport", "86"),
            ],
        )
        .await;
        rule(
            &s,
            &[
                ("type", "in"),
                ("action", "DROP"),
                ("source", "peer"),
                ("proto", "tcp"),
                ("dport", "84"),
            ],
        )
        .await;
        rule(
            &s,
            &[
                ("type", "in"),
                ("action", "DROP"),
                ("macro", "Ping"),
                ("source", "fd46::/64"),
            ],
        )
        .await;
        ok(s.put(
            &format!("{FW}/options"),
            &[("enable", "1"), ("policy_in", "ACCEPT")],
        )
        .await)
        .await;
        ok(s.put("/cluster/firewall/options", &[("enable", "1")]).await).await;
    });

    // REJECT answers at once, both ways; DROP stays silent
    assert_eq!(connect(&peer, GUEST4, 81), Outcome::Refused, "in, IPv4");
    assert_eq!(connect(&peer, GUEST6, 81), Outcome::Refused, "in, IPv6");
    assert_eq!(connect(&guest, PEER4, 82), Outcome::Refused, "out");
    assert_eq!(connect(&guest, PEER4, 83), Outcome::Answered);
    assert_eq!(connect(&peer, GUEST4, 80), Outcome::Answered);
    // IPv6 sources, IP sets with IPv6 members, a guest-level set and alias
    assert_eq!(connect(&peer, GUEST4, 85), Outcome::Answered, "an IPv6 set");
    assert_eq!(connect(&peer, GUEST6, 85), Outcome::TimedOut, "an IPv6 set");
    assert_eq!(connect(&peer, GUEST4, 86), Outcome::Answered, "guest set");
    assert_eq!(connect(&peer, GUEST6, 86), Outcome::TimedOut, "guest set");
    assert_eq!(connect(&peer, GUEST4, 84), Outcome::TimedOut, "guest alias");
    assert_eq!(connect(&peer, GUEST6, 84), Outcome::Answered, "guest alias");
    assert!(
        ping(&peer, GUEST4),
        "Ping(DROP) from an IPv6 network spares IPv4"
    );
    assert!(
        !ping(&peer, GUEST6),
        "ICMPv6 echo dropped by the Ping macro"
    );

    // state: with a DROP in-policy, replies to the guest's own connections still come in
    d.run(async {
        let s = d.admin().await;
        ok(s.put(&format!("{FW}/options"), &[("policy_in", "DROP")])
            .await)
        .await;
    });
    assert_eq!(
        connect(&peer, GUEST4, 80),
        Outcome::TimedOut,
        "new in: dropped"
    );
    assert_eq!(
        connect(&guest, PEER4, 83),
        Outcome::Answered,
        "IPv4 replies pass"
    );
    assert_eq!(
        connect(&guest, PEER6, 83),
        Outcome::Answered,
        "IPv6 replies pass"
    );
    assert!(ping(&guest, PEER4), "echo replies pass");
    assert!(!ping(&peer, GUEST4));
    assert_eq!(
        connect(&peer, GUEST4, 81),
        Outcome::Refused,
        "REJECT before policy"
    );

    // the IP filter: only the addresses of ipfilter-net0 (and link-local IPv6) may be used
    d.run(async {
        let s = d.admin().await;
        ok(s.put(
            &format!("{FW}/options"),
            &[("policy_in", "ACCEPT"), ("ipfilter", "1")],
        )
        .await)
        .await;
    });
    assert!(
        !ping(&guest, PEER4),
        "no ipfilter-net0 set: no IPv4 address allowed"
    );
    d.run(async {
        let s = d.admin().await;
        ok(s.post(&format!("{FW}/ipset"), &[("name", "ipfilter-net0")])
            .await)
        .await;
        ok(
            s.post(&format!("{FW}/ipset/ipfilter-net0"), &[("cidr", GUEST4)])
                .await,
        )
        .await;
    });
    assert!(ping(&guest, PEER4), "its own address is allowed");
    assert!(!ping(&guest, PEER6), "its IPv6 address is not in the set");
    // its link-local address (from its MAC) is, another one is not
    let peer_ll = "fe80::be24:11ff:fe00:702%eth0";
    assert!(
        ping(&guest, peer_ll),
        "the MAC's link-local address is allowed"
    );
    guest
        .ip(&["addr", "add", "fe80::99/64", "dev", "eth0", "nodad"])
        .unwrap();
    let spoofed6 = guest
        .exec(&["ping", "-c1", "-W1", "-I", "fe80::99", peer_ll])
        .unwrap();
    assert!(
        !spoofed6.status.success(),
        "another link-local address is dropped"
    );
    guest
        .ip(&["addr", "add", "10.46.0.99/24", "dev", "eth0"])
        .unwrap();
    let spoofed = guest
        .exec(&["ping", "-c1", "-W1", "-I", "10.46.0.99", PEER4])
        .unwrap();
    assert!(
        !spoofed.status.success(),
        "another source address is dropped"
    );
}
