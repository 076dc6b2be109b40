//! With lxcfs running on the host (the install step starts it, as Proxmox hosts run it), a
//! container's `/proc/meminfo` shows its own memory limit, not the host's (real LXC, root).

mod common;

use common::ct::{attach, can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{wait_task, Daemon, Session};

#[tokio::test]
async fn meminfo_inside_shows_the_limit() {
    if !can_run_containers() {
        return;
    }
    if !std::path::Path::new("/var/lib/lxcfs/proc/meminfo").exists() {
        eprintln!("skipped: lxcfs is not running (scripts/install-deps.sh starts it)");
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _stop = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9795],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9795"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:0.1"),
                ("memory", "96"),
                ("swap", "32"),
                ("start", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    let meminfo = attach(&lxc_path, 9795, "cat /proc/meminfo");
    let kb = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {meminfo}"))
    };
    assert_eq!(kb("MemTotal:"), 96 * 1024, "{meminfo}");
    // (SwapTotal shows the swap limit only up to the host's swap, which may be none)
    assert!(kb("SwapTotal:") <= 32 * 1024, "{meminfo}");
    // the host's own view is unchanged
    let host = std::fs::read_to_string("/proc/meminfo").unwrap();
    assert!(!host.contains(&format!("MemTotal:{:>16} kB", 96 * 1024)));

    let r = s
        .delete("/nodes/testnode/lxc/9795", &[("force", "1")])
        .await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
}
