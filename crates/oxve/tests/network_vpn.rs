//! VPN access to a NAT bridge: a WireGuard endpoint is created through the API (userspace
//! wireguard-go here, the kernel has no WireGuard), a peer is added and gets its config, and
//! a "peer" namespace using that config reaches a guest's private address.

mod common;
mod netns_daemon;

use common::wait_task;
use netns_daemon::{ping, NetDaemon};
use oxve_net::netns::{veth_between, NamedNetns};

const N: &str = "/nodes/testnode/network";

fn field<'a>(config: &'a str, key: &str) -> &'a str {
    config
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .map(|r| r.trim_start_matches([' ', '=']).trim())
        })
        .unwrap_or_else(|| panic!("{key} missing in:\n{config}"))
}

#[test]
fn a_vpn_peer_reaches_a_guest_behind_nat() {
    let d = NetDaemon::start();
    let peer = NamedNetns::create("oxvetest").unwrap();
    let guest = NamedNetns::create("oxvetest").unwrap();
    veth_between(&d.ns, "eth1", &peer, "up0").unwrap();
    peer.ip(&["addr", "add", "10.56.0.2/24", "dev", "up0"])
        .unwrap();

    let config = d.run(async {
        let s = d.admin().await;
        for form in [
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("bridge_ports", "eth1"),
                ("cidr", "10.56.0.1/24"),
                ("autostart", "1"),
            ][..],
            &[
                ("iface", "vmbr1"),
                ("type", "bridge"),
                ("cidr", "10.11.0.1/24"),
                ("nat", "1"),
                ("autostart", "1"),
            ][..],
        ] {
            assert_eq!(s.post(N, form).await.status, 200);
        }
        assert_eq!(
            wait_task(&s, s.put(N, &[]).await.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );

        let vpn = format!("{N}/vmbr1/vpn");
        // bad input first: nothing is created
        for (form, param) in [
            (&[("address", "10.11.0.0/16")][..], "address"),
            (&[("address", "10.200.0.1/40")][..], "address"),
            (
                &[
                    ("address", "10.200.0.1/24"),
                    ("ifname", "averyveryverylongname"),
                ][..],
                "ifname",
            ),
        ] {
            let r = s.post(&vpn, form).await;
            assert_eq!(r.status, 400, "{form:?}: {:?}", r.body);
            assert!(
                r.body["errors"][param].is_string(),
                "{form:?}: {:?}",
                r.body
            );
        }
        let r = s
            .post(&format!("{N}/vmbr0/vpn"), &[("address", "10.200.0.1/24")])
            .await;
        assert_eq!(r.status, 400, "not a NAT bridge: {:?}", r.body);
        assert_eq!(s.get(&vpn, &[]).await.body["data"], serde_json::Value::Null);

        let r = s
            .post(
                &vpn,
                &[
                    ("address", "10.200.0.1/24"),
                    ("listen-port", "51820"),
                    ("ifname", "wgoxvetest"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.data()["ifname"], "wgoxvetest");
        assert!(r.data()["public-key"].as_str().unwrap().len() == 44);
        assert!(r.data().get("private-key").is_none());

        let r = s
            .post(
                &format!("{vpn}/peers"),
                &[("name", "laptop"), ("endpoint-host", "10.56.0.1")],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.data()["address"], "10.200.0.2");
        let dup = s
            .post(
                &format!("{vpn}/peers"),
                &[("name", "laptop"), ("endpoint-host", "10.56.0.1")],
            )
            .await;
        assert_eq!(dup.status, 400);
        let peers = s.get(&format!("{vpn}/peers"), &[]).await;
        assert_eq!(peers.data().as_array().unwrap().len(), 1);
        assert!(
            peers.data()[0].get("config").is_none(),
            "private keys are not shown again"
        );
        r.data()["config"].as_str().unwrap().to_string()
    });
    assert!(
        config.contains("AllowedIPs = 10.11.0.0/24, 10.200.0.0/24"),
        "{config}"
    );
    assert!(config.contains("Endpoint = 10.56.0.1:51820"), "{config}");
    let link = d
        .link("wgoxvetest")
        .expect("the endpoint device exists in the daemon's namespace");
    eprintln!("endpoint device kind: {}", link["linkinfo"]["info_kind"]);

    // a guest on the NAT bridge
    d.ns.ip(&[
        "link",
        "add",
        "veth700i0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &guest.name,
    ])
    .unwrap();
    d.ns.ip(&["link", "set", "veth700i0", "master", "vmbr1", "up"])
        .unwrap();
    guest
        .ip(&["addr", "add", "10.11.0.50/24", "dev", "eth0"])
        .unwrap();
    guest.ip(&["link", "set", "eth0", "up"]).unwrap();
    guest
        .ip(&["route", "add", "default", "via", "10.11.0.1"])
        .unwrap();
    assert!(
        !ping(&peer, "10.11.0.50"),
        "no route to the guest without the VPN"
    );

    // the peer brings its tunnel up from the config it was given
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("peer.conf");
    std::fs::write(
        &conf,
        format!(
            "[Interface]\nPrivateKey = {}\n\n[Peer]\nPublicKey = {}\nEndpoint = {}\nAllowedIPs = {}\nPersistentKeepalive = 25\n",
            field(&config, "PrivateKey"),
            field(&config, "PublicKey"),
            field(&config, "Endpoint"),
            field(&config, "AllowedIPs"),
        ),
    )
    .unwrap();
    let out = peer.exec(&["wireguard-go", "wgoxvepeer"]).unwrap();
    assert!(
        out.status.success(),
        "wireguard-go: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = peer
        .exec(&["wg", "setconf", "wgoxvepeer", conf.to_str().unwrap()])
        .unwrap();
    assert!(
        out.status.success(),
        "wg setconf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    peer.ip(&[
        "addr",
        "add",
        field(&config, "Address"),
        "dev",
        "wgoxvepeer",
    ])
    .unwrap();
    peer.ip(&["link", "set", "wgoxvepeer", "up"]).unwrap();
    peer.ip(&["route", "add", "10.11.0.0/24", "dev", "wgoxvepeer"])
        .unwrap();
    let reached = (0..5).any(|_| ping(&peer, "10.11.0.50"));
    assert!(
        reached,
        "the peer reaches the guest's private address through the tunnel"
    );

    // removing the peer cuts it off
    d.run(async {
        let s = d.admin().await;
        let r = s.delete(&format!("{N}/vmbr1/vpn/peers/laptop"), &[]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    });
    assert!(!ping(&peer, "10.11.0.50"), "a removed peer has no access");
    d.run(async {
        let s = d.admin().await;
        assert_eq!(s.delete(&format!("{N}/vmbr1/vpn"), &[]).await.status, 200);
    });
    assert!(
        d.link("wgoxvetest").is_none(),
        "the endpoint device is gone"
    );
    let _ = peer.ip(&["link", "del", "wgoxvepeer"]);
}
