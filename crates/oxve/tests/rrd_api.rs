//! `.../rrddata` through the daemon: the sampler records the node, storages and VMs, the
//! endpoints answer Proxmox's shape (70 points, `time` plus the known values) with Proxmox's
//! permissions, and the history survives a restart.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, DaemonOptions, Reply, Session};
use serde_json::Value;

/// Poll `path` until its last point has `field` (the sampler runs every 10 s).
async fn wait_for_field(
    s: &Session,
    path: &str,
    query: &[(&str, &str)],
    field: &str,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = s.get(path, query).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        let points = r.data().as_array().expect("an array").clone();
        if points.last().is_some_and(|p| p.get(field).is_some()) {
            return points;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: no {field} in time: {points:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn check_shape(points: &[Value], step: u64) {
    assert_eq!(points.len(), 70);
    let times: Vec<u64> = points.iter().map(|p| p["time"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == step), "{times:?}");
}

#[tokio::test]
async fn rrddata_of_node_storage_and_vm() {
    let mut d = Daemon::start();
    let s = Session::admin(&d).await;

    let node = wait_for_field(
        &s,
        "/nodes/testnode/rrddata",
        &[("timeframe", "hour")],
        "memtotal",
    )
    .await;
    check_shape(&node, 60);
    let last = node.last().unwrap();
    for field in [
        "cpu",
        "maxcpu",
        "loadavg",
        "memused",
        "roottotal",
        "rootused",
        "swaptotal",
    ] {
        assert!(last[field].is_number(), "{field} missing: {last}");
    }
    assert!(last["memtotal"].as_f64().unwrap() > last["memused"].as_f64().unwrap());
    let week = s
        .get(
            "/nodes/testnode/rrddata",
            &[("timeframe", "week"), ("cf", "MAX")],
        )
        .await;
    check_shape(week.data().as_array().unwrap(), 3 * 3600);

    let storage = wait_for_field(
        &s,
        "/nodes/testnode/storage/local/rrddata",
        &[("timeframe", "day")],
        "total",
    )
    .await;
    check_shape(&storage, 1800);
    assert!(storage.last().unwrap()["used"].as_f64().unwrap() > 0.0);

    // A container that does not exist has an empty history, as any guest without samples.
    let lxc = s
        .get("/nodes/testnode/lxc/105/rrddata", &[("timeframe", "hour")])
        .await;
    assert_eq!(lxc.status, 200);
    assert_eq!(lxc.data(), &Value::Array(vec![]));

    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "100"),
                ("name", "graphs"),
                ("memory", "256"),
                ("cores", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let vm = wait_for_field(
        &s,
        "/nodes/testnode/qemu/100/rrddata",
        &[("timeframe", "hour")],
        "maxmem",
    )
    .await;
    let last = vm.last().unwrap();
    assert_eq!(last["maxmem"].as_f64(), Some(256.0 * 1024.0 * 1024.0));
    assert_eq!(
        last["cpu"].as_f64(),
        Some(0.0),
        "a stopped VM uses no CPU: {last}"
    );
    assert!(last["maxcpu"].as_f64().unwrap() >= 1.0);

    // Parameters are checked as Proxmox's schema says.
    let bad = s
        .get("/nodes/testnode/rrddata", &[("timeframe", "fortnight")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["errors"]["timeframe"].is_string(),
        "{:?}",
        bad.body
    );
    let bad = s
        .get(
            "/nodes/testnode/qemu/100/rrddata",
            &[("timeframe", "hour"), ("cf", "MIN")],
        )
        .await;
    assert_eq!(bad.status, 400);
    let decade = s
        .get(
            "/nodes/testnode/qemu/100/rrddata",
            &[("timeframe", "decade")],
        )
        .await;
    assert_eq!(decade.status, 400, "decade is for nodes only");

    // The history survives a restart.
    d.restart(&DaemonOptions::default());
    let s = Session::admin(&d).await;
    let r: Reply = s
        .get("/nodes/testnode/qemu/100/rrddata", &[("timeframe", "hour")])
        .await;
    assert!(
        r.data()
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.get("maxmem").is_some()),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn rrddata_needs_proxmox_privileges() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let r = s
        .post(
            "/access/users",
            &[("userid", "peek@pve"), ("password", "peek-secret-1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let peek = Session::new(&d, "peek@pve", "peek-secret-1").await;
    for path in [
        "/nodes/testnode/rrddata",
        "/nodes/testnode/qemu/100/rrddata",
        "/nodes/testnode/lxc/100/rrddata",
        "/nodes/testnode/storage/local/rrddata",
    ] {
        let r = peek.get(path, &[("timeframe", "hour")]).await;
        assert_eq!(r.status, 403, "{path}: {:?}", r.body);
    }
    // VM.Audit on /vms/100 opens that VM's history only.
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/vms/100"),
                ("roles", "PVEAuditor"),
                ("users", "peek@pve"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = peek
        .get("/nodes/testnode/qemu/100/rrddata", &[("timeframe", "hour")])
        .await;
    assert_eq!(r.status, 200);
    let r = peek
        .get("/nodes/testnode/qemu/101/rrddata", &[("timeframe", "hour")])
        .await;
    assert_eq!(r.status, 403);
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/storage/local"),
                ("roles", "PVEDatastoreUser"),
                ("users", "peek@pve"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = peek
        .get(
            "/nodes/testnode/storage/local/rrddata",
            &[("timeframe", "hour")],
        )
        .await;
    assert_eq!(r.status, 200);
}
