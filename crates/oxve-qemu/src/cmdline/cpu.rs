//! CPU model and flags, SMP topology, memory and NUMA nodes.
//!
//! Under KVM the model gets Proxmox's additions (`+kvm_pv_eoi,+kvm_pv_unhalt`, Hyper-V
//! enlightenments for Windows, `enforce`). Under TCG `host` is not available and becomes `max`
//! (everything TCG emulates), KVM-only flags are left out and nothing is enforced, so models
//! with features TCG lacks still start (QEMU warns about the missing features).

use serde_json::Value;

use oxve_types::qemu::cpu::CpuFlag;
use oxve_types::qemu::psformats;

use super::args::Opts;
use super::machine::is_windows;
use super::Builder;
use crate::error::Result;
use crate::host::CpuVendor;

/// Hyper-V enlightenments Proxmox gives Windows guests under KVM.
const HYPERV_FLAGS: &[&str] = &[
    "hv_ipi",
    "hv_relaxed",
    "hv_reset",
    "hv_runtime",
    "hv_spinlocks=0x1fff",
    "hv_stimer",
    "hv_synic",
    "hv_time",
    "hv_vapic",
    "hv_vpindex",
];

impl Builder<'_> {
    /// `-cpu` and `-smp`.
    pub(crate) fn cpu(&mut self) -> Result<()> {
        let cpu = self.conf.cpu();
        let kvm = self.kvm();
        if cpu.cputype.starts_with("custom-") {
            return Err(self.err(
                "cpu",
                format!(
                    "custom CPU model '{}' is not supported by oxve yet",
                    cpu.cputype
                ),
            ));
        }
        let mut flags: Vec<String> = Vec::new();
        let model = if cpu.is_host() && !kvm {
            self.note("cpu: 'host' needs KVM - using 'max' (all features TCG emulates)");
            "max".to_string()
        } else if let Some(level) = cpu.level_flags() {
            flags.extend(level.iter().map(ToString::to_string));
            "qemu64".to_string()
        } else {
            cpu.cputype.clone()
        };
        if matches!(model.as_str(), "kvm64" | "kvm32" | "qemu64" | "qemu32") {
            flags.push("+lahf_lm".into());
            flags.push("+sep".into());
        }
        if kvm {
            flags.push("+kvm_pv_eoi".into());
            flags.push("+kvm_pv_unhalt".into());
            if is_windows(self.conf.ostype()) {
                flags.extend(HYPERV_FLAGS.iter().map(|f| f.to_string()));
            }
        }
        for flag in &cpu.flags {
            flags.retain(|f| f.trim_start_matches(['+', '-']) != self.flag_name(flag));
            flags.push(format!(
                "{}{}",
                if flag.enable { '+' } else { '-' },
                self.flag_name(flag)
            ));
        }
        let mut opts = Opts::new(&model);
        for flag in &flags {
            opts = opts.raw(flag);
        }
        if cpu.hidden == Some(true) {
            opts = opts.kv("kvm", "off");
        }
        opts = opts.opt("hv_vendor_id", cpu.hv_vendor_id.as_ref());
        match cpu.phys_bits.as_deref() {
            Some("host") => opts = opts.kv("host-phys-bits", "true"),
            Some(bits) => opts = opts.kv("phys-bits", bits),
            None => {}
        }
        opts = opts.opt("guest-phys-bits", cpu.guest_phys_bits);
        if kvm && !matches!(model.as_str(), "host" | "max") {
            opts = opts.raw("enforce");
        }
        self.push("-cpu", opts.build());

        let (sockets, cores) = (self.conf.sockets(), self.conf.cores());
        let maxcpus = sockets * cores;
        let vcpus = self.conf.vcpus();
        if vcpus == 0 || vcpus > maxcpus {
            return Err(self.err(
                "vcpus",
                format!("vcpus must be between 1 and sockets * cores ({maxcpus})"),
            ));
        }
        self.push(
            "-smp",
            format!("{vcpus},sockets={sockets},cores={cores},maxcpus={maxcpus}"),
        );
        Ok(())
    }

    /// The QEMU name of a VM-level flag (`nested-virt` is `vmx` or `svm`).
    fn flag_name<'f>(&self, flag: &'f CpuFlag) -> &'f str {
        match flag.name.as_str() {
            "nested-virt" => match self.host.cpu_vendor {
                CpuVendor::Intel => "vmx",
                CpuVendor::Amd => "svm",
            },
            name => name,
        }
    }

    /// `-m` and the NUMA topology.
    pub(crate) fn memory(&mut self) -> Result<()> {
        let memory = self.conf.memory_mib();
        self.push("-m", memory.to_string());
        if self.conf.get("numa") != Some("1") {
            return Ok(());
        }
        let mut nodes = Vec::new();
        for i in 0..8u32 {
            let key = format!("numa{i}");
            let Some(text) = self.conf.get(&key) else {
                continue;
            };
            let v = psformats::numa_format()
                .parse(text)
                .map_err(|e| self.err(&key, e.to_string()))?;
            let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            let node_memory = v.get("memory").and_then(Value::as_f64).map(|m| m as u64);
            let Some(node_memory) = node_memory else {
                return Err(self.err(&key, "missing NUMA node memory"));
            };
            if s("hostnodes").is_some() && s("policy").is_none() {
                return Err(self.err(&key, "hostnodes need a policy"));
            }
            nodes.push(NumaNode {
                id: i,
                cpus: s("cpus").unwrap_or_default(),
                memory: node_memory,
                hostnodes: s("hostnodes"),
                policy: s("policy"),
            });
        }
        if nodes.is_empty() {
            // One node per socket, the memory split evenly.
            let (sockets, cores) = (self.conf.sockets(), self.conf.cores());
            if memory / u64::from(sockets) * u64::from(sockets) != memory {
                return Err(self.err(
                    "numa",
                    format!("memory ({memory} MiB) cannot be split evenly over {sockets} sockets"),
                ));
            }
            for socket in 0..sockets {
                let first = socket * cores;
                let cpus = if cores == 1 {
                    first.to_string()
                } else {
                    format!("{first}-{}", first + cores - 1)
                };
                nodes.push(NumaNode {
                    id: socket,
                    cpus,
                    memory: memory / u64::from(sockets),
                    hostnodes: None,
                    policy: None,
                });
            }
        }
        let total: u64 = nodes.iter().map(|n| n.memory).sum();
        if total != memory {
            return Err(self.err(
                "numa",
                format!(
                    "NUMA node memory ({total} MiB) must add up to the VM's memory ({memory} MiB)"
                ),
            ));
        }
        for node in nodes {
            let mut backend = Opts::new("memory-backend-ram")
                .kv("id", format!("ram-node{}", node.id))
                .kv("size", format!("{}M", node.memory));
            for range in node.hostnodes.iter().flat_map(|h| h.split(';')) {
                backend = backend.kv("host-nodes", range);
            }
            backend = backend.opt("policy", node.policy);
            self.push("-object", backend.build());
            let mut numa = Opts::new("node").kv("nodeid", node.id);
            for range in node.cpus.split(';').filter(|r| !r.is_empty()) {
                numa = numa.kv("cpus", range);
            }
            numa = numa.kv("memdev", format!("ram-node{}", node.id));
            self.push("-numa", numa.build());
        }
        Ok(())
    }
}

struct NumaNode {
    id: u32,
    cpus: String,
    memory: u64,
    hostnodes: Option<String>,
    policy: Option<String>,
}
