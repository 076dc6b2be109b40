//! Small devices: serial ports, guest agent channel, balloon, RNG and watchdog.

use serde_json::Value;

use oxve_types::qemu::psformats;

use super::args::{esc, Opts};
use super::{path_str, Builder};
use crate::error::Result;

impl Builder<'_> {
    /// `serialN: socket` (a unix socket in the run dir, for the console) or a host device.
    pub(crate) fn serial_ports(&mut self) -> Result<()> {
        for (index, target) in self.conf.serials() {
            let id = format!("serial{index}");
            let chardev = if target == "socket" {
                let path = path_str(&self.paths.serial(self.vmid, index));
                Opts::new("socket")
                    .kv("id", &id)
                    .kv("path", path)
                    .kv("server", "on")
                    .kv("wait", "off")
            } else if target.starts_with("/dev/") {
                Opts::new("serial").kv("id", &id).kv("path", &target)
            } else {
                return Err(self.err(&id, format!("invalid serial port '{target}'")));
            };
            self.push("-chardev", chardev.build());
            self.push(
                "-device",
                Opts::new("isa-serial").kv("chardev", &id).build(),
            );
        }
        Ok(())
    }

    /// The QEMU guest agent channel (`agent: 1`), a socket in the run dir.
    pub(crate) fn agent(&mut self) -> Result<()> {
        if !self.conf.agent_enabled() {
            return Ok(());
        }
        let kind = self
            .conf
            .get("agent")
            .and_then(|a| psformats::agent_format().parse(a).ok())
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "virtio".to_string());
        let path = path_str(&self.paths.qga(self.vmid));
        self.push(
            "-chardev",
            format!("socket,path={},server=on,wait=off,id=qga0", esc(&path)),
        );
        match kind.as_str() {
            "isa" => self.push("-device", "isa-serial,chardev=qga0"),
            _ => {
                self.push("-device", "virtio-serial,id=qga0");
                self.push(
                    "-device",
                    "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
                );
            }
        }
        Ok(())
    }

    /// The balloon device, unless `balloon: 0`.
    pub(crate) fn balloon(&mut self) {
        if self.conf.balloon() != Some(0) {
            self.push(
                "-device",
                "virtio-balloon-pci,id=balloon0,free-page-reporting=on",
            );
        }
    }

    /// `rng0` and `watchdog`.
    pub(crate) fn rng_and_watchdog(&mut self) -> Result<()> {
        if let Some(text) = self.conf.get("rng0") {
            let v = psformats::rng_format()
                .parse(text)
                .map_err(|e| self.err("rng0", e.to_string()))?;
            let source = v
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("/dev/urandom")
                .to_string();
            self.push(
                "-object",
                Opts::new("rng-random")
                    .kv("filename", source)
                    .kv("id", "rng0")
                    .build(),
            );
            let max_bytes = v.get("max_bytes").and_then(Value::as_u64).unwrap_or(1024);
            let period = v.get("period").and_then(Value::as_u64).unwrap_or(1000);
            let mut device = Opts::new("virtio-rng-pci").kv("rng", "rng0");
            if max_bytes > 0 {
                device = device.kv("max-bytes", max_bytes).kv("period", period);
            }
            self.push("-device", device.build());
        }
        if let Some(text) = self.conf.get("watchdog") {
            let v = psformats::watchdog_format()
                .parse(text)
                .map_err(|e| self.err("watchdog", e.to_string()))?;
            let model = v
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("i6300esb")
                .to_string();
            self.push("-device", Opts::new(&model).kv("id", "watchdog").build());
            if let Some(action) = v.get("action").and_then(Value::as_str) {
                self.push("-action", format!("watchdog={action}"));
            }
        }
        Ok(())
    }
}
