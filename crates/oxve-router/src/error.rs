//! The one API error type: an HTTP status, a message and, for parameter errors, which
//! parameter is wrong, answered as Proxmox does.

use std::collections::BTreeMap;
use std::fmt;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// Parameter name → message; only for parameter errors (HTTP 400).
    pub errors: Option<BTreeMap<String, String>>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: None,
        }
    }

    /// 400 "Parameter verification failed." with one bad parameter.
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(name.into(), message.into());
        Self::params(errors)
    }

    /// 400 "Parameter verification failed." with each bad parameter.
    pub fn params(errors: BTreeMap<String, String>) -> Self {
        ApiError {
            status: 400,
            message: "Parameter verification failed.".into(),
            errors: Some(errors),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// Proxmox's "Permission check failed (<path>, <priv>)".
    pub fn permission_check_failed(path: &str, privs: &str) -> Self {
        Self::forbidden(format!("Permission check failed ({path}, {privs})"))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// Proxmox reports most operational failures (missing config, lock held) as 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// 501 "Method 'GET /x' not implemented", Proxmox's answer for unknown paths and methods.
    pub fn not_implemented(method: &str, path: &str) -> Self {
        Self::new(501, format!("Method '{method} {path}' not implemented"))
    }

    /// The first line of the message, used as HTTP reason phrase.
    pub fn reason(&self) -> &str {
        self.message.lines().next().unwrap_or_default()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(errors) = &self.errors {
            for (name, msg) in errors {
                write!(f, "\n{name}: {msg}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}
