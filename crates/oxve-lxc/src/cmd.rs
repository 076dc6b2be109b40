//! Running host tools (mount, mkfs.ext4, tar, lxc-*), with their stderr in the error.

use std::process::{Command, Stdio};

use crate::error::{LxcError, Result};

/// Run `tool args...` and return its stdout; a failure carries the tool's stderr.
pub fn run(tool: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LxcError::Tool {
            tool: tool.into(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(LxcError::Tool {
            tool: tool.into(),
            message: format!("{} ({})", stderr.trim(), out.status),
        })
    }
}

/// [`run`] on a tokio blocking thread.
pub async fn run_async(tool: &str, args: &[&str]) -> Result<String> {
    let out = tokio::process::Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| LxcError::Tool {
            tool: tool.into(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(LxcError::Tool {
            tool: tool.into(),
            message: format!("{} ({})", stderr.trim(), out.status),
        })
    }
}
