//! `oxve backup` and `oxve restore` (like vzdump and qmrestore) against a real daemon: a
//! stopped VM is backed up through the CLI in lzo and zstd, restored to new VMIDs through the
//! CLI, and the restored disks equal the source's. Backup jobs through `oxve backup-job`.

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{wait_task, Daemon, Session};
use serde_json::Value;

fn oxve(socket: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args(args)
        .env("OXVE_SOCKET", socket)
        .env_remove("OXVE_HOST")
        .output()
        .expect("run oxve");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(socket: &str, args: &[&str]) -> String {
    let (ok, out, err) = oxve(socket, args);
    assert!(ok, "{args:?}: {out}\n{err}");
    out
}

fn json(socket: &str, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--output-format", "json"]);
    serde_json::from_str(ok(socket, &args).trim()).unwrap()
}

/// The file of a `local:<vmid>/<file>` volume.
fn volume_path(d: &Daemon, volid: &str) -> PathBuf {
    let (_, name) = volid.split_once(':').unwrap();
    d.data_dir
        .join("local/images")
        .join(name.split(',').next().unwrap())
}

fn images_equal(a: &Path, b: &Path) -> bool {
    Command::new("qemu-img")
        .args(["compare", "-U", "-q"])
        .arg(a)
        .arg(b)
        .status()
        .unwrap()
        .success()
}

/// The archive a backup's log names.
fn archive_in(log: &str) -> String {
    let line = log
        .lines()
        .find(|l| l.contains("creating vzdump archive '"))
        .unwrap_or_else(|| panic!("no archive in log:\n{log}"));
    let path = line.split('\'').nth(1).unwrap();
    format!(
        "local:backup/{}",
        Path::new(path).file_name().unwrap().to_str().unwrap()
    )
}

#[tokio::test]
async fn backup_and_restore_through_the_cli() {
    let d = Daemon::start();
    let socket = d.socket();
    let socket = socket.to_str().unwrap();

    ok(
        socket,
        &[
            "vm",
            "create",
            "testnode",
            "700",
            "--memory",
            "128",
            "--name",
            "clisrc",
            "--scsi0",
            "local:1,format=raw",
            "--scsi1",
            "local:1,format=qcow2",
        ],
    );
    let conf = json(socket, &["vm", "config", "testnode", "700"]);
    let raw = volume_path(&d, conf["scsi0"].as_str().unwrap());
    let qcow = volume_path(&d, conf["scsi1"].as_str().unwrap());
    // Known data on both disks: a pattern at 3 MiB of the raw one, 2 MiB at 100 MiB of the
    // qcow2 one.
    let pattern: Vec<u8> = (0..(4u32 << 20)).map(|i| (i % 253) as u8).collect();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .write_all_at(&pattern, 3 << 20)
        .unwrap();
    let io = Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", "write -P 0x5a 100M 2M"])
        .arg(&qcow)
        .output()
        .unwrap();
    assert!(io.status.success(), "{io:?}");

    // Backup like vzdump: follows the task log, with the archive's name in it.
    let log = ok(
        socket,
        &[
            "backup",
            "700",
            "--mode",
            "stop",
            "--storage",
            "local",
            "--compress",
            "lzo",
            "--notes-template",
            "{{guestname}} by cli",
        ],
    );
    assert!(log.contains("Starting Backup of VM 700"), "{log}");
    assert!(log.contains("Backup job finished successfully"), "{log}");
    let lzo = archive_in(&log);
    assert!(lzo.ends_with(".oxar.lzo"), "{lzo}");
    let content = json(
        socket,
        &[
            "storage",
            "content",
            "testnode",
            "local",
            "--content",
            "backup",
        ],
    );
    let entry = content
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["volid"] == lzo.as_str())
        .unwrap_or_else(|| panic!("{lzo} not listed: {content}"));
    assert_eq!(entry["notes"], "clisrc by cli");

    // compress=1 is Proxmox's old name of lzo.
    let log = ok(
        socket,
        &[
            "backup",
            "700",
            "--storage",
            "local",
            "--compress",
            "1",
            "--remove",
            "0",
        ],
    );
    assert!(archive_in(&log).ends_with(".oxar.lzo"), "{log}");

    // `--background` prints the UPID.
    let upid = ok(
        socket,
        &[
            "backup",
            "--all",
            "--exclude",
            "999",
            "--storage",
            "local",
            "--compress",
            "zstd",
            "--background",
        ],
    );
    let upid = upid.trim();
    assert!(
        upid.starts_with("UPID:testnode:") && upid.contains(":vzdump:"),
        "{upid}"
    );
    let s = Session::admin(&d).await;
    let t = wait_task(&s, upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    // Restore like qmrestore, to a new VMID: the disks are equal to the source's.
    ok(socket, &["restore", &lzo, "701", "--storage", "local"]);
    let restored = json(socket, &["vm", "config", "testnode", "701"]);
    assert_eq!(restored["name"], "clisrc");
    assert!(images_equal(
        &raw,
        &volume_path(&d, restored["scsi0"].as_str().unwrap())
    ));
    assert!(images_equal(
        &qcow,
        &volume_path(&d, restored["scsi1"].as_str().unwrap())
    ));

    // A local archive file by path works too (as root on the node), with `--unique`.
    let file = d
        .data_dir
        .join("local/dump")
        .join(lzo.rsplit('/').next().unwrap());
    assert!(file.exists(), "{}", file.display());
    ok(
        socket,
        &["restore", file.to_str().unwrap(), "702", "--unique", "1"],
    );
    let restored = json(socket, &["vm", "config", "testnode", "702"]);
    assert!(images_equal(
        &raw,
        &volume_path(&d, restored["scsi0"].as_str().unwrap())
    ));

    // `--stdout 1`, like `vzdump --stdout`: the archive on stdout, the log on stderr; a file
    // made of it restores to the same disks, and no copy is left on the node.
    let out = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args(["backup", "700", "--compress", "zstd", "--stdout", "1"])
        .env("OXVE_SOCKET", socket)
        .env_remove("OXVE_HOST")
        .output()
        .expect("run oxve");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("Backup job finished successfully"), "{log}");
    assert!(
        out.stdout.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
        "zstd frame"
    );
    let streamed = d
        .data_dir
        .join("vzdump-qemu-700-2026_01_01-00_00_00.oxar.zst");
    std::fs::write(&streamed, &out.stdout).unwrap();
    ok(socket, &["restore", streamed.to_str().unwrap(), "704"]);
    let restored = json(socket, &["vm", "config", "testnode", "704"]);
    assert!(images_equal(
        &qcow,
        &volume_path(&d, restored["scsi1"].as_str().unwrap())
    ));
    let leftovers: Vec<_> = std::fs::read_dir("/var/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("oxve-vzdump-stdout-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (done, _, err) = oxve(socket, &["backup", "700", "701", "--stdout", "1"]);
    assert!(!done);
    assert!(err.contains("single VM"), "{err}");

    // Over an existing guest only with --force; failures exit non-zero.
    let (done, _, err) = oxve(socket, &["restore", &lzo, "701"]);
    assert!(!done, "restore over an existing VM without --force");
    assert!(err.contains("701") || err.contains("exists"), "{err}");
    ok(socket, &["restore", &lzo, "701", "--force", "1"]);
    let (done, _, err) = oxve(socket, &["restore", "local:backup/nothing.tar", "703"]);
    assert!(!done);
    assert!(err.contains("not a vzdump archive"), "{err}");
    let (done, _, err) = oxve(socket, &["backup", "--storage", "local"]);
    assert!(!done);
    assert!(err.contains("no guests"), "{err}");
    let (done, _, err) = oxve(socket, &["backup", "798"]);
    assert!(!done);
    assert!(err.contains("vmid"), "{err}");

    // Backup jobs in short form.
    ok(
        socket,
        &[
            "backup-job",
            "create",
            "nightly",
            "--schedule",
            "sat 02:00",
            "--storage",
            "local",
            "--vmid",
            "700",
        ],
    );
    let jobs = json(socket, &["backup-job", "list"]);
    assert!(
        jobs.as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == "nightly"),
        "{jobs}"
    );
    ok(socket, &["backup-job", "set", "nightly", "--enabled", "0"]);
    let job = json(socket, &["backup-job", "show", "nightly"]);
    assert!(job["enabled"] == 0 || job["enabled"] == "0", "{job}");
    ok(socket, &["backup-job", "delete", "nightly"]);
    let jobs = json(socket, &["backup-job", "list"]);
    assert!(jobs.as_array().unwrap().is_empty(), "{jobs}");
}

const TEMPLATE: &str = "oxve-busybox_1.0_amd64.tar.zst";

fn ct_template() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/ct-template");
    let file = out.join(TEMPLATE);
    if !file.exists() {
        let status = Command::new(root.join("scripts/build-ct-template.sh"))
            .arg(&out)
            .status()
            .expect("build the CT template");
        assert!(status.success());
    }
    file
}

/// Stops this test's containers even when it fails.
struct StopContainers(PathBuf);

impl Drop for StopContainers {
    fn drop(&mut self) {
        for id in ["9741", "9742"] {
            let _ = Command::new("lxc-stop")
                .args(["-n", id, "-k", "-P"])
                .arg(&self.0)
                .output();
        }
    }
}

/// A container archive name makes `oxve restore` a container restore (like `pct restore`):
/// a file written in the source comes back in the restored container.
#[test]
fn container_backup_and_restore_through_the_cli() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/usr/bin/lxc-start").exists() {
        eprintln!("skipped: needs root and the lxc package");
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let d = rt.block_on(async { Daemon::start() });
    let _stop = StopContainers(d.data_dir.join("run/lxc"));
    let socket = d.socket();
    let socket = socket.to_str().unwrap();
    let cache = d.data_dir.join("local/template/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(ct_template(), cache.join(TEMPLATE)).unwrap();
    let tmpl = format!("local:vztmpl/{TEMPLATE}");
    ok(
        socket,
        &[
            "ct",
            "create",
            "testnode",
            "9741",
            &tmpl,
            "--rootfs",
            "local:0.1",
            "--hostname",
            "clict",
        ],
    );
    ok(socket, &["ct", "start", "testnode", "9741"]);
    ok(
        socket,
        &[
            "ct",
            "exec",
            "9741",
            "--",
            "/bin/sh",
            "-c",
            "echo backed-up-by-cli > /root/marker",
        ],
    );
    ok(socket, &["ct", "stop", "testnode", "9741"]);

    let log = ok(
        socket,
        &[
            "backup",
            "9741",
            "--storage",
            "local",
            "--compress",
            "gzip",
            "--pigz",
            "2",
        ],
    );
    let archive = archive_in(&log);
    assert!(archive.contains("vzdump-lxc-9741-"), "{archive}");
    assert!(archive.ends_with(".oxar.gz"), "{archive}");
    assert!(
        log.contains("compressing with pigz (2 threads asked)"),
        "{log}"
    );
    ok(socket, &["restore", &archive, "9742", "--storage", "local"]);
    let conf = json(socket, &["ct", "config", "testnode", "9742"]);
    assert_eq!(conf["hostname"], "clict", "{conf}");
    ok(socket, &["ct", "start", "testnode", "9742"]);
    let marker = ok(socket, &["ct", "exec", "9742", "--", "cat", "/root/marker"]);
    assert_eq!(marker.trim(), "backed-up-by-cli");
    ok(socket, &["ct", "stop", "testnode", "9742"]);
}
