//! Storages through the API: storage.cfg CRUD, status, allocation with thin and thick
//! provisioning checked on the real files, volume info, upload with checksums, deletion, bad
//! input and permissions.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::{send, wait_task, Daemon, Session};
use serde_json::Value;

fn qemu_img_info(path: &str) -> Value {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", path])
        .output()
        .expect("qemu-img");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn allocated_bytes(path: &str) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

#[tokio::test]
async fn storage_config_alloc_and_provisioning() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let dirs = tempfile::tempdir().unwrap();
    let thin_path = dirs.path().join("thin");
    let thick_path = dirs.path().join("thick");

    // the default local storage exists from the first start
    let list = s.get("/nodes/testnode/storage", &[]).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let local = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["storage"] == "local")
        .unwrap()
        .clone();
    assert_eq!(local["type"], "dir");
    assert_eq!(local["active"], 1);
    assert!(local["total"].as_u64().unwrap() > 0);
    for c in ["iso", "vztmpl", "backup", "images", "rootdir", "snippets"] {
        assert!(
            local["content"]
                .as_str()
                .unwrap()
                .split(',')
                .any(|x| x == c),
            "{local}"
        );
    }

    // create storages
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "thin"),
                ("type", "dir"),
                ("path", thin_path.to_str().unwrap()),
                ("content", "images,iso"),
                ("preallocation", "off"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .post(
            "/storage",
            &[
                ("storage", "thick"),
                ("type", "dir"),
                ("path", thick_path.to_str().unwrap()),
                ("content", "images"),
                ("preallocation", "full"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_ne!(
        s.post(
            "/storage",
            &[("storage", "thin"), ("type", "dir"), ("path", "/tmp")]
        )
        .await
        .status,
        200
    );
    let bad = s
        .post("/storage", &[("storage", "x"), ("type", "dir")])
        .await;
    assert_eq!(bad.status, 400, "path is required: {:?}", bad.body);
    let bad = s
        .post(
            "/storage",
            &[("storage", "y"), ("type", "bogus"), ("path", "/tmp")],
        )
        .await;
    assert_eq!(bad.status, 400);

    let cfg = s.get("/storage/thin", &[]).await;
    assert_eq!(cfg.data()["path"], thin_path.to_str().unwrap());
    assert_eq!(cfg.data()["preallocation"], "off");
    let digest = cfg.data()["digest"].as_str().unwrap().to_string();
    // a stale digest changes nothing
    let stale = s
        .put(
            "/storage/thin",
            &[("content", "images"), ("digest", "0123")],
        )
        .await;
    assert_eq!(stale.status, 500);
    assert_eq!(
        s.get("/storage/thin", &[]).await.data()["content"],
        "images,iso"
    );
    let ok = s
        .put(
            "/storage/thin",
            &[
                ("content", "images,iso,vztmpl"),
                ("digest", digest.as_str()),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let types: Vec<String> = s
        .get("/storage", &[("type", "dir")])
        .await
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["storage"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"thin".to_string()) && types.contains(&"local".to_string()));

    // thin qcow2: sparse, right virtual size
    let r = s
        .post(
            "/nodes/testnode/storage/thin/content",
            &[
                ("vmid", "100"),
                ("filename", "vm-100-disk-0.qcow2"),
                ("size", "10G"),
                ("format", "qcow2"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data(), "thin:100/vm-100-disk-0.qcow2");
    let info = s
        .get(
            "/nodes/testnode/storage/thin/content/thin:100%2Fvm-100-disk-0.qcow2",
            &[],
        )
        .await;
    assert_eq!(info.status, 200, "{:?}", info.body);
    assert_eq!(info.data()["format"], "qcow2");
    assert_eq!(info.data()["size"].as_u64().unwrap(), 10 << 30);
    let path = info.data()["path"].as_str().unwrap().to_string();
    let q = qemu_img_info(&path);
    assert_eq!(q["format"], "qcow2");
    assert_eq!(q["virtual-size"].as_u64().unwrap(), 10 << 30);
    assert!(
        allocated_bytes(&path) < 4 << 20,
        "thin image allocated {} bytes",
        allocated_bytes(&path)
    );

    // thick raw: every block written
    let r = s
        .post(
            "/nodes/testnode/storage/thick/content",
            &[
                ("vmid", "101"),
                ("filename", "vm-101-disk-0.raw"),
                ("size", "64M"),
                ("format", "raw"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = thick_path.join("images/101/vm-101-disk-0.raw");
    let path = path.to_str().unwrap();
    assert_eq!(
        qemu_img_info(path)["virtual-size"].as_u64().unwrap(),
        64 << 20
    );
    assert!(
        allocated_bytes(path) >= 64 << 20,
        "thick image allocated {}",
        allocated_bytes(path)
    );

    // a thick allocation that does not fit is refused and leaves nothing
    let r = s
        .post(
            "/nodes/testnode/storage/thick/content",
            &[
                ("vmid", "101"),
                ("filename", "vm-101-disk-1.raw"),
                ("size", "100000G"),
                ("format", "raw"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(!thick_path.join("images/101/vm-101-disk-1.raw").exists());

    // listing with filters
    let content = s
        .get("/nodes/testnode/storage/thin/content", &[("vmid", "100")])
        .await;
    let items = content.data().as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["volid"], "thin:100/vm-100-disk-0.qcow2");
    assert_eq!(items[0]["vmid"], 100);
    assert_eq!(items[0]["content"], "images");
    let status = s.get("/nodes/testnode/storage/thin/status", &[]).await;
    assert!(
        status.data()["provisioned"].as_u64().unwrap() >= 10 << 30,
        "{:?}",
        status.body
    );

    // bad input: traversal, owner mismatch, bad sizes, unknown storage
    for (filename, size) in [
        ("../x.raw", "1G"),
        ("vm-100-disk-9.raw", "1G"),
        ("vm-100-disk-8.raw", "abc"),
    ] {
        let r = s
            .post(
                "/nodes/testnode/storage/thin/content",
                &[("vmid", "101"), ("filename", filename), ("size", size)],
            )
            .await;
        assert_eq!(r.status, 400, "{filename} {size}: {:?}", r.body);
    }
    let r = s
        .get(
            "/nodes/testnode/storage/local/content/local:..%2F..%2Fetc%2Fpasswd",
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = s.get("/nodes/testnode/storage/nosuch/status", &[]).await;
    assert_eq!(r.status, 500);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));

    // delete a volume (task)
    let r = s
        .delete(
            "/nodes/testnode/storage/thin/content/thin:100%2Fvm-100-disk-0.qcow2",
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK");
    assert!(!thin_path.join("images/100/vm-100-disk-0.qcow2").exists());

    // remove a storage definition; local stays
    assert_eq!(s.delete("/storage/thick", &[]).await.status, 200);
    assert_eq!(s.get("/storage/thick", &[]).await.status, 500);
    assert_eq!(s.delete("/storage/local", &[]).await.status, 400);
}

#[tokio::test]
async fn upload_with_checksum_and_permissions() {
    use sha2::{Digest, Sha256};
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sum = hex::encode(Sha256::digest(&data));

    let upload = |name: &'static str, checksum: String| {
        let form = reqwest::multipart::Form::new()
            .text("content", "iso")
            .text("checksum-algorithm", "sha256")
            .text("checksum", checksum)
            .part(
                "filename",
                reqwest::multipart::Part::bytes(data.clone()).file_name(name),
            );
        s.http
            .post(format!(
                "{}/api2/json/nodes/testnode/storage/local/upload",
                d.base
            ))
            .header("Cookie", format!("PVEAuthCookie={}", s.ticket))
            .header("CSRFPreventionToken", &s.csrf)
            .multipart(form)
    };
    let r = send(upload("good.iso", sum.clone())).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let iso = d.data_dir.join("local/template/iso/good.iso");
    assert_eq!(
        std::fs::read(&iso).unwrap(),
        data,
        "uploaded file is byte-identical"
    );
    let list = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "iso")],
        )
        .await;
    assert!(list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["volid"] == "local:iso/good.iso"));

    let r = send(upload("bad.iso", "00".repeat(32))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_ne!(t["exitstatus"], "OK");
    assert!(
        !d.data_dir.join("local/template/iso/bad.iso").exists(),
        "failed upload is deleted"
    );
    // no temp files are left behind
    let leftovers: Vec<_> = std::fs::read_dir(d.data_dir.join("tmp"))
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // the same name twice is refused
    let r = send(upload("good.iso", sum.clone())).await;
    assert_ne!(r.status, 200);

    // a user without datastore rights sees no storage and cannot upload
    s.post(
        "/access/users",
        &[("userid", "nobody@pve"), ("password", "nobody-pass-1")],
    )
    .await;
    let n = Session::new(&d, "nobody@pve", "nobody-pass-1").await;
    assert_eq!(
        n.get("/nodes/testnode/storage", &[])
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        n.get("/nodes/testnode/storage/local/status", &[])
            .await
            .status,
        403
    );
    assert_eq!(
        n.get("/storage", &[])
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        n.post(
            "/storage",
            &[("storage", "z"), ("type", "dir"), ("path", "/tmp/z")]
        )
        .await
        .status,
        403
    );
    // auditors see storages but not guest images of VMs they cannot audit
    s.put(
        "/access/acl",
        &[
            ("path", "/storage"),
            ("roles", "PVEDatastoreUser"),
            ("users", "nobody@pve"),
        ],
    )
    .await;
    assert_eq!(
        n.get("/nodes/testnode/storage/local/status", &[])
            .await
            .status,
        200
    );
}
