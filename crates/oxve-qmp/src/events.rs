//! Subscribing to QMP events, waiting for one, and the data of the events the VM engine uses.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::error::{QmpError, Result};
use crate::protocol::Event;

/// Names of the events the VM engine reacts to.
pub mod names {
    /// The guest or the host shut the machine down ([`super::Shutdown`]).
    pub const SHUTDOWN: &str = "SHUTDOWN";
    /// `system_powerdown` was requested (ACPI power button pressed).
    pub const POWERDOWN: &str = "POWERDOWN";
    /// The machine was reset.
    pub const RESET: &str = "RESET";
    /// The VM stopped (paused).
    pub const STOP: &str = "STOP";
    /// The VM resumed.
    pub const RESUME: &str = "RESUME";
    /// The guest panicked.
    pub const GUEST_PANICKED: &str = "GUEST_PANICKED";
    /// A device was removed after `device_del` ([`super::DeviceDeleted`]).
    pub const DEVICE_DELETED: &str = "DEVICE_DELETED";
    /// The balloon's size changed ([`super::BalloonChange`]).
    pub const BALLOON_CHANGE: &str = "BALLOON_CHANGE";
    /// A block job is ready to be completed (mirror in sync) ([`super::BlockJobEvent`]).
    pub const BLOCK_JOB_READY: &str = "BLOCK_JOB_READY";
    /// A block job finished ([`super::BlockJobEvent`]).
    pub const BLOCK_JOB_COMPLETED: &str = "BLOCK_JOB_COMPLETED";
    /// A block job was cancelled ([`super::BlockJobEvent`]).
    pub const BLOCK_JOB_CANCELLED: &str = "BLOCK_JOB_CANCELLED";
    /// A block job hit an I/O error.
    pub const BLOCK_JOB_ERROR: &str = "BLOCK_JOB_ERROR";
    /// A job changed state ([`super::JobStatusChange`]).
    pub const JOB_STATUS_CHANGE: &str = "JOB_STATUS_CHANGE";
    /// A migration changed state ([`super::Migration`]).
    pub const MIGRATION: &str = "MIGRATION";
    /// A migration pass over guest memory finished.
    pub const MIGRATION_PASS: &str = "MIGRATION_PASS";
}

/// Data of `SHUTDOWN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Shutdown {
    /// True when the guest initiated it (e.g. ACPI poweroff from inside).
    pub guest: bool,
    /// `guest-shutdown`, `host-qmp-quit`, `host-signal`, `guest-reset`, ...
    pub reason: String,
}

/// Data of `BLOCK_JOB_READY`, `BLOCK_JOB_COMPLETED` and `BLOCK_JOB_CANCELLED`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BlockJobEvent {
    /// The job's kind (`mirror`, `commit`, `stream`, `backup`).
    #[serde(rename = "type")]
    pub job_type: String,
    /// The job id (the device name for jobs started without one).
    pub device: String,
    /// Total work, in bytes (an estimate).
    pub len: u64,
    /// Work done so far.
    pub offset: u64,
    /// Rate limit in bytes per second (0: none).
    #[serde(default)]
    pub speed: u64,
    /// Set when the job failed (only on `BLOCK_JOB_COMPLETED`).
    #[serde(default)]
    pub error: Option<String>,
}

/// Data of `JOB_STATUS_CHANGE`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobStatusChange {
    /// The job id.
    pub id: String,
    /// The new status.
    pub status: crate::types::JobStatus,
}

/// Data of `MIGRATION`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Migration {
    /// The migration's new status.
    pub status: crate::types::MigrationStatus,
}

/// Data of `DEVICE_DELETED`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceDeleted {
    /// The device id, when it had one.
    #[serde(default)]
    pub device: Option<String>,
    /// The device's QOM path.
    pub path: String,
}

/// Data of `BALLOON_CHANGE`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BalloonChange {
    /// The guest's memory size now, in bytes.
    pub actual: u64,
}

/// The events of one connection from the moment of [`crate::QmpClient::subscribe`] on.
///
/// Each subscriber gets every event; one that falls more than the connection's
/// `event_capacity` behind loses the oldest ones and is told so by
/// [`QmpError::EventsLagged`].
#[derive(Debug)]
pub struct Events {
    rx: broadcast::Receiver<Event>,
}

impl Events {
    pub(crate) fn new(rx: broadcast::Receiver<Event>) -> Events {
        Events { rx }
    }

    /// The next event; [`QmpError::EventsClosed`] once the connection closed and every
    /// event received before was read.
    pub async fn recv(&mut self) -> Result<Event> {
        match self.rx.recv().await {
            Ok(e) => Ok(e),
            Err(broadcast::error::RecvError::Lagged(n)) => Err(QmpError::EventsLagged(n)),
            Err(broadcast::error::RecvError::Closed) => Err(QmpError::EventsClosed {
                waiting_for: "an event".into(),
            }),
        }
    }

    /// The next event already received, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Waits up to `timeout` for the first event that `matches`, skipping the others.
    /// `what` names the awaited event in errors.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut matches: impl FnMut(&Event) -> bool,
    ) -> Result<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.rx.recv()).await;
            match next {
                Ok(Ok(e)) if matches(&e) => return Ok(e),
                Ok(Ok(_)) => continue,
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                    return Err(QmpError::EventsLagged(n))
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    return Err(QmpError::EventsClosed {
                        waiting_for: what.to_string(),
                    })
                }
                Err(_) => {
                    return Err(QmpError::EventTimeout {
                        waiting_for: what.to_string(),
                        timeout,
                    })
                }
            }
        }
    }

    /// Waits up to `timeout` for the next event called `name`.
    pub async fn wait_for_event(&mut self, name: &str, timeout: Duration) -> Result<Event> {
        self.wait_for(&format!("event {name}"), timeout, |e| e.event == name)
            .await
    }

    /// The underlying broadcast receiver.
    pub fn into_inner(self) -> broadcast::Receiver<Event> {
        self.rx
    }
}
