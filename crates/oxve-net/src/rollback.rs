//! Confirm-or-rollback for network changes (an oxve extension): a reload with a rollback
//! window applies the pending configuration and keeps the previous one in
//! `interfaces.rollback`, with the window's deadline. Unless the change is confirmed in time,
//! the previous configuration is applied again and the unconfirmed one becomes pending again.
//! The file outlives a daemon restart, so a restarted daemon still rolls back in time.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::apply::apply;
use crate::error::{NetError, Result};
use crate::interfaces;
use crate::netlink::Netlink;
use crate::service::{write_atomic, NetworkService, ReloadReport};

/// The first line of the rollback file, before the previous configuration.
const HEADER: &str = "# oxve rollback deadline ";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A change that awaits confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingConfirmation {
    /// Unix time at which the previous configuration comes back.
    pub deadline: u64,
    /// The configuration before the change (interfaces file text).
    previous: String,
}

impl AwaitingConfirmation {
    /// Time left until the rollback (zero when overdue).
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.deadline.saturating_sub(now_secs()))
    }
}

impl NetworkService {
    fn rollback_path(&self) -> PathBuf {
        self.dir().join("interfaces.rollback")
    }

    /// The change awaiting confirmation, if any.
    pub fn awaiting_confirmation(&self) -> Result<Option<AwaitingConfirmation>> {
        let path = self.rollback_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(NetError::io("reading", &path, e)),
        };
        let (first, previous) = text.split_once('\n').unwrap_or((&text, ""));
        // a damaged header rolls back at once: the safe side
        let deadline = first
            .strip_prefix(HEADER)
            .and_then(|d| d.trim().parse().ok())
            .unwrap_or(0);
        Ok(Some(AwaitingConfirmation {
            deadline,
            previous: previous.to_string(),
        }))
    }

    /// Apply the pending configuration with a rollback window of `window`: no check that the
    /// API client stays reachable, since an unconfirmed change is undone anyway. Returns the
    /// report and the deadline. Call with the lock held.
    pub async fn reload_with_rollback(&self, window: Duration) -> Result<(ReloadReport, u64)> {
        if self.awaiting_confirmation()?.is_some() {
            return Err(NetError::Invalid(
                "an earlier network change awaits confirmation; confirm it or wait for its \
                 rollback first"
                    .into(),
            ));
        }
        let previous = std::fs::read_to_string(self.active_path()).unwrap_or_default();
        let deadline = now_secs() + window.as_secs().max(1);
        write_atomic(
            &self.rollback_path(),
            &format!("{HEADER}{deadline}\n{previous}"),
        )?;
        match self.reload(None).await {
            Ok(report) => Ok((report, deadline)),
            Err(e) => {
                // the failed apply restored the previous state itself: nothing to confirm
                let _ = std::fs::remove_file(self.rollback_path());
                Err(e)
            }
        }
    }

    /// Keep the change that awaits confirmation. False when none does.
    pub fn confirm(&self) -> Result<bool> {
        match std::fs::remove_file(self.rollback_path()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(NetError::io("removing", self.rollback_path(), e)),
        }
    }

    /// Undo the change awaiting confirmation when its deadline `deadline` has come (a later
    /// change with another deadline is left alone): the previous configuration is applied
    /// and stored again, the unconfirmed one is pending again (unless newer pending changes
    /// exist). Returns the log, `None` when there was nothing to undo. Call with the lock held.
    pub async fn roll_back(&self, deadline: Option<u64>) -> Result<Option<Vec<String>>> {
        let Some(waiting) = self.awaiting_confirmation()? else {
            return Ok(None);
        };
        if deadline.is_some_and(|d| d != waiting.deadline) {
            return Ok(None);
        }
        let unconfirmed_text = std::fs::read_to_string(self.active_path()).unwrap_or_default();
        let unconfirmed = interfaces::parse(&unconfirmed_text);
        let previous = interfaces::parse(&waiting.previous);
        let nl = Netlink::connect()?;
        let mut log = apply(&nl, &unconfirmed, &previous).await?;
        if !self.pending_path().exists() {
            write_atomic(&self.pending_path(), &unconfirmed_text)?;
        }
        write_atomic(&self.active_path(), &waiting.previous)?;
        std::fs::remove_file(self.rollback_path())
            .map_err(|e| NetError::io("removing", self.rollback_path(), e))?;
        log.push("unconfirmed network change rolled back".into());
        Ok(Some(log))
    }
}
