//! Helpers of the integration tests: the test guest image, a temp run dir whose QEMUs are
//! killed on drop (also when a test panics), and a serial console reader.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use oxve_qemu::{EngineOptions, MapResolver, QemuEngine};
use oxve_types::qemu::VmConfig;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory with the built test guest; builds it with `scripts/build-guest-image.sh`
/// when missing (the script caches and locks by itself).
pub fn guest_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = repo_root().join("target/guest");
        if !out.join("oxve-guest.qcow2").is_file() {
            let status = std::process::Command::new("bash")
                .arg(repo_root().join("scripts/build-guest-image.sh"))
                .arg(&out)
                .status()
                .expect("run scripts/build-guest-image.sh");
            assert!(status.success(), "building the test guest image failed");
        }
        assert!(
            out.join("oxve-guest.qcow2").is_file(),
            "no guest image in {}",
            out.display()
        );
        out
    })
    .clone()
}

/// Fails (never skips) when QEMU is not installed.
pub fn require_qemu() {
    let ok = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "qemu-system-x86_64 is needed by these tests (Debian package qemu-system-x86)"
    );
}

/// A temp dir with the run dir and disk images of one test. On drop, every QEMU whose pidfile
/// is in its run dir (and whose command line names the dir) is killed, then the dir removed.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        require_qemu();
        TestEnv {
            dir: tempfile::Builder::new()
                .prefix("oxq")
                .tempdir()
                .expect("temp dir"),
        }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A new engine on the run dir (TCG: this host cannot run KVM guests).
    pub fn engine(&self) -> QemuEngine {
        QemuEngine::new(EngineOptions::new(self.run_dir(), false))
    }

    /// Copies the guest's qcow2 boot disk into the test dir.
    pub fn boot_disk(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::copy(guest_dir().join("oxve-guest.qcow2"), &path).expect("copy guest image");
        path
    }

    /// A blank (sparse) raw disk of `mib` MiB.
    pub fn blank_disk(&self, name: &str, mib: u64) -> PathBuf {
        let path = self.dir.path().join(name);
        let f = std::fs::File::create(&path).expect("create disk");
        f.set_len(mib << 20).expect("size disk");
        path
    }

    /// QEMU processes started from this test's run dir that still exist (zombies excluded).
    pub fn qemu_pids(&self) -> Vec<u32> {
        let needle = self.run_dir().to_string_lossy().into_owned();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("qemu-system") && cmdline.contains(&needle) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Files left in the run dir's `qemu/` directory.
    pub fn run_files(&self) -> Vec<String> {
        std::fs::read_dir(self.run_dir().join("qemu"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for pid in self.qemu_pids() {
            eprintln!("test cleanup: killing QEMU {pid}");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The volumes of a test VM: `test:<name>` -> file in the test dir.
pub fn resolver(volumes: &[(&str, &Path, &str)]) -> MapResolver {
    let mut r = MapResolver::new();
    for (volid, path, format) in volumes {
        r.insert(volid, path.to_string_lossy(), Some(format));
    }
    r
}

/// Parses a config, panicking with the message on error.
pub fn config(text: &str) -> VmConfig {
    VmConfig::parse(text).unwrap_or_else(|e| panic!("config: {e}\n{text}"))
}

/// Everything read from a serial console, collected in the background.
#[derive(Clone)]
pub struct SerialLog {
    text: Arc<Mutex<String>>,
}

impl SerialLog {
    /// Starts reading `stream` into the log.
    pub fn start(mut stream: UnixStream) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        SerialLog { text }
    }

    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Waits until the console printed `marker`; panics with the console output after
    /// `timeout`.
    pub async fn wait_for(&self, marker: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let text = self.text();
            if text.contains(marker) {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("no {marker} on the serial console within {timeout:?}; output:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
