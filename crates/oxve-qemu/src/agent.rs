//! The guest agent (qemu-ga) of a running VM: one session at a time per VM, since QEMU's agent
//! socket serves a single client and a second one would wait unanswered (and look like an
//! agent that is not running).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use oxve_qmp::qga::{QgaClient, QgaError};
use serde_json::Value;
use tokio::sync::OwnedMutexGuard;

use crate::engine::QemuEngine;

/// Why an agent command could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The VM's QEMU is not running.
    #[error("VM {vmid} is not running")]
    VmNotRunning {
        /// The VM.
        vmid: u32,
    },
    /// Talking to the agent failed (not running in the guest, timeout, command error).
    #[error(transparent)]
    Qga(#[from] QgaError),
}

impl AgentError {
    /// True when the agent itself did not answer (as opposed to answering with an error).
    pub fn agent_not_running(&self) -> bool {
        matches!(self, AgentError::Qga(QgaError::NotRunning))
    }
}

/// A synced connection to a VM's agent; holds the VM's agent lock while it lives.
pub struct AgentSession {
    client: QgaClient,
    _guard: OwnedMutexGuard<()>,
}

impl AgentSession {
    /// Runs one agent command (timeouts as [`oxve_qmp::qga::timeout_for`]).
    pub async fn execute(
        &mut self,
        command: &str,
        args: Option<Value>,
    ) -> Result<Value, AgentError> {
        Ok(self.client.execute(command, args).await?)
    }

    /// Runs one agent command with an explicit timeout.
    pub async fn execute_with_timeout(
        &mut self,
        command: &str,
        args: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, AgentError> {
        Ok(self
            .client
            .execute_with_timeout(command, args, timeout)
            .await?)
    }
}

static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

impl QemuEngine {
    /// Connects to the agent of running VM `vmid` and syncs; waits for another session of the
    /// same VM to end first.
    pub async fn agent(&self, vmid: u32) -> Result<AgentSession, AgentError> {
        if self.is_running(vmid).is_none() {
            return Err(AgentError::VmNotRunning { vmid });
        }
        let path = self.paths.qga(vmid);
        let lock = LOCKS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.clone())
            .or_default()
            .clone();
        let guard = lock.lock_owned().await;
        let client = QgaClient::connect(&path).await.map_err(|e| match e {
            // No socket: the VM has no agent channel (started without `agent: 1`).
            QgaError::Connect { .. } => QgaError::NotRunning,
            e => e,
        })?;
        Ok(AgentSession {
            client,
            _guard: guard,
        })
    }

    /// One agent command on running VM `vmid`, in its own session.
    pub async fn agent_command(
        &self,
        vmid: u32,
        command: &str,
        args: Option<Value>,
    ) -> Result<Value, AgentError> {
        self.agent(vmid).await?.execute(command, args).await
    }
}
