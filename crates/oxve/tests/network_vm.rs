//! A real VM on a NAT bridge of the daemon's network namespace: QEMU's tap `tap<vmid>i0` is
//! plugged into the bridge before the guest runs, the guest gets its fixed address from
//! dnsmasq (udhcpc on its serial console), answers pings from the host and reaches an
//! "outside" host through the node's NAT.

mod common;
mod netns_daemon;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::wait_task;
use netns_daemon::NetDaemon;

fn guest_image() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var("OXVE_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/guest"));
    let image = dir.join("oxve-guest.qcow2");
    if !image.exists() {
        let status = std::process::Command::new(root.join("scripts/build-guest-image.sh"))
            .arg(&dir)
            .status()
            .expect("build the guest image");
        assert!(status.success(), "scripts/build-guest-image.sh failed");
    }
    image
}

/// Read the console until `marker` shows up.
fn wait_for(console: &mut UnixStream, seen: &mut String, marker: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    while !seen.contains(marker) {
        assert!(
            Instant::now() < deadline,
            "no '{marker}' on the console; got:\n{seen}"
        );
        match console.read(&mut buf) {
            Ok(0) => panic!("console closed; got:\n{seen}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("console: {e}"),
        }
    }
}

fn connect(path: &Path) -> UnixStream {
    for _ in 0..100 {
        if let Ok(s) = UnixStream::connect(path) {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("cannot connect to {}", path.display());
}

#[test]
fn vm_tap_joins_the_bridge_and_the_guest_answers_pings() {
    let d = NetDaemon::start();
    let outside = oxve_net::netns::NamedNetns::create("oxvetest").unwrap();
    oxve_net::netns::veth_between(&d.ns, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.65.0.2/24", "dev", "up0"])
        .unwrap();
    let dir = d.data_dir.join("local/images/410");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest_image(), dir.join("vm-410-disk-0.qcow2")).unwrap();

    d.run(async {
        let s = d.admin().await;
        let r = s
            .post("/nodes/testnode/network", &[("iface", "vmbr0"), ("type", "bridge"), ("bridge_ports", "eth1"), ("cidr", "10.65.0.1/24"), ("autostart", "1")])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = s
            .post("/nodes/testnode/network", &[("iface", "vmbr1"), ("type", "bridge"), ("cidr", "10.66.0.1/24"), ("nat", "1"), ("autostart", "1")])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let t = wait_task(&s, s.put("/nodes/testnode/network", &[]).await.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");

        let r = s
            .post(
                "/nodes/testnode/qemu",
                &[
                    ("vmid", "410"),
                    ("memory", "256"),
                    ("scsihw", "virtio-scsi-single"),
                    ("scsi0", "local:410/vm-410-disk-0.qcow2"),
                    ("serial0", "socket"),
                    ("net0", "virtio=BC:24:11:00:04:10,bridge=vmbr1"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"], "OK");
        let r = s.post("/nodes/testnode/qemu/410/status/start", &[]).await;
        let t = wait_task(&s, r.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
        let mut console = connect(&d.data_dir.join("run/qemu/410.serial0"));

        // the tap is a port of the bridge, up, before the guest got far
        let tap = d.link("tap410i0").expect("QEMU made the tap in the daemon's namespace");
        assert_eq!(tap["master"], "vmbr1", "{tap}");
        assert!(tap["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{tap}");

        let mut seen = String::new();
        wait_for(&mut console, &mut seen, "OXVE-GUEST-BOOTED", Duration::from_secs(180));
        std::thread::sleep(Duration::from_secs(1));
        // DHCP from the node's dnsmasq, with a tiny udhcpc script typed on the console
        console
            .write_all(
                b"printf '#!/bin/sh\\n[ \"$1\" = bound ] && ip addr add $ip/$mask dev $interface && ip route add default via $router\\nexit 0\\n' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh; ip link set eth0 up; udhcpc -i eth0 -n -q -t 10 -s /tmp/dhcp.sh; echo DHCP-RC-$?-$((20+22))\n",
            )
            .unwrap();
        wait_for(&mut console, &mut seen, "-42\r", Duration::from_secs(60));
        assert!(seen.contains("DHCP-RC-0-42"), "udhcpc failed:\n{seen}");
        let mut answered = false;
        for _ in 0..10 {
            if netns_daemon::ping(&d.ns, "10.66.0.100") {
                answered = true;
                break;
            }
        }
        assert!(answered, "the guest got its fixed address 10.66.0.100 and answers pings");
        // out through NAT to the outside host
        console
            .write_all(b"ping -c 2 -W 3 10.65.0.2 >/dev/null && echo OUT-$((40+2))-OK\n")
            .unwrap();
        wait_for(&mut console, &mut seen, "OUT-42-OK", Duration::from_secs(30));
        let neigh = d.ns.ip_json(&["neigh", "show", "dev", "vmbr1"]).unwrap();
        assert!(neigh.to_string().to_lowercase().contains("bc:24:11:00:04:10"), "{neigh}");

        // a hot-plugged NIC is wired the same way, and gets its fixed DHCP address at once
        let r = s
            .put("/nodes/testnode/qemu/410/config", &[("net1", "virtio=BC:24:11:00:04:11,bridge=vmbr1")])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let tap1 = d.link("tap410i1").expect("hot-plugged tap");
        assert_eq!(tap1["master"], "vmbr1", "{tap1}");
        let hosts = std::fs::read_to_string(d.data_dir.join("network/dhcp-vmbr1.hosts")).unwrap();
        assert!(hosts.contains("BC:24:11:00:04:11,10.66.0.101,vm410"), "{hosts}");
        let r = s.put("/nodes/testnode/qemu/410/config", &[("delete", "net1")]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(d.link("tap410i1").is_none(), "unplugged tap removed");

        let r = s.post("/nodes/testnode/qemu/410/status/stop", &[]).await;
        assert_eq!(wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"], "OK");
        assert!(d.link("tap410i0").is_none(), "the tap went away with QEMU");
    });
}
