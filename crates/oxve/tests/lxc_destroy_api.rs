//! Destroying a container (real LXC, as root) with `destroy-unreferenced-disks` and `purge`:
//! a volume of its VMID that no config names goes too, and it leaves the backup jobs; its
//! ACL entries and firewall rules go either way; without the flags the stray volume stays.

mod common;

use common::ct::{can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{task_ok, Daemon, Session};

async fn create(s: &Session, vmid: &str) {
    task_ok(
        s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", vmid),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:0.1"),
            ],
        )
        .await,
    )
    .await;
}

/// A volume of `vmid` that its config does not name.
async fn stray_volume(s: &Session, d: &Daemon, vmid: &str) -> std::path::PathBuf {
    let name = format!("vm-{vmid}-disk-7.raw");
    let r = s
        .post(
            "/nodes/testnode/storage/local/content",
            &[("vmid", vmid), ("filename", &name), ("size", "16M")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = d.data_dir.join(format!("local/images/{vmid}/{name}"));
    assert!(path.exists());
    path
}

async fn acl_paths(s: &Session) -> Vec<String> {
    s.get("/access/acl", &[])
        .await
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

/// The `vmid` list of backup job `id`, or `None` when there is no such job.
async fn job_vmids(s: &Session, id: &str) -> Option<String> {
    let r = s.get(&format!("/cluster/backup/{id}"), &[]).await;
    (r.status == 200).then(|| r.data()["vmid"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn destroy_with_unreferenced_disks_and_purge() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let _stop = StopContainers {
        lxc_path: d.data_dir.join("run/lxc"),
        vmids: vec![9791, 9792],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    // ACL entries of another user (the admin's own would narrow its rights on the path)
    let user = "bob@pve".to_string();
    let r = s.post("/access/users", &[("userid", &user)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // without the flags: the stray volume and the backup job naming it stay; the ACL entry
    // goes all the same (as Proxmox: a later guest with this VMID must not inherit it)
    create(&s, "9792").await;
    for (id, vmids) in [
        ("ct-9792", "9792"),
        ("ct-9791", "9791"),
        ("ct-both", "9791,9792"),
    ] {
        let r = s
            .post(
                "/cluster/backup",
                &[("id", id), ("vmid", vmids), ("schedule", "sat 02:00")],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let kept = stray_volume(&s, &d, "9792").await;
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/vms/9792"),
                ("roles", "PVEVMUser"),
                ("users", &user),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    task_ok(&s, s.delete("/nodes/testnode/lxc/9792", &[]).await).await;
    assert!(kept.exists(), "an unreferenced volume stays by default");
    assert!(!acl_paths(&s).await.contains(&"/vms/9792".to_string()));
    assert_eq!(job_vmids(&s, "ct-9792").await.as_deref(), Some("9792"));

    // with them: all of it goes
    create(&s, "9791").await;
    let stray = stray_volume(&s, &d, "9791").await;
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/vms/9791"),
                ("roles", "PVEVMUser"),
                ("users", &user),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .put(
            "/nodes/testnode/lxc/9791/firewall/options",
            &[("enable", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    task_ok(
        &s,
        s.delete(
            "/nodes/testnode/lxc/9791",
            &[("purge", "1"), ("destroy-unreferenced-disks", "1")],
        )
        .await,
    )
    .await;
    assert!(!stray.exists(), "the unreferenced volume is gone");
    assert!(!d
        .data_dir
        .join("local/images/9791/vm-9791-disk-0.raw")
        .exists());
    assert!(!acl_paths(&s).await.contains(&"/vms/9791".to_string()));
    // purge: out of the backup jobs; a job that named only it is gone
    assert_eq!(job_vmids(&s, "ct-9791").await, None);
    assert_eq!(job_vmids(&s, "ct-both").await.as_deref(), Some("9792"));
    // a new guest with the same VMID starts without the old firewall rules
    create(&s, "9791").await;
    let opts = s
        .get("/nodes/testnode/lxc/9791/firewall/options", &[])
        .await;
    assert_eq!(opts.status, 200, "{:?}", opts.body);
    assert!(opts.data().get("enable").is_none(), "{:?}", opts.body);
    task_ok(&s, s.delete("/nodes/testnode/lxc/9791", &[]).await).await;
}
