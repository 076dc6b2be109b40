//! Whether KVM can really run guests here. `/dev/kvm` existing is not enough (nested setups
//! often expose it without working virtualization), so the probe creates a tiny VM and runs
//! one `hlt` instruction in real mode, with a time limit. It also asks KVM which CPU features
//! it can give guests: a nested KVM that cannot offer the x86-64-v2 baseline (SSE3, SSSE3,
//! SSE4.1/4.2, POPCNT, CX16, LAHF) runs real mode but hangs a modern guest kernel, and
//! Proxmox's default CPU type (`x86-64-v2-AES`) needs those anyway.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;

const KVM_GET_API_VERSION: libc::c_ulong = 0xAE00;
const KVM_CREATE_VM: libc::c_ulong = 0xAE01;
const KVM_GET_VCPU_MMAP_SIZE: libc::c_ulong = 0xAE04;
const KVM_CREATE_VCPU: libc::c_ulong = 0xAE41;
const KVM_SET_USER_MEMORY_REGION: libc::c_ulong = 0x4020_AE46;
const KVM_RUN: libc::c_ulong = 0xAE80;
const KVM_SET_REGS: libc::c_ulong = 0x4090_AE82;
const KVM_GET_SREGS: libc::c_ulong = 0x8138_AE83;
const KVM_SET_SREGS: libc::c_ulong = 0x4138_AE84;
const KVM_GET_SUPPORTED_CPUID: libc::c_ulong = 0xC008_AE05;
const KVM_EXIT_HLT: u32 = 5;
const SREGS_SIZE: usize = 312;
const GUEST_MEM: usize = 0x2000;
const CODE_ADDR: u64 = 0x1000;

/// The result of the KVM probe.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KvmStatus {
    /// KVM ran a guest instruction: VMs get hardware acceleration.
    pub usable: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
}

/// Probe KVM (at most `timeout`); safe to call from any thread.
pub fn kvm_usable(timeout: Duration) -> KvmStatus {
    let (tx, rx) = mpsc::channel();
    // A broken KVM can block in KVM_RUN; a detached thread keeps that from blocking us.
    std::thread::spawn(move || {
        let _ = tx.send(probe());
    });
    let result = rx
        .recv_timeout(timeout)
        .unwrap_or_else(|_| Err("KVM_RUN did not return in time".into()));
    match result {
        Ok(()) => KvmStatus {
            usable: true,
            reason: None,
        },
        Err(reason) => KvmStatus {
            usable: false,
            reason: Some(reason),
        },
    }
}

/// The x86-64-v2 features a guest CPU needs: (CPUID leaf, register, bit, name).
const BASELINE: &[(u32, char, u32, &str)] = &[
    (1, 'c', 0, "sse3"),
    (1, 'c', 9, "ssse3"),
    (1, 'c', 13, "cx16"),
    (1, 'c', 19, "sse4.1"),
    (1, 'c', 20, "sse4.2"),
    (1, 'c', 23, "popcnt"),
    (0x8000_0001, 'c', 0, "lahf_lm"),
];

/// Fails naming the x86-64-v2 features KVM cannot give its guests.
fn check_cpuid_baseline(kvm: &OwnedFd) -> Result<(), String> {
    const MAX_ENTRIES: usize = 256;
    // struct kvm_cpuid2 { u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[]; } with
    // entries of { function, index, flags, eax, ebx, ecx, edx, padding[3] } (10 x u32).
    let mut buf = vec![0u32; 2 + MAX_ENTRIES * 10];
    buf[0] = MAX_ENTRIES as u32;
    ioctl(
        kvm,
        KVM_GET_SUPPORTED_CPUID,
        buf.as_mut_ptr() as libc::c_ulong,
    )?;
    let entries: Vec<&[u32]> = buf[2..].chunks(10).take(buf[0] as usize).collect();
    let missing: Vec<&str> = BASELINE
        .iter()
        .filter(|(leaf, reg, bit, _)| {
            !entries.iter().any(|e| {
                let value = match reg {
                    'c' => e[5],
                    _ => e[6],
                };
                e[0] == *leaf && e[1] == 0 && value & (1 << bit) != 0
            })
        })
        .map(|(_, _, _, name)| *name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "KVM cannot give guests the x86-64-v2 CPU baseline (missing {})",
            missing.join(", ")
        ))
    }
}

fn ioctl(fd: &OwnedFd, request: libc::c_ulong, arg: libc::c_ulong) -> Result<i32, String> {
    // SAFETY: every caller passes a request whose argument is either a plain integer or a
    // pointer to a live buffer of the size that request expects.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request, arg) };
    if ret < 0 {
        Err(format!(
            "ioctl {request:#x} failed: {}",
            std::io::Error::last_os_error()
        ))
    } else {
        Ok(ret)
    }
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful ioctl that creates a new descriptor.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// An anonymous mapping, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(len: usize, fd: Option<&OwnedFd>) -> Result<Mapping, String> {
        let (flags, raw_fd) = match fd {
            Some(fd) => (libc::MAP_SHARED, fd.as_raw_fd()),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
        };
        // SAFETY: a fresh mapping with no address hint; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                raw_fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap failed: {}", std::io::Error::last_os_error()));
        }
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this struct created and still owns.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

fn probe() -> Result<(), String> {
    let kvm = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("cannot open /dev/kvm: {e}"))?;
    let kvm = OwnedFd::from(kvm);
    if ioctl(&kvm, KVM_GET_API_VERSION, 0)? != 12 {
        return Err("unexpected KVM API version".into());
    }
    check_cpuid_baseline(&kvm)?;
    let vm = owned(ioctl(&kvm, KVM_CREATE_VM, 0)?);

    let mem = Mapping::new(GUEST_MEM, None)?;
    // SAFETY: the mapping is GUEST_MEM bytes long and CODE_ADDR is inside it.
    unsafe {
        *(mem.ptr as *mut u8).add(CODE_ADDR as usize) = 0xf4; // hlt
    }
    // struct kvm_userspace_memory_region { slot u32, flags u32, gpa u64, size u64, uaddr u64 }
    let region: [u64; 4] = [0, 0, GUEST_MEM as u64, mem.ptr as u64];
    ioctl(
        &vm,
        KVM_SET_USER_MEMORY_REGION,
        region.as_ptr() as libc::c_ulong,
    )?;

    let vcpu = owned(ioctl(&vm, KVM_CREATE_VCPU, 0)?);
    let run_size = ioctl(&kvm, KVM_GET_VCPU_MMAP_SIZE, 0)? as usize;
    let run = Mapping::new(run_size, Some(&vcpu))?;

    let mut sregs = [0u8; SREGS_SIZE];
    ioctl(&vcpu, KVM_GET_SREGS, sregs.as_mut_ptr() as libc::c_ulong)?;
    sregs[0..8].fill(0); // cs.base
    sregs[12..14].fill(0); // cs.selector
    ioctl(&vcpu, KVM_SET_SREGS, sregs.as_ptr() as libc::c_ulong)?;
    let mut regs = [0u64; 18];
    regs[16] = CODE_ADDR; // rip
    regs[17] = 2; // rflags: the reserved bit 1 must be set
    ioctl(&vcpu, KVM_SET_REGS, regs.as_ptr() as libc::c_ulong)?;

    ioctl(&vcpu, KVM_RUN, 0)?;
    // SAFETY: kvm_run starts with 8 bytes of flags, then `exit_reason: u32`.
    let exit_reason = unsafe { *((run.ptr as *const u8).add(8) as *const u32) };
    if exit_reason == KVM_EXIT_HLT {
        Ok(())
    } else {
        Err(format!(
            "test guest exited with reason {exit_reason}, not hlt"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_answers_without_hanging() {
        let status = kvm_usable(Duration::from_secs(5));
        assert_eq!(status.usable, status.reason.is_none());
        if !std::path::Path::new("/dev/kvm").exists() {
            assert!(!status.usable);
        }
        eprintln!("kvm probe: {status:?}");
    }
}
