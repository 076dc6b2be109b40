//! Container permissions as Proxmox checks them: VM.Allocate to create, Datastore rights on
//! the storage for volumes and templates, VM.Config.* per changed key, VM.PowerMgmt for
//! power actions, VM.Audit to see; host paths, feature flags beyond nesting and raw LXC
//! keys only for root@pam.

mod common;

use std::path::Path;

use common::ct::{ct_template as template, TEMPLATE};
use common::{wait_task, Daemon, Session};

async fn user(admin: &Session, d: &Daemon, name: &str, grants: &[(&str, &str)]) -> Session {
    let userid = format!("{name}@pve");
    let r = admin
        .post(
            "/access/users",
            &[("userid", &userid), ("password", "user-pass-1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for (path, role) in grants {
        let r = admin
            .put(
                "/access/acl",
                &[("path", path), ("roles", role), ("users", &userid)],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    Session::new(d, &userid, "user-pass-1").await
}

#[tokio::test]
async fn privileges_are_checked() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let d = Daemon::start();
    let admin = Session::admin(&d).await;
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(template(), cache.join(TEMPLATE)).unwrap();
    let tmpl = format!("local:vztmpl/{TEMPLATE}");
    let create = [
        ("vmid", "9781"),
        ("ostemplate", tmpl.as_str()),
        ("rootfs", "local:0.1"),
    ];

    // VM rights without datastore rights: no volume, no reservation
    let vmadmin = user(&admin, &d, "vmadmin", &[("/vms/9781", "PVEVMAdmin")]).await;
    let r = vmadmin.post("/nodes/testnode/lxc", &create).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("Datastore.AllocateSpace"));
    assert_eq!(
        admin
            .get("/nodes/testnode/lxc/9781/config", &[])
            .await
            .status,
        500
    );
    // datastore rights without VM.Allocate on that VMID
    let storeuser = user(
        &admin,
        &d,
        "storeuser",
        &[("/storage/local", "PVEDatastoreUser")],
    )
    .await;
    assert_eq!(
        storeuser.post("/nodes/testnode/lxc", &create).await.status,
        403
    );

    // both: the create works
    let r = admin
        .put(
            "/access/acl",
            &[
                ("path", "/storage/local"),
                ("roles", "PVEDatastoreUser"),
                ("users", "vmadmin@pve"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = vmadmin.post("/nodes/testnode/lxc", &create).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&vmadmin, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );

    // config changes: allowed keys, and root-only ones refused
    assert_eq!(
        vmadmin
            .put("/nodes/testnode/lxc/9781/config", &[("memory", "256")])
            .await
            .status,
        200
    );
    let r = vmadmin
        .put(
            "/nodes/testnode/lxc/9781/config",
            &[("mp0", "/srv,mp=/srv")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["mp0"]
        .as_str()
        .unwrap()
        .contains("Only root"));
    let r = vmadmin
        .put(
            "/nodes/testnode/lxc/9781/config",
            &[("features", "keyctl=1")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["features"]
        .as_str()
        .unwrap()
        .contains("root@pam"));
    assert_eq!(
        vmadmin
            .put(
                "/nodes/testnode/lxc/9781/config",
                &[("features", "nesting=1")]
            )
            .await
            .status,
        200
    );
    assert_eq!(
        vmadmin
            .put(
                "/nodes/testnode/lxc/9781/config",
                &[("lxc", "lxc.cgroup.pids.max: 10")]
            )
            .await
            .status,
        403
    );

    // an auditor sees, but cannot change or power on
    let auditor = user(&admin, &d, "auditor", &[("/vms/9781", "PVEAuditor")]).await;
    assert_eq!(
        auditor
            .get("/nodes/testnode/lxc/9781/status/current", &[])
            .await
            .status,
        200
    );
    assert_eq!(
        auditor
            .get("/nodes/testnode/lxc/9781/config", &[])
            .await
            .status,
        200
    );
    assert_eq!(
        auditor
            .post("/nodes/testnode/lxc/9781/status/start", &[])
            .await
            .status,
        403
    );
    assert_eq!(
        auditor
            .put("/nodes/testnode/lxc/9781/config", &[("memory", "128")])
            .await
            .status,
        403
    );
    assert_eq!(
        auditor.delete("/nodes/testnode/lxc/9781", &[]).await.status,
        403
    );
    let list = auditor.get("/nodes/testnode/lxc", &[]).await;
    assert_eq!(list.data().as_array().unwrap().len(), 1);
    // somebody without rights sees nothing
    let nobody = user(&admin, &d, "nobody", &[]).await;
    assert!(nobody
        .get("/nodes/testnode/lxc", &[])
        .await
        .data()
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        nobody
            .get("/nodes/testnode/lxc/9781/config", &[])
            .await
            .status,
        403
    );

    let r = vmadmin.delete("/nodes/testnode/lxc/9781", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&vmadmin, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
}
