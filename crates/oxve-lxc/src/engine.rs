//! The container engine: start, stop, shutdown, reboot, freeze, thaw, exec, live limits,
//! and status, through liblxc's tools. Nothing kept in memory is needed to manage a
//! container: the monitor's pidfile, `/proc` and LXC's command socket say everything, so an
//! engine created after a daemon restart adopts the containers that kept running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oxve_types::lxc::{CtConfig, MountSource};
use tokio::sync::OwnedMutexGuard;

use crate::cmd::run_async;
use crate::error::{io, LxcError, Result};
use crate::lxcconf::{bridge_exists, build_lxc_config, HostFacts, VolumePath, VolumeResolver};
use crate::mount::HostMount;
use crate::paths::LxcPaths;
use crate::process;
use crate::status::CpuSample;
use std::collections::HashSet;

/// The bridges the config's NICs name that exist now.
async fn existing_bridges(conf: &CtConfig) -> HashSet<String> {
    let mut found = HashSet::new();
    for (_, net) in conf.nets() {
        if let Some(bridge) = net.bridge() {
            if !found.contains(&bridge) && bridge_exists(&bridge).await {
                found.insert(bridge);
            }
        }
    }
    found
}

/// Mount points as directories, for a config check before the image ones are mounted.
/// How often a start that lost the race for a loop device is tried.
const LOOP_RACE_ATTEMPTS: u64 = 5;

/// Whether an `lxc-start` log shows the loop device LXC picked was taken by another process.
fn lost_loop_race(log: &str) -> bool {
    log.contains("Failed to set loop fd") && log.contains("Device or resource busy")
}

fn placeholders(mounts: &[(String, VolumePath)]) -> Vec<(String, VolumePath)> {
    mounts
        .iter()
        .map(|(k, v)| (k.clone(), VolumePath::Dir(v.path().to_path_buf())))
        .collect()
}

/// What `start` did.
#[derive(Debug, Clone)]
pub struct StartReport {
    /// Host pid of the container's init.
    pub pid: u32,
}

/// Output of a command run inside a container.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The container engine of one node (or one test).
pub struct LxcEngine {
    pub(crate) paths: LxcPaths,
    /// Where the appliance index comes from and where it is cached (`pveam update`).
    appliance_index: Option<(String, PathBuf)>,
    pub(crate) host: HostFacts,
    locks: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) samples: Mutex<HashMap<u32, CpuSample>>,
}

impl std::fmt::Debug for LxcEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LxcEngine")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LxcEngine {
    /// An engine keeping its files under `<run_dir>/lxc`.
    pub fn new(run_dir: &Path) -> Self {
        LxcEngine {
            paths: LxcPaths::new(run_dir),
            appliance_index: None,
            host: HostFacts::detect(),
            locks: Mutex::new(HashMap::new()),
            samples: Mutex::new(HashMap::new()),
        }
    }

    /// Read the appliance index from `url` (`file://`, `http(s)://`), caching it in `cache`.
    pub fn with_appliance_index(mut self, url: String, cache: PathBuf) -> Self {
        self.appliance_index = Some((url, cache));
        self
    }

    /// The configured appliance index URL and its cache file.
    pub fn appliance_index(&self) -> Option<(&str, &Path)> {
        self.appliance_index
            .as_ref()
            .map(|(u, c)| (u.as_str(), c.as_path()))
    }

    pub fn paths(&self) -> &LxcPaths {
        &self.paths
    }

    fn lxc_path(&self) -> String {
        self.paths.lxc_path().to_string_lossy().into_owned()
    }

    /// The pid of the container's LXC monitor if the container runs.
    pub fn is_running(&self, vmid: u32) -> Option<u32> {
        let pid = process::read_pidfile(&self.paths.pidfile(vmid))?;
        process::is_monitor_of(pid, self.paths.lxc_path(), &vmid.to_string()).then_some(pid)
    }

    /// The host pid of the container's init (from LXC's command socket).
    pub async fn init_pid(&self, vmid: u32) -> Option<u32> {
        let monitor = self.is_running(vmid)?;
        // fast path: the init is the monitor's only child, in the container's cgroup
        if let Some(pid) = process::only_child(monitor) {
            if process::cgroup_of(pid, "pids").is_some_and(|c| c.contains("lxc.payload")) {
                return Some(pid);
            }
        }
        let out = run_async(
            "lxc-info",
            &["-n", &vmid.to_string(), "-P", &self.lxc_path(), "-p", "-H"],
        )
        .await
        .ok()?;
        out.trim().parse().ok().filter(|p| *p > 0)
    }

    /// The serialization lock of one container's lifecycle operations.
    pub async fn lock_ct(&self, vmid: u32) -> OwnedMutexGuard<()> {
        let m = lock(&self.locks).entry(vmid).or_default().clone();
        m.lock_owned().await
    }

    /// Resolve the rootfs and the volume mount points of a config.
    fn resolve(
        &self,
        vmid: u32,
        conf: &CtConfig,
        resolver: &dyn VolumeResolver,
    ) -> Result<(VolumePath, Vec<(String, VolumePath)>)> {
        let mut rootfs = None;
        let mut mounts = Vec::new();
        for (key, mp) in conf.mount_points() {
            let resolved = match mp.source() {
                MountSource::Volume(volid) => {
                    resolver
                        .resolve(&volid)
                        .map_err(|message| LxcError::Resolve {
                            vmid,
                            key: key.clone(),
                            volid: volid.clone(),
                            message,
                        })?
                }
                MountSource::Bind(p) if key == "rootfs" => VolumePath::Dir(PathBuf::from(p)),
                MountSource::Device(p) if key == "rootfs" => VolumePath::Block(PathBuf::from(p)),
                MountSource::Alloc { .. } => {
                    return Err(LxcError::Config {
                        vmid,
                        key,
                        message: "volume not allocated".into(),
                    })
                }
                _ => continue,
            };
            if !resolved.path().exists() {
                return Err(LxcError::Resolve {
                    vmid,
                    key,
                    volid: mp.volume(),
                    message: format!("{} does not exist", resolved.path().display()),
                });
            }
            if key == "rootfs" {
                rootfs = Some(resolved);
            } else {
                mounts.push((key, resolved));
            }
        }
        let rootfs = rootfs.ok_or_else(|| LxcError::Config {
            vmid,
            key: "rootfs".into(),
            message: "missing rootfs configuration".into(),
        })?;
        Ok((rootfs, mounts))
    }

    /// The LXC config `start` would write (`pct config`-like view for debugging).
    pub async fn lxc_config(
        &self,
        vmid: u32,
        conf: &CtConfig,
        resolver: &dyn VolumeResolver,
    ) -> Result<String> {
        let (rootfs, mounts) = self.resolve(vmid, conf, resolver)?;
        let bridges = existing_bridges(conf).await;
        build_lxc_config(vmid, conf, &rootfs, &mounts, &self.host, &|b| {
            bridges.contains(b)
        })
    }

    /// Start a container: write its LXC config, bring hostname and DNS inside up to date,
    /// and run `lxc-start` daemonized.
    pub async fn start(
        &self,
        vmid: u32,
        conf: &CtConfig,
        resolver: &dyn VolumeResolver,
    ) -> Result<StartReport> {
        let _guard = self.lock_ct(vmid).await;
        self.start_locked(vmid, conf, resolver).await
    }

    async fn start_locked(
        &self,
        vmid: u32,
        conf: &CtConfig,
        resolver: &dyn VolumeResolver,
    ) -> Result<StartReport> {
        if self.is_running(vmid).is_some() {
            return Err(LxcError::AlreadyRunning { vmid });
        }
        let (rootfs, mounts) = self.resolve(vmid, conf, resolver)?;
        let bridges = existing_bridges(conf).await;
        let bridge_ok = |b: &str| bridges.contains(b);
        // checks everything (bridges, keys) before anything is mounted
        let text = build_lxc_config(
            vmid,
            conf,
            &rootfs,
            &placeholders(&mounts),
            &self.host,
            &bridge_ok,
        )?;
        let rootfs_for_conf = rootfs.clone();
        let dir = self.paths.dir(vmid);
        std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        if conf.unprivileged() {
            crate::acl::grant_traverse(&dir, crate::lxcconf::root_host_ids(conf).0)?;
        }
        // pre-start setup on the stopped rootfs, like pve-container's prestart hook; skipped
        // when the settings it writes did not change since it last ran for this rootfs (the
        // stamp lives in the run dir, so the first start after a host boot always runs it)
        let stamp_file = self.paths.setup_stamp(vmid);
        let stamp = crate::setup::stamp(vmid, conf, rootfs.path());
        if std::fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) {
            let _ = std::fs::remove_file(&stamp_file);
            let setup_dir = self.paths.setup_mount(vmid);
            let conf_owned = conf.clone();
            let rootfs = rootfs.clone();
            tokio::task::spawn_blocking(move || -> Result<()> {
                let mount = HostMount::mount(&rootfs, &setup_dir)?;
                crate::setup::apply_config(mount.path(), vmid, &conf_owned)?;
                mount.unmount()
            })
            .await
            .map_err(|e| LxcError::Tool {
                tool: "setup".into(),
                message: e.to_string(),
            })??;
            std::fs::write(&stamp_file, &stamp).map_err(io("writing", &stamp_file))?;
        }
        // Image mount points: mounted (private) on the host, bound into the container by LXC,
        // and unmounted on the host right after the start; the container's copy keeps the
        // file system (and its auto-clearing loop device) until the container stops.
        let (text, _host_mounts) = if mounts.iter().any(|(_, v)| !matches!(v, VolumePath::Dir(_))) {
            let paths = self.paths.clone();
            let mounts = mounts.clone();
            let (bound, guards) = tokio::task::spawn_blocking(move || -> Result<_> {
                let mut bound = Vec::new();
                let mut guards = Vec::new();
                for (key, vol) in mounts {
                    if matches!(vol, VolumePath::Dir(_)) {
                        bound.push((key, vol));
                        continue;
                    }
                    let m = HostMount::mount(&vol, &paths.mount_point(vmid, &key))?;
                    m.make_private()?;
                    bound.push((key, VolumePath::Dir(m.path().to_path_buf())));
                    guards.push(m);
                }
                Ok((bound, guards))
            })
            .await
            .map_err(|e| LxcError::Tool {
                tool: "mount".into(),
                message: e.to_string(),
            })??;
            let text =
                build_lxc_config(vmid, conf, &rootfs_for_conf, &bound, &self.host, &bridge_ok)?;
            (text, guards)
        } else {
            (text, Vec::new())
        };
        let config_path = self.paths.config(vmid);
        std::fs::write(&config_path, text).map_err(io("writing", &config_path))?;
        let log = self.paths.log(vmid);
        let _ = std::fs::remove_file(&log);
        let pidfile = self.paths.pidfile(vmid);
        let _ = std::fs::remove_file(&pidfile);
        let level = if conf.debug() { "DEBUG" } else { "ERROR" };
        let (name, lxc_path) = (vmid.to_string(), self.lxc_path());
        let (pidfile, log_arg) = (pidfile.to_string_lossy(), log.to_string_lossy());
        let args = [
            "-n", &name, "-P", &lxc_path, "-d", "-p", &pidfile, "-o", &log_arg, "-l", level,
        ];
        let mut attempt = 1;
        loop {
            let Err(e) = run_async("lxc-start", &args).await else {
                break;
            };
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            // LXC attaches an image rootfs to the loop device LOOP_CTL_GET_FREE names and
            // gives up when another process (a mount, another container) took it in
            // between; the failed start undid everything, so it is safe to try again.
            if attempt < LOOP_RACE_ATTEMPTS && lost_loop_race(&logged) {
                tracing::info!("CT {vmid}: lost a race for a loop device, starting again");
                attempt += 1;
                let _ = std::fs::remove_file(&log);
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                continue;
            }
            let errors: Vec<&str> = logged.lines().filter(|l| l.contains("ERROR")).collect();
            let message = if errors.is_empty() {
                e.to_string()
            } else {
                errors.join("\n")
            };
            return Err(LxcError::StartFailed { vmid, message });
        }
        let pid = self.init_pid(vmid).await.ok_or(LxcError::StartFailed {
            vmid,
            message: "the container stopped right after it started".into(),
        })?;
        Ok(StartReport { pid })
    }

    async fn lxc_stop(&self, vmid: u32, args: &[&str]) -> Result<()> {
        let name = vmid.to_string();
        let lxc_path = self.lxc_path();
        let mut all = vec!["-n", name.as_str(), "-P", lxc_path.as_str()];
        all.extend_from_slice(args);
        run_async("lxc-stop", &all).await.map(|_| ())
    }

    /// Wait for the monitor to go (the container fully stopped).
    async fn wait_stopped(&self, vmid: u32, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.is_running(vmid).is_some() {
            if Instant::now() > deadline {
                return Err(LxcError::Timeout {
                    vmid,
                    action: "stop",
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lock(&self.samples).remove(&vmid);
        Ok(())
    }

    /// Hard stop: kill the container's processes.
    pub async fn stop(&self, vmid: u32, timeout: Duration) -> Result<()> {
        let _guard = self.lock_ct(vmid).await;
        if self.is_running(vmid).is_none() {
            return Ok(());
        }
        self.lxc_stop(vmid, &["-k"]).await?;
        self.wait_stopped(vmid, timeout).await
    }

    /// Clean shutdown: signal the init (SIGPWR) and wait; with `force`, kill it when the
    /// timeout passes.
    pub async fn shutdown(&self, vmid: u32, timeout: Duration, force: bool) -> Result<()> {
        let _guard = self.lock_ct(vmid).await;
        self.shutdown_locked(vmid, timeout, force).await
    }

    async fn shutdown_locked(&self, vmid: u32, timeout: Duration, force: bool) -> Result<()> {
        if self.is_running(vmid).is_none() {
            return Err(LxcError::NotRunning { vmid });
        }
        // a frozen init cannot handle the shutdown signal: thaw it first
        if let Some(pid) = self.init_pid(vmid).await {
            if self.is_frozen(pid) {
                run_async(
                    "lxc-unfreeze",
                    &["-n", &vmid.to_string(), "-P", &self.lxc_path()],
                )
                .await?;
            }
        }
        let secs = timeout.as_secs().max(1).to_string();
        let mut args = vec!["-t", secs.as_str()];
        if !force {
            args.push("--nokill");
        }
        match self.lxc_stop(vmid, &args).await {
            Ok(()) => {}
            Err(_) if !force && self.is_running(vmid).is_some() => {
                return Err(LxcError::Timeout {
                    vmid,
                    action: "shutdown",
                })
            }
            Err(e) => return Err(e),
        }
        self.wait_stopped(vmid, Duration::from_secs(10)).await
    }

    /// Reboot: clean shutdown, then start with the (possibly changed) config.
    pub async fn reboot(
        &self,
        vmid: u32,
        conf: &CtConfig,
        resolver: &dyn VolumeResolver,
        timeout: Duration,
    ) -> Result<StartReport> {
        let _guard = self.lock_ct(vmid).await;
        self.shutdown_locked(vmid, timeout, true).await?;
        self.start_locked(vmid, conf, resolver).await
    }

    /// Freeze all processes (`lxc-freeze`).
    pub async fn suspend(&self, vmid: u32) -> Result<()> {
        self.simple(vmid, "lxc-freeze").await
    }

    /// Thaw a frozen container (`lxc-unfreeze`).
    pub async fn resume(&self, vmid: u32) -> Result<()> {
        self.simple(vmid, "lxc-unfreeze").await
    }

    async fn simple(&self, vmid: u32, tool: &str) -> Result<()> {
        let _guard = self.lock_ct(vmid).await;
        if self.is_running(vmid).is_none() {
            return Err(LxcError::NotRunning { vmid });
        }
        run_async(tool, &["-n", &vmid.to_string(), "-P", &self.lxc_path()])
            .await
            .map(|_| ())
    }

    /// Whether the container's processes are frozen.
    pub fn is_frozen(&self, init_pid: u32) -> bool {
        process::cgroup_file(init_pid, "freezer", "freezer.state").as_deref() == Some("FROZEN")
    }

    /// Change a cgroup value of a running container (`lxc-cgroup`), e.g. a new memory limit.
    pub async fn set_cgroup(&self, vmid: u32, key: &str, value: &str) -> Result<()> {
        if self.is_running(vmid).is_none() {
            return Err(LxcError::NotRunning { vmid });
        }
        run_async(
            "lxc-cgroup",
            &["-n", &vmid.to_string(), "-P", &self.lxc_path(), key, value],
        )
        .await
        .map(|_| ())
    }

    /// Apply new memory and swap limits (MiB) to a running container. The kernel wants
    /// `memory <= memory+swap` at every step, so the order depends on the direction.
    pub async fn set_memory_limits(&self, vmid: u32, memory_mib: u64, swap_mib: u64) -> Result<()> {
        let mem = (memory_mib << 20).to_string();
        let memsw = ((memory_mib + swap_mib) << 20).to_string();
        if !self.host.memsw {
            return self.set_cgroup(vmid, "memory.limit_in_bytes", &mem).await;
        }
        let pid = self
            .init_pid(vmid)
            .await
            .ok_or(LxcError::NotRunning { vmid })?;
        let current = process::cgroup_u64(pid, "memory", "memory.memsw.limit_in_bytes");
        if current.is_some_and(|c| c < (memory_mib + swap_mib) << 20) {
            self.set_cgroup(vmid, "memory.memsw.limit_in_bytes", &memsw)
                .await?;
            self.set_cgroup(vmid, "memory.limit_in_bytes", &mem).await
        } else {
            self.set_cgroup(vmid, "memory.limit_in_bytes", &mem).await?;
            self.set_cgroup(vmid, "memory.memsw.limit_in_bytes", &memsw)
                .await
        }
    }

    /// Apply the CPU settings of `conf` to a running container (cores, cpulimit, cpuunits).
    pub async fn set_cpu_limits(&self, vmid: u32, conf: &CtConfig) -> Result<()> {
        let cpus = conf
            .cores()
            .unwrap_or(self.host.cpus)
            .min(self.host.cpus)
            .max(1);
        let set = if cpus == 1 {
            "0".to_string()
        } else {
            format!("0-{}", cpus - 1)
        };
        self.set_cgroup(vmid, "cpuset.cpus", &set).await?;
        let limit = conf.cpulimit();
        let quota = if limit > 0.0 {
            ((limit * 100_000.0) as i64).to_string()
        } else {
            "-1".into()
        };
        self.set_cgroup(vmid, "cpu.cfs_period_us", "100000").await?;
        self.set_cgroup(vmid, "cpu.cfs_quota_us", &quota).await?;
        let shares = conf.cpuunits().unwrap_or(1024).max(2);
        self.set_cgroup(vmid, "cpu.shares", &shares.to_string())
            .await
    }

    /// Run a command inside the running container (`pct exec`), with a clean environment.
    pub async fn exec(&self, vmid: u32, command: &[&str]) -> Result<ExecOutput> {
        if self.is_running(vmid).is_none() {
            return Err(LxcError::NotRunning { vmid });
        }
        let out = tokio::process::Command::new("lxc-attach")
            .args([
                "-n",
                &vmid.to_string(),
                "-P",
                &self.lxc_path(),
                "--clear-env",
                "--",
            ])
            .args(command)
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| LxcError::Tool {
                tool: "lxc-attach".into(),
                message: e.to_string(),
            })?;
        Ok(ExecOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The network interfaces inside a running container with their addresses
    /// (`GET .../interfaces`): name, hwaddr, inet and inet6 (CIDR), from `ip -j addr` run in
    /// the container's network namespace.
    pub async fn interfaces(&self, vmid: u32) -> Result<Vec<serde_json::Value>> {
        let pid = self
            .init_pid(vmid)
            .await
            .ok_or(LxcError::NotRunning { vmid })?;
        let netns = format!("--net=/proc/{pid}/ns/net");
        let out = run_async("nsenter", &[&netns, "ip", "-j", "addr", "show"]).await?;
        let links: Vec<serde_json::Value> =
            serde_json::from_str(&out).map_err(|e| LxcError::Tool {
                tool: "ip -j addr".into(),
                message: e.to_string(),
            })?;
        Ok(links.iter().map(crate::status::interface_entry).collect())
    }

    /// Remove the run files of a stopped container (after destroy).
    pub fn cleanup(&self, vmid: u32) {
        if self.is_running(vmid).is_none() {
            let _ = std::fs::remove_dir_all(self.paths.dir(vmid));
            lock(&self.samples).remove(&vmid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lost_loop_race;

    #[test]
    fn only_the_loop_device_race_is_retried() {
        let raced = "lxc-start 101 20261127 ERROR    utils - ../src/lxc/utils.c:1395 - Device or resource busy - Failed to set loop fd\n";
        assert!(lost_loop_race(raced));
        let other = "lxc-start 101 20261127 ERROR    utils - ../src/lxc/utils.c:1395 - No such file or directory - Failed to open loop device\n";
        assert!(!lost_loop_race(other));
    }
}
