//! `startall`/`stopall` in startup order, and the onboot guests started by the daemon after a
//! host boot (a changed boot id) but not after a plain daemon restart.

mod common;

use std::time::{Duration, Instant};

use common::{task_log, wait_task, Daemon, DaemonOptions, Session};

async fn create(s: &Session, vmid: &str, extra: &[(&str, &str)]) {
    let mut params = vec![("vmid", vmid), ("memory", "64")];
    params.extend_from_slice(extra);
    let r = s.post("/nodes/testnode/qemu", &params).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}

async fn state(s: &Session, vmid: u32) -> String {
    s.get(&format!("/nodes/testnode/qemu/{vmid}/status/current"), &[])
        .await
        .data()["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn guests_start_and_stop_in_startup_order() {
    let mut d = Daemon::start();
    let s = Session::admin(&d).await;
    create(&s, "430", &[("onboot", "1"), ("startup", "order=2")]).await;
    create(&s, "431", &[("onboot", "1"), ("startup", "order=1,up=1")]).await;
    create(&s, "432", &[("cpuunits", "2048"), ("cpulimit", "0.5")]).await;

    let r = s.post("/nodes/testnode/startall", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.contains(":startall:"), "{upid}");
    let t = wait_task(&s, &upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let log = task_log(&s, &upid).await;
    let (first, second) = (
        log.find("Starting VM 431").expect("431 started"),
        log.find("Starting VM 430").expect("430 started"),
    );
    assert!(first < second, "order=1 first: {log}");
    assert!(log.contains("Waiting for 1 seconds"), "{log}");
    assert_eq!(state(&s, 430).await, "running");
    assert_eq!(state(&s, 431).await, "running");
    assert_eq!(state(&s, 432).await, "stopped", "no onboot");

    // a guest without an OS ignores the power button: force-stop after the timeout
    let r = s.post("/nodes/testnode/stopall", &[("timeout", "1")]).await;
    let upid = r.data().as_str().unwrap().to_string();
    assert_eq!(wait_task(&s, &upid).await["exitstatus"], "OK");
    let log = task_log(&s, &upid).await;
    let (first, second) = (
        log.find("Stopping VM 430").expect("430 stopped"),
        log.find("Stopping VM 431").expect("431 stopped"),
    );
    assert!(first < second, "reverse order: {log}");
    assert_eq!(state(&s, 430).await, "stopped");
    assert_eq!(state(&s, 431).await, "stopped");

    // only listed VMs, and the caller needs VM.PowerMgmt on them
    let r = s
        .post(
            "/nodes/testnode/startall",
            &[("vms", "432"), ("force", "1")],
        )
        .await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(state(&s, 432).await, "running");
    assert_eq!(state(&s, 430).await, "stopped");

    // the VM runs in its own cgroup with its CPU weight and limit, changed live
    let pid = s
        .get("/nodes/testnode/qemu/432/status/current", &[])
        .await
        .data()["pid"]
        .as_u64()
        .unwrap();
    let v1 = std::path::Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists();
    assert_eq!(cpu_cgroup_dir(pid).is_some(), v1, "QEMU in a cpu cgroup");
    if let Some(cpu_dir) = cpu_cgroup_dir(pid) {
        let read = |f: &str| {
            std::fs::read_to_string(cpu_dir.join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        assert!(
            cpu_dir.to_string_lossy().ends_with("/qemu-432"),
            "{cpu_dir:?}"
        );
        assert_eq!(read("cpu.shares"), "2048");
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
        let r = s
            .put("/nodes/testnode/qemu/432/config", &[("cpulimit", "1.5")])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(read("cpu.cfs_quota_us"), "150000", "applied live");
        let pending = s.get("/nodes/testnode/qemu/432/pending", &[]).await;
        assert!(
            pending
                .data()
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e.get("pending").is_none()),
            "{:?}",
            pending.body
        );
    }
    let r = s
        .post(
            "/nodes/testnode/stopall",
            &[("vms", "432"), ("timeout", "0")],
        )
        .await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );

    // a plain daemon restart starts nothing
    d.restart(&DaemonOptions::default());
    let s = Session::admin(&d).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(state(&s, 430).await, "stopped");

    // after a host boot (another boot id) the onboot guests come up by themselves
    d.kill();
    std::fs::remove_file(d.data_dir.join("last-boot-id")).unwrap();
    d.restart(&DaemonOptions::default());
    let s = Session::admin(&d).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while state(&s, 430).await != "running" || state(&s, 431).await != "running" {
        assert!(Instant::now() < deadline, "onboot guests did not start");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(state(&s, 432).await, "stopped");
    let r = s.post("/nodes/testnode/stopall", &[("timeout", "0")]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}

/// The cgroup v1 `cpu` directory of process `pid` (None on hosts with cgroup v2 only).
fn cpu_cgroup_dir(pid: u64) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "cpu")
            .then(|| path.to_string())
    })?;
    Some(std::path::PathBuf::from("/sys/fs/cgroup/cpu").join(path.trim_start_matches('/')))
}
