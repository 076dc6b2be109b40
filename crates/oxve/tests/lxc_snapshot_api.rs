//! Container snapshots on btrfs (as root, real LXC, a btrfs on a loop file the test makes):
//! snapshot a running container (frozen meanwhile), change its files and config, roll back
//! (the container is stopped first), find the old state, delete the snapshot.

mod common;

use std::path::Path;

use common::btrfs::{daemon_with_btrfs_storage, make_btrfs};
use common::ct::{attach, TEMPLATE};
use common::{wait_task, Session};
use serde_json::Value;

async fn task(s: &Session, r: common::Reply) -> Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    wait_task(s, r.data().as_str().unwrap()).await
}

fn attach_first(lxc_path: &Path, script: &str) -> String {
    attach(lxc_path, 9761, script)
}

#[tokio::test]
async fn snapshot_and_rollback_on_btrfs() {
    let Some(mut fs) = make_btrfs(&[9761, 9765], true) else {
        return;
    };
    let (d, s) = daemon_with_btrfs_storage(&mut fs).await;
    let lxc_path = d.data_dir.join("run/lxc");

    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9761"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "bt:0.25"),
                ("memory", "64"),
                ("start", "1"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let conf = s.get("/nodes/testnode/lxc/9761/config", &[]).await;
    assert!(
        conf.data()["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("bt:9761/subvol-9761-disk-0.subvol,size=256M"),
        "{:?}",
        conf.data()
    );
    attach_first(&lxc_path, "echo before > /root/state");
    let f = s
        .get(
            "/nodes/testnode/lxc/9761/feature",
            &[("feature", "snapshot")],
        )
        .await;
    assert_eq!(f.data()["hasFeature"], true, "{:?}", f.body);
    let f = s
        .get("/nodes/testnode/lxc/9761/feature", &[("feature", "clone")])
        .await;
    assert_eq!(
        f.data()["hasFeature"],
        false,
        "linked clones need a template"
    );

    // snapshot the running container
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9761/snapshot",
            &[("snapname", "s1"), ("description", "first one")],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(t["type"], "vzsnapshot");
    let st = s.get("/nodes/testnode/lxc/9761/status/current", &[]).await;
    assert_eq!(st.data()["status"], "running");
    assert!(
        st.data().get("frozen").is_none(),
        "thawed after the snapshot"
    );
    let list = s.get("/nodes/testnode/lxc/9761/snapshot", &[]).await;
    let list = list.data().as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "s1");
    assert_eq!(list[0]["description"], "first one");
    assert!(list[0]["snaptime"].as_i64().unwrap() > 0);
    assert_eq!(list[1]["name"], "current");
    assert_eq!(list[1]["parent"], "s1");
    let snapconf = s
        .get("/nodes/testnode/lxc/9761/snapshot/s1/config", &[])
        .await;
    assert_eq!(snapconf.data()["memory"], 64);
    // the same name again, and bad names, are refused
    assert_eq!(
        s.post("/nodes/testnode/lxc/9761/snapshot", &[("snapname", "s1")])
            .await
            .status,
        400
    );
    assert_eq!(
        s.post("/nodes/testnode/lxc/9761/snapshot", &[("snapname", "1bad")])
            .await
            .status,
        400
    );

    // change files and config, then roll back
    attach_first(&lxc_path, "echo after > /root/state; touch /root/new-file");
    assert_eq!(
        s.put("/nodes/testnode/lxc/9761/config", &[("memory", "128")])
            .await
            .status,
        200
    );
    // a full clone of the snapshot (the container runs on) holds the files of that instant
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9761/clone",
            &[
                ("newid", "9765"),
                ("snapname", "s1"),
                ("storage", "local"),
                ("hostname", "fromsnap"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let c = s
        .get("/nodes/testnode/lxc/9765/config", &[])
        .await
        .data()
        .clone();
    assert!(
        c["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("local:9765/vm-9765-disk-0.raw"),
        "{c}"
    );
    assert_eq!(c["memory"], 64, "the snapshot's settings");
    assert!(
        c.get("parent").is_none() && c.get("snaptime").is_none(),
        "{c}"
    );
    let t = task(
        &s,
        s.post("/nodes/testnode/lxc/9765/status/start", &[]).await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(
        attach(&lxc_path, 9765, "cat /root/state; hostname"),
        "before\nfromsnap"
    );
    let t = task(
        &s,
        s.delete("/nodes/testnode/lxc/9765", &[("force", "1")])
            .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    // a linked clone of a snapshot is refused
    let r = s
        .post(
            "/nodes/testnode/lxc/9761/clone",
            &[("newid", "9765"), ("snapname", "s1"), ("full", "0")],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9761/snapshot/s1/rollback",
            &[("start", "1")],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(t["type"], "vzrollback");
    assert_eq!(
        attach_first(
            &lxc_path,
            "cat /root/state; ls /root/new-file 2>/dev/null || echo gone"
        ),
        "before\ngone"
    );
    let conf = s.get("/nodes/testnode/lxc/9761/config", &[]).await;
    assert_eq!(conf.data()["memory"], 64);
    assert_eq!(conf.data()["parent"], "s1");
    assert!(conf.data().get("lock").is_none());

    // delete the snapshot, then the container
    let t = task(
        &s,
        s.delete("/nodes/testnode/lxc/9761/snapshot/s1", &[]).await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let list = s.get("/nodes/testnode/lxc/9761/snapshot", &[]).await;
    assert_eq!(list.data().as_array().unwrap().len(), 1);
    let conf = s.get("/nodes/testnode/lxc/9761/config", &[]).await;
    assert!(conf.data().get("parent").is_none());
    let t = task(
        &s,
        s.delete("/nodes/testnode/lxc/9761", &[("force", "1")])
            .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let left: Vec<_> = std::fs::read_dir(fs.mountpoint().join("images"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let nested: Vec<_> = left
        .iter()
        .flat_map(|p| {
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
        })
        .collect();
    assert!(
        nested.is_empty(),
        "volumes and snapshots removed: {nested:?}"
    );
}

#[tokio::test]
async fn template_linked_and_full_clones() {
    let Some(mut fs) = make_btrfs(&[9762, 9763, 9764], true) else {
        return;
    };
    let (d, s) = daemon_with_btrfs_storage(&mut fs).await;
    let lxc_path = d.data_dir.join("run/lxc");
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9762"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "bt:0.25"),
                ("hostname", "tmpl"),
                ("net0", "name=eth0,ip=dhcp"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    // a normal container clones only fully
    let r = s
        .post(
            "/nodes/testnode/lxc/9762/clone",
            &[("newid", "9763"), ("full", "0")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["full"].is_string());

    let r = s.post("/nodes/testnode/lxc/9762/template", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conf = s
        .get("/nodes/testnode/lxc/9762/config", &[])
        .await
        .data()
        .clone();
    assert_eq!(conf["template"], 1);
    // a subvolume template keeps its name and becomes read-only
    assert!(
        conf["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("bt:9762/subvol-9762-disk-0.subvol"),
        "{conf}"
    );
    let r = s.post("/nodes/testnode/lxc/9762/status/start", &[]).await;
    assert_eq!(r.status, 500, "a template does not start");

    // linked clone on the same btrfs
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9762/clone",
            &[("newid", "9763"), ("hostname", "linked")],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(t["type"], "vzclone");
    let c = s
        .get("/nodes/testnode/lxc/9763/config", &[])
        .await
        .data()
        .clone();
    let rootfs = c["rootfs"].as_str().unwrap();
    assert!(
        rootfs.starts_with("bt:9763/subvol-9763-disk-0.subvol,size=256M"),
        "{c}"
    );
    assert!(c.get("template").is_none());
    assert_ne!(c["net0"], conf["net0"], "a new MAC");
    // full clone to the dir storage
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9762/clone",
            &[
                ("newid", "9764"),
                ("full", "1"),
                ("storage", "local"),
                ("hostname", "full"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let c = s
        .get("/nodes/testnode/lxc/9764/config", &[])
        .await
        .data()
        .clone();
    assert!(
        c["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("local:9764/vm-9764-disk-0.raw"),
        "{c}"
    );
    let r = s
        .post("/nodes/testnode/lxc/9762/clone", &[("newid", "9764")])
        .await;
    assert_eq!(r.status, 400, "the new VMID is taken");
    assert!(r.body["errors"]["newid"].is_string(), "{:?}", r.body);

    // move the full clone's rootfs back to btrfs, keeping the old one as unused0
    let t = task(
        &s,
        s.post(
            "/nodes/testnode/lxc/9764/move_volume",
            &[("volume", "rootfs"), ("storage", "bt")],
        )
        .await,
    )
    .await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(t["type"], "move_volume");
    let c = s
        .get("/nodes/testnode/lxc/9764/config", &[])
        .await
        .data()
        .clone();
    assert!(
        c["rootfs"]
            .as_str()
            .unwrap()
            .starts_with("bt:9764/vm-9764-disk-"),
        "{c}"
    );
    assert_eq!(c["unused0"], "local:9764/vm-9764-disk-0.raw");
    let r = s
        .post(
            "/nodes/testnode/lxc/9764/move_volume",
            &[("volume", "mp3"), ("storage", "bt")],
        )
        .await;
    assert_eq!(r.status, 400, "no such volume");

    for (vmid, name) in [(9763, "linked"), (9764, "full")] {
        let t = task(
            &s,
            s.post(&format!("/nodes/testnode/lxc/{vmid}/status/start"), &[])
                .await,
        )
        .await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
        assert_eq!(
            attach(&lxc_path, vmid, "hostname; cat /run/oxve-init"),
            format!("{name}\noxve-ct-init started {name}")
        );
    }
    for vmid in [9763, 9764, 9762] {
        let t = task(
            &s,
            s.delete(&format!("/nodes/testnode/lxc/{vmid}"), &[("force", "1")])
                .await,
        )
        .await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
    }
    assert!(
        !d.data_dir
            .join("local/images/9764/vm-9764-disk-0.raw")
            .exists(),
        "the unused volume is freed too"
    );
}
