//! A real VM on a bridge of the daemon's network namespace: QEMU's tap `tap<vmid>i0` is
//! plugged into the bridge before the guest runs, and the guest answers pings from the host
//! across it (the guest's address is set on its serial console).

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
    let dir = d.data_dir.join("local/images/410");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest_image(), dir.join("vm-410-disk-0.qcow2")).unwrap();

    d.run(async {
        let s = d.admin().await;
        let r = s
            .post("/nodes/testnode/network", &[("iface", "vmbr0"), ("type", "bridge"), ("cidr", "10.66.0.1/24"), ("autostart", "1")])
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
                    ("net0", "virtio=BC:24:11:00:04:10,bridge=vmbr0"),
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
        assert_eq!(tap["master"], "vmbr0", "{tap}");
        assert!(tap["flags"].as_array().unwrap().iter().any(|f| f == "UP"), "{tap}");

        let mut seen = String::new();
        wait_for(&mut console, &mut seen, "OXVE-GUEST-BOOTED", Duration::from_secs(180));
        std::thread::sleep(Duration::from_secs(1));
        console
            .write_all(b"ip link set eth0 up; ip addr add 10.66.0.50/24 dev eth0; echo NET-$((20+22))-UP\n")
            .unwrap();
        wait_for(&mut console, &mut seen, "NET-42-UP", Duration::from_secs(30));
        let mut answered = false;
        for _ in 0..10 {
            if netns_daemon::ping(&d.ns, "10.66.0.50") {
                answered = true;
                break;
            }
        }
        assert!(answered, "the guest answers pings across the bridge");
        let neigh = d.ns.ip_json(&["neigh", "show", "dev", "vmbr0"]).unwrap();
        assert!(neigh.to_string().to_lowercase().contains("bc:24:11:00:04:10"), "{neigh}");

        let r = s.post("/nodes/testnode/qemu/410/status/stop", &[]).await;
        assert_eq!(wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"], "OK");
        assert!(d.link("tap410i0").is_none(), "the tap went away with QEMU");
    });
}
