//! Real QEMU for the integration tests: the guest image (built by
//! `scripts/build-guest-image.sh`, cached), a QEMU child process killed on drop, the serial log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oxve_qmp::{ConnectOptions, QmpClient};

/// Debian packages the real-QEMU tests need.
pub const PACKAGES: &str = "qemu-system-x86 qemu-utils cpio dosfstools mtools syslinux \
     syslinux-common isolinux xorriso fdisk";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when the tests were told to skip real QEMU (`OXVE_SKIP_QEMU_TESTS=1`); panics with the
/// packages to install when QEMU is missing otherwise, so a CI without them fails loudly.
pub fn skip_without_qemu() -> bool {
    if std::env::var_os("OXVE_SKIP_QEMU_TESTS").is_some_and(|v| v == "1") {
        eprintln!("OXVE_SKIP_QEMU_TESTS=1: skipping a real-QEMU test");
        return true;
    }
    let found = Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "qemu-system-x86_64 not found: apt-get install {PACKAGES} (or set OXVE_SKIP_QEMU_TESTS=1)"
    );
    false
}

/// The directory with the built guest image (`OXVE_GUEST_DIR`, default `target/guest` in the
/// workspace), built or refreshed once per test process.
pub fn guest_dir() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = built.as_ref() {
        return dir.clone();
    }
    let dir = std::env::var_os("OXVE_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/guest"));
    let status = Command::new("bash")
        .arg(workspace().join("scripts/build-guest-image.sh"))
        .arg(&dir)
        .status()
        .expect("run scripts/build-guest-image.sh");
    assert!(
        status.success(),
        "scripts/build-guest-image.sh failed (needs: apt-get install {PACKAGES})"
    );
    *built = Some(dir.clone());
    dir
}

/// Runs a command and panics with its output when it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A QEMU child process with its own temp dir; killed (and the dir removed) on drop.
pub struct Qemu {
    child: Option<Child>,
    started: Instant,
    /// Temp dir for sockets, logs and disks (removed after QEMU is killed).
    pub dir: tempfile::TempDir,
}

impl Qemu {
    /// Starts `qemu-system-x86_64` under TCG with a QMP socket and the serial port written to
    /// `serial.log`, plus `args`.
    pub fn start(dir: tempfile::TempDir, args: &[String]) -> Qemu {
        let qmp = dir.path().join("qmp.sock");
        let serial = dir.path().join("serial.log");
        let stderr = std::fs::File::create(dir.path().join("qemu.stderr")).unwrap();
        let child = Command::new("qemu-system-x86_64")
            .args([
                "-accel",
                "tcg",
                "-nodefaults",
                "-no-user-config",
                "-display",
                "none",
            ])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start qemu-system-x86_64");
        Qemu {
            child: Some(child),
            started: Instant::now(),
            dir,
        }
    }

    /// Connects to its QMP socket (waiting for QEMU to create it).
    pub async fn connect(&self) -> QmpClient {
        let opts = ConnectOptions {
            wait_for_socket: Duration::from_secs(20),
            ..ConnectOptions::default()
        };
        match QmpClient::connect_with(self.dir.path().join("qmp.sock"), opts).await {
            Ok(c) => c,
            Err(e) => panic!("connecting to QEMU's QMP: {e} ({})", self.stderr()),
        }
    }

    /// What the guest printed on its serial port so far.
    pub fn serial(&self) -> String {
        std::fs::read(self.dir.path().join("serial.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// What QEMU printed on stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("qemu.stderr")).unwrap_or_default()
    }

    /// Waits until the serial log contains `marker`; returns the time since QEMU started.
    pub async fn wait_serial(&self, marker: &str, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            if self.serial().contains(marker) {
                return self.started.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "no {marker:?} on the serial console after {timeout:?}; serial:\n{}\nqemu: {}",
                self.serial(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for QEMU to exit and returns whether it exited successfully.
    pub async fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("child");
        loop {
            if let Some(status) = child.try_wait().expect("wait for qemu") {
                self.child = None;
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "QEMU still running after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Checks what the guest writes to a blank data disk (see guest/README.md): a header with
/// `writes=N` and the report, then 1 MiB of `PATTERN\n` repeated.
pub fn check_guest_disk(image: &[u8], pattern: &str, writes: u32) {
    let header = String::from_utf8_lossy(&image[..4096]);
    assert!(
        header.starts_with("OXVE-GUEST-DISK-DATA v1\n"),
        "no guest header: {header:?}"
    );
    assert!(header.contains(&format!("\nwrites={writes}\n")), "{header}");
    assert!(
        header.contains(&format!("\npattern={pattern}\n")),
        "{header}"
    );
    assert!(header.contains("\nOXVE-GUEST-INFO "), "{header}");
    let expected: Vec<u8> = format!("{pattern}\n")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(1 << 20)
        .collect();
    assert!(
        image[4096..4096 + (1 << 20)] == expected[..],
        "the pattern area differs"
    );
}
