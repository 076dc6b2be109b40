//! Benchmark (ignored by default; `bench/network.sh` runs it): TCP throughput from an
//! "outside" namespace to a "guest" namespace behind a NAT bridge, through a port forward
//! (DNAT) versus the same path routed without NAT, measured in the same run. The issue's
//! target is a ratio of at least 80%.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use oxve_net::apply::apply;
use oxve_net::forwards::{Forward, Proto};
use oxve_net::interfaces::{parse, InterfacesFile};
use oxve_net::nat::{enable_ip_forward, nft_apply, ruleset, NatBridge};
use oxve_net::netlink::Netlink;
use oxve_net::netns::{veth_between, NamedNetns};

const BYTES: usize = 256 << 20;

/// Receive connections in `ns` on `port`, each read to its end, answering with one byte.
fn sink(ns: &NamedNetns, port: u16) {
    let listener = ns
        .run(move || TcpListener::bind(("0.0.0.0", port)))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let mut buf = vec![0u8; 1 << 16];
            while conn.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
            let _ = conn.write_all(b"k");
        }
    });
}

/// Send BYTES from `ns` to `addr`; MB/s.
fn send(ns: &NamedNetns, addr: &str) -> f64 {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
        let buf = vec![7u8; 1 << 16];
        let t = Instant::now();
        let mut left = BYTES;
        while left > 0 {
            let n = left.min(buf.len());
            s.write_all(&buf[..n]).unwrap();
            left -= n;
        }
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut ack = [0u8; 1];
        s.read_exact(&mut ack).unwrap();
        BYTES as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64()
    })
    .unwrap()
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (bench/network.sh)"]
fn nat_forward_throughput_against_plain_routing() {
    let node = NamedNetns::create("oxvebench").unwrap();
    let outside = NamedNetns::create("oxvebench").unwrap();
    let guest = NamedNetns::create("oxvebench").unwrap();
    veth_between(&node, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.55.0.2/24", "dev", "up0"])
        .unwrap();
    let cfg = parse(
        "iface eth1 inet manual\n\nauto vmbr0\niface vmbr0 inet static\n\taddress 10.55.0.1/24\n\tbridge-ports eth1\n\n\
         auto vmbr1\niface vmbr1 inet static\n\taddress 10.10.0.1/24\n\tbridge-ports none\n\toxve-nat 1\n",
    );
    node.run(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let nl = Netlink::connect().unwrap();
                apply(&nl, &InterfacesFile::default(), &cfg).await.unwrap();
            });
        enable_ip_forward().unwrap();
        let nat = NatBridge {
            bridge: "vmbr1".into(),
            cidr: "10.10.0.1/24".parse().unwrap(),
            ula6: None,
        };
        let fwd = Forward {
            bridge: "vmbr1".into(),
            proto: Proto::Tcp,
            host_port: 8080,
            guest: "10.10.0.5".parse().unwrap(),
            guest_port: 5001,
            source: None,
            comment: None,
        };
        nft_apply(&ruleset(&[nat], &[fwd])).unwrap();
    })
    .unwrap();
    node.ip(&[
        "link",
        "add",
        "veth900i0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &guest.name,
    ])
    .unwrap();
    node.ip(&["link", "set", "veth900i0", "master", "vmbr1", "up"])
        .unwrap();
    guest
        .ip(&["addr", "add", "10.10.0.5/24", "dev", "eth0"])
        .unwrap();
    guest.ip(&["link", "set", "eth0", "up"]).unwrap();
    guest
        .ip(&["route", "add", "default", "via", "10.10.0.1"])
        .unwrap();
    // the plain path: the outside host routes to the guest subnet through the node
    outside
        .ip(&["route", "add", "10.10.0.0/24", "via", "10.55.0.1"])
        .unwrap();
    sink(&guest, 5001);

    let (mut nat, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        plain.push(send(&outside, "10.10.0.5:5001"));
        nat.push(send(&outside, "10.55.0.1:8080"));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (n, p) = (median(&mut nat), median(&mut plain));
    eprintln!(
        "throughput, {} MiB per run, median of 3: NAT bridge + port forward {n:.0} MB/s, routed without NAT {p:.0} MB/s, ratio {:.0}%",
        BYTES >> 20,
        100.0 * n / p
    );
}
