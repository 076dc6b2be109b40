//! The router's permission declarations evaluated against the caller's rights, from one
//! access-control snapshot per request (no locks or store reads per check).

use std::sync::Arc;

use oxve_auth::{Authid, Snapshot, Userid};
use oxve_router::{ApiError, PermissionChecker};

use crate::state::AppState;

/// The caller's rights for the duration of one request.
pub struct CallerPermissions {
    snapshot: Arc<Snapshot>,
    auth_id: Authid,
    now: i64,
}

impl CallerPermissions {
    pub async fn new(state: &AppState, auth_id: &Authid) -> Result<Self, ApiError> {
        let snapshot = state
            .access
            .snapshot()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(CallerPermissions {
            snapshot,
            auth_id: auth_id.clone(),
            now: state.access.now(),
        })
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn auth_id(&self) -> &Authid {
        &self.auth_id
    }

    pub fn now(&self) -> i64 {
        self.now
    }
}

impl PermissionChecker for CallerPermissions {
    fn has_privs(&self, path: &str, privs: &[&str], any: bool) -> bool {
        self.snapshot
            .check(&self.auth_id, path, privs, any, self.now)
    }

    fn is_self(&self, userid: &str) -> bool {
        userid
            .parse::<Userid>()
            .is_ok_and(|u| self.snapshot.is_self(&self.auth_id, &u))
    }

    fn has_user_group_privs(&self, userid: &str, privs: &[&str]) -> bool {
        // Rights on all groups cover every user, existing or not: the handler then reports
        // a missing user as Proxmox does ("no such user").
        if self.has_privs("/access/groups", privs, true) {
            return true;
        }
        userid.parse::<Userid>().is_ok_and(|u| {
            self.snapshot
                .check_userid_group(&self.auth_id, &u, privs, None, false, self.now)
        })
    }

    fn is_root(&self) -> bool {
        !self.auth_id.is_token() && self.auth_id.user().is_root()
    }
}
