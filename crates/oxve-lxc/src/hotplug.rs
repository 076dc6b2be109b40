//! NICs and mount points plugged into and out of a running container, as pct does. A NIC is
//! the same veth LXC makes at start (`veth<vmid>i<n>` on the bridge), its peer moved into the
//! container's network namespace under the configured name, MAC, MTU, addresses and gateways.
//! A mount point is a detached bind mount of its directory moved into the container's mount
//! namespace.

use oxve_types::lxc::CtNet;

use crate::cmd::run_async;
use crate::engine::LxcEngine;
use crate::error::{LxcError, Result};
use crate::lxcconf::bridge_exists;

/// The host side of NIC `index` of container `vmid`.
pub fn host_veth(vmid: u32, index: u32) -> String {
    format!("veth{vmid}i{index}")
}

/// `ip` inside the network namespace of process `pid`.
async fn ip_in(pid: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["-t", pid, "-n", "ip"];
    all.extend_from_slice(args);
    run_async("nsenter", &all).await
}

impl LxcEngine {
    /// Plugs NIC `index` (`net`) into running container `vmid`; on failure nothing is left.
    pub async fn hotplug_nic(&self, vmid: u32, index: u32, net: &CtNet) -> Result<()> {
        let key = format!("net{index}");
        let bridge = net.bridge().unwrap_or_default();
        if !bridge_exists(&bridge).await {
            return Err(LxcError::NoBridge { vmid, key, bridge });
        }
        let pid = self
            .init_pid(vmid)
            .await
            .ok_or_else(|| LxcError::Tool {
                tool: "lxc-info".into(),
                message: format!("CT {vmid} is not running"),
            })?
            .to_string();
        let host = host_veth(vmid, index);
        // A temporary name for the peer, free in both namespaces.
        let peer = format!("vp{vmid}i{index}");
        run_async(
            "ip",
            &["link", "add", &host, "type", "veth", "peer", "name", &peer],
        )
        .await?;
        let plugged = async {
            if let Some(mtu) = net.mtu() {
                let mtu = mtu.to_string();
                run_async("ip", &["link", "set", &host, "mtu", &mtu]).await?;
                run_async("ip", &["link", "set", &peer, "mtu", &mtu]).await?;
            }
            run_async("ip", &["link", "set", &host, "master", &bridge, "up"]).await?;
            run_async("ip", &["link", "set", &peer, "netns", &pid]).await?;
            let name = net.name();
            ip_in(&pid, &["link", "set", &peer, "name", &name]).await?;
            if let Some(mac) = net.hwaddr() {
                ip_in(&pid, &["link", "set", &name, "address", &mac]).await?;
            }
            if net.link_down() {
                return Ok(());
            }
            ip_in(&pid, &["link", "set", &name, "up"]).await?;
            for (family, addr, gw) in [("-4", net.ip(), net.gw()), ("-6", net.ip6(), net.gw6())] {
                // dhcp, auto and manual are the container's own business
                let Some(addr) = addr.filter(|a| a.contains('/')) else {
                    continue;
                };
                ip_in(&pid, &[family, "addr", "add", &addr, "dev", &name]).await?;
                if let Some(gw) = gw {
                    ip_in(
                        &pid,
                        &[
                            family, "route", "replace", "default", "via", &gw, "dev", &name,
                        ],
                    )
                    .await?;
                }
            }
            Ok::<(), LxcError>(())
        }
        .await;
        if plugged.is_err() {
            // deleting one end of a veth pair removes both, wherever the peer went
            let _ = run_async("ip", &["link", "del", &host]).await;
        }
        plugged
    }

    /// Unplugs NIC `index` of running container `vmid`.
    pub async fn unplug_nic(&self, vmid: u32, index: u32) -> Result<()> {
        run_async("ip", &["link", "del", &host_veth(vmid, index)])
            .await
            .map(|_| ())
    }
}

// The new mount API (Linux 5.2): a detached copy of a mount, moved elsewhere.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// What to do at a path inside a container's mount namespace.
enum InNamespace<'a> {
    /// Move this detached mount there.
    Attach(&'a std::os::fd::OwnedFd),
    /// Lazily unmount what is mounted there.
    Detach,
}

/// Runs `action` at `target` inside mount namespace `ns`, from a forked child (only a
/// single-threaded process may enter another mount namespace).
fn in_namespace(ns: &std::fs::File, action: InNamespace, target: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let ns = ns.as_raw_fd();
    let tree = match action {
        InNamespace::Attach(fd) => Some(fd.as_raw_fd()),
        InNamespace::Detach => None,
    };
    let target = std::ffi::CString::new(target).map_err(std::io::Error::other)?;
    let mut cmd = std::process::Command::new("/bin/true");
    // SAFETY: between fork and exec only raw syscalls run (setns, move_mount, umount2, _exit).
    unsafe {
        cmd.pre_exec(move || {
            // entering the namespace also moves root and cwd to the container's root
            let mut ok = libc::setns(ns, libc::CLONE_NEWNS) == 0;
            ok = ok
                && match tree {
                    Some(tree) => {
                        libc::syscall(
                            libc::SYS_move_mount,
                            tree,
                            c"".as_ptr(),
                            libc::AT_FDCWD,
                            target.as_ptr(),
                            MOVE_MOUNT_F_EMPTY_PATH,
                        ) == 0
                    }
                    None => libc::umount2(target.as_ptr(), libc::MNT_DETACH) == 0,
                };
            libc::_exit(if ok { 0 } else { 1 });
        });
    }
    if cmd.status()?.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "unable to change the mounts inside the container",
        ))
    }
}

impl LxcEngine {
    fn mount_ns(&self, pid: u32, vmid: u32) -> Result<std::fs::File> {
        std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
            .map_err(|e| mount_err(format!("CT {vmid}: {e}")))
    }

    async fn running_init(&self, vmid: u32) -> Result<u32> {
        self.init_pid(vmid)
            .await
            .ok_or_else(|| mount_err(format!("CT {vmid} is not running")))
    }

    /// Mounts host directory `source` at `target` inside running container `vmid` (a new
    /// mount point, as pct hotplugs it): the target directory is made inside as the
    /// container's root, then a detached bind mount of `source` moves into its mount
    /// namespace.
    pub async fn hotplug_mount(
        &self,
        vmid: u32,
        source: &std::path::Path,
        target: &str,
        read_only: bool,
    ) -> Result<()> {
        if !target.starts_with('/') || target.split('/').any(|c| c == "..") {
            return Err(mount_err(format!("invalid mount point path '{target}'")));
        }
        let pid = self.running_init(vmid).await?;
        let name = vmid.to_string();
        let lxc_path = self.paths().lxc_path().to_string_lossy().into_owned();
        run_async(
            "lxc-attach",
            &["-n", &name, "-P", &lxc_path, "--", "mkdir", "-p", target],
        )
        .await?;
        let source_c = std::ffi::CString::new(source.as_os_str().as_encoded_bytes())
            .map_err(|e| mount_err(e.to_string()))?;
        let ns = self.mount_ns(pid, vmid)?;
        // SAFETY: open_tree on a valid path returns a new fd, which we own below.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                source_c.as_ptr(),
                OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return Err(mount_err(format!("{}: {e}", source.display())));
        }
        // SAFETY: fd is a new, valid file descriptor nobody else owns.
        let tree =
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
        if read_only {
            let attr = MountAttr {
                attr_set: MOUNT_ATTR_RDONLY,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            // SAFETY: mount_setattr reads `attr` of the given size; the fd is ours.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_mount_setattr,
                    std::os::fd::AsRawFd::as_raw_fd(&tree),
                    c"".as_ptr(),
                    libc::AT_EMPTY_PATH | AT_RECURSIVE as libc::c_int,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                )
            };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                return Err(mount_err(format!("read-only {}: {e}", source.display())));
            }
        }
        let target = target.to_string();
        tokio::task::spawn_blocking(move || in_namespace(&ns, InNamespace::Attach(&tree), &target))
            .await
            .map_err(|e| mount_err(e.to_string()))?
            .map_err(|e| mount_err(e.to_string()))
    }

    /// Unmounts mount point `target` inside running container `vmid`.
    pub async fn unplug_mount(&self, vmid: u32, target: &str) -> Result<()> {
        let pid = self.running_init(vmid).await?;
        let ns = self.mount_ns(pid, vmid)?;
        let target = target.to_string();
        tokio::task::spawn_blocking(move || in_namespace(&ns, InNamespace::Detach, &target))
            .await
            .map_err(|e| mount_err(e.to_string()))?
            .map_err(|e| mount_err(e.to_string()))
    }
}

fn mount_err(message: String) -> LxcError {
    LxcError::Tool {
        tool: "mount".into(),
        message,
    }
}
