//! Machine type and accelerator, firmware (SeaBIOS/OVMF), SMBIOS, display, clock and boot
//! menu.

use base64::Engine as _;
use serde_json::Value;

use oxve_types::qemu::psformats;

use super::args::Opts;
use super::{path_str, Builder, EfiVarsCopy};
use crate::error::Result;

/// Windows `ostype` values (clock in local time, Hyper-V enlightenments).
pub fn is_windows(ostype: &str) -> bool {
    matches!(
        ostype,
        "wxp" | "w2k" | "w2k3" | "w2k8" | "wvista" | "win7" | "win8" | "win10" | "win11"
    )
}

/// The machine type QEMU understands: Proxmox's `+pveN` (its patched QEMU) and `.pxe`
/// suffixes are dropped.
pub fn upstream_machine_type(machine: &str) -> &str {
    let machine = machine.strip_suffix(".pxe").unwrap_or(machine);
    match machine.rfind("+pve") {
        Some(pos) => &machine[..pos],
        None => machine,
    }
}

impl Builder<'_> {
    /// `-machine`, ACPI sleep states, firmware, SMBIOS and VM generation id.
    pub(crate) fn machine(&mut self) -> Result<()> {
        let options = match self.conf.get("machine") {
            Some(m) => psformats::machine_format()
                .parse(m)
                .map_err(|e| self.err("machine", e.to_string()))?,
            None => Default::default(),
        };
        let configured = options
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("pc")
            .to_string();
        let machine = upstream_machine_type(&configured).to_string();
        if machine != configured {
            self.note(format!(
                "machine type {configured} runs as {machine} (upstream QEMU)"
            ));
        }
        if machine.starts_with("virt") {
            return Err(self.err("machine", format!("{machine} is not an x86_64 machine")));
        }
        if options.contains_key("viommu") {
            return Err(self.err("machine", "viommu is not supported by oxve yet"));
        }
        let q35 = machine.contains("q35");
        self.q35 = q35;
        let mut opts = Opts::empty()
            .kv("type", &machine)
            .kv("accel", self.accel.as_str());
        if self.conf.get("acpi") == Some("0") {
            opts = opts.kv("acpi", "off");
        }
        self.push("-machine", opts.build());
        let pm = if q35 { "ICH9-LPC" } else { "PIIX4_PM" };
        for (key, state) in [("enable-s3", "s3"), ("enable-s4", "s4")] {
            if options.get(key).and_then(Value::as_bool) != Some(true) {
                self.push("-global", format!("{pm}.disable_{state}=1"));
            }
        }
        self.firmware()?;
        self.smbios()?;
        if let Some(guid) = self.conf.get("vmgenid").filter(|g| g.contains('-')) {
            self.push("-device", Opts::new("vmgenid").kv("guid", guid).build());
        }
        Ok(())
    }

    /// SeaBIOS (QEMU's default) or OVMF with its variable store.
    fn firmware(&mut self) -> Result<()> {
        match self.conf.bios() {
            "seabios" => Ok(()),
            "ovmf" => {
                let Some(ovmf) = self.host.ovmf.clone() else {
                    return Err(self.err(
                        "bios",
                        "OVMF (UEFI) firmware is not installed on this host (Debian package \
                         'ovmf')",
                    ));
                };
                let code = Opts::empty()
                    .kv("if", "pflash")
                    .kv("unit", 0)
                    .kv("format", "raw")
                    .kv("readonly", "on")
                    .kv("file", path_str(&ovmf.code));
                self.push("-drive", code.build());
                let vars = match self.conf.drive("efidisk0") {
                    Some(efidisk) => {
                        let volume = self.resolve_drive(&efidisk)?;
                        let (path, format) = volume.ok_or_else(|| {
                            self.err("efidisk0", "an EFI disk needs a volume, not 'none'")
                        })?;
                        Opts::empty()
                            .kv("if", "pflash")
                            .kv("unit", 1)
                            .kv("id", "drive-efidisk0")
                            .kv("format", format)
                            .kv("file", path)
                    }
                    None => {
                        let dest = self.paths.efivars(self.vmid);
                        self.note(
                            "no efidisk0: EFI variables live in the run dir and are lost when \
                             the VM stops",
                        );
                        let drive = Opts::empty()
                            .kv("if", "pflash")
                            .kv("unit", 1)
                            .kv("id", "drive-efidisk0")
                            .kv("format", "raw")
                            .kv("file", path_str(&dest));
                        self.efivars = Some(EfiVarsCopy {
                            template: ovmf.vars_template,
                            dest,
                        });
                        drive
                    }
                };
                self.push("-drive", vars.build());
                Ok(())
            }
            other => Err(self.err("bios", format!("unknown firmware '{other}'"))),
        }
    }

    /// `-uuid` and `-smbios type=1` from `smbios1`.
    fn smbios(&mut self) -> Result<()> {
        let Some(text) = self.conf.get("smbios1") else {
            return Ok(());
        };
        let values = psformats::smbios1_format()
            .parse(text)
            .map_err(|e| self.err("smbios1", e.to_string()))?;
        let encoded = values.get("base64").and_then(Value::as_bool) == Some(true);
        let mut opts = Opts::empty().kv("type", 1);
        if let Some(uuid) = values.get("uuid").and_then(Value::as_str) {
            self.push("-uuid", uuid);
            opts = opts.kv("uuid", uuid);
        }
        for key in [
            "manufacturer",
            "product",
            "version",
            "serial",
            "sku",
            "family",
        ] {
            let Some(value) = values.get(key).and_then(Value::as_str) else {
                continue;
            };
            let value = if encoded {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .map_err(|e| self.err("smbios1", format!("{key}: invalid base64: {e}")))?;
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                value.to_string()
            };
            opts = opts.kv(key, value);
        }
        self.push("-smbios", opts.build());
        Ok(())
    }

    /// Boot menu, real-time clock and reboot behaviour.
    pub(crate) fn clock_and_boot(&mut self) {
        let boot = if self.boot.is_empty() {
            "menu=on,reboot-timeout=1000"
        } else {
            "menu=on,strict=on,reboot-timeout=1000"
        };
        self.push("-boot", boot);
        let windows = is_windows(self.conf.ostype());
        let localtime = match self.conf.get("localtime") {
            Some(v) => v == "1",
            None => windows,
        };
        let base = match self.conf.get("startdate") {
            Some("now") | None => localtime.then_some("localtime".to_string()),
            Some(date) => Some(date.replace(' ', "T")),
        };
        if base.is_some() || windows {
            let rtc = Opts::empty()
                .opt("base", base)
                .kv_if(windows, "driftfix", "slew");
            self.push("-rtc", rtc.build());
        }
        if self.conf.get("reboot") == Some("0") {
            self.flag("-no-reboot");
        }
    }

    /// The display adapter (`vga`) and the USB tablet that goes with a graphical console.
    pub(crate) fn display(&mut self) -> Result<()> {
        let options = match self.conf.get("vga") {
            Some(v) => psformats::vga_format()
                .parse(v)
                .map_err(|e| self.err("vga", e.to_string()))?,
            None => Default::default(),
        };
        let kind = options
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("std")
            .to_string();
        let memory = options.get("memory").and_then(Value::as_u64);
        let device = match kind.as_str() {
            "std" => Some("VGA"),
            "cirrus" => Some("cirrus-vga"),
            "vmware" => Some("vmware-svga"),
            "qxl" | "qxl2" | "qxl3" | "qxl4" => Some("qxl-vga"),
            "virtio" => Some("virtio-vga"),
            "virtio-gl" => Some("virtio-vga-gl"),
            "none" => None,
            serial if serial.starts_with("serial") => {
                if !self.conf.contains(serial) {
                    return Err(self.err("vga", format!("{serial} is not configured")));
                }
                None
            }
            other => return Err(self.err("vga", format!("unknown display type '{other}'"))),
        };
        let Some(device) = device else {
            return Ok(());
        };
        let mut opts = Opts::new(device).kv("id", "vga");
        opts = if device.starts_with("virtio") {
            opts.opt("max_hostmem", memory.map(|m| m * 1024 * 1024))
        } else {
            opts.opt("vgamem_mb", memory)
        };
        self.push("-device", opts.build());
        if self.conf.get("tablet") != Some("0") {
            self.push("-device", "piix3-usb-uhci,id=uhci");
            self.push("-device", "usb-tablet,id=tablet,bus=uhci.0,port=1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types() {
        assert_eq!(upstream_machine_type("pc-q35-8.1+pve0"), "pc-q35-8.1");
        assert_eq!(
            upstream_machine_type("pc-i440fx-9.0+pve1.pxe"),
            "pc-i440fx-9.0"
        );
        assert_eq!(upstream_machine_type("q35"), "q35");
        assert!(is_windows("win11") && !is_windows("l26"));
    }
}
