//! Guest firewall through the API (Proxmox's paths), enforced by nftables on the guest's bridge
//! port: a "guest" namespace sits on a bridge of the daemon's namespace behind the port
//! `tap600i0` (the name of VM 600's tap), and real connections show a rule dropping one port
//! while another stays open, a DROP policy with ACCEPT rules, and macros.

mod common;
mod netns_daemon;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::{wait_task, Session};
use netns_daemon::{ping, NetDaemon};
use oxve_net::netns::NamedNetns;

const FW: &str = "/nodes/testnode/qemu/600/firewall";

/// Answer every connection on `port` in `ns` with "port <port>".
fn serve(ns: &NamedNetns, port: u16) {
    let listener = ns
        .run(move || TcpListener::bind(("0.0.0.0", port)))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let _ = conn.write_all(format!("port {port}").as_bytes());
        }
    });
}

/// Whether a connection from `ns` to `addr` gets the server's answer.
fn reachable(ns: &NamedNetns, addr: &str) -> bool {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(800))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })
    .unwrap()
    .is_ok_and(|s| s.starts_with("port"))
}

async fn ok(r: common::Reply) {
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn rules(s: &Session) -> Vec<serde_json::Value> {
    s.get(&format!("{FW}/rules"), &[])
        .await
        .data()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn rules_drop_one_port_and_allow_another() {
    let d = NetDaemon::start();
    let guest = NamedNetns::create("oxvetest").unwrap();
    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/nodes/testnode/network",
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("cidr", "10.44.0.1/24"),
                ("autostart", "1"),
            ],
        )
        .await)
        .await;
        assert_eq!(
            wait_task(
                &s,
                s.put("/nodes/testnode/network", &[])
                    .await
                    .data()
                    .as_str()
                    .unwrap()
            )
            .await["exitstatus"],
            "OK"
        );
        let r = s
            .post(
                "/nodes/testnode/qemu",
                &[
                    ("vmid", "600"),
                    ("memory", "128"),
                    ("net0", "virtio=BC:24:11:00:06:00,bridge=vmbr0,firewall=1"),
                ],
            )
            .await;
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
    });
    // the guest's NIC, on the bridge port VM 600's tap would be
    d.ns.ip(&[
        "link",
        "add",
        "tap600i0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &guest.name,
    ])
    .unwrap();
    d.ns.ip(&["link", "set", "tap600i0", "master", "vmbr0", "up"])
        .unwrap();
    guest
        .ip(&["link", "set", "eth0", "address", "bc:24:11:00:06:00"])
        .unwrap();
    guest
        .ip(&["addr", "add", "10.44.0.60/24", "dev", "eth0"])
        .unwrap();
    guest.ip(&["link", "set", "eth0", "up"]).unwrap();
    for port in [80, 81, 82, 83, 84] {
        serve(&guest, port);
    }
    assert!(reachable(&d.ns, "10.44.0.60:80"));
    assert!(reachable(&d.ns, "10.44.0.60:81"));

    d.run(async {
        let s = d.admin().await;
        // a rule alone does nothing while the firewall is off
        ok(s.post(
            &format!("{FW}/rules"),
            &[
                ("type", "in"),
                ("action", "DROP"),
                ("proto", "tcp"),
                ("dport", "81"),
                ("enable", "1"),
                ("comment", "no 81"),
            ],
        )
        .await)
        .await;
        ok(s.put(
            &format!("{FW}/options"),
            &[("enable", "1"), ("policy_in", "ACCEPT")],
        )
        .await)
        .await;
        let list = rules(&s).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["pos"], 0);
        assert_eq!(list[0]["action"], "DROP");
        assert_eq!(list[0]["dport"], "81");
        assert_eq!(list[0]["enable"], 1);
        assert_eq!(list[0]["comment"], "no 81");
        assert!(list[0]["digest"].is_string());
        let opts = s.get(&format!("{FW}/options"), &[]).await;
        assert_eq!(opts.data()["enable"], 1);
        assert_eq!(opts.data()["policy_in"], "ACCEPT");
    });
    assert!(
        reachable(&d.ns, "10.44.0.60:81"),
        "datacenter firewall still off"
    );

    d.run(async {
        let s = d.admin().await;
        ok(s.put("/cluster/firewall/options", &[("enable", "1")]).await).await;
        assert_eq!(
            s.get("/cluster/firewall/options", &[]).await.data()["enable"],
            1
        );
    });
    assert!(reachable(&d.ns, "10.44.0.60:80"), "port 80 stays open");
    assert!(!reachable(&d.ns, "10.44.0.60:81"), "port 81 is dropped");
    assert!(ping(&d.ns, "10.44.0.60"), "policy ACCEPT lets ping through");
    // the MAC filter (on by default) drops what the guest sends from another MAC
    guest
        .ip(&["link", "set", "eth0", "address", "bc:24:11:00:06:99"])
        .unwrap();
    let _ = d.ns.ip(&["neigh", "flush", "dev", "vmbr0"]);
    assert!(!ping(&d.ns, "10.44.0.60"), "spoofed source MAC dropped");
    guest
        .ip(&["link", "set", "eth0", "address", "bc:24:11:00:06:00"])
        .unwrap();
    let _ = d.ns.ip(&["neigh", "flush", "dev", "vmbr0"]);
    assert!(ping(&d.ns, "10.44.0.60"));

    d.run(async {
        let s = d.admin().await;
        // DROP policy; only what rules allow gets in
        ok(s.put(&format!("{FW}/options"), &[("policy_in", "DROP")])
            .await)
        .await;
        ok(s.post(
            &format!("{FW}/rules"),
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("proto", "tcp"),
                ("dport", "80"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        ok(s.post(
            &format!("{FW}/rules"),
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("macro", "ping"),
                ("enable", "1"),
                ("pos", "2"),
            ],
        )
        .await)
        .await;
        let list = rules(&s).await;
        assert_eq!(list.len(), 3);
        assert_eq!(list[0]["dport"], "80", "new rules go on top");
        assert_eq!(list[2]["macro"], "Ping", "macro names are canonical");

        // bad input: 400 naming the parameter, nothing changes
        let digest = list[0]["digest"].as_str().unwrap().to_string();
        let bad: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("macro", "NoSuchService"),
                ],
                "macro",
            ),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("dport", "22")],
                "dport",
            ),
            (&[("type", "in"), ("action", "ALLOW")], "action"),
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("proto", "tcp"),
                    ("dport", "99999"),
                ],
                "dport",
            ),
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("source", "10.0.0.0/40"),
                ],
                "source",
            ),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("iface", "eth0")],
                "iface",
            ),
            (&[("type", "group"), ("action", "webservers")], "action"),
            (&[("type", "sideways"), ("action", "ACCEPT")], "type"),
            (
                &[("type", "in"), ("action", "ACCEPT"), ("digest", "0000")],
                "digest",
            ),
        ];
        for (form, param) in bad {
            let r = s.post(&format!("{FW}/rules"), form).await;
            assert_eq!(r.status, 400, "{form:?}: {:?}", r.body);
            assert!(
                r.body["errors"][*param].is_string(),
                "{form:?} should blame {param}: {:?}",
                r.body
            );
        }
        assert_eq!(
            rules(&s).await[0]["digest"],
            digest.as_str(),
            "nothing changed"
        );
        let r = s.get("/nodes/testnode/qemu/777/firewall/rules", &[]).await;
        assert_eq!(r.status, 500, "{:?}", r.body);
    });
    assert!(reachable(&d.ns, "10.44.0.60:80"), "allowed by rule");
    assert!(!reachable(&d.ns, "10.44.0.60:82"), "dropped by policy");
    assert!(ping(&d.ns, "10.44.0.60"), "allowed by the Ping macro");

    // a security group opens port 82 for every guest that uses it
    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/cluster/firewall/groups",
            &[("group", "web"), ("comment", "web servers")],
        )
        .await)
        .await;
        ok(s.post(
            "/cluster/firewall/groups/web",
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("proto", "tcp"),
                ("dport", "82"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        let groups = s.get("/cluster/firewall/groups", &[]).await;
        assert_eq!(groups.data()[0]["group"], "web");
        assert_eq!(groups.data()[0]["comment"], "web servers");
        assert_eq!(
            s.get("/cluster/firewall/groups/web", &[]).await.data()[0]["dport"],
            "82"
        );
        let r = s
            .post(
                "/cluster/firewall/groups/web",
                &[("type", "group"), ("action", "web")],
            )
            .await;
        assert_eq!(r.status, 400, "no groups in groups: {:?}", r.body);
        ok(s.post(
            &format!("{FW}/rules"),
            &[("type", "group"), ("action", "web"), ("enable", "1")],
        )
        .await)
        .await;
        let r = s.delete("/cluster/firewall/groups/web", &[]).await;
        assert_eq!(r.status, 400, "a used group stays: {:?}", r.body);
    });
    assert!(
        reachable(&d.ns, "10.44.0.60:82"),
        "allowed by the security group"
    );
    d.run(async {
        let s = d.admin().await;
        let pos = rules(&s)
            .await
            .iter()
            .position(|r| r["type"] == "group")
            .unwrap()
            .to_string();
        ok(s.delete(&format!("{FW}/rules/{pos}"), &[]).await).await;
    });
    assert!(
        !reachable(&d.ns, "10.44.0.60:82"),
        "dropped again without the group"
    );

    // IP sets and aliases name the allowed sources
    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/cluster/firewall/ipset",
            &[("name", "admins"), ("comment", "admin hosts")],
        )
        .await)
        .await;
        ok(s.post(
            "/cluster/firewall/ipset/admins",
            &[("cidr", "10.44.0.0/24")],
        )
        .await)
        .await;
        ok(s.post(
            "/cluster/firewall/aliases",
            &[("name", "nodeaddr"), ("cidr", "10.44.0.1")],
        )
        .await)
        .await;
        ok(s.post(
            &format!("{FW}/rules"),
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("source", "+dc/admins"),
                ("proto", "tcp"),
                ("dport", "83"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        ok(s.post(
            &format!("{FW}/rules"),
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("source", "nodeaddr"),
                ("proto", "tcp"),
                ("dport", "84"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        for (form, param) in [
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("source", "+nosuchset"),
                ][..],
                "source",
            ),
            (
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("dest", "nosuchalias"),
                ][..],
                "dest",
            ),
        ] {
            let r = s.post(&format!("{FW}/rules"), form).await;
            assert_eq!(r.status, 400, "{form:?}: {:?}", r.body);
            assert!(r.body["errors"][param].is_string(), "{:?}", r.body);
        }
        let r = s
            .delete("/cluster/firewall/ipset/admins", &[("force", "1")])
            .await;
        assert_eq!(r.status, 400, "an IP set in use stays: {:?}", r.body);
        let r = s.delete("/cluster/firewall/aliases/nodeaddr", &[]).await;
        assert_eq!(r.status, 400, "an alias in use stays: {:?}", r.body);
        assert_eq!(
            s.get("/cluster/firewall/ipset/admins", &[]).await.data()[0]["cidr"],
            "10.44.0.0/24"
        );
        assert_eq!(
            s.get("/cluster/firewall/aliases/nodeaddr", &[])
                .await
                .data()["cidr"],
            "10.44.0.1"
        );
    });
    assert!(reachable(&d.ns, "10.44.0.60:83"), "allowed for the IP set");
    assert!(reachable(&d.ns, "10.44.0.60:84"), "allowed for the alias");
    d.run(async {
        let s = d.admin().await;
        // an excluded entry (nomatch) takes the node out of the set
        ok(s.post(
            "/cluster/firewall/ipset/admins",
            &[("cidr", "10.44.0.1"), ("nomatch", "1")],
        )
        .await)
        .await;
        ok(s.put(
            "/cluster/firewall/aliases/nodeaddr",
            &[("cidr", "10.44.0.99")],
        )
        .await)
        .await;
    });
    assert!(!reachable(&d.ns, "10.44.0.60:83"), "excluded by nomatch");
    assert!(
        !reachable(&d.ns, "10.44.0.60:84"),
        "the alias points elsewhere now"
    );

    // the rules are in oxve's own table, in force after a restart too
    let table =
        d.ns.exec(&["nft", "list", "table", "bridge", "oxve-fw"])
            .unwrap();
    let text = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(text.contains("tap600i0"), "{text}");

    d.run(async {
        let s = d.admin().await;
        // move the DROP-81 rule first, then disable the datacenter firewall
        let list = rules(&s).await;
        let pos = list
            .iter()
            .position(|r| r["dport"] == "81")
            .unwrap()
            .to_string();
        ok(s.put(&format!("{FW}/rules/{pos}"), &[("moveto", "0")])
            .await)
        .await;
        assert_eq!(rules(&s).await[0]["dport"], "81");
        ok(s.delete(&format!("{FW}/rules/0"), &[]).await).await;
        assert_eq!(rules(&s).await.len(), list.len() - 1);
        assert!(!rules(&s).await.iter().any(|r| r["dport"] == "81"));
        assert_eq!(
            s.get(&format!("{FW}/rules/{}", list.len()), &[])
                .await
                .status,
            400
        );
        ok(s.put("/cluster/firewall/options", &[("enable", "0")]).await).await;
    });
    assert!(
        reachable(&d.ns, "10.44.0.60:82"),
        "firewall off: everything passes"
    );
    let table =
        d.ns.exec(&["nft", "list", "table", "bridge", "oxve-fw"])
            .unwrap();
    assert!(
        !table.status.success(),
        "oxve's table is gone when no guest firewall is on"
    );
}

/// The node's own firewall: datacenter and node rules on the host's input, a DROP policy that
/// still leaves the API reachable from the node's network, and the node switch.
#[test]
fn host_rules_guard_the_node_but_keep_the_api_reachable() {
    let d = NetDaemon::start_on("0.0.0.0:0");
    let outside = NamedNetns::create("oxvetest").unwrap();
    oxve_net::netns::veth_between(&d.ns, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.43.0.2/24", "dev", "up0"])
        .unwrap();
    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/nodes/testnode/network",
            &[
                ("iface", "vmbr0"),
                ("type", "bridge"),
                ("bridge_ports", "eth1"),
                ("cidr", "10.43.0.1/24"),
                ("autostart", "1"),
            ],
        )
        .await)
        .await;
        assert_eq!(
            wait_task(
                &s,
                s.put("/nodes/testnode/network", &[])
                    .await
                    .data()
                    .as_str()
                    .unwrap()
            )
            .await["exitstatus"],
            "OK"
        );
    });
    serve(&d.ns, 9000);
    serve(&d.ns, 9001);
    assert!(reachable(&outside, "10.43.0.1:9000"));
    let api = format!("10.43.0.1:{}", d.port());
    let api_up = |ns: &NamedNetns| {
        let addr: SocketAddr = api.parse().unwrap();
        ns.run(move || TcpStream::connect_timeout(&addr, Duration::from_millis(800)).is_ok())
            .unwrap()
    };

    d.run(async {
        let s = d.admin().await;
        ok(s.put("/cluster/firewall/options", &[("enable", "1")]).await).await;
    });
    assert!(
        !reachable(&outside, "10.43.0.1:9000"),
        "policy DROP on the host"
    );
    assert!(
        api_up(&outside),
        "the API stays reachable from the node's network"
    );
    assert!(text_of(&d.ns, &["nft", "list", "table", "inet", "oxve-host"]).contains("management"));

    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/nodes/testnode/firewall/rules",
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("proto", "tcp"),
                ("dport", "9000"),
                ("iface", "vmbr0"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        let r = s
            .post(
                "/nodes/testnode/firewall/rules",
                &[
                    ("type", "in"),
                    ("action", "ACCEPT"),
                    ("iface", "not an iface"),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(
            s.get("/nodes/testnode/firewall/rules", &[]).await.data()[0]["dport"],
            "9000"
        );
    });
    assert!(
        reachable(&outside, "10.43.0.1:9000"),
        "opened by a node rule"
    );
    assert!(!reachable(&outside, "10.43.0.1:9001"));
    d.run(async {
        let s = d.admin().await;
        ok(s.post(
            "/cluster/firewall/rules",
            &[
                ("type", "in"),
                ("action", "ACCEPT"),
                ("proto", "tcp"),
                ("dport", "9001"),
                ("enable", "1"),
            ],
        )
        .await)
        .await;
        assert_eq!(
            s.get("/cluster/firewall/rules", &[]).await.data()[0]["dport"],
            "9001"
        );
    });
    assert!(
        reachable(&outside, "10.43.0.1:9001"),
        "opened by a datacenter rule"
    );

    d.run(async {
        let s = d.admin().await;
        ok(
            s.put("/nodes/testnode/firewall/options", &[("enable", "0")])
                .await,
        )
        .await;
        assert_eq!(
            s.get("/nodes/testnode/firewall/options", &[]).await.data()["enable"],
            0
        );
    });
    assert!(reachable(&outside, "10.43.0.1:9000"));
    let gone =
        d.ns.exec(&["nft", "list", "table", "inet", "oxve-host"])
            .unwrap();
    assert!(
        !gone.status.success(),
        "the node's switch turns the host firewall off"
    );
}

fn text_of(ns: &NamedNetns, cmd: &[&str]) -> String {
    String::from_utf8_lossy(&ns.exec(cmd).unwrap().stdout).into_owned()
}
