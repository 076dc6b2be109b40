//! The request context handed to every handler.

use std::net::IpAddr;
use std::sync::Arc;

use oxve_auth::Authid;
use oxve_router::{ApiError, PermissionChecker};

use crate::http::permissions::CallerPermissions;
use crate::http::upload::UploadedFile;
use crate::state::AppState;

/// Who is calling, from where, with the node's shared state.
#[derive(Clone)]
pub struct RpcEnv {
    pub state: Arc<AppState>,
    /// The authenticated user or token; `None` only for methods open to the world.
    pub auth_id: Option<Authid>,
    pub client: Option<IpAddr>,
    /// The file of an upload request (storage upload), streamed to a temp file.
    pub upload: Option<Arc<UploadedFile>>,
}

impl RpcEnv {
    /// The caller, for methods that require authentication (always set for them).
    pub fn caller(&self) -> Result<&Authid, ApiError> {
        self.auth_id
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("authentication required"))
    }

    /// The caller's rights, from the current access-control snapshot.
    pub async fn permissions(&self) -> Result<CallerPermissions, ApiError> {
        CallerPermissions::new(&self.state, self.caller()?).await
    }

    /// Whether the caller has `privs` on `path` (all of them, or any with `any`).
    pub async fn has_privs(&self, path: &str, privs: &[&str], any: bool) -> bool {
        match self.permissions().await {
            Ok(p) => p.has_privs(path, privs, any),
            Err(_) => false,
        }
    }

    /// The caller as the `user` string of a UPID or task filter (`user@realm!token`).
    pub fn caller_string(&self) -> String {
        self.auth_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}
