//! Facts about the host the daemon runs on, read from `/proc`, `uname` and `statvfs`, and
//! whether KVM can really run guests here.

mod cgroup;
mod cpu;
mod kvm;
mod memory;
mod system;

pub use cgroup::{CgroupError, CgroupVersion, GuestCgroup};
pub use cpu::{cpu_info, CpuInfo, CpuSampler, CpuTimes};
pub use kvm::{kvm_usable, KvmStatus};
pub use memory::{memory_info, MemoryInfo};
pub use system::{
    boot_time, fs_usage, kernel_version, load_average, uptime, FsUsage, KernelVersion,
};
