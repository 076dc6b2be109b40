//! The LXC config of a container, a pure function of its oxve config, where its volumes are
//! and what the host offers. Unit-tested key by key; `lxc-start` reads the result.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use oxve_types::lxc::{CtConfig, MountSource};

use crate::error::{LxcError, Result};

/// The host uid/gid range an unprivileged container's ids map to (Proxmox's default).
pub const IDMAP_BASE: u32 = 100_000;
pub const IDMAP_SIZE: u32 = 65_536;

/// Debian lxc's shared config snippets.
pub const LXC_CONFIG_DIR: &str = "/usr/share/lxc/config";

/// A volume as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumePath {
    /// A raw image holding a file system (mounted through a loop device).
    Image(PathBuf),
    /// A directory (a `subvol` volume, a btrfs subvolume, a bind-mount source).
    Dir(PathBuf),
    /// A block device.
    Block(PathBuf),
}

impl VolumePath {
    /// From a storage path and its format (`raw`, `subvol`, ...).
    pub fn from_storage(path: PathBuf, format: &str) -> VolumePath {
        if format == "subvol" || path.is_dir() {
            VolumePath::Dir(path)
        } else if path.starts_with("/dev/") {
            VolumePath::Block(path)
        } else {
            VolumePath::Image(path)
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            VolumePath::Image(p) | VolumePath::Dir(p) | VolumePath::Block(p) => p,
        }
    }
}

/// Resolves volume ids to host paths (the storage layer implements it).
pub trait VolumeResolver: Send + Sync {
    /// The host path of a volume, or why not.
    fn resolve(&self, volid: &str) -> std::result::Result<VolumePath, String>;
}

/// What the host offers, detected once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Online CPUs.
    pub cpus: u32,
    /// cgroup v1 memory controller with swap accounting (`memory.memsw.*`).
    pub memsw: bool,
}

impl HostFacts {
    pub fn detect() -> HostFacts {
        HostFacts {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            memsw: Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
        }
    }
}

/// Whether a bridge exists in the caller's network namespace. Asks the kernel through `ip`
/// (netlink): `/sys/class/net` shows the namespace sysfs was mounted in, which differs when
/// the daemon runs inside its own network namespace.
pub async fn bridge_exists(name: &str) -> bool {
    if name.is_empty() || name.contains('/') {
        return false;
    }
    crate::cmd::run_async("ip", &["-d", "-o", "link", "show", "dev", name])
        .await
        .is_ok_and(|out| out.contains(" bridge "))
}

fn config_err(vmid: u32, key: &str, message: impl Into<String>) -> LxcError {
    LxcError::Config {
        vmid,
        key: key.into(),
        message: message.into(),
    }
}

/// LXC's name for an architecture.
fn lxc_arch(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "i386" => "i686",
        "arm64" => "aarch64",
        "armhf" => "armv7l",
        other => other,
    }
}

/// The cpuset of `cores` CPUs: the first ones of the host.
fn cpuset(cores: u32, host_cpus: u32) -> String {
    let n = cores.min(host_cpus).max(1);
    if n == 1 {
        "0".into()
    } else {
        format!("0-{}", n - 1)
    }
}

/// The host uid and gid of the container's root: 0 for privileged containers, else from the
/// `u`/`g`/`b` entries mapping id 0 (default 100000).
pub fn root_host_ids(conf: &CtConfig) -> (u32, u32) {
    if !conf.unprivileged() {
        return (0, 0);
    }
    let mut ids = (IDMAP_BASE, IDMAP_BASE);
    for (key, value) in conf.raw_lxc() {
        let f: Vec<&str> = value.split_whitespace().collect();
        if let (true, [kind, "0", host, _]) = (key == "lxc.idmap", f.as_slice()) {
            if let Ok(h) = host.parse::<u32>() {
                match *kind {
                    "u" => ids.0 = h,
                    "g" => ids.1 = h,
                    "b" => ids = (h, h),
                    _ => {}
                }
            }
        }
    }
    ids
}

/// Check a config's raw `lxc.*` keys the way a start would (id maps), to refuse bad ones
/// when they are written.
pub fn check_raw_keys(vmid: u32, conf: &CtConfig) -> Result<()> {
    let custom = check_raw_idmaps(vmid, conf)?;
    if custom && !conf.unprivileged() {
        return Err(config_err(
            vmid,
            "lxc.idmap",
            "id maps need an unprivileged container",
        ));
    }
    Ok(())
}

/// Check raw `lxc.idmap` keys (`u|g|b CT_ID HOST_ID COUNT`); true when there are any.
/// Each kind must map container root, and ranges may not overlap.
fn check_raw_idmaps(vmid: u32, conf: &CtConfig) -> Result<bool> {
    let mut ranges: Vec<(char, u64, u64)> = Vec::new();
    for (key, value) in conf.raw_lxc() {
        if key != "lxc.idmap" {
            continue;
        }
        let f: Vec<&str> = value.split_whitespace().collect();
        let parsed = match f.as_slice() {
            [kind @ ("u" | "g" | "b"), ct, host, count] => {
                match (ct.parse::<u64>(), host.parse::<u64>(), count.parse::<u64>()) {
                    (Ok(c), Ok(h), Ok(n)) if n > 0 && c + n <= 1 << 32 && h + n <= 1 << 32 => {
                        Some((kind.chars().next().unwrap_or('u'), c, n))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let (kind, ct, count) = parsed
            .ok_or_else(|| config_err(vmid, "lxc.idmap", format!("invalid map entry '{value}'")))?;
        for k in if kind == 'b' {
            vec!['u', 'g']
        } else {
            vec![kind]
        } {
            if ranges
                .iter()
                .any(|(rk, rc, rn)| *rk == k && ct < rc + rn && *rc < ct + count)
            {
                return Err(config_err(
                    vmid,
                    "lxc.idmap",
                    format!("overlapping map entry '{value}'"),
                ));
            }
            ranges.push((k, ct, count));
        }
    }
    if ranges.is_empty() {
        return Ok(false);
    }
    for k in ['u', 'g'] {
        if !ranges.iter().any(|(rk, rc, _)| *rk == k && *rc == 0) {
            return Err(config_err(
                vmid,
                "lxc.idmap",
                format!("no '{k}' map entry for container root (id 0)"),
            ));
        }
    }
    Ok(true)
}

/// Build the LXC config text. `rootfs` is the resolved root volume; `mounts` the resolved
/// sources of the `mpN` keys that are volumes; `bridge_ok` says whether a bridge exists.
pub fn build_lxc_config(
    vmid: u32,
    conf: &CtConfig,
    rootfs: &VolumePath,
    mounts: &[(String, VolumePath)],
    host: &HostFacts,
    bridge_ok: &dyn Fn(&str) -> bool,
) -> Result<String> {
    let mut out = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{k} = {v}");
    };
    line("lxc.arch", &lxc_arch(conf.arch()));
    line("lxc.include", &format!("{LXC_CONFIG_DIR}/common.conf"));
    let unprivileged = conf.unprivileged();
    // raw lxc.idmap keys replace the default map (as in Proxmox); they must be valid
    let custom_map = check_raw_idmaps(vmid, conf)?;
    if unprivileged {
        line("lxc.include", &format!("{LXC_CONFIG_DIR}/userns.conf"));
        if !custom_map {
            line("lxc.idmap", &format!("u 0 {IDMAP_BASE} {IDMAP_SIZE}"));
            line("lxc.idmap", &format!("g 0 {IDMAP_BASE} {IDMAP_SIZE}"));
        }
    } else if custom_map {
        return Err(config_err(
            vmid,
            "lxc.idmap",
            "id maps need an unprivileged container",
        ));
    }
    let features = conf.features();
    if features.nesting {
        line("lxc.include", &format!("{LXC_CONFIG_DIR}/nesting.conf"));
    }
    if features.fuse {
        line("lxc.cgroup.devices.allow", &"c 10:229 rwm");
        line(
            "lxc.mount.entry",
            &"/dev/fuse dev/fuse none bind,create=file 0 0",
        );
    }
    if features.force_rw_sys {
        line("lxc.mount.auto", &"sys:rw");
    }
    let hostname = conf
        .hostname()
        .map(str::to_string)
        .unwrap_or_else(|| format!("CT{vmid}"));
    line("lxc.uts.name", &hostname);
    line("lxc.init.cmd", &conf.entrypoint());
    if let Some(env) = conf.get("env") {
        for var in env.split('\0').filter(|v| !v.is_empty()) {
            line("lxc.environment", &var);
        }
    }
    line("lxc.tty.max", &conf.tty());
    if !conf.console() {
        line("lxc.console.path", &"none");
    }

    // limits (cgroup v1 keys: the only ones this kernel applies)
    let mem = conf.memory_mib() << 20;
    line("lxc.cgroup.memory.limit_in_bytes", &mem);
    if host.memsw {
        let swap = conf.swap_mib() << 20;
        line("lxc.cgroup.memory.memsw.limit_in_bytes", &(mem + swap));
    }
    let cpulimit = conf.cpulimit();
    if cpulimit > 0.0 {
        line("lxc.cgroup.cpu.cfs_period_us", &100_000);
        line(
            "lxc.cgroup.cpu.cfs_quota_us",
            &((cpulimit * 100_000.0) as u64),
        );
    }
    if let Some(units) = conf.cpuunits() {
        // cgroup v1 shares: at least 2
        line("lxc.cgroup.cpu.shares", &units.max(2));
    }
    if let Some(cores) = conf.cores() {
        line("lxc.cgroup.cpuset.cpus", &cpuset(cores, host.cpus));
    }

    // root file system
    let rootfs_mp = conf
        .rootfs()
        .ok_or_else(|| config_err(vmid, "rootfs", "missing rootfs configuration"))?;
    match rootfs {
        VolumePath::Image(p) => line("lxc.rootfs.path", &format!("loop:{}", p.display())),
        VolumePath::Dir(p) => line("lxc.rootfs.path", &format!("dir:{}", p.display())),
        VolumePath::Block(p) => line("lxc.rootfs.path", &p.display()),
    }
    let mut opts = rootfs_mp.mount_options();
    if rootfs_mp.read_only() {
        opts.push("ro".into());
    }
    if !opts.is_empty() {
        line("lxc.rootfs.options", &opts.join(","));
    }

    // mount points, in index order
    for (key, mp) in conf.mount_points().into_iter().skip(1) {
        let target = mp.mp().trim_start_matches('/').to_string();
        if target.is_empty() {
            return Err(config_err(vmid, &key, "mount point path must not be '/'"));
        }
        let mut options = vec!["rbind".to_string(), "create=dir".to_string()];
        if mp.read_only() {
            options.push("ro".into());
        }
        options.extend(mp.mount_options());
        let source = match mp.source() {
            MountSource::Bind(path) | MountSource::Device(path) => PathBuf::from(path),
            MountSource::Volume(_) => match mounts.iter().find(|(k, _)| *k == key) {
                Some((_, VolumePath::Dir(p))) => p.clone(),
                Some(_) => {
                    return Err(config_err(
                        vmid,
                        &key,
                        "mount points on image volumes are not supported yet (use a subvol volume or a bind mount)",
                    ))
                }
                None => return Err(config_err(vmid, &key, "volume not resolved")),
            },
            MountSource::Alloc { .. } => {
                return Err(config_err(vmid, &key, "volume not allocated"))
            }
        };
        line(
            "lxc.mount.entry",
            &format!(
                "{} {target} none {} 0 0",
                source.display(),
                options.join(",")
            ),
        );
    }

    // network
    for (index, net) in conf.nets() {
        let key = format!("net{index}");
        let p = format!("lxc.net.{index}");
        line(&format!("{p}.type"), &"veth");
        if let Some(bridge) = net.bridge() {
            if !bridge_ok(&bridge) {
                return Err(LxcError::NoBridge { vmid, key, bridge });
            }
            line(&format!("{p}.link"), &bridge);
        }
        line(&format!("{p}.veth.pair"), &format!("veth{vmid}i{index}"));
        line(&format!("{p}.name"), &net.name());
        if let Some(mac) = net.hwaddr() {
            line(&format!("{p}.hwaddr"), &mac);
        }
        if let Some(mtu) = net.mtu() {
            line(&format!("{p}.mtu"), &mtu);
        }
        if !net.link_down() {
            line(&format!("{p}.flags"), &"up");
        }
        if let Some(ip) = net.ip().filter(|ip| ip.contains('/')) {
            line(&format!("{p}.ipv4.address"), &ip);
            if let Some(gw) = net.gw() {
                line(&format!("{p}.ipv4.gateway"), &gw);
            }
        }
        if let Some(ip6) = net.ip6().filter(|ip| ip.contains('/')) {
            line(&format!("{p}.ipv6.address"), &ip6);
            if let Some(gw6) = net.gw6() {
                line(&format!("{p}.ipv6.gateway"), &gw6);
            }
        }
    }

    // raw keys last, so they override what came before (as in Proxmox)
    for (k, v) in conf.raw_lxc() {
        line(k, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts {
            cpus: 2,
            memsw: true,
        }
    }

    fn build(conf: &str) -> Result<String> {
        let conf = CtConfig::parse(conf).unwrap();
        build_lxc_config(
            100,
            &conf,
            &VolumePath::Image("/data/local/images/100/vm-100-disk-0.raw".into()),
            &[],
            &host(),
            &|b| b == "vmbr0",
        )
    }

    #[test]
    fn unprivileged_container_with_limits() {
        let text = build(
            "arch: amd64\ncores: 4\ncpulimit: 1.5\ncpuunits: 512\nhostname: web\nmemory: 256\nswap: 128\n\
             rootfs: local:100/vm-100-disk-0.raw,mountoptions=noatime,size=1G\nunprivileged: 1\n\
             lxc.apparmor.profile: unconfined\n",
        )
        .unwrap();
        for want in [
            "lxc.arch = x86_64\n",
            "lxc.include = /usr/share/lxc/config/userns.conf\n",
            "lxc.idmap = u 0 100000 65536\n",
            "lxc.idmap = g 0 100000 65536\n",
            "lxc.uts.name = web\n",
            "lxc.init.cmd = /sbin/init\n",
            "lxc.cgroup.memory.limit_in_bytes = 268435456\n",
            "lxc.cgroup.memory.memsw.limit_in_bytes = 402653184\n",
            "lxc.cgroup.cpu.cfs_quota_us = 150000\n",
            "lxc.cgroup.cpu.shares = 512\n",
            "lxc.cgroup.cpuset.cpus = 0-1\n",
            "lxc.rootfs.path = loop:/data/local/images/100/vm-100-disk-0.raw\n",
            "lxc.rootfs.options = noatime\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(text.ends_with("lxc.apparmor.profile = unconfined\n"));
    }

    #[test]
    fn privileged_defaults() {
        let text = build("rootfs: local:100/vm-100-disk-0.raw\n").unwrap();
        assert!(!text.contains("idmap"));
        assert!(text.contains("lxc.uts.name = CT100\n"));
        assert!(text.contains("lxc.cgroup.memory.limit_in_bytes = 536870912\n"));
        assert!(!text.contains("cfs_quota") && !text.contains("cpuset"));
        let e = build("hostname: x\n").unwrap_err();
        assert!(e.to_string().contains("rootfs"), "{e}");
    }

    #[test]
    fn nets_and_mount_points() {
        let text = build(
            "rootfs: local:100/vm-100-disk-0.raw\n\
             net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.2/24,gw=10.0.0.1\n\
             net1: name=eth1,link_down=1\n\
             mp0: /srv/data,mp=/data,ro=1\n",
        )
        .unwrap();
        for want in [
            "lxc.net.0.type = veth\n",
            "lxc.net.0.link = vmbr0\n",
            "lxc.net.0.veth.pair = veth100i0\n",
            "lxc.net.0.hwaddr = BC:24:11:00:00:01\n",
            "lxc.net.0.flags = up\n",
            "lxc.net.0.ipv4.address = 10.0.0.2/24\n",
            "lxc.net.0.ipv4.gateway = 10.0.0.1\n",
            "lxc.net.1.name = eth1\n",
            "lxc.mount.entry = /srv/data data none rbind,create=dir,ro 0 0\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("lxc.net.1.flags"));
        let e = build("rootfs: local:100/vm-100-disk-0.raw\nnet0: name=eth0,bridge=vmbr9\n")
            .unwrap_err();
        assert_eq!(e.to_string(), "CT 100: net0: bridge 'vmbr9' does not exist");
    }

    #[test]
    fn raw_idmaps_replace_the_default_and_are_checked() {
        let base = "rootfs: local:100/vm-100-disk-0.raw\nunprivileged: 1\n";
        let text = build(&format!(
            "{base}lxc.idmap: u 0 200000 1000\nlxc.idmap: g 0 200000 1000\nlxc.idmap: b 1000 1000 1\n"
        ))
        .unwrap();
        assert!(!text.contains("100000"), "{text}");
        assert!(text.contains("lxc.idmap = u 0 200000 1000\n"));
        for (bad, why) in [
            ("lxc.idmap: u 0 200000\n", "invalid map entry"),
            (
                "lxc.idmap: x 0 1 1\nlxc.idmap: g 0 1 1\n",
                "invalid map entry",
            ),
            (
                "lxc.idmap: u 0 200000 10\nlxc.idmap: u 5 300000 10\nlxc.idmap: g 0 1 1\n",
                "overlapping",
            ),
            (
                "lxc.idmap: u 1 200000 10\nlxc.idmap: g 0 1 1\n",
                "container root",
            ),
        ] {
            let e = build(&format!("{base}{bad}")).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        let e = build("rootfs: local:100/vm-100-disk-0.raw\nlxc.idmap: b 0 0 65536\n").unwrap_err();
        assert!(e.to_string().contains("unprivileged"), "{e}");
    }

    #[test]
    fn volume_paths() {
        assert!(matches!(
            VolumePath::from_storage("/x/subvol-100-disk-0".into(), "subvol"),
            VolumePath::Dir(_)
        ));
        assert!(matches!(
            VolumePath::from_storage("/x/vm-100-disk-0.raw".into(), "raw"),
            VolumePath::Image(_)
        ));
        assert_eq!(cpuset(1, 8), "0");
        assert_eq!(cpuset(16, 2), "0-1");
    }
}
