//! Errors of the access-control layer, shaped so the API layer can map each one to an HTTP
//! status and keep Proxmox's wording (clients and scripts match on the text).

use oxve_store::StoreError;

use crate::userid::IdError;

/// Why an access-control operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong credentials, unknown/disabled/expired user, or a PAM failure. The text never says
    /// which, so the API cannot be used to enumerate users (HTTP 401).
    #[error("authentication failure")]
    AuthenticationFailed,

    /// The client had too many failed logins recently and was refused without checking the
    /// password. Same text as [`AuthError::AuthenticationFailed`] (HTTP 401).
    #[error("authentication failure")]
    TooManyFailures {
        /// Seconds until the client may try again.
        retry_after: u64,
    },

    /// A ticket that is malformed, forged, expired or from too far in the future (HTTP 401).
    #[error("permission denied - invalid PVE ticket")]
    InvalidTicket,

    /// A CSRF prevention token that does not match the user or has expired (HTTP 401).
    #[error("Permission denied - invalid csrf token")]
    InvalidCsrfToken,

    /// An API token header that does not verify; the text says why, as Proxmox (HTTP 401).
    #[error("{0}")]
    InvalidApiToken(String),

    /// The caller lacks a privilege: `Permission check failed (<path>, <privs>)` (HTTP 403).
    #[error("Permission check failed ({path}, {privs})")]
    PermissionDenied {
        /// The ACL path checked.
        path: String,
        /// The privilege(s) missing, `|`-joined when any one would do.
        privs: String,
    },

    /// A parameter value is invalid (HTTP 400, `errors: {name: message}`).
    #[error("{name}: {message}")]
    Param {
        /// The API parameter name.
        name: String,
        /// What is wrong with it.
        message: String,
    },

    /// The named object does not exist, e.g. `no such user ('x@pve')`.
    #[error("{0}")]
    NotFound(String),

    /// The object to create exists already, e.g. `user 'x@pve' already exists`.
    #[error("{0}")]
    AlreadyExists(String),

    /// The request is well formed but not allowed on this object, e.g. changing a built-in
    /// role or a PAM password.
    #[error("{0}")]
    Refused(String),

    /// The config store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// An internal failure (a corrupt key file, a panicked worker thread).
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    /// A [`AuthError::Param`] for parameter `name`.
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        AuthError::Param {
            name: name.into(),
            message: message.into(),
        }
    }

    /// A [`AuthError::PermissionDenied`] for `path` and the privilege text.
    pub fn denied(path: impl Into<String>, privs: impl Into<String>) -> Self {
        AuthError::PermissionDenied {
            path: path.into(),
            privs: privs.into(),
        }
    }

    /// The HTTP status Proxmox answers with for this error: 401 for authentication problems,
    /// 403 for missing privileges, 400 for bad parameters and refused requests, 500 otherwise
    /// (Proxmox reports missing or duplicate objects as plain 500 errors, and clients such as
    /// the bpg Terraform provider match on that).
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::AuthenticationFailed
            | AuthError::TooManyFailures { .. }
            | AuthError::InvalidTicket
            | AuthError::InvalidCsrfToken
            | AuthError::InvalidApiToken(_) => 401,
            AuthError::PermissionDenied { .. } => 403,
            AuthError::Param { .. } | AuthError::Refused(_) => 400,
            AuthError::NotFound(_)
            | AuthError::AlreadyExists(_)
            | AuthError::Store(_)
            | AuthError::Internal(_) => 500,
        }
    }

    /// Whether this error means "somebody else wrote first", so a compare-and-swap should be
    /// retried.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(
            self,
            AuthError::Store(StoreError::DigestMismatch | StoreError::AlreadyExists { .. })
        )
    }

    /// Wrap an id parse error as a parameter error for `name`.
    pub fn from_id(name: &str, err: IdError) -> Self {
        AuthError::param(name, err.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_statuses() {
        assert_eq!(
            AuthError::AuthenticationFailed.to_string(),
            "authentication failure"
        );
        assert_eq!(AuthError::AuthenticationFailed.http_status(), 401);
        let e = AuthError::denied("/vms/100", "VM.Audit");
        assert_eq!(
            e.to_string(),
            "Permission check failed (/vms/100, VM.Audit)"
        );
        assert_eq!(e.http_status(), 403);
        let p = AuthError::param("userid", "invalid");
        assert_eq!(p.http_status(), 400);
        assert_eq!(
            AuthError::NotFound("no such user ('x@pve')".into()).to_string(),
            "no such user ('x@pve')"
        );
        assert_eq!(
            AuthError::TooManyFailures { retry_after: 3 }.to_string(),
            "authentication failure"
        );
    }
}
