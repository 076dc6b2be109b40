//! Each running VM in its own cgroup: `cpuunits` and `cpulimit` applied at start and changed
//! live. The cgroups of one engine live under a parent named after its run dir, so several
//! engines (nodes, tests) on one host never share them.

use oxve_host::GuestCgroup;
use oxve_types::qemu::VmSettings;

use crate::engine::QemuEngine;

/// FNV-1a, for a short stable name from the run dir.
fn short_hash(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl QemuEngine {
    /// The cgroup parent of this engine's VMs: `oxve` for the default run dir.
    fn cgroup_parent(&self) -> String {
        let run_dir = self.opts.run_dir.to_string_lossy();
        if run_dir == "/run/oxve" {
            "oxve".into()
        } else {
            format!("oxve-{:08x}", short_hash(&run_dir))
        }
    }

    /// The cgroup of VM `vmid` (`None` without a usable cgroup hierarchy).
    pub fn vm_cgroup(&self, vmid: u32) -> Option<GuestCgroup> {
        let root = self.opts.cgroup_root.as_ref()?;
        GuestCgroup::new(root, &self.cgroup_parent(), &format!("qemu-{vmid}")).ok()
    }

    /// Moves the started QEMU into its cgroup and applies `cpuunits`/`cpulimit`; a note for
    /// the task log when that is not possible here.
    pub(crate) fn enter_cgroup(&self, vmid: u32, pid: u32, conf: &VmSettings) -> Option<String> {
        let Some(cg) = self.vm_cgroup(vmid) else {
            return Some("no cgroup hierarchy: cpuunits and cpulimit are not applied".into());
        };
        let applied = cg
            .attach(pid)
            .and_then(|()| self.apply_cpu_settings(&cg, conf));
        applied
            .err()
            .map(|e| format!("cgroup: {e} - cpuunits and cpulimit are not applied"))
    }

    /// Sets `cpuunits` and `cpulimit` of `conf` on the VM's cgroup.
    pub(crate) fn apply_cpu_settings(
        &self,
        cg: &GuestCgroup,
        conf: &VmSettings,
    ) -> Result<(), oxve_host::CgroupError> {
        cg.set_cpu_units(conf.get("cpuunits").and_then(|u| u.parse().ok()))?;
        cg.set_cpu_limit(conf.get("cpulimit").and_then(|l| l.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_names() {
        assert_eq!(short_hash("/tmp/x"), short_hash("/tmp/x"));
        assert_ne!(short_hash("/tmp/x"), short_hash("/tmp/y"));
    }
}
