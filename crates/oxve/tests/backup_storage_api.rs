//! Backups on a storage through the API, on real archives written with the archive crate:
//! the content listing (format, size, ctime, vmid, subtype, notes, protected, verification),
//! volume attributes (`PUT .../content/{volume}`), the verify action catching a flipped byte,
//! deleting with the sidecars and log, protected backups refused; and retention
//! (`GET|DELETE .../prunebackups`) with Proxmox's marks.

mod common;

use std::path::{Path, PathBuf};

use common::{wait_task, Daemon, Session};
use oxve_archive::{ArchiveWriter, Compression, FileSource};
use serde_json::Value;

/// Writes a qemu backup archive of `vmid` with one 6 MiB disk (data, then a zero hole).
fn write_archive(path: &Path, vmid: u32, compression: Compression) {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&disk, &data).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .unwrap()
        .set_len(6 << 20)
        .unwrap();
    let out = std::fs::File::create(path).unwrap();
    let mut w = ArchiveWriter::new(out, compression, "qemu", vmid, 1_700_000_000).unwrap();
    w.add_config(
        "qemu-server.conf",
        b"memory: 128\nscsi0: local:100/vm-100-disk-0.raw\n",
    )
    .unwrap();
    let mut src = FileSource::open(&disk).unwrap();
    w.add_disk("drive-scsi0", &mut src, &mut |_, _| {}).unwrap();
    w.finish().unwrap();
}

fn dump_dir(d: &Daemon) -> PathBuf {
    let dir = d.data_dir.join("local/dump");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `{volume}` in a path: the volume id percent-encoded, as clients send it.
fn volume_path(volid: &str) -> String {
    let enc = volid.replace(':', "%3A").replace('/', "%2F");
    format!("/nodes/testnode/storage/local/content/{enc}")
}

async fn backups(s: &Session) -> Vec<Value> {
    let r = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "backup")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data().as_array().unwrap().clone()
}

fn find<'a>(list: &'a [Value], volid: &str) -> &'a Value {
    list.iter()
        .find(|e| e["volid"] == volid)
        .unwrap_or_else(|| panic!("{volid} not listed in {list:?}"))
}

/// The local time of a backup name's timestamp, as `date` computes it.
fn local_epoch(text: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-d", text, "+%s"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

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
async fn backup_listing_attributes_verify_and_delete() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let dump = dump_dir(&d);
    let good = "vzdump-qemu-100-2024_01_02-03_04_05.oxar.zst";
    let bad = "vzdump-qemu-101-2024_01_03-03_04_05.oxar";
    write_archive(&dump.join(good), 100, Compression::Zstd { threads: 1 });
    write_archive(&dump.join(bad), 101, Compression::None);
    let log = dump.join("vzdump-qemu-100-2024_01_02-03_04_05.log");
    std::fs::write(&log, "INFO: backup job log\n").unwrap();
    let good_id = format!("local:backup/{good}");
    let bad_id = format!("local:backup/{bad}");

    // Listed as Proxmox lists backups.
    let list = backups(&s).await;
    let e = find(&list, &good_id);
    assert_eq!(e["format"], "oxar.zst");
    assert_eq!(e["content"], "backup");
    assert_eq!(e["vmid"], 100);
    assert_eq!(e["subtype"], "qemu");
    assert_eq!(
        e["size"].as_u64().unwrap(),
        std::fs::metadata(dump.join(good)).unwrap().len()
    );
    assert_eq!(
        e["ctime"].as_i64().unwrap(),
        local_epoch("2024-01-02 03:04:05")
    );
    assert!(e.get("notes").is_none() && e.get("protected").is_none());
    assert!(e.get("verification").is_none());
    let r = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "backup"), ("vmid", "101")],
        )
        .await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);

    // Notes and protection.
    let r = s
        .put(
            &volume_path(&good_id),
            &[("notes", "nightly ✓\nsecond line"), ("protected", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let info = s.get(&volume_path(&good_id), &[]).await;
    assert_eq!(info.status, 200, "{:?}", info.body);
    assert_eq!(info.data()["notes"], "nightly ✓\nsecond line");
    assert_eq!(info.data()["protected"], 1);
    let e = find(&backups(&s).await, &good_id).clone();
    assert_eq!(e["notes"], "nightly ✓", "the listing shows the first line");
    assert_eq!(e["protected"], 1);
    let r = s.put(&volume_path(&good_id), &[("protected", "yes")]).await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["protected"].is_string(), "{:?}", r.body);

    // A protected backup cannot be deleted; nothing changes.
    let r = s.delete(&volume_path(&good_id), &[]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("protected"),
        "{:?}",
        r.body
    );
    assert!(dump.join(good).exists() && log.exists());

    // Verify: the intact archive passes, the one with a flipped data byte fails.
    let r = s
        .post(&format!("{}/verify", volume_path(&good_id)), &[])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert_eq!(wait_task(&s, &upid).await["exitstatus"], "OK");
    let bad_path = dump.join(bad);
    let mut bytes = std::fs::read(&bad_path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&bad_path, &bytes).unwrap();
    let r = s
        .post(&format!("{}/verify", volume_path(&bad_id)), &[])
        .await;
    let bad_upid = r.data().as_str().unwrap().to_string();
    let status = wait_task(&s, &bad_upid).await;
    assert_ne!(status["exitstatus"], "OK");
    let list = backups(&s).await;
    assert_eq!(find(&list, &good_id)["verification"]["state"], "ok");
    assert_eq!(find(&list, &good_id)["verification"]["upid"], upid.as_str());
    assert_eq!(find(&list, &bad_id)["verification"]["state"], "failed");
    assert_eq!(
        find(&list, &bad_id)["verification"]["upid"],
        bad_upid.as_str()
    );

    // Unprotected, it is deleted with its notes, log and verification record.
    let r = s.put(&volume_path(&good_id), &[("protected", "0")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.delete(&volume_path(&good_id), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    let left: Vec<String> = std::fs::read_dir(&dump)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.contains("-100-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // Rights: a backup operator of guest 101 may change its backup, not another guest's.
    let op = user(
        &s,
        &d,
        "op",
        &[
            ("/storage/local", "PVEDatastoreUser"),
            ("/vms/101", "PVEVMUser"),
        ],
    )
    .await;
    let r = op.put(&volume_path(&bad_id), &[("notes", "checked")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    write_archive(&dump.join(good), 100, Compression::Zstd { threads: 1 });
    let r = op.put(&volume_path(&good_id), &[("notes", "mine")]).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let seen: Vec<Value> = backups(&op).await;
    assert!(seen.iter().all(|e| e["vmid"] == 101), "{seen:?}");
    let r = op
        .post(&format!("{}/verify", volume_path(&good_id)), &[])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // max-protected-backups limits protected backups per guest.
    let r = s
        .put("/storage/local", &[("max-protected-backups", "1")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let second = "local:backup/vzdump-qemu-101-2024_01_04-03_04_05.oxar";
    write_archive(
        &dump.join("vzdump-qemu-101-2024_01_04-03_04_05.oxar"),
        101,
        Compression::None,
    );
    assert_eq!(
        op.put(&volume_path(&bad_id), &[("protected", "1")])
            .await
            .status,
        200
    );
    let r = op.put(&volume_path(second), &[("protected", "1")]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["errors"]["protected"]
            .as_str()
            .unwrap()
            .contains("limited to 1"),
        "{:?}",
        r.body
    );
    assert!(!dump
        .join("vzdump-qemu-101-2024_01_04-03_04_05.oxar.protected")
        .exists());
}

/// Backup files (content not needed for pruning) named for `vmid` at the given local times.
fn touch_backups(dump: &Path, kind: &str, vmid: u32, times: &[&str]) -> Vec<String> {
    times
        .iter()
        .map(|t| {
            let name = format!("vzdump-{kind}-{vmid}-{t}.oxar.zst");
            std::fs::write(dump.join(&name), b"x").unwrap();
            let stem = name.trim_end_matches(".oxar.zst");
            std::fs::write(dump.join(format!("{stem}.log")), b"log").unwrap();
            format!("local:backup/{name}")
        })
        .collect()
}

fn marks(list: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["volid"].as_str().unwrap().to_string(),
                e["mark"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn prune_backups_dry_run_and_task() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let dump = dump_dir(&d);
    let q100 = touch_backups(
        &dump,
        "qemu",
        100,
        &[
            "2024_03_01-10_00_00",
            "2024_03_01-22_00_00",
            "2024_03_02-09_00_00",
            "2024_03_02-21_00_00",
            "2024_03_03-03_00_00",
        ],
    );
    let ct100 = touch_backups(&dump, "lxc", 100, &["2024_03_01-10_00_00"]);
    let q101 = touch_backups(
        &dump,
        "qemu",
        101,
        &["2024_02_01-10_00_00", "2024_02_02-10_00_00"],
    );
    std::fs::write(
        dump.join(format!(
            "{}.protected",
            q101[0].trim_start_matches("local:backup/")
        )),
        b"",
    )
    .unwrap();
    std::fs::write(dump.join("vzdump-qemu-100-custom-name.oxar.zst"), b"x").unwrap();
    let prune = "/nodes/testnode/storage/local/prunebackups";

    // One guest: keep-daily=2 keeps the newest backup of each of the last two days.
    let r = s
        .get(
            prune,
            &[
                ("prune-backups", "keep-daily=2"),
                ("vmid", "100"),
                ("type", "qemu"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut want: Vec<(String, String)> = q100
        .iter()
        .zip(["remove", "remove", "remove", "keep", "keep"])
        .map(|(v, m)| (v.clone(), m.to_string()))
        .collect();
    want.push((
        "local:backup/vzdump-qemu-100-custom-name.oxar.zst".into(),
        "renamed".into(),
    ));
    want.sort();
    assert_eq!(marks(r.data()), want);
    let e = &r.data().as_array().unwrap()[0];
    assert!(
        e["ctime"].is_i64() && e["type"] == "qemu" && e["vmid"] == 100,
        "{e:?}"
    );

    // The whole storage: groups per guest; protected backups are marked so and not counted.
    let r = s.get(prune, &[("prune-backups", "keep-last=1")]).await;
    let all = marks(r.data());
    let mark_of = |v: &str| all.iter().find(|(x, _)| x == v).unwrap().1.clone();
    assert_eq!(mark_of(&q101[0]), "protected");
    assert_eq!(mark_of(&q101[1]), "keep");
    assert_eq!(mark_of(&ct100[0]), "keep");
    assert_eq!(mark_of(&q100[4]), "keep");
    assert_eq!(mark_of(&q100[0]), "remove");
    // Without options, the storage's (local: keep-all=1).
    let r = s.get(prune, &[("vmid", "100")]).await;
    assert!(marks(r.data())
        .iter()
        .all(|(_, m)| m == "keep" || m == "renamed"));

    // Bad input names the parameter and changes nothing.
    let r = s.get(prune, &[("prune-backups", "keep-lots=1")]).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["errors"]["prune-backups"].is_string(),
        "{:?}",
        r.body
    );
    let r = s
        .delete(prune, &[("prune-backups", "keep-all=1,keep-last=1")])
        .await;
    assert_eq!(r.status, 400);
    let r = s.get(prune, &[("type", "openvz")]).await;
    assert_eq!(r.status, 400);

    // Permissions: auditing is not enough to prune.
    let auditor = user(&s, &d, "aud", &[("/storage/local", "PVEDatastoreUser")]).await;
    assert_eq!(
        auditor
            .get(prune, &[("prune-backups", "keep-last=1")])
            .await
            .status,
        200
    );
    let r = auditor
        .delete(prune, &[("prune-backups", "keep-last=1")])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // The prune task removes what the dry run marked, with the logs.
    let r = s
        .delete(
            prune,
            &[
                ("prune-backups", "keep-daily=2"),
                ("vmid", "100"),
                ("type", "qemu"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.contains(":prunebackups:100@local:"), "{upid}");
    assert_eq!(wait_task(&s, &upid).await["exitstatus"], "OK");
    let exists = |volid: &str| {
        dump.join(volid.trim_start_matches("local:backup/"))
            .exists()
    };
    assert!(!exists(&q100[0]) && !exists(&q100[1]) && !exists(&q100[2]));
    assert!(exists(&q100[3]) && exists(&q100[4]));
    assert!(!dump
        .join("vzdump-qemu-100-2024_03_01-10_00_00.log")
        .exists());
    assert!(dump
        .join("vzdump-qemu-100-2024_03_02-21_00_00.log")
        .exists());
    assert!(exists(&ct100[0]) && exists(&q101[0]));
    assert!(dump.join("vzdump-qemu-100-custom-name.oxar.zst").exists());
}

/// `GET .../vzdump/defaults` and `GET .../vzdump/extractconfig`, with their permissions.
#[tokio::test]
async fn vzdump_defaults_and_extracted_config() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let dump = dump_dir(&d);
    let name = "vzdump-qemu-100-2026_01_02-03_04_05.oxar.zst";
    write_archive(&dump.join(name), 100, Compression::Zstd { threads: 1 });
    let volid = format!("local:backup/{name}");

    let r = s.get("/nodes/testnode/vzdump/defaults", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let defaults = r.data();
    assert_eq!(defaults["storage"], "local");
    assert_eq!(defaults["mode"], "snapshot");
    assert_eq!(defaults["stdexcludes"], 1);
    assert_eq!(defaults["prune-backups"], "keep-all=1");
    assert_eq!(defaults["dumpdir"], dump.to_str().unwrap());

    let r = s
        .get(
            "/nodes/testnode/vzdump/extractconfig",
            &[("volume", &volid)],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.data(),
        "memory: 128\nscsi0: local:100/vm-100-disk-0.raw\n"
    );
    let r = s
        .get(
            "/nodes/testnode/vzdump/extractconfig",
            &[(
                "volume",
                "local:backup/vzdump-qemu-100-2020_01_01-00_00_00.oxar",
            )],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // A backup user sees the defaults without the node's paths, and may not read the
    // config of a guest it cannot back up.
    let u = user(
        &s,
        &d,
        "backupuser",
        &[("/storage/local", "PVEDatastoreUser")],
    )
    .await;
    let r = u.get("/nodes/testnode/vzdump/defaults", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.data().get("dumpdir").is_none(), "{:?}", r.body);
    assert_eq!(r.data()["mode"], "snapshot");
    let r = u
        .get(
            "/nodes/testnode/vzdump/extractconfig",
            &[("volume", &volid)],
        )
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let nobody = user(&s, &d, "nobody", &[]).await;
    let r = nobody.get("/nodes/testnode/vzdump/defaults", &[]).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
}
