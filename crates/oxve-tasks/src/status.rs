//! Task status types with Proxmox' JSON keys, and the exit status rules.
//!
//! A task's log ends with one of `TASK OK`, `TASK WARNINGS: <n>` or
//! `TASK ERROR: <message>`; the exit status reported by the API is `OK`,
//! `WARNINGS: <n>` or the message. A log with any other last line (a task
//! whose daemon died) has the exit status `unexpected status`
//! (pve-common `PVE::UPID::read_status`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::upid::Upid;

/// Exit status of a task whose log does not end with a `TASK ...` line.
pub const UNEXPECTED_STATUS: &str = "unexpected status";

/// Whether a task is still running (`status` key of the task status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// The worker has not ended yet.
    Running,
    /// The worker ended; `exitstatus` says how.
    Stopped,
}

/// Answer of `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The task's UPID.
    pub upid: Upid,
    /// Node the task runs on.
    pub node: String,
    /// Daemon pid.
    pub pid: u32,
    /// Daemon process start time (clock ticks since boot).
    pub pstart: u64,
    /// Task start time (epoch seconds).
    pub starttime: i64,
    /// Worker type.
    #[serde(rename = "type")]
    pub worker_type: String,
    /// Worker id (usually the vmid, may be empty).
    pub id: String,
    /// User part of the auth id.
    pub user: String,
    /// Token name when the task was started with an API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenid: Option<String>,
    /// `running` or `stopped`.
    pub status: RunState,
    /// `OK`, `WARNINGS: n` or the error message; absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exitstatus: Option<String>,
    /// End time (epoch seconds); absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endtime: Option<i64>,
}

impl TaskStatus {
    /// Builds the status of `upid`; `end` is `(endtime, exitstatus)` once stopped.
    pub(crate) fn new(upid: &Upid, end: Option<(i64, String)>) -> Self {
        let (status, endtime, exitstatus) = match end {
            Some((endtime, exit)) => (RunState::Stopped, Some(endtime), Some(exit)),
            None => (RunState::Running, None, None),
        };
        TaskStatus {
            upid: upid.clone(),
            node: upid.node().to_string(),
            pid: upid.pid(),
            pstart: upid.pstart(),
            starttime: upid.starttime(),
            worker_type: upid.worker_type().to_string(),
            id: upid.worker_id().to_string(),
            user: upid.user().to_string(),
            tokenid: upid.tokenid().map(str::to_string),
            status,
            exitstatus,
            endtime,
        }
    }

    /// Whether the task stopped with `OK` or `WARNINGS: n` (how clients judge success).
    pub fn is_success(&self) -> bool {
        self.exitstatus.is_some()
            && matches!(
                TaskStatusType::of(self.exitstatus.as_deref()),
                TaskStatusType::Ok | TaskStatusType::Warning
            )
    }
}

/// One entry of `GET /nodes/{node}/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskListEntry {
    /// The task's UPID.
    pub upid: Upid,
    /// Node the task runs on.
    pub node: String,
    /// Daemon pid.
    pub pid: u32,
    /// Daemon process start time.
    pub pstart: u64,
    /// Task start time (epoch seconds).
    pub starttime: i64,
    /// Worker type.
    #[serde(rename = "type")]
    pub worker_type: String,
    /// Worker id.
    pub id: String,
    /// User part of the auth id.
    pub user: String,
    /// Token name when started with an API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenid: Option<String>,
    /// The exit status; `RUNNING` for running tasks listed with
    /// `source=active|all`, as Proxmox does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// End time of finished tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endtime: Option<i64>,
}

impl TaskListEntry {
    /// Builds a list entry; `end` is `(endtime, exitstatus)` of a finished task.
    pub(crate) fn new(upid: &Upid, end: Option<(i64, &str)>) -> Self {
        let status = TaskStatus::new(upid, None);
        TaskListEntry {
            upid: status.upid,
            node: status.node,
            pid: status.pid,
            pstart: status.pstart,
            starttime: status.starttime,
            worker_type: status.worker_type,
            id: status.id,
            user: status.user,
            tokenid: status.tokenid,
            status: Some(end.map_or("RUNNING", |(_, s)| s).to_string()),
            endtime: end.map(|(t, _)| t),
        }
    }
}

/// One line of a task log (`GET .../log`): number `n` from 1, text `t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Line number, counting from 1.
    pub n: usize,
    /// Line text without the newline.
    pub t: String,
}

/// Kind of an exit status, for the `statusfilter` of the task list
/// (pve-common `normalize_status_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatusType {
    /// `OK`.
    Ok,
    /// `WARNINGS: n`.
    Warning,
    /// Any error message.
    Error,
    /// Still running (no status) or `unexpected status`.
    Unknown,
}

impl TaskStatusType {
    /// Classifies an exit status (`None` for a running task).
    pub fn of(exitstatus: Option<&str>) -> Self {
        match exitstatus {
            None | Some("") | Some(UNEXPECTED_STATUS) => TaskStatusType::Unknown,
            Some("OK") => TaskStatusType::Ok,
            Some(s) if parse_warnings(s).is_some() => TaskStatusType::Warning,
            Some(_) => TaskStatusType::Error,
        }
    }

    /// Parses a comma/semicolon/space separated list such as `ok,error`
    /// (Proxmox' `pve-task-status-type-list`), case-insensitively.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        list.split([',', ';', ' ', '\0'])
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromStr for TaskStatusType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ok" => Ok(TaskStatusType::Ok),
            "warning" => Ok(TaskStatusType::Warning),
            "error" => Ok(TaskStatusType::Error),
            "unknown" => Ok(TaskStatusType::Unknown),
            _ => Err(format!("invalid task status type '{s}'")),
        }
    }
}

impl fmt::Display for TaskStatusType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskStatusType::Ok => "ok",
            TaskStatusType::Warning => "warning",
            TaskStatusType::Error => "error",
            TaskStatusType::Unknown => "unknown",
        })
    }
}

/// `WARNINGS: <n>` → n.
fn parse_warnings(status: &str) -> Option<u64> {
    let n = status.strip_prefix("WARNINGS: ")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// How a worker ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Success without warnings.
    Ok,
    /// Success with this many warnings.
    Warnings(u64),
    /// Failure with a one-line message.
    Error(String),
}

impl Outcome {
    /// A failure; the message is made one line (newlines become spaces, as
    /// Proxmox does) and never empty.
    pub(crate) fn error(message: &str) -> Self {
        let line: String = message
            .trim()
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        if line.is_empty() {
            Outcome::Error("unknown error".to_string())
        } else {
            Outcome::Error(line)
        }
    }

    /// The last line of the task log.
    pub(crate) fn log_line(&self) -> String {
        match self {
            Outcome::Ok => "TASK OK".to_string(),
            Outcome::Warnings(n) => format!("TASK WARNINGS: {n}"),
            Outcome::Error(msg) => format!("TASK ERROR: {msg}"),
        }
    }

    /// The exit status reported by the API.
    pub(crate) fn exit_status(&self) -> String {
        match self {
            Outcome::Ok => "OK".to_string(),
            Outcome::Warnings(n) => format!("WARNINGS: {n}"),
            Outcome::Error(msg) => msg.clone(),
        }
    }
}

/// The exit status written in a log's last line (pve-common `read_status`).
pub(crate) fn exit_status_from_last_line(line: &str) -> String {
    if line == "TASK OK" {
        return "OK".to_string();
    }
    if let Some(msg) = line.strip_prefix("TASK ERROR: ") {
        if !msg.is_empty() {
            return msg.to_string();
        }
    }
    if let Some(rest) = line.strip_prefix("TASK ") {
        if parse_warnings(rest).is_some() {
            return rest.to_string();
        }
    }
    UNEXPECTED_STATUS.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_lines_and_statuses() {
        assert_eq!(Outcome::Ok.log_line(), "TASK OK");
        assert_eq!(Outcome::Ok.exit_status(), "OK");
        assert_eq!(Outcome::Warnings(2).log_line(), "TASK WARNINGS: 2");
        assert_eq!(Outcome::Warnings(2).exit_status(), "WARNINGS: 2");
        let err = Outcome::error("disk full\nretry later\n");
        assert_eq!(err.log_line(), "TASK ERROR: disk full retry later");
        assert_eq!(err.exit_status(), "disk full retry later");
        assert_eq!(Outcome::error("  ").exit_status(), "unknown error");
        for o in [Outcome::Ok, Outcome::Warnings(3), err] {
            assert_eq!(exit_status_from_last_line(&o.log_line()), o.exit_status());
        }
        assert_eq!(exit_status_from_last_line("some output"), UNEXPECTED_STATUS);
        assert_eq!(
            exit_status_from_last_line("TASK WARNINGS: x"),
            UNEXPECTED_STATUS
        );
    }

    #[test]
    fn status_types() {
        assert_eq!(TaskStatusType::of(Some("OK")), TaskStatusType::Ok);
        assert_eq!(
            TaskStatusType::of(Some("WARNINGS: 1")),
            TaskStatusType::Warning
        );
        assert_eq!(TaskStatusType::of(Some("boom")), TaskStatusType::Error);
        assert_eq!(
            TaskStatusType::of(Some(UNEXPECTED_STATUS)),
            TaskStatusType::Unknown
        );
        assert_eq!(TaskStatusType::of(None), TaskStatusType::Unknown);
        assert_eq!(
            TaskStatusType::parse_list("OK,error").unwrap(),
            vec![TaskStatusType::Ok, TaskStatusType::Error]
        );
        assert!(TaskStatusType::parse_list("ok,bad").is_err());
    }

    #[test]
    fn status_json_keys() {
        let upid = Upid::new("n1", 1, 2, 3, "qmstart", "100", "root@pam!tok").unwrap();
        let running = serde_json::to_value(TaskStatus::new(&upid, None)).unwrap();
        assert_eq!(running["status"], "running");
        assert_eq!(running["type"], "qmstart");
        assert_eq!(running["user"], "root@pam");
        assert_eq!(running["tokenid"], "tok");
        assert!(running.get("exitstatus").is_none());
        assert!(running.get("endtime").is_none());
        let stopped = TaskStatus::new(&upid, Some((9, "OK".into())));
        assert!(stopped.is_success());
        let stopped = serde_json::to_value(stopped).unwrap();
        assert_eq!(stopped["status"], "stopped");
        assert_eq!(stopped["exitstatus"], "OK");
        assert_eq!(stopped["endtime"], 9);
    }
}
