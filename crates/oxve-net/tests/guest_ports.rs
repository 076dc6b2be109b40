//! Guest NICs on a bridge in a throwaway namespace: a tap is plugged with the bridge's MTU,
//! a container veth carries pings from the "container" namespace to the bridge, and what the
//! kernel lacks (tc policing, VLAN filtering) fails naming the feature.

use oxve_net::apply::apply;
use oxve_net::guest::{create_ct_veth, plug_port, unplug, PortOptions};
use oxve_net::interfaces::{parse, InterfacesFile};
use oxve_net::netlink::Netlink;
use oxve_net::netns::NamedNetns;
use oxve_net::NetError;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn in_ns<T: Send>(ns: &NamedNetns, f: impl std::future::Future<Output = T> + Send) -> T {
    ns.run(|| block_on(f)).unwrap()
}

fn link(ns: &NamedNetns, name: &str) -> serde_json::Value {
    ns.ip_json(&["-d", "link", "show", "dev", name]).unwrap()[0].clone()
}

const BRIDGE: &str = "auto vmbr0\niface vmbr0 inet static\n\taddress 10.88.0.1/24\n\tbridge-ports none\n\tmtu 1400\n";

#[test]
fn taps_and_veths_join_the_bridge() {
    let node = NamedNetns::create("oxvenet").unwrap();
    let ct = NamedNetns::create("oxvenet").unwrap();
    in_ns(&node, async {
        let nl = Netlink::connect().unwrap();
        apply(&nl, &InterfacesFile::default(), &parse(BRIDGE))
            .await
            .unwrap();
    });
    node.ip(&["tuntap", "add", "tap100i0", "mode", "tap"])
        .unwrap();

    in_ns(&node, async {
        let nl = Netlink::connect().unwrap();
        plug_port(&nl, "tap100i0", "vmbr0", &PortOptions::default())
            .await
            .unwrap();
        let e = plug_port(&nl, "tap100i0", "vmbr7", &PortOptions::default())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("bridge 'vmbr7' does not exist"),
            "{e}"
        );
    });
    let tap = link(&node, "tap100i0");
    assert_eq!(tap["master"], "vmbr0");
    assert_eq!(tap["mtu"], 1400, "takes the bridge's MTU");

    // a container's veth: host side on the bridge, peer in the container's namespace
    in_ns(&node, async {
        let nl = Netlink::connect().unwrap();
        let host = create_ct_veth(&nl, 101, 0, "vethpeer101").await.unwrap();
        assert_eq!(host, "veth101i0");
        plug_port(
            &nl,
            &host,
            "vmbr0",
            &PortOptions {
                mtu: Some(1300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    });
    node.ip(&[
        "link",
        "set",
        "vethpeer101",
        "netns",
        &ct.name,
        "name",
        "eth0",
    ])
    .unwrap();
    ct.ip(&["addr", "add", "10.88.0.101/24", "dev", "eth0"])
        .unwrap();
    ct.ip(&["link", "set", "eth0", "up"]).unwrap();
    assert_eq!(link(&node, "veth101i0")["master"], "vmbr0");
    assert_eq!(link(&node, "veth101i0")["mtu"], 1300);
    assert!(ct
        .exec(&["ping", "-c1", "-W2", "10.88.0.1"])
        .unwrap()
        .status
        .success());

    // link_down keeps the host side down
    in_ns(&node, async {
        let nl = Netlink::connect().unwrap();
        plug_port(
            &nl,
            "veth101i0",
            "vmbr0",
            &PortOptions {
                link_down: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    });
    assert!(!link(&node, "veth101i0")["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "UP"));
    assert!(!ct
        .exec(&["ping", "-c1", "-W1", "10.88.0.1"])
        .unwrap()
        .status
        .success());

    // rate limits and VLAN tags need kernel features this build machine lacks
    in_ns(&node, async {
        let nl = Netlink::connect().unwrap();
        match plug_port(
            &nl,
            "tap100i0",
            "vmbr0",
            &PortOptions {
                rate: Some(10.0),
                ..Default::default()
            },
        )
        .await
        {
            Ok(()) => eprintln!("this kernel has tc policing: rate limit applied"),
            Err(e) => {
                eprintln!("rate limit refused, as expected on this kernel: {e}");
                assert!(matches!(e, NetError::Unsupported { .. }), "{e:?}");
                assert!(e.to_string().contains("policing"), "{e}");
            }
        }
        match plug_port(
            &nl,
            "tap100i0",
            "vmbr0",
            &PortOptions {
                tag: Some(20),
                ..Default::default()
            },
        )
        .await
        {
            Ok(()) => eprintln!("this kernel has bridge VLAN filtering: tag applied"),
            Err(e) => {
                eprintln!("VLAN tag refused, as expected on this kernel: {e}");
                assert!(e.to_string().contains("VLAN filtering"), "{e}");
            }
        }
        unplug(&nl, "veth101i0").await.unwrap();
        unplug(&nl, "veth101i0").await.unwrap();
    });
    assert!(node.ip_json(&["link", "show", "dev", "veth101i0"]).is_err());
}
