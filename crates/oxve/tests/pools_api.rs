//! Resource pools against a real daemon: CRUD with bad input, members with their status,
//! pools in /cluster/resources, the `pool` parameter of create and clone, a destroyed guest
//! leaving its pool, vzdump and backup jobs selecting a pool's guests, and ACLs on
//! `/pool/<id>` granting (and, revoked, no longer granting) access to the pool's guests.

mod common;

use common::ct::{can_run_containers, install_template, StopContainers, TEMPLATE};
use common::{task_ok, wait_task, Daemon, Reply, Session};
use serde_json::Value;

/// A stopped VM, with a small blank disk when `disk` (enough for a stop-mode backup).
async fn create_vm(s: &Session, vmid: u32, disk: bool, extra: &[(&str, &str)]) {
    let vmid_s = vmid.to_string();
    let mut params = vec![("vmid", vmid_s.as_str())];
    if disk {
        params.push(("scsi0", "local:0.0625,format=raw"));
    }
    params.extend_from_slice(extra);
    task_ok(s, s.post("/nodes/testnode/qemu", &params).await).await;
}

fn bad_param(r: &Reply, name: &str) {
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["errors"].get(name).is_some(),
        "error should name '{name}': {:?}",
        r.body
    );
}

/// The VMIDs of a pool's guest members.
async fn pool_vms(s: &Session, poolid: &str) -> Vec<u64> {
    let r = s.get("/pools", &[("poolid", poolid)]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut v: Vec<u64> = r.data()[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["vmid"].as_u64())
        .collect();
    v.sort();
    v
}

async fn user(admin: &Session, d: &Daemon, name: &str) -> Session {
    let userid = format!("{name}@pve");
    let r = admin
        .post(
            "/access/users",
            &[("userid", &userid), ("password", "user-pass-1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    Session::new(d, &userid, "user-pass-1").await
}

async fn acl(admin: &Session, path: &str, role: &str, user: &str, delete: bool) {
    let mut params = vec![("path", path), ("roles", role), ("users", user)];
    if delete {
        params.push(("delete", "1"));
    }
    let r = admin.put("/access/acl", &params).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn pool_crud_members_create_clone_destroy_and_resources() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;

    // Create, with bad ids, duplicates and a nested pool whose parent is missing.
    let r = s
        .post("/pools", &[("poolid", "dev"), ("comment", "Development")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for bad in ["a b", "a//b", "a/b/c/d", "x:y"] {
        bad_param(&s.post("/pools", &[("poolid", bad)]).await, "poolid");
    }
    let r = s.post("/pools", &[("poolid", "dev")]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    bad_param(&s.post("/pools", &[("poolid", "nope/web")]).await, "poolid");
    let r = s.post("/pools", &[("poolid", "dev/web")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.get("/pools", &[]).await;
    assert_eq!(
        r.data(),
        &serde_json::json!([
            {"poolid": "dev", "comment": "Development"},
            {"poolid": "dev/web"},
        ])
    );
    bad_param(&s.get("/pools", &[("type", "qemu")]).await, "type");

    // A VM created into the pool; others added with PUT.
    create_vm(&s, 601, false, &[("pool", "dev"), ("name", "in-dev")]).await;
    bad_param(
        &s.post(
            "/nodes/testnode/qemu",
            &[("vmid", "609"), ("pool", "missing")],
        )
        .await,
        "pool",
    );
    assert_eq!(
        s.get("/nodes/testnode/qemu/609/config", &[]).await.status,
        500
    );
    create_vm(&s, 602, false, &[]).await;
    create_vm(&s, 603, false, &[]).await;
    let r = s.put("/pools", &[("poolid", "dev"), ("vms", "602")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(pool_vms(&s, "dev").await, [601, 602]);
    // Adding a guest of another pool needs allow-move; unknown guests and duplicates fail.
    let r = s
        .put("/pools", &[("poolid", "dev/web"), ("vms", "602")])
        .await;
    bad_param(&r, "vms");
    assert!(r.body["errors"]["vms"]
        .as_str()
        .unwrap()
        .contains("belongs already to pool 'dev'"));
    bad_param(
        &s.put("/pools", &[("poolid", "dev"), ("vms", "699")]).await,
        "vms",
    );
    bad_param(
        &s.put("/pools", &[("poolid", "dev"), ("vms", "601")]).await,
        "vms",
    );
    assert_eq!(pool_vms(&s, "dev").await, [601, 602]);
    let r = s
        .put(
            "/pools",
            &[("poolid", "dev/web"), ("vms", "602"), ("allow-move", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(pool_vms(&s, "dev").await, [601]);
    assert_eq!(pool_vms(&s, "dev/web").await, [602]);

    // Storage members; the member list as /cluster/resources shows guests and storages.
    let r = s
        .put("/pools/dev", &[("storage", "local"), ("comment", "Dev")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    bad_param(
        &s.put("/pools", &[("poolid", "dev"), ("storage", "nosuch")])
            .await,
        "storage",
    );
    let r = s.get("/pools/dev", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["comment"], "Dev");
    let members = r.data()["members"].as_array().unwrap();
    let vm = members.iter().find(|m| m["type"] == "qemu").unwrap();
    assert_eq!(vm["id"], "qemu/601");
    assert_eq!(vm["vmid"], 601);
    assert_eq!(vm["node"], "testnode");
    assert_eq!(vm["status"], "stopped");
    assert_eq!(vm["name"], "in-dev");
    assert_eq!(vm["pool"], "dev");
    let st = members.iter().find(|m| m["type"] == "storage").unwrap();
    assert_eq!(st["storage"], "local");
    assert_eq!(st["id"], "storage/testnode/local");
    let r = s.get("/pools", &[("poolid", "dev"), ("type", "lxc")]).await;
    assert_eq!(r.data()[0]["members"], serde_json::json!([]));
    let r = s
        .get("/pools", &[("poolid", "dev"), ("type", "storage")])
        .await;
    assert_eq!(r.data()[0]["members"].as_array().unwrap().len(), 1);

    // /cluster/resources: pool entries, and the pool of each guest.
    let r = s.get("/cluster/resources", &[]).await;
    let list = r.data().as_array().unwrap();
    let pools: Vec<&Value> = list.iter().filter(|e| e["type"] == "pool").collect();
    assert_eq!(pools.len(), 2, "{list:?}");
    assert_eq!(pools[0]["id"], "/pool/dev");
    assert_eq!(pools[0]["pool"], "dev");
    assert_eq!(pools[0]["comment"], "Dev");
    let guest = |vmid: u64| list.iter().find(|e| e["vmid"] == vmid).unwrap().clone();
    assert_eq!(guest(601)["pool"], "dev");
    assert_eq!(guest(602)["pool"], "dev/web");
    assert!(guest(603).get("pool").is_none());
    let r = s.get("/cluster/resources", &[("type", "vm")]).await;
    assert!(r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"] != "pool"));

    // Clone into a pool; destroying the clone takes it out of the pool.
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/601/clone",
            &[("newid", "604"), ("pool", "dev/web")],
        )
        .await,
    )
    .await;
    assert_eq!(pool_vms(&s, "dev/web").await, [602, 604]);
    bad_param(
        &s.post(
            "/nodes/testnode/qemu/601/clone",
            &[("newid", "605"), ("pool", "missing")],
        )
        .await,
        "pool",
    );
    task_ok(&s, s.delete("/nodes/testnode/qemu/604", &[]).await).await;
    assert_eq!(pool_vms(&s, "dev/web").await, [602]);

    // A removed storage leaves every pool.
    let extra = d.data_dir.join("extra-store");
    std::fs::create_dir_all(&extra).unwrap();
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "extra"),
                ("type", "dir"),
                ("path", extra.to_str().unwrap()),
                ("content", "images"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .put("/pools", &[("poolid", "dev/web"), ("storage", "extra")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .get("/pools", &[("poolid", "dev/web"), ("type", "storage")])
        .await;
    assert_eq!(r.data()[0]["members"].as_array().unwrap().len(), 1);
    assert_eq!(s.delete("/storage/extra", &[]).await.status, 200);
    let r = s
        .get("/pools", &[("poolid", "dev/web"), ("type", "storage")])
        .await;
    assert_eq!(r.data()[0]["members"], serde_json::json!([]));
    // (nothing left in user.cfg either: a new "extra" would not be a member)
    let r = s
        .put(
            "/pools",
            &[("poolid", "dev/web"), ("storage", "extra"), ("delete", "1")],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // Delete: refused while members or child pools remain; removing members is `delete=1`.
    let r = s.delete("/pools", &[("poolid", "dev")]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("not empty"));
    let r = s.delete("/pools", &[("poolid", "dev/web")]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    bad_param(
        &s.put(
            "/pools",
            &[("poolid", "dev/web"), ("vms", "603"), ("delete", "1")],
        )
        .await,
        "vms",
    );
    let r = s
        .put(
            "/pools",
            &[("poolid", "dev/web"), ("vms", "602"), ("delete", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.delete("/pools", &[("poolid", "dev/web")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.delete("/pools", &[("poolid", "dev")]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = s
        .put(
            "/pools",
            &[
                ("poolid", "dev"),
                ("vms", "601"),
                ("storage", "local"),
                ("delete", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.delete("/pools/dev", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(s.get("/pools", &[]).await.data(), &serde_json::json!([]));
    let r = s.get("/pools/dev", &[]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
}

#[tokio::test]
async fn vzdump_and_backup_jobs_select_a_pools_guests() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    assert_eq!(s.post("/pools", &[("poolid", "bk")]).await.status, 200);
    create_vm(&s, 611, true, &[("pool", "bk")]).await;
    create_vm(&s, 612, true, &[("pool", "bk")]).await;
    create_vm(&s, 613, true, &[]).await;

    // `exclude` does not apply to a pool selection (as in Proxmox).
    let t = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[
                ("pool", "bk"),
                ("exclude", "612"),
                ("storage", "local"),
                ("mode", "stop"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK");
    let mut files: Vec<String> = std::fs::read_dir(d.data_dir.join("local/dump"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| !f.ends_with(".log") && !f.ends_with(".notes"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].starts_with("vzdump-qemu-611-"), "{files:?}");
    assert!(files[1].starts_with("vzdump-qemu-612-"), "{files:?}");
    bad_param(
        &s.post(
            "/nodes/testnode/vzdump",
            &[("pool", "nosuch"), ("storage", "local")],
        )
        .await,
        "pool",
    );

    // A restore with `pool` puts the restored VM into it.
    let volid = format!("local:backup/{}", files[0]);
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", "614"), ("archive", &volid), ("pool", "bk")],
        )
        .await;
    task_ok(&s, r).await;
    assert_eq!(pool_vms(&s, "bk").await, [611, 612, 614]);
    task_ok(&s, s.delete("/nodes/testnode/qemu/614", &[]).await).await;
    assert_eq!(pool_vms(&s, "bk").await, [611, 612]);

    // A backup job with a pool: its included guests, and who is left without a backup.
    let r = s
        .post(
            "/cluster/backup",
            &[
                ("id", "pooljob"),
                ("schedule", "sat 02:00"),
                ("pool", "bk"),
                ("storage", "local"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.get("/cluster/backup/pooljob/included_volumes", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ids: Vec<u64> = r.data()["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [611, 612]);
    let r = s.get("/cluster/backup-info/not-backed-up", &[]).await;
    let left: Vec<u64> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["vmid"].as_u64().unwrap())
        .collect();
    assert_eq!(left, [613]);
}

#[tokio::test]
async fn pool_acls_reach_the_pools_guests() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    assert_eq!(s.post("/pools", &[("poolid", "team")]).await.status, 200);
    assert_eq!(s.post("/pools", &[("poolid", "other")]).await.status, 200);
    create_vm(&s, 621, false, &[("pool", "team")]).await;
    create_vm(&s, 622, false, &[]).await;
    let bob = user(&s, &d, "bob").await;

    // Nothing yet; then PVEVMAdmin on the pool: the pool's VM, not the other one.
    assert_eq!(
        bob.get("/nodes/testnode/qemu/621/config", &[]).await.status,
        403
    );
    acl(&s, "/pool/team", "PVEVMAdmin", "bob@pve", false).await;
    let r = bob.get("/nodes/testnode/qemu/621/config", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        bob.get("/nodes/testnode/qemu/622/config", &[]).await.status,
        403
    );
    let r = bob.get("/cluster/resources", &[("type", "vm")]).await;
    let seen: Vec<&Value> = r.data().as_array().unwrap().iter().collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["vmid"], 621);

    // VM.Allocate on the pool lets bob create guests in it, but not outside it.
    task_ok(
        &bob,
        bob.post("/nodes/testnode/qemu", &[("vmid", "623"), ("pool", "team")])
            .await,
    )
    .await;
    assert_eq!(pool_vms(&s, "team").await, [621, 623]);
    let r = bob.post("/nodes/testnode/qemu", &[("vmid", "624")]).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = bob
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", "624"), ("pool", "other")],
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // Pool membership changes: Pool.Allocate on the pool plus VM.Allocate on the guest.
    let r = bob
        .put("/pools", &[("poolid", "team"), ("comment", "x")])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    acl(&s, "/pool/team", "PVEPoolAdmin", "bob@pve", false).await;
    let r = bob
        .put("/pools", &[("poolid", "team"), ("comment", "x")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = bob
        .put("/pools", &[("poolid", "team"), ("vms", "622")])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(pool_vms(&s, "team").await, [621, 623]);
    // Bob only lists the pools he may audit.
    let r = bob.get("/pools", &[]).await;
    assert_eq!(
        r.data(),
        &serde_json::json!([{"poolid": "team", "comment": "x"}])
    );
    let r = bob.get("/pools/other", &[]).await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // Revoked: no access to the pool's guests any more.
    acl(&s, "/pool/team", "PVEVMAdmin", "bob@pve", true).await;
    assert_eq!(
        bob.get("/nodes/testnode/qemu/621/config", &[]).await.status,
        403
    );
    // Taking a guest out of the pool ends access through the pool too.
    acl(&s, "/pool/team", "PVEVMAdmin", "bob@pve", false).await;
    assert_eq!(
        bob.get("/nodes/testnode/qemu/621/config", &[]).await.status,
        200
    );
    let r = s
        .put(
            "/pools",
            &[("poolid", "team"), ("vms", "621"), ("delete", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        bob.get("/nodes/testnode/qemu/621/config", &[]).await.status,
        403
    );
    // Deleting a pool drops its ACL entries.
    let r = s
        .put(
            "/pools",
            &[("poolid", "team"), ("vms", "623"), ("delete", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(s.delete("/pools", &[("poolid", "team")]).await.status, 200);
    let r = s.get("/access/acl", &[]).await;
    assert!(
        r.data()
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["path"] != "/pool/team"),
        "{:?}",
        r.body
    );
}

/// The same through proxmoxer, as Ansible's proxmox_pool and proxmox_pool_member use the API.
#[test]
fn proxmoxer_manages_pools() {
    let d = Daemon::start();
    let python = std::env::var("OXVE_CLIENT_PYTHON").unwrap_or_else(|_| {
        let venv =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        venv.to_string_lossy().into_owned()
    });
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients/proxmoxer_pools.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .env("OXVE_HOST", d.base.trim_start_matches("https://"))
        .env("OXVE_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (run scripts/test.sh, which installs proxmoxer into .venv): {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "proxmoxer pool checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("proxmoxer pools: all checks passed"));
}

#[tokio::test]
async fn containers_join_pools_on_create_and_restore() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let _stop = StopContainers {
        lxc_path: d.data_dir.join("run/lxc"),
        vmids: vec![641, 642],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    assert_eq!(s.post("/pools", &[("poolid", "cts")]).await.status, 200);
    let template = format!("local:vztmpl/{TEMPLATE}");
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "641"),
                ("ostemplate", &template),
                ("rootfs", "local:0.1"),
                ("pool", "cts"),
            ],
        )
        .await;
    task_ok(&s, r).await;
    let r = s.get("/pools", &[("poolid", "cts"), ("type", "lxc")]).await;
    let members = r.data()[0]["members"].as_array().unwrap().clone();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["id"], "lxc/641");
    assert_eq!(members[0]["type"], "lxc");
    assert_eq!(members[0]["status"], "stopped");
    let r = s
        .get("/pools", &[("poolid", "cts"), ("type", "qemu")])
        .await;
    assert_eq!(r.data()[0]["members"], serde_json::json!([]));

    // Backed up through the pool, restored into it.
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("pool", "cts"), ("storage", "local"), ("mode", "stop")],
        )
        .await,
    )
    .await;
    let archive = std::fs::read_dir(d.data_dir.join("local/dump"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|f| f.starts_with("vzdump-lxc-641-") && !f.ends_with(".log"))
        .expect("an archive of CT 641");
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "642"),
                ("ostemplate", &format!("local:backup/{archive}")),
                ("restore", "1"),
                ("pool", "cts"),
            ],
        )
        .await;
    task_ok(&s, r).await;
    assert_eq!(pool_vms(&s, "cts").await, [641, 642]);
    task_ok(&s, s.delete("/nodes/testnode/lxc/642", &[]).await).await;
    assert_eq!(pool_vms(&s, "cts").await, [641]);
}

/// The scheduler runs a pool job on the pool's guests only.
#[tokio::test]
async fn scheduled_pool_job_backs_up_the_pools_guests() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    assert_eq!(s.post("/pools", &[("poolid", "nightly")]).await.status, 200);
    create_vm(&s, 651, true, &[("pool", "nightly")]).await;
    create_vm(&s, 652, true, &[]).await;
    let r = s
        .post(
            "/cluster/backup",
            &[
                ("id", "poolsched"),
                ("schedule", "*:*"),
                ("pool", "nightly"),
                ("storage", "local"),
                ("mode", "stop"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let upid = loop {
        let r = s
            .get("/nodes/testnode/tasks", &[("typefilter", "vzdump")])
            .await;
        if let Some(t) = r.data().as_array().and_then(|l| l.first()) {
            break t["upid"].as_str().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "the job did not run");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    // Stop it from starting again before looking at what the first run wrote.
    s.delete("/cluster/backup/poolsched", &[]).await;
    let t = wait_task(&s, &upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let r = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "backup")],
        )
        .await;
    let vmids: Vec<u64> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["vmid"].as_u64().unwrap())
        .collect();
    assert_eq!(vmids, [651], "{:?}", r.body);
}
