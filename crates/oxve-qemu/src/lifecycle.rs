//! Starting and stopping VMs: start, stop, shutdown, reboot, reset, suspend, resume.
//!
//! QEMU runs daemonized (`setsid`, reparented away from the daemon), so it survives daemon
//! restarts. A start that fails at any step kills what it started and removes the run files.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use oxve_qmp::types::RunState;
use oxve_types::qemu::VmSettings;
use serde_json::json;
use tokio::time::Instant;

use crate::cmdline::{build_command_line, Accel, QemuCommand};
use crate::engine::QemuEngine;
use crate::error::{QemuError, Result};
use crate::process;
use crate::resolver::VolumeResolver;

/// How to start a VM.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Leave the vCPUs stopped (`qmpstatus` stays `prelaunch` until `resume`); also implied by
    /// the config's `freeze: 1`.
    pub paused: bool,
    /// Resume from a state file written by [`QemuEngine::save_state_and_stop`] (suspend to
    /// disk) instead of booting.
    pub state_file: Option<std::path::PathBuf>,
}

/// What a successful start did.
#[derive(Debug, Clone, PartialEq)]
pub struct StartReport {
    /// The QEMU process.
    pub pid: u32,
    /// The accelerator the VM runs with.
    pub accel: Accel,
    /// How the command line adapted the config to this host (for the task log).
    pub notes: Vec<String>,
    /// What QEMU printed on stderr while starting (warnings).
    pub qemu_warnings: Vec<String>,
}

/// Grace time after SIGTERM, and after SIGKILL, before giving up.
const TERM_GRACE: Duration = Duration::from_secs(3);
const KILL_GRACE: Duration = Duration::from_secs(5);

impl QemuEngine {
    /// Starts VM `vmid` with settings `conf`; refused when it already runs.
    pub async fn start(
        &self,
        vmid: u32,
        conf: &VmSettings,
        resolver: &dyn VolumeResolver,
        opts: StartOptions,
    ) -> Result<StartReport> {
        let _guard = self.lock_vm(vmid).await;
        self.start_locked(vmid, conf, resolver, opts).await
    }

    async fn start_locked(
        &self,
        vmid: u32,
        conf: &VmSettings,
        resolver: &dyn VolumeResolver,
        opts: StartOptions,
    ) -> Result<StartReport> {
        if let Some(pid) = self.is_running(vmid) {
            return Err(QemuError::AlreadyRunning { vmid, pid });
        }
        let mut cmd = build_command_line(vmid, conf, resolver, &self.host_facts(), &self.paths)?;
        if opts.state_file.is_some() {
            // The state comes in over QMP once the tap wiring is done.
            cmd.args
                .extend(["-incoming".to_string(), "defer".to_string()]);
        }
        self.cleanup(vmid).await?;
        let dir = self.paths.dir();
        std::fs::create_dir_all(dir)
            .map_err(|e| QemuError::io(format!("create {}", dir.display()), e))?;
        let paused = opts.paused || conf.get("freeze") == Some("1");
        match self
            .launch(vmid, &cmd, paused, opts.state_file.as_deref())
            .await
        {
            Ok(mut report) => {
                if let Some(note) = self.enter_cgroup(vmid, report.pid, conf) {
                    report.notes.push(note);
                }
                Ok(report)
            }
            Err(e) => {
                self.kill_leftovers(vmid).await;
                Err(e)
            }
        }
    }

    /// Runs QEMU and brings the VM up; the caller cleans up on error.
    async fn launch(
        &self,
        vmid: u32,
        cmd: &QemuCommand,
        paused: bool,
        state_file: Option<&std::path::Path>,
    ) -> Result<StartReport> {
        if let Some(efivars) = &cmd.efivars {
            std::fs::copy(&efivars.template, &efivars.dest).map_err(|e| {
                QemuError::io(
                    format!("copy EFI vars template {}", efivars.template.display()),
                    e,
                )
            })?;
        }
        let binary = &self.opts.qemu_binary;
        tracing::info!(
            vmid,
            "starting QEMU: {}",
            cmd.to_shell(&binary.to_string_lossy())
        );
        let child = tokio::process::Command::new(binary)
            .args(&cmd.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| QemuError::StartFailed {
                vmid,
                message: format!("cannot run {}: {e}", binary.display()),
            })?;
        // With -daemonize the first process exits once the VM is set up (0) or failed (1);
        // the daemon closes its stdout/stderr, so the output ends too.
        let output = tokio::time::timeout(self.opts.start_timeout, child.wait_with_output())
            .await
            .map_err(|_| QemuError::StartFailed {
                vmid,
                message: format!(
                    "QEMU did not finish starting within {}s",
                    self.opts.start_timeout.as_secs()
                ),
            })?
            .map_err(|e| QemuError::StartFailed {
                vmid,
                message: format!("waiting for QEMU: {e}"),
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr_lines: Vec<String> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if !output.status.success() {
            let message = if stderr_lines.is_empty() {
                format!("QEMU exited with {}", output.status)
            } else {
                stderr_lines.join("; ")
            };
            return Err(QemuError::StartFailed { vmid, message });
        }
        let pid = self
            .is_running(vmid)
            .ok_or_else(|| QemuError::StartFailed {
                vmid,
                message: "QEMU reported success but its process is gone".into(),
            })?;
        let qmp = self.qmp(vmid).await?;
        let status = qmp
            .query_status()
            .await
            .map_err(|e| QemuError::qmp(vmid, "query-status", e))?;
        if status.status != RunState::Prelaunch && state_file.is_none() {
            tracing::warn!(vmid, "QEMU started in state {}", status.status);
        }
        if let Some(wiring) = &self.opts.tap_wiring {
            for tap in &cmd.taps {
                wiring
                    .plug(vmid, tap)
                    .await
                    .map_err(|source| QemuError::Wiring {
                        vmid,
                        tap: tap.ifname.clone(),
                        bridge: tap.bridge.clone(),
                        source,
                    })?;
            }
        }
        for netdev in &cmd.links_down {
            qmp.execute_unit("set_link", &json!({ "name": netdev, "up": false }))
                .await
                .map_err(|e| QemuError::qmp(vmid, "set_link", e))?;
        }
        if let Some(file) = state_file {
            self.load_state(vmid, &qmp, file).await?;
        }
        if !paused {
            qmp.cont()
                .await
                .map_err(|e| QemuError::qmp(vmid, "cont", e))?;
        }
        tracing::info!(vmid, pid, "VM started");
        Ok(StartReport {
            pid,
            accel: cmd.accel,
            notes: cmd.notes.clone(),
            qemu_warnings: stderr_lines,
        })
    }

    /// Kills whatever a failed start left running and removes the run files.
    async fn kill_leftovers(&self, vmid: u32) {
        if let Some(pid) = process::read_pidfile(&self.paths.pidfile(vmid)) {
            let qmp = self.paths.qmp(vmid);
            if process::is_qemu_of(pid, &qmp) {
                process::signal(pid, Signal::SIGKILL);
                process::wait_exit(pid, &qmp, KILL_GRACE).await;
            }
        }
        if let Err(e) = self.cleanup(vmid).await {
            tracing::warn!(vmid, "cleaning up after a failed start: {e}");
        }
    }

    /// Stops the VM hard: QMP `quit`, then SIGTERM, then SIGKILL once `timeout` has passed;
    /// returns when the process is gone and its files removed. A stopped VM is fine.
    pub async fn stop(&self, vmid: u32, timeout: Duration) -> Result<()> {
        let _guard = self.lock_vm(vmid).await;
        self.stop_locked(vmid, timeout).await
    }

    async fn stop_locked(&self, vmid: u32, timeout: Duration) -> Result<()> {
        let Some(pid) = self.is_running(vmid) else {
            return self.cleanup(vmid).await;
        };
        let qmp_path = self.paths.qmp(vmid);
        let deadline = Instant::now() + timeout;
        let quit = async {
            let client = self.qmp(vmid).await?;
            client
                .with_timeout(timeout.min(Duration::from_secs(5)))
                .quit()
                .await
                .map_err(|e| QemuError::qmp(vmid, "quit", e))
        };
        let mut gone = match quit.await {
            Ok(()) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                process::wait_exit(pid, &qmp_path, wait).await
            }
            Err(e) => {
                tracing::warn!(vmid, "quit failed, terminating QEMU: {e}");
                false
            }
        };
        if !gone {
            process::signal(pid, Signal::SIGTERM);
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .max(TERM_GRACE);
            gone = process::wait_exit(pid, &qmp_path, wait).await;
        }
        if !gone {
            tracing::warn!(vmid, pid, "QEMU ignored SIGTERM, killing it");
            process::signal(pid, Signal::SIGKILL);
            gone = process::wait_exit(pid, &qmp_path, KILL_GRACE).await;
        }
        if !gone {
            return Err(QemuError::StopFailed { vmid, pid });
        }
        tracing::info!(vmid, pid, "VM stopped");
        self.cleanup(vmid).await
    }

    /// Shuts the VM down cleanly: ACPI power button, then waits up to `timeout` for QEMU to
    /// exit. When the guest ignores it: with `force_stop` the VM is stopped hard, without it
    /// the VM keeps running and [`QemuError::ShutdownTimeout`] says so. A paused VM cannot
    /// react and is refused unless `force_stop`. A stopped VM is fine.
    pub async fn shutdown(&self, vmid: u32, timeout: Duration, force_stop: bool) -> Result<()> {
        self.shutdown_via(vmid, timeout, force_stop, false).await
    }

    /// [`QemuEngine::shutdown`], asking the guest agent (`guest-shutdown`) instead of pressing
    /// the power button when `use_agent` (Proxmox does so for VMs with `agent: 1`); an agent
    /// that does not answer falls back to the power button.
    pub async fn shutdown_via(
        &self,
        vmid: u32,
        timeout: Duration,
        force_stop: bool,
        use_agent: bool,
    ) -> Result<()> {
        let _guard = self.lock_vm(vmid).await;
        self.shutdown_locked(vmid, timeout, force_stop, use_agent)
            .await
    }

    async fn shutdown_locked(
        &self,
        vmid: u32,
        timeout: Duration,
        force_stop: bool,
        use_agent: bool,
    ) -> Result<()> {
        let Some(pid) = self.is_running(vmid) else {
            return self.cleanup(vmid).await;
        };
        let qmp = self.qmp(vmid).await?;
        let status = qmp
            .query_status()
            .await
            .map_err(|e| QemuError::qmp(vmid, "query-status", e))?;
        if !status.running {
            if !force_stop {
                return Err(QemuError::Paused { vmid });
            }
            return self.stop_locked(vmid, KILL_GRACE).await;
        }
        let by_agent = use_agent && {
            match self.agent_command(vmid, "guest-shutdown", None).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(vmid, "guest-shutdown failed ({e}), using the power button");
                    false
                }
            }
        };
        if !by_agent {
            qmp.system_powerdown()
                .await
                .map_err(|e| QemuError::qmp(vmid, "system_powerdown", e))?;
        }
        drop(qmp);
        if process::wait_exit(pid, &self.paths.qmp(vmid), timeout).await {
            tracing::info!(vmid, pid, "VM shut down");
            return self.cleanup(vmid).await;
        }
        if force_stop {
            tracing::warn!(vmid, "guest did not shut down in time, stopping it");
            return self.stop_locked(vmid, KILL_GRACE).await;
        }
        Err(QemuError::ShutdownTimeout { vmid, timeout })
    }

    /// Reboots as Proxmox does: a clean shutdown (up to `timeout`, not forced; through the
    /// guest agent when `conf` enables it), then a start with `conf` (so pending changes the
    /// caller applied take effect).
    pub async fn reboot(
        &self,
        vmid: u32,
        conf: &VmSettings,
        resolver: &dyn VolumeResolver,
        timeout: Duration,
    ) -> Result<StartReport> {
        let _guard = self.lock_vm(vmid).await;
        if self.is_running(vmid).is_none() {
            return Err(QemuError::NotRunning { vmid });
        }
        self.shutdown_locked(vmid, timeout, false, conf.agent_enabled())
            .await?;
        self.start_locked(vmid, conf, resolver, StartOptions::default())
            .await
    }

    /// Hard reset (`system_reset`).
    pub async fn reset(&self, vmid: u32) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        qmp.system_reset()
            .await
            .map_err(|e| QemuError::qmp(vmid, "system_reset", e))
    }

    /// Pauses the vCPUs (QMP `stop`; `qmpstatus` becomes `paused`).
    pub async fn suspend(&self, vmid: u32) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        qmp.stop()
            .await
            .map_err(|e| QemuError::qmp(vmid, "stop", e))
    }

    /// Resumes a paused (or `prelaunch`) VM (QMP `cont`).
    pub async fn resume(&self, vmid: u32) -> Result<()> {
        let qmp = self.qmp(vmid).await?;
        qmp.cont()
            .await
            .map_err(|e| QemuError::qmp(vmid, "cont", e))
    }
}
