//! Mount points added to a running container's config are mounted at once, read-only ones
//! refuse writes, and removed ones are unmounted (real LXC, as root).

mod common;

use common::ct::{attach, can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{task_ok, Daemon, Session};

const CT: &str = "/nodes/testnode/lxc/9797";

#[tokio::test]
async fn mount_points_hotplug_into_a_running_container() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _stop = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9797],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9797"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:0.1"),
                ("start", "1"),
            ],
        )
        .await,
    )
    .await;

    // a new volume mount point is there at once, and what the container writes lands in it
    let r = s
        .put(&format!("{CT}/config"), &[("mp0", "local:0,mp=/data")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conf = s.get(&format!("{CT}/config"), &[("current", "1")]).await;
    let mp0 = conf.data()["mp0"].as_str().unwrap().to_string();
    assert!(mp0.starts_with("local:9797/subvol-9797-disk-"), "{mp0}");
    attach(&lxc_path, 9797, "echo written-inside > /data/file");
    let volname = mp0.split(',').next().unwrap().trim_start_matches("local:");
    let on_host = d.data_dir.join("local/images").join(volname).join("file");
    assert_eq!(
        std::fs::read_to_string(&on_host).unwrap().trim(),
        "written-inside"
    );

    // read-only mount points refuse writes
    let r = s
        .put(&format!("{CT}/config"), &[("mp1", "local:0,mp=/ro,ro=1")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let out = attach(
        &lxc_path,
        9797,
        "touch /ro/x 2>/dev/null && echo writable || echo refused",
    );
    assert_eq!(out, "refused");

    // removing one unmounts it (its volume is kept as unused0)
    let r = s.put(&format!("{CT}/config"), &[("delete", "mp0")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mounts = attach(&lxc_path, 9797, "cat /proc/mounts");
    assert!(!mounts.contains(" /data "), "{mounts}");
    let ro = mounts
        .lines()
        .find(|l| l.contains(" /ro "))
        .unwrap_or_default();
    assert!(
        ro.contains(" ro,") || ro.contains(" ro "),
        "mounted read-only: {mounts}"
    );
    let conf = s.get(&format!("{CT}/config"), &[]).await;
    assert!(conf.data().get("mp0").is_none(), "{:?}", conf.data());
    assert!(
        conf.data()["unused0"].as_str().is_some(),
        "{:?}",
        conf.data()
    );

    task_ok(&s, s.delete(CT, &[("force", "1")]).await).await;
}
