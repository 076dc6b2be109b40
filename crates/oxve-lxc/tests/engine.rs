//! The engine against real LXC (as root): a rootfs from the project's template on a raw
//! image, an unprivileged container started, a command run inside, frozen and thawed,
//! limits changed live, shut down cleanly. Skipped when not root or LXC is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxve_lxc::{create_rootfs, LxcEngine, RootfsSpec, VolumePath, VolumeResolver};
use oxve_types::lxc::CtConfig;

fn template() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/ct-template");
    let tmpl = out.join("oxve-busybox_1.0_amd64.tar.zst");
    if !tmpl.exists() {
        let status = std::process::Command::new(root.join("scripts/build-ct-template.sh"))
            .arg(&out)
            .status()
            .expect("build the CT template");
        assert!(status.success());
    }
    tmpl
}

fn usable() -> bool {
    nix::unistd::Uid::effective().is_root() && Path::new("/usr/bin/lxc-start").exists()
}

struct Image(PathBuf);

impl VolumeResolver for Image {
    fn resolve(&self, _volid: &str) -> Result<VolumePath, String> {
        Ok(VolumePath::Image(self.0.clone()))
    }
}

/// Stops the container even when an assertion fails.
struct StopOnDrop(u32, PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("lxc-stop")
            .args(["-n", &self.0.to_string(), "-P"])
            .arg(&self.1)
            .arg("-k")
            .status();
    }
}

#[tokio::test]
async fn unprivileged_container_lifecycle() {
    if !usable() {
        eprintln!("skipped: needs root and lxc");
        return;
    }
    let vmid = 9801;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("vm-9801-disk-0.raw");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(128 << 20)
        .unwrap();
    let conf = CtConfig::parse(
        "hostname: engine-test\nmemory: 64\nswap: 0\ncores: 1\nunprivileged: 1\n\
         rootfs: local:9801/vm-9801-disk-0.raw,size=128M\nnameserver: 10.0.0.53\n",
    )
    .unwrap();
    let spec = RootfsSpec {
        vmid,
        conf: &conf,
        template: &template(),
        password: Some("secret-pw"),
        ssh_public_keys: Some("ssh-ed25519 AAAAC3Nza test@oxve"),
    };
    create_rootfs(
        &spec,
        &VolumePath::Image(image.clone()),
        &dir.path().join("mnt"),
        &|m| eprintln!("{m}"),
    )
    .unwrap();

    let engine = LxcEngine::new(&dir.path().join("run"));
    let _stop = StopOnDrop(vmid, engine.paths().lxc_path().to_path_buf());
    let report = engine
        .start(vmid, &conf, &Image(image.clone()))
        .await
        .unwrap();
    assert!(engine.is_running(vmid).is_some());
    // the fast init lookup agrees with LXC's own
    let info = std::process::Command::new("lxc-info")
        .args(["-n", "9801", "-p", "-H", "-P"])
        .arg(engine.paths().lxc_path())
        .output()
        .unwrap();
    let by_lxc: u32 = String::from_utf8_lossy(&info.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(report.pid, by_lxc);
    let uid_map = std::fs::read_to_string(format!("/proc/{}/uid_map", report.pid)).unwrap();
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );

    let out = engine.exec(vmid, &["/bin/sh", "-c", "hostname; cat /run/oxve-init; id -u; cat /etc/resolv.conf; grep -c '^root:[$]6[$]' /etc/shadow; cat /root/.ssh/authorized_keys"]).await.unwrap();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "engine-test");
    assert_eq!(lines[1], "oxve-ct-init started engine-test");
    assert_eq!(lines[2], "0");
    assert_eq!(lines[3], "nameserver 10.0.0.53");
    assert_eq!(lines[4], "1", "root has a SHA-512 password hash");
    assert_eq!(lines[5], "ssh-ed25519 AAAAC3Nza test@oxve");

    // a file root creates inside belongs to host uid 100000
    let out = engine
        .exec(vmid, &["/bin/touch", "/root/made-inside"])
        .await
        .unwrap();
    assert_eq!(out.status, 0);
    let meta = std::fs::metadata(format!("/proc/{}/root/root/made-inside", report.pid)).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 100_000);

    let st = engine.status(vmid, &conf).await;
    assert_eq!(st.status, "running");
    assert_eq!(st.maxmem, 64 << 20);
    assert!(st.mem > 0 && st.mem <= 64 << 20, "{st:?}");
    assert!(st.disk > 0 && st.maxdisk > 0, "{st:?}");
    assert_eq!(
        oxve_lxc::process::cgroup_u64(report.pid, "memory", "memory.limit_in_bytes"),
        Some(64 << 20)
    );
    engine.set_memory_limits(vmid, 96, 32).await.unwrap();
    assert_eq!(
        oxve_lxc::process::cgroup_u64(report.pid, "memory", "memory.limit_in_bytes"),
        Some(96 << 20)
    );
    assert_eq!(
        oxve_lxc::process::cgroup_u64(report.pid, "memory", "memory.memsw.limit_in_bytes"),
        Some(128 << 20)
    );
    engine.set_memory_limits(vmid, 48, 0).await.unwrap();
    assert_eq!(
        oxve_lxc::process::cgroup_u64(report.pid, "memory", "memory.limit_in_bytes"),
        Some(48 << 20)
    );

    engine.suspend(vmid).await.unwrap();
    assert_eq!(engine.status(vmid, &conf).await.frozen, Some(1));
    engine.resume(vmid).await.unwrap();
    assert_eq!(engine.status(vmid, &conf).await.frozen, None);

    // a second engine (a restarted daemon) sees the same container
    let again = LxcEngine::new(&dir.path().join("run"));
    assert_eq!(again.init_pid(vmid).await, Some(report.pid));
    assert!(matches!(
        again.start(vmid, &conf, &Image(image.clone())).await,
        Err(oxve_lxc::LxcError::AlreadyRunning { .. })
    ));

    again
        .shutdown(vmid, Duration::from_secs(10), false)
        .await
        .unwrap();
    assert!(engine.is_running(vmid).is_none());
    assert_eq!(engine.status(vmid, &conf).await.status, "stopped");
    // the rootfs loop device goes with the container (auto-clear, released asynchronously)
    let mut attached = true;
    for _ in 0..50 {
        let loops = std::process::Command::new("losetup")
            .arg("-a")
            .output()
            .unwrap();
        attached = String::from_utf8_lossy(&loops.stdout).contains(image.to_str().unwrap());
        if !attached {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!attached, "loop device of the rootfs released");
}

#[tokio::test]
async fn frozen_containers_stop_and_shut_down() {
    if !usable() {
        eprintln!("skipped: needs root and lxc");
        return;
    }
    let vmid = 9802;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("vm-9802-disk-0.raw");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let conf = CtConfig::parse("unprivileged: 1\nrootfs: local:9802/vm-9802-disk-0.raw\n").unwrap();
    let spec = RootfsSpec {
        vmid,
        conf: &conf,
        template: &template(),
        password: None,
        ssh_public_keys: None,
    };
    create_rootfs(
        &spec,
        &VolumePath::Image(image.clone()),
        &dir.path().join("mnt"),
        &|_| {},
    )
    .unwrap();
    let engine = LxcEngine::new(&dir.path().join("run"));
    let _stop = StopOnDrop(vmid, engine.paths().lxc_path().to_path_buf());
    let resolver = Image(image.clone());
    // a hard stop of a frozen container
    engine.start(vmid, &conf, &resolver).await.unwrap();
    engine.suspend(vmid).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        engine.stop(vmid, Duration::from_secs(10)),
    )
    .await
    .expect("stop of a frozen container returns")
    .unwrap();
    assert!(engine.is_running(vmid).is_none());
    // a clean shutdown of a frozen container thaws it first
    tokio::time::sleep(Duration::from_millis(300)).await;
    engine.start(vmid, &conf, &resolver).await.unwrap();
    engine.suspend(vmid).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        engine.shutdown(vmid, Duration::from_secs(10), false),
    )
    .await
    .expect("shutdown of a frozen container returns")
    .unwrap();
    assert!(engine.is_running(vmid).is_none());
}
