//! Applying interfaces files through netlink inside throwaway network namespaces: bridges are
//! created with their ports and addresses, real pings cross them, changes and removals are
//! applied, and what this kernel lacks fails with a message naming the feature.

use oxve_net::apply::apply;
use oxve_net::interfaces::{parse, InterfacesFile};
use oxve_net::netlink::Netlink;
use oxve_net::netns::{veth_between, NamedNetns};
use oxve_net::NetError;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Apply `new` over `old` inside `ns`.
fn apply_in(
    ns: &NamedNetns,
    old: &InterfacesFile,
    new: &InterfacesFile,
) -> Result<Vec<String>, NetError> {
    ns.run(|| {
        block_on(async {
            let nl = Netlink::connect()?;
            apply(&nl, old, new).await
        })
    })
    .unwrap()
}

fn link(ns: &NamedNetns, name: &str) -> Option<serde_json::Value> {
    ns.ip_json(&["-d", "link", "show", "dev", name])
        .ok()
        .and_then(|v| v.get(0).cloned())
}

fn addrs(ns: &NamedNetns, name: &str) -> Vec<String> {
    let v = ns.ip_json(&["addr", "show", "dev", name]).unwrap();
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["family"] == "inet")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

fn ping(from: &NamedNetns, to: &str) -> bool {
    from.exec(&["ping", "-c1", "-W2", to])
        .unwrap()
        .status
        .success()
}

const BRIDGED: &str = "\
auto lo
iface lo inet loopback

iface eth1 inet manual

auto vmbr0
iface vmbr0 inet static
\taddress 10.99.0.1/24
\tbridge-ports eth1
\tbridge-stp off
\tbridge-fd 0
";

#[test]
fn bridge_with_uplink_port_carries_pings() {
    let node = NamedNetns::create("oxvenet").unwrap();
    let outside = NamedNetns::create("oxvenet").unwrap();
    veth_between(&node, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.99.0.2/24", "dev", "up0"])
        .unwrap();

    let empty = InterfacesFile::default();
    let cfg = parse(BRIDGED);
    let log = apply_in(&node, &empty, &cfg).unwrap();
    assert!(
        log.iter().any(|l| l.contains("vmbr0: created bridge")),
        "{log:?}"
    );
    let br = link(&node, "vmbr0").expect("bridge exists");
    assert_eq!(br["linkinfo"]["info_kind"], "bridge");
    assert!(br["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
    assert_eq!(link(&node, "eth1").unwrap()["master"], "vmbr0");
    assert_eq!(addrs(&node, "vmbr0"), vec!["10.99.0.1/24"]);
    assert!(
        ping(&outside, "10.99.0.1"),
        "the outside host reaches the bridge address"
    );

    // applying the same file again changes nothing
    let log = apply_in(&node, &cfg, &cfg).unwrap();
    assert!(log.is_empty(), "{log:?}");

    // a new address replaces the old one; a guest-like port nobody declared stays attached
    node.ip(&["tuntap", "add", "tap900i0", "mode", "tap"])
        .unwrap();
    node.ip(&["link", "set", "tap900i0", "master", "vmbr0"])
        .unwrap();
    let changed = parse(&BRIDGED.replace("10.99.0.1/24", "10.99.0.5/24"));
    apply_in(&node, &cfg, &changed).unwrap();
    assert_eq!(addrs(&node, "vmbr0"), vec!["10.99.0.5/24"]);
    assert!(ping(&outside, "10.99.0.5"));
    assert_eq!(link(&node, "tap900i0").unwrap()["master"], "vmbr0");

    // dropping the port detaches it; dropping the bridge removes it
    let no_port = parse(
        &BRIDGED
            .replace("bridge-ports eth1", "bridge-ports none")
            .replace("10.99.0.1/24", "10.99.0.5/24"),
    );
    apply_in(&node, &changed, &no_port).unwrap();
    assert!(link(&node, "eth1").unwrap().get("master").is_none());
    assert!(!ping(&outside, "10.99.0.5"));
    let gone = parse("auto lo\niface lo inet loopback\n\niface eth1 inet manual\n");
    let log = apply_in(&node, &no_port, &gone).unwrap();
    assert!(log.iter().any(|l| l == "vmbr0: removed"), "{log:?}");
    assert!(link(&node, "vmbr0").is_none());
}

#[test]
fn gateway_becomes_the_default_route() {
    let node = NamedNetns::create("oxvenet").unwrap();
    let cfg = parse(
        &format!("{BRIDGED}\tgateway 10.99.0.254\n")
            .replace("bridge-ports eth1", "bridge-ports none"),
    );
    apply_in(&node, &InterfacesFile::default(), &cfg).unwrap();
    let routes = node.ip_json(&["route", "show", "default"]).unwrap();
    assert_eq!(routes[0]["gateway"], "10.99.0.254", "{routes}");
    assert_eq!(routes[0]["dev"], "vmbr0");
    let without = parse(&BRIDGED.replace("bridge-ports eth1", "bridge-ports none"));
    apply_in(&node, &cfg, &without).unwrap();
    assert_eq!(
        node.ip_json(&["route", "show", "default"]).unwrap(),
        serde_json::json!([])
    );
}

/// 802.1Q devices, bonding and bridge VLAN filtering are missing from this build machine's
/// kernel: applying them must fail naming the feature (where a kernel has them, they apply).
#[test]
fn missing_kernel_features_are_named() {
    let node = NamedNetns::create("oxvenet").unwrap();
    // (no dummy devices in this kernel: a veth stands in for a NIC)
    node.ip(&[
        "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ])
    .unwrap();
    let base = parse("iface eth1 inet manual\n");

    let vlan = parse("iface eth1 inet manual\n\nauto eth1.20\niface eth1.20 inet manual\n");
    match apply_in(&node, &base, &vlan) {
        Ok(_) => eprintln!("this kernel has 802.1Q VLAN devices: eth1.20 was created"),
        Err(e) => {
            eprintln!("kernel lacks VLAN devices, as expected here: {e}");
            assert!(matches!(e, NetError::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains("802.1Q"), "{e}");
        }
    }

    let bond = parse(
        "auto bond0\niface bond0 inet manual\n\tbond-slaves none\n\tbond-mode active-backup\n",
    );
    match apply_in(&node, &base, &bond) {
        Ok(_) => eprintln!("this kernel has bonding: bond0 was created"),
        Err(e) => {
            eprintln!("kernel lacks bonding, as expected here: {e}");
            assert!(e.to_string().contains("bonding"), "{e}");
        }
    }

    let aware = parse(
        "auto vmbr3\niface vmbr3 inet manual\n\tbridge-ports none\n\tbridge-vlan-aware yes\n",
    );
    match apply_in(&node, &base, &aware) {
        Ok(_) => eprintln!("this kernel has bridge VLAN filtering"),
        Err(e) => {
            eprintln!("kernel lacks bridge VLAN filtering, as expected here: {e}");
            assert!(e.to_string().contains("VLAN filtering"), "{e}");
        }
    }

    // VXLAN is present here
    let vx =
        parse("auto vx5\niface vx5 inet manual\n\tvxlan-id 5\n\tvxlan-local-tunnelip 10.9.9.1\n");
    apply_in(&node, &base, &vx).unwrap();
    assert_eq!(
        link(&node, "vx5").unwrap()["linkinfo"]["info_kind"],
        "vxlan"
    );
}

/// At boot, an interface that cannot come up does not keep the others down.
#[test]
fn best_effort_apply_brings_up_what_works() {
    let node = NamedNetns::create("oxvenet").unwrap();
    let cfg = parse(
        "auto vmbr0\niface vmbr0 inet static\n\taddress 10.98.0.1/24\n\tbridge-ports eth7\n\n\
         auto vmbr1\niface vmbr1 inet static\n\taddress 10.98.1.1/24\n\tbridge-ports none\n",
    );
    let log = node
        .run(|| {
            block_on(async {
                let nl = Netlink::connect().unwrap();
                oxve_net::apply::apply_best_effort(&nl, &cfg).await
            })
        })
        .unwrap();
    assert!(
        log.iter()
            .any(|l| l.starts_with("vmbr0: FAILED") && l.contains("eth7")),
        "{log:?}"
    );
    assert_eq!(addrs(&node, "vmbr1"), vec!["10.98.1.1/24"]);
}
