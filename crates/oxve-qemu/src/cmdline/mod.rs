//! The QEMU command line of a VM config, as Proxmox VE's `qm showcmd` builds it in spirit: a
//! pure function of the config, a [`VolumeResolver`] and the [`HostFacts`].
//!
//! The QEMU it describes runs daemonized (`-daemonize -pidfile`) with its QMP, VNC and serial
//! sockets in the run dir, starts with stopped vCPUs (`-S`, the engine wires taps and sends
//! `cont`), and lets the guest reboot inside QEMU (no `-no-reboot` unless `reboot: 0`).
//!
//! Adaptations to the host are listed in [`QemuCommand::notes`]: TCG instead of KVM (and the
//! CPU model mapping it needs), NICs on QEMU's user-mode network when their bridge does not
//! exist or tap wiring is off, settings that are accepted but not applied.
//!
//! Sections: [`machine`] (machine, firmware, SMBIOS, display, clock), [`cpu`] (CPU model, SMP,
//! memory, NUMA), [`disks`] (controllers and drives), [`net`] (NICs), [`devices`] (balloon,
//! agent, serial ports, tablet, RNG, watchdog).

mod args;
pub mod cpu;
pub mod devices;
pub mod disks;
pub mod machine;
pub mod net;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;

use oxve_types::qemu::{NetDevice, VmSettings};

use crate::error::{QemuError, Result};
use crate::host::HostFacts;
use crate::paths::RunPaths;
use crate::resolver::VolumeResolver;

pub use args::{shell_quote, split_shell_words};

/// The accelerator a VM runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization.
    Kvm,
    /// Software emulation (no usable KVM, or `kvm: 0`).
    Tcg,
}

impl Accel {
    /// `kvm` or `tcg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// A NIC backed by a tap device, for the network layer to plug into its bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct TapNic {
    /// The config index (`net<index>`).
    pub index: u32,
    /// The tap device QEMU creates (`tap<vmid>i<index>`).
    pub ifname: String,
    /// The bridge it belongs to.
    pub bridge: String,
    /// The NIC's settings (VLAN tag, trunks, firewall, rate, MTU).
    pub nic: NetDevice,
}

/// An EFI variable store to copy from the firmware's template before QEMU starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiVarsCopy {
    pub template: PathBuf,
    pub dest: PathBuf,
}

/// A QEMU command line and what the engine must do around it.
#[derive(Debug, Clone, PartialEq)]
pub struct QemuCommand {
    /// The arguments (without the binary).
    pub args: Vec<String>,
    /// The accelerator chosen.
    pub accel: Accel,
    /// How the command adapts the config to this host (for the task log).
    pub notes: Vec<String>,
    /// Tap NICs to wire after QEMU created them (before the vCPUs run).
    pub taps: Vec<TapNic>,
    /// NICs to start with their link down (`link_down=1`), by netdev id (`net0`).
    pub links_down: Vec<String>,
    /// EFI vars to copy before starting (OVMF without `efidisk0`).
    pub efivars: Option<EfiVarsCopy>,
}

impl QemuCommand {
    /// The command as one shell line (`qm showcmd`).
    pub fn to_shell(&self, binary: &str) -> String {
        std::iter::once(binary)
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Config keys that change the virtual hardware in ways this engine does not implement yet:
/// a VM using them is refused rather than started without them.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    ("hostpci", "PCI passthrough"),
    ("usb", "USB passthrough"),
    ("virtiofs", "virtiofs directory sharing"),
    ("parallel", "parallel ports"),
    ("audio0", "audio devices"),
    ("ivshmem", "inter-VM shared memory"),
    ("amd-sev", "AMD SEV"),
    ("intel-tdx", "Intel TDX"),
    ("tpmstate0", "TPM state (swtpm)"),
    ("hugepages", "huge pages"),
];

/// Host-side settings that are accepted but not applied by the engine (yet).
const NOT_APPLIED_KEYS: &[&str] = &["affinity", "keyboard"];

/// Builds the QEMU command line of VM `vmid` with settings `conf`.
pub fn build_command_line(
    vmid: u32,
    conf: &VmSettings,
    resolver: &dyn VolumeResolver,
    host: &HostFacts,
    paths: &RunPaths,
) -> Result<QemuCommand> {
    paths.check_socket_paths(vmid)?;
    let mut b = Builder::new(vmid, conf, resolver, host, paths);
    b.check_keys()?;
    b.runtime();
    b.machine()?;
    b.cpu()?;
    b.memory()?;
    b.clock_and_boot();
    b.display()?;
    b.serial_ports()?;
    b.agent()?;
    b.balloon();
    b.rng_and_watchdog()?;
    b.disks()?;
    b.nets()?;
    b.extra_args()?;
    Ok(QemuCommand {
        args: b.args,
        accel: b.accel,
        notes: b.notes,
        taps: b.taps,
        links_down: b.links_down,
        efivars: b.efivars,
    })
}

/// The state of one command line being built; each section lives in its own module.
pub(crate) struct Builder<'a> {
    pub vmid: u32,
    pub conf: &'a VmSettings,
    pub resolver: &'a dyn VolumeResolver,
    pub host: &'a HostFacts,
    pub paths: &'a RunPaths,
    pub accel: Accel,
    /// A q35 machine (set by the machine section).
    pub q35: bool,
    pub args: Vec<String>,
    pub notes: Vec<String>,
    /// Boot device (`scsi0`, `net0`) -> `bootindex`.
    pub boot: HashMap<String, u32>,
    pub taps: Vec<TapNic>,
    pub links_down: Vec<String>,
    pub efivars: Option<EfiVarsCopy>,
}

impl<'a> Builder<'a> {
    fn new(
        vmid: u32,
        conf: &'a VmSettings,
        resolver: &'a dyn VolumeResolver,
        host: &'a HostFacts,
        paths: &'a RunPaths,
    ) -> Self {
        let mut notes = Vec::new();
        let accel = if !conf.kvm() {
            notes.push("kvm: 0 - running under TCG (software emulation)".to_string());
            Accel::Tcg
        } else if !host.kvm {
            notes.push(
                "KVM is not usable on this host - running under TCG (software emulation)"
                    .to_string(),
            );
            Accel::Tcg
        } else {
            Accel::Kvm
        };
        // Boot indexes follow the order of `boot: order=...` (or the legacy letters).
        let boot = conf
            .boot_devices()
            .into_iter()
            .enumerate()
            .map(|(i, dev)| (dev, 100 + i as u32))
            .collect();
        Builder {
            vmid,
            conf,
            resolver,
            host,
            paths,
            accel,
            q35: false,
            args: Vec::new(),
            notes,
            boot,
            taps: Vec::new(),
            links_down: Vec::new(),
            efivars: None,
        }
    }

    /// True when the VM runs under KVM.
    pub fn kvm(&self) -> bool {
        self.accel == Accel::Kvm
    }

    /// Appends an option with its value.
    pub fn push(&mut self, option: &str, value: impl Into<String>) {
        self.args.push(option.to_string());
        self.args.push(value.into());
    }

    /// Appends an option without a value.
    pub fn flag(&mut self, option: &str) {
        self.args.push(option.to_string());
    }

    /// Records how the command adapts the config.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// A config error about `key`.
    pub fn err(&self, key: &str, message: impl Into<String>) -> QemuError {
        QemuError::config(self.vmid, key, message)
    }

    fn check_keys(&mut self) -> Result<()> {
        for key in self.conf.values().keys() {
            let family = key.trim_end_matches(|c: char| c.is_ascii_digit());
            if let Some((_, what)) = UNSUPPORTED_KEYS
                .iter()
                .find(|(k, _)| *k == key || *k == family)
            {
                return Err(self.err(key, format!("{what} is not supported by oxve yet")));
            }
            if NOT_APPLIED_KEYS.contains(&key.as_str()) {
                self.note(format!("{key} is not applied by oxve yet"));
            }
        }
        if let Some(arch) = self.conf.get("arch") {
            if arch != "x86_64" {
                return Err(self.err("arch", format!("architecture {arch} is not supported")));
            }
        }
        Ok(())
    }

    /// Daemonizing, pidfile and the control sockets.
    fn runtime(&mut self) {
        let (vmid, paths) = (self.vmid, self.paths);
        let name = self
            .conf
            .name()
            .map_or_else(|| format!("vm{vmid}"), str::to_string);
        self.push(
            "-name",
            args::Opts::new(&name).kv("debug-threads", "on").build(),
        );
        self.push("-pidfile", path_str(&paths.pidfile(vmid)));
        self.flag("-daemonize");
        // vCPUs start stopped: the engine wires taps and link states, then sends `cont`.
        self.flag("-S");
        self.flag("-nodefaults");
        self.push(
            "-qmp",
            format!(
                "unix:{},server=on,wait=off",
                qmp_arg_path(&path_str(&paths.qmp(vmid)))
            ),
        );
        self.push(
            "-vnc",
            format!("unix:{}", args::esc(&path_str(&paths.vnc(vmid)))),
        );
    }

    /// `args:` appended verbatim (split like a shell would).
    fn extra_args(&mut self) -> Result<()> {
        if let Some(extra) = self.conf.get("args") {
            let words = split_shell_words(extra).map_err(|e| self.err("args", e))?;
            self.args.extend(words);
        }
        Ok(())
    }
}

/// A path as a string for an argument.
pub(crate) fn path_str(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The QMP socket path as written in `-qmp unix:<path>,...` (also how the engine recognizes
/// its QEMU in `/proc/<pid>/cmdline`).
pub(crate) fn qmp_arg_path(path: &str) -> String {
    args::esc(path)
}

/// The arguments that create one device of a running VM's config (a disk or NIC being
/// hot-plugged), in the order QEMU needs them: controller objects and devices, the backend
/// (`-drive`/`-netdev`), then the guest device.
#[derive(Debug, Clone, Default)]
pub struct DeviceArgs {
    /// `(option, value)` pairs such as `("-drive", "file=...,if=none,id=drive-scsi1")`.
    pub args: Vec<(String, String)>,
    /// The tap to wire when the NIC is bridged.
    pub taps: Vec<TapNic>,
}

/// The arguments of `key` (`scsiN`, `virtioN`, `sataN`, `ideN`, `netN`) of VM `vmid` with
/// settings `conf`.
pub fn device_args(
    vmid: u32,
    conf: &VmSettings,
    key: &str,
    resolver: &dyn VolumeResolver,
    host: &HostFacts,
    paths: &RunPaths,
) -> Result<DeviceArgs> {
    let mut b = Builder::new(vmid, conf, resolver, host, paths);
    if let Some(index) = key.strip_prefix("net").and_then(|i| i.parse::<u32>().ok()) {
        let nic = conf
            .nets()
            .into_iter()
            .find(|(i, _)| *i == index)
            .map(|(_, nic)| nic)
            .ok_or_else(|| b.err(key, "no such NIC in the config"))?;
        b.nic(index, nic)?;
    } else {
        let drive = conf
            .drives()
            .into_iter()
            .find(|d| d.key() == key)
            .ok_or_else(|| b.err(key, "no such disk in the config"))?;
        b.controllers(std::slice::from_ref(&drive))?;
        b.drive(&drive)?;
    }
    let mut args = Vec::new();
    let mut it = b.args.into_iter();
    while let (Some(option), Some(value)) = (it.next(), it.next()) {
        args.push((option, value));
    }
    Ok(DeviceArgs { args, taps: b.taps })
}
