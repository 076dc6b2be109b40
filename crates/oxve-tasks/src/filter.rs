//! Filters of the task list, with the semantics of pve-manager
//! `PVE::API2::Tasks` `node_tasks` (GET /nodes/{node}/tasks).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::status::TaskStatusType;
use crate::upid::Upid;

/// Which tasks to list (`source` parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskSource {
    /// Finished tasks only (Proxmox' default).
    #[default]
    Archive,
    /// Running tasks only.
    Active,
    /// Running tasks first, then finished ones.
    All,
}

impl FromStr for TaskSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "archive" => Ok(TaskSource::Archive),
            "active" => Ok(TaskSource::Active),
            "all" => Ok(TaskSource::All),
            _ => Err(format!(
                "value '{s}' does not have a value in the enumeration 'archive, active, all'"
            )),
        }
    }
}

/// Parameters of the task list. `Default` gives Proxmox' defaults
/// (`start` 0, `limit` 50, source `archive`, no filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFilter {
    /// Skip this many matching tasks.
    pub start: usize,
    /// Return at most this many tasks (0 returns none, but `total` still counts).
    pub limit: usize,
    /// Only tasks whose worker id is this vmid.
    pub vmid: Option<u32>,
    /// Only tasks of exactly this worker type.
    pub typefilter: Option<String>,
    /// Only tasks whose user (without token) contains this, case-insensitively.
    pub userfilter: Option<String>,
    /// Leave out tasks that ended `OK` (Proxmox: sets `ok` off in the status filter;
    /// warnings, errors and unknown stay). Takes precedence over `statusfilter`.
    pub errors: bool,
    /// Running, finished, or both.
    pub source: TaskSource,
    /// Only tasks started at or after this epoch time.
    pub since: Option<i64>,
    /// Only tasks started at or before this epoch time.
    pub until: Option<i64>,
    /// Only tasks whose status is of one of these kinds (running tasks are `unknown`).
    pub statusfilter: Option<Vec<TaskStatusType>>,
}

impl Default for TaskFilter {
    fn default() -> Self {
        TaskFilter {
            start: 0,
            limit: 50,
            vmid: None,
            typefilter: None,
            userfilter: None,
            errors: false,
            source: TaskSource::Archive,
            since: None,
            until: None,
            statusfilter: None,
        }
    }
}

impl TaskFilter {
    /// Whether a task with this UPID and exit status (`None` while running)
    /// passes every filter (paging aside).
    pub(crate) fn matches(&self, upid: &Upid, exitstatus: Option<&str>) -> bool {
        if let Some(user) = self.userfilter.as_deref().filter(|u| !u.is_empty()) {
            if !upid.user().to_lowercase().contains(&user.to_lowercase()) {
                return false;
            }
        }
        if let Some(wtype) = self.typefilter.as_deref().filter(|t| !t.is_empty()) {
            if upid.worker_type() != wtype {
                return false;
            }
        }
        if let Some(vmid) = self.vmid.filter(|v| *v != 0) {
            if upid.worker_id() != vmid.to_string() {
                return false;
            }
        }
        if self.since.is_some_and(|since| upid.starttime() < since) {
            return false;
        }
        if self.until.is_some_and(|until| upid.starttime() > until) {
            return false;
        }
        self.status_allowed(TaskStatusType::of(exitstatus))
    }

    fn status_allowed(&self, kind: TaskStatusType) -> bool {
        if self.errors {
            return kind != TaskStatusType::Ok;
        }
        match &self.statusfilter {
            Some(kinds) => kinds.contains(&kind),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upid(wtype: &str, id: &str, user: &str, start: i64) -> Upid {
        Upid::new("n", 1, 1, start, wtype, id, user).unwrap()
    }

    #[test]
    fn field_filters() {
        let u = upid("qmstart", "100", "Admin@pve!tok", 1000);
        let all = TaskFilter::default();
        assert!(all.matches(&u, Some("OK")));

        let by_user = |f: &str| TaskFilter {
            userfilter: Some(f.into()),
            ..Default::default()
        };
        assert!(by_user("admin").matches(&u, None));
        assert!(by_user("MIN@P").matches(&u, None));
        assert!(!by_user("tok").matches(&u, None));

        let by_type = |f: &str| TaskFilter {
            typefilter: Some(f.into()),
            ..Default::default()
        };
        assert!(by_type("qmstart").matches(&u, None));
        assert!(!by_type("qmst").matches(&u, None));

        let by_vmid = |v| TaskFilter {
            vmid: Some(v),
            ..Default::default()
        };
        assert!(by_vmid(100).matches(&u, None));
        assert!(!by_vmid(10).matches(&u, None));

        let window = |s, e| TaskFilter {
            since: s,
            until: e,
            ..Default::default()
        };
        assert!(window(Some(1000), Some(1000)).matches(&u, None));
        assert!(!window(Some(1001), None).matches(&u, None));
        assert!(!window(None, Some(999)).matches(&u, None));
    }

    #[test]
    fn status_filters() {
        let u = upid("t", "", "root@pam", 1);
        let errors = TaskFilter {
            errors: true,
            ..Default::default()
        };
        assert!(!errors.matches(&u, Some("OK")));
        assert!(errors.matches(&u, Some("WARNINGS: 1")));
        assert!(errors.matches(&u, Some("failed")));
        assert!(errors.matches(&u, None));

        let only = TaskFilter {
            statusfilter: Some(vec![TaskStatusType::Ok, TaskStatusType::Warning]),
            ..Default::default()
        };
        assert!(only.matches(&u, Some("OK")));
        assert!(only.matches(&u, Some("WARNINGS: 2")));
        assert!(!only.matches(&u, Some("failed")));
        assert!(!only.matches(&u, Some("unexpected status")));
        assert!(!only.matches(&u, None));
    }
}
