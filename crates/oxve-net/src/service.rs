//! The node's network configuration on disk and its application, as Proxmox keeps it:
//! `interfaces` is what is applied, `interfaces.new` holds pending changes until a reload
//! applies them (or a revert drops them). Paths live under the data dir, never `/etc`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tokio::sync::{Mutex, MutexGuard};

use crate::apply::{apply, physical_nics};
use crate::error::{NetError, Result};
use crate::interfaces::{self, InterfacesFile};
use crate::netlink::Netlink;

/// The network configuration of one node.
#[derive(Debug)]
pub struct NetworkService {
    dir: PathBuf,
    run_dir: PathBuf,
    /// Serializes every change of the files and of the kernel state.
    lock: Mutex<()>,
    /// Serializes firewall changes and their application.
    firewall_lock: Mutex<()>,
    /// TCP ports the host firewall always opens to the node's networks (API, SSH).
    management_ports: std::sync::Mutex<Vec<u16>>,
    /// Sends guest firewall changes to the kernel, only what changed.
    guest_firewall: crate::firewall::applier::GuestFirewallApplier,
    /// Sends the host firewall to the kernel when it changed.
    host_firewall: crate::firewall::host::HostFirewallApplier,
}

/// What a reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    pub log: Vec<String>,
}

fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetError::io("reading", path, e)),
    }
}

/// Write `text` to `path` through a temp file and rename, so readers never see half a file.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| NetError::io("creating", dir, e))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| NetError::io("writing", &tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| NetError::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NetError::io("renaming", &tmp, e))
}

/// The device and local address the kernel uses to reach `ip` (`ip route get`).
fn route_to(ip: IpAddr) -> Option<(String, String)> {
    let out = std::process::Command::new("ip")
        .args(["-j", "route", "get", &ip.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let r = v.get(0)?;
    Some((
        r["dev"].as_str()?.to_string(),
        r["prefsrc"].as_str().unwrap_or_default().to_string(),
    ))
}

impl NetworkService {
    /// The configuration under `<data_dir>/network`; runtime files (dnsmasq) under
    /// `<run_dir>/network`.
    pub fn new(data_dir: &Path, run_dir: &Path) -> Self {
        NetworkService {
            dir: data_dir.join("network"),
            run_dir: run_dir.join("network"),
            lock: Mutex::new(()),
            firewall_lock: Mutex::new(()),
            management_ports: std::sync::Mutex::new(vec![22, 8006]),
            guest_firewall: Default::default(),
            host_firewall: Default::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The applied configuration's file.
    pub fn active_path(&self) -> PathBuf {
        self.dir.join("interfaces")
    }

    /// The pending configuration's file.
    pub fn pending_path(&self) -> PathBuf {
        self.dir.join("interfaces.new")
    }

    /// Hold this while reading, changing and writing the configuration.
    pub async fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// The API's port, once the daemon listens (kept open by the host firewall with SSH).
    pub fn set_api_port(&self, port: u16) {
        let mut ports = self
            .management_ports
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *ports = vec![port, 22];
    }

    /// The guest firewall's applier (remembers what the kernel has).
    pub fn guest_firewall(&self) -> &crate::firewall::applier::GuestFirewallApplier {
        &self.guest_firewall
    }

    /// The host firewall's applier (remembers what the kernel has).
    pub fn host_firewall(&self) -> &crate::firewall::host::HostFirewallApplier {
        &self.host_firewall
    }

    pub fn management_ports(&self) -> Vec<u16> {
        self.management_ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Hold this while changing and applying firewall configuration.
    pub async fn firewall_lock(&self) -> MutexGuard<'_, ()> {
        self.firewall_lock.lock().await
    }

    /// The applied configuration (empty before the first apply).
    pub fn read_active(&self) -> Result<InterfacesFile> {
        Ok(read_opt(&self.active_path())?
            .map(|t| interfaces::parse(&t))
            .unwrap_or_default())
    }

    /// The configuration with pending changes (the applied one when nothing is pending).
    pub fn read_pending(&self) -> Result<InterfacesFile> {
        match read_opt(&self.pending_path())? {
            Some(t) => Ok(interfaces::parse(&t)),
            None => self.read_active(),
        }
    }

    /// The pending configuration plus the physical NICs of this namespace.
    pub async fn read_with_discovery(&self) -> Result<InterfacesFile> {
        let mut file = self.read_pending()?;
        let nl = Netlink::connect()?;
        file.merge_discovered(&physical_nics(&nl).await?);
        Ok(file)
    }

    /// Check `file` and store it as the pending configuration.
    pub fn write_pending(&self, file: &InterfacesFile) -> Result<()> {
        interfaces::check(file)?;
        write_atomic(&self.pending_path(), &interfaces::render(file))
    }

    /// Drop pending changes.
    pub fn revert(&self) -> Result<()> {
        match std::fs::remove_file(self.pending_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NetError::io("removing", self.pending_path(), e)),
        }
    }

    /// The pending changes as a unified diff (Proxmox's `changes`), if there are any.
    pub fn changes(&self) -> Option<String> {
        let pending = self.pending_path();
        if !pending.exists() {
            return None;
        }
        let active = self.active_path();
        let old: &Path = if active.exists() {
            &active
        } else {
            Path::new("/dev/null")
        };
        let out = std::process::Command::new("diff")
            .arg("-u")
            .arg(old)
            .arg(&pending)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (!text.is_empty()).then_some(text)
    }

    /// Apply the pending configuration; on failure the previous one is applied again and the
    /// pending changes stay pending. With `client` (the API caller's address), a change that
    /// would cut the caller off (no route to it, or the local address it talks to gone) is
    /// rolled back as a failure. Call with the lock held.
    pub async fn reload(&self, client: Option<IpAddr>) -> Result<ReloadReport> {
        let old = self.read_active()?;
        let new = self.read_pending()?;
        interfaces::check(&new)?;
        let nl = Netlink::connect()?;
        let client = client.filter(|ip| !ip.is_loopback());
        let path_before = client.and_then(route_to);
        let applied = apply(&nl, &old, &new).await.and_then(|log| {
            if let (Some(ip), Some((_, src))) = (client, &path_before) {
                let still = route_to(ip).is_some_and(|(_, s)| s == *src);
                if !still {
                    return Err(NetError::Invalid(format!(
                        "the new configuration would cut off the API client at {ip} (reached \
                         from {src}); the previous configuration was restored (apply it with \
                         rollback-timeout to keep it once confirmed)"
                    )));
                }
            }
            Ok(log)
        });
        match applied {
            Ok(log) => {
                if self.pending_path().exists() {
                    std::fs::rename(self.pending_path(), self.active_path())
                        .map_err(|e| NetError::io("renaming", self.pending_path(), e))?;
                }
                Ok(ReloadReport { log })
            }
            Err(err) => {
                tracing::warn!("network apply failed, restoring the previous configuration: {err}");
                if let Err(rb) = apply(&nl, &new, &old).await {
                    tracing::error!("restoring the previous network configuration failed: {rb}");
                }
                Err(err)
            }
        }
    }

    /// Apply the stored configuration at daemon start (nothing pending is applied), as much
    /// of it as works: failures are in the log.
    pub async fn apply_on_start(&self) -> Result<Vec<String>> {
        let _guard = self.lock().await;
        let active = self.read_active()?;
        let nl = Netlink::connect()?;
        Ok(crate::apply::apply_best_effort(&nl, &active).await)
    }
}
