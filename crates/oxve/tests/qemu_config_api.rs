//! VM configs through the API as Proxmox clients use them: create with disk allocation,
//! read with digest, update (sync and async), pending, bad input, undo on failure, destroy.

mod common;

use std::process::Command;

use common::{wait_task, Daemon, Session};
use serde_json::Value;

fn qemu_img_info(path: &std::path::Path) -> Value {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn create_update_and_destroy_a_vm_config() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;

    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "100"),
                ("name", "web1"),
                ("memory", "256"),
                ("cores", "2"),
                ("scsi0", "local:1,format=qcow2,iothread=1"),
                ("scsihw", "virtio-scsi-single"),
                ("net0", "virtio,bridge=vmbr0,firewall=1"),
                ("ide2", "none,media=cdrom"),
                ("ostype", "l26"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.contains(":qmcreate:100:admin@pve:"), "{upid}");
    let t = wait_task(&s, &upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    let cfg = s.get("/nodes/testnode/qemu/100/config", &[]).await;
    assert_eq!(cfg.status, 200, "{:?}", cfg.body);
    let c = cfg.data();
    assert_eq!(c["name"], "web1");
    assert_eq!(c["cores"], 2);
    assert_eq!(
        c["scsi0"],
        "local:100/vm-100-disk-0.qcow2,iothread=1,size=1G"
    );
    let net0 = c["net0"].as_str().unwrap();
    assert!(
        net0.starts_with("virtio=BC:24:11:") && net0.ends_with(",bridge=vmbr0,firewall=1"),
        "{net0}"
    );
    assert_eq!(c["boot"], "order=scsi0;ide2;net0");
    assert!(c["smbios1"].as_str().unwrap().starts_with("uuid="));
    assert_eq!(c["digest"].as_str().unwrap().len(), 40);
    let disk = d.data_dir.join("local/images/100/vm-100-disk-0.qcow2");
    let info = qemu_img_info(&disk);
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"].as_u64().unwrap(), 1 << 30);

    // listed for clients
    let list = s.get("/nodes/testnode/qemu", &[]).await;
    let vm = &list.data().as_array().unwrap()[0];
    assert_eq!(vm["vmid"], 100);
    assert_eq!(vm["name"], "web1");
    assert_eq!(vm["status"], "stopped");
    assert_eq!(vm["maxmem"].as_u64().unwrap(), 256 << 20);
    let res = s.get("/cluster/resources", &[("type", "vm")]).await;
    assert_eq!(res.data()[0]["id"], "qemu/100");
    assert_eq!(s.get("/cluster/nextid", &[]).await.data(), "101");

    // the same VMID again
    let r = s.post("/nodes/testnode/qemu", &[("vmid", "100")]).await;
    assert_eq!(r.status, 500);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));

    // updates: stale digest refused, then applied; add and remove a disk
    let digest = c["digest"].as_str().unwrap().to_string();
    let stale = s
        .put(
            "/nodes/testnode/qemu/100/config",
            &[
                ("cores", "4"),
                ("digest", "0000000000000000000000000000000000000000"),
            ],
        )
        .await;
    assert_eq!(stale.status, 500);
    assert!(stale.body["message"]
        .as_str()
        .unwrap()
        .contains("detected modified configuration"));
    let r = s
        .put(
            "/nodes/testnode/qemu/100/config",
            &[
                ("cores", "4"),
                ("scsi1", "local:2"),
                ("digest", digest.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = s
        .get("/nodes/testnode/qemu/100/config", &[])
        .await
        .data()
        .clone();
    assert_eq!(c["cores"], 4);
    assert!(
        c["scsi1"]
            .as_str()
            .unwrap()
            .starts_with("local:100/vm-100-disk-1."),
        "{c}"
    );
    let r = s
        .put(
            "/nodes/testnode/qemu/100/config",
            &[("delete", "scsi1,ide2")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = s
        .get("/nodes/testnode/qemu/100/config", &[])
        .await
        .data()
        .clone();
    assert!(c.get("scsi1").is_none() && c.get("ide2").is_none());
    let unused = c["unused0"].as_str().unwrap().to_string();
    assert!(
        unused.starts_with("local:100/vm-100-disk-1."),
        "detached disk kept as unused: {c}"
    );
    let r = s
        .put("/nodes/testnode/qemu/100/config", &[("delete", "unused0")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let leftover: Vec<_> = std::fs::read_dir(d.data_dir.join("local/images/100"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftover,
        vec!["vm-100-disk-0.qcow2".to_string()],
        "deleting unused0 frees the volume"
    );

    // async update returns a task
    let r = s
        .post(
            "/nodes/testnode/qemu/100/config",
            &[("description", "hello\nworld"), ("tags", "a;b")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let c = s
        .get("/nodes/testnode/qemu/100/config", &[])
        .await
        .data()
        .clone();
    assert_eq!(c["description"], "hello\nworld");
    let pending = s.get("/nodes/testnode/qemu/100/pending", &[]).await;
    assert!(pending
        .data()
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["key"] == "cores" && e["value"] == 4));

    // bad input: 400 naming the key, nothing changed
    for (key, value) in [
        ("net0", "virtio,tag=5000"),
        ("scsi2", "local:../../etc/passwd"),
        ("memory", "abc"),
        ("bogus", "1"),
        ("ostype", "dos"),
    ] {
        let r = s
            .put("/nodes/testnode/qemu/100/config", &[(key, value)])
            .await;
        assert_eq!(r.status, 400, "{key}={value}: {:?}", r.body);
        assert!(r.body["errors"][key].is_string(), "{key}: {:?}", r.body);
    }
    assert_eq!(
        s.get("/nodes/testnode/qemu/100/config", &[]).await.data()["digest"],
        c["digest"]
    );

    // a create whose allocation fails leaves nothing behind
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[
                ("vmid", "101"),
                ("scsi0", "local:1"),
                ("scsi1", "local:99999999"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_ne!(t["exitstatus"], "OK");
    assert_eq!(
        s.get("/nodes/testnode/qemu/101/config", &[]).await.status,
        500
    );
    assert!(
        !d.data_dir
            .join("local/images/101/vm-101-disk-0.raw")
            .exists()
            && !d
                .data_dir
                .join("local/images/101/vm-101-disk-0.qcow2")
                .exists(),
        "first disk freed again"
    );
    assert_eq!(s.get("/cluster/nextid", &[]).await.data(), "101");

    // destroy: refused under protection, then removes config and disks
    s.put("/nodes/testnode/qemu/100/config", &[("protection", "1")])
        .await;
    let r = s.delete("/nodes/testnode/qemu/100", &[]).await;
    assert_eq!(r.status, 500);
    assert!(r.body["message"].as_str().unwrap().contains("protection"));
    s.put(
        "/nodes/testnode/qemu/100/config",
        &[("delete", "protection")],
    )
    .await;
    let r = s
        .delete("/nodes/testnode/qemu/100", &[("purge", "1")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert!(!disk.exists());
    let missing = s.get("/nodes/testnode/qemu/100/config", &[]).await;
    assert_eq!(missing.status, 500);
    assert!(missing.body["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
}

#[tokio::test]
async fn vm_permissions() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", "200"), ("memory", "128")],
        )
        .await;
    wait_task(&s, r.data().as_str().unwrap()).await;
    s.post(
        "/access/users",
        &[("userid", "vmuser@pve"), ("password", "vmuser-pass-1")],
    )
    .await;
    s.put(
        "/access/acl",
        &[
            ("path", "/vms/200"),
            ("roles", "PVEVMUser"),
            ("users", "vmuser@pve"),
        ],
    )
    .await;
    let u = Session::new(&d, "vmuser@pve", "vmuser-pass-1").await;
    assert_eq!(
        u.get("/nodes/testnode/qemu/200/config", &[]).await.status,
        200
    );
    // PVEVMUser may change the CD-ROM but not the memory, nor create or destroy VMs
    let r = u
        .put("/nodes/testnode/qemu/200/config", &[("memory", "512")])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("VM.Config.Memory"));
    assert_eq!(
        u.put(
            "/nodes/testnode/qemu/200/config",
            &[("ide2", "none,media=cdrom")]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        u.post("/nodes/testnode/qemu", &[("vmid", "201")])
            .await
            .status,
        403
    );
    assert_eq!(u.delete("/nodes/testnode/qemu/200", &[]).await.status, 403);
    assert_eq!(
        u.get("/nodes/testnode/qemu", &[])
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn resize_and_move_disk_offline() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let other = tempfile::tempdir().unwrap();
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "fast"),
                ("type", "dir"),
                ("path", other.path().to_str().unwrap()),
                ("content", "images"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", "300"), ("scsi0", "local:1,format=raw")],
        )
        .await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let raw = d.data_dir.join("local/images/300/vm-300-disk-0.raw");
    // put recognisable data on the disk
    let pattern: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 253) as u8).collect();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&raw).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(&pattern).unwrap();
    }

    let r = s
        .put(
            "/nodes/testnode/qemu/300/resize",
            &[("disk", "scsi0"), ("size", "+1G")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert_eq!(
        qemu_img_info(&raw)["virtual-size"].as_u64().unwrap(),
        2 << 30
    );
    let c = s
        .get("/nodes/testnode/qemu/300/config", &[])
        .await
        .data()
        .clone();
    assert_eq!(c["scsi0"], "local:300/vm-300-disk-0.raw,size=2G");
    let shrink = s
        .put(
            "/nodes/testnode/qemu/300/resize",
            &[("disk", "scsi0"), ("size", "1G")],
        )
        .await;
    assert_eq!(shrink.status, 400, "{:?}", shrink.body);
    assert_eq!(
        s.put(
            "/nodes/testnode/qemu/300/resize",
            &[("disk", "scsi0"), ("size", "big")]
        )
        .await
        .status,
        400
    );
    assert_eq!(
        s.put(
            "/nodes/testnode/qemu/300/resize",
            &[("disk", "scsi5"), ("size", "+1G")]
        )
        .await
        .status,
        400
    );

    let r = s
        .post(
            "/nodes/testnode/qemu/300/move_disk",
            &[("disk", "scsi0"), ("storage", "fast"), ("format", "qcow2")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    let log = s
        .get(
            &format!("/nodes/testnode/tasks/{}/log", r.data().as_str().unwrap()),
            &[],
        )
        .await;
    assert!(log
        .data()
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["t"].as_str().unwrap().contains("transferred")));
    let c = s
        .get("/nodes/testnode/qemu/300/config", &[])
        .await
        .data()
        .clone();
    assert_eq!(c["scsi0"], "fast:300/vm-300-disk-0.qcow2,size=2G");
    assert_eq!(c["unused0"], "local:300/vm-300-disk-0.raw");
    let moved = other.path().join("images/300/vm-300-disk-0.qcow2");
    assert_eq!(qemu_img_info(&moved)["format"], "qcow2");
    let cmp = Command::new("qemu-img")
        .args(["compare", "-f", "raw", "-F", "qcow2"])
        .arg(&raw)
        .arg(&moved)
        .output()
        .unwrap();
    assert!(
        cmp.status.success(),
        "copy differs: {}",
        String::from_utf8_lossy(&cmp.stdout)
    );

    // move back with delete: the source goes away
    let r = s
        .post(
            "/nodes/testnode/qemu/300/move_disk",
            &[("disk", "scsi0"), ("storage", "local"), ("delete", "1")],
        )
        .await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    assert!(!moved.exists());
    let c = s
        .get("/nodes/testnode/qemu/300/config", &[])
        .await
        .data()
        .clone();
    assert!(
        c["scsi0"]
            .as_str()
            .unwrap()
            .starts_with("local:300/vm-300-disk-1.qcow2"),
        "{c}"
    );
}
