//! Facts about the host that shape the command line (KVM, bridges, firmware, CPU vendor), so
//! that building it stays a pure function of config + facts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The CPU vendor of the host (nested virtualization is `vmx` on Intel, `svm` on AMD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuVendor {
    #[default]
    Intel,
    Amd,
}

/// OVMF (UEFI) firmware files: the read-only code and the template of the variable store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvmfFirmware {
    pub code: PathBuf,
    pub vars_template: PathBuf,
}

/// Where Debian's `ovmf` package puts the firmware, best first.
const OVMF_CANDIDATES: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
    (
        "/usr/share/pve-edk2-firmware/OVMF_CODE_4M.fd",
        "/usr/share/pve-edk2-firmware/OVMF_VARS_4M.fd",
    ),
];

impl OvmfFirmware {
    /// The installed OVMF firmware, if any.
    pub fn detect() -> Option<Self> {
        OVMF_CANDIDATES.iter().find_map(|(code, vars)| {
            (Path::new(code).is_file() && Path::new(vars).is_file()).then(|| OvmfFirmware {
                code: code.into(),
                vars_template: vars.into(),
            })
        })
    }
}

/// What the command line builder needs to know about the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// KVM really runs guests here; otherwise every VM runs under TCG.
    pub kvm: bool,
    /// NICs on an existing bridge get a tap device (wired by the network layer); when false,
    /// every NIC uses QEMU's user-mode network.
    pub wire_taps: bool,
    /// The bridges that exist on the host.
    pub bridges: BTreeSet<String>,
    /// `/dev/vhost-net` is available (vhost for virtio NICs under KVM).
    pub vhost_net: bool,
    /// Installed OVMF firmware (`bios: ovmf` fails without it).
    pub ovmf: Option<OvmfFirmware>,
    pub cpu_vendor: CpuVendor,
}

impl HostFacts {
    /// The facts of this host; `kvm` and `wire_taps` are decided by the caller.
    pub fn detect(kvm: bool, wire_taps: bool) -> Self {
        HostFacts {
            kvm,
            wire_taps,
            bridges: host_bridges(),
            vhost_net: Path::new("/dev/vhost-net").exists(),
            ovmf: OvmfFirmware::detect(),
            cpu_vendor: host_cpu_vendor(),
        }
    }
}

/// Names of the bridges in this network namespace (`/sys/class/net/*/bridge`).
pub fn host_bridges() -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().join("bridge").is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// The host CPU's vendor from `/proc/cpuinfo` (Intel when unknown).
pub fn host_cpu_vendor() -> CpuVendor {
    match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(info) if info.contains("AuthenticAMD") || info.contains("HygonGenuine") => {
            CpuVendor::Amd
        }
        _ => CpuVendor::Intel,
    }
}
