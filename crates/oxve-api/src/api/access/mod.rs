//! /access: login tickets, users, groups, roles, ACLs, API tokens, permissions and realms.
//! Each handler checks the caller's rights through the same access-control snapshot.

mod acl;
mod groups;
mod roles;
mod ticket;
mod tokens;
mod users;

use oxve_auth::{AuthError, Userid};
use oxve_router::{ApiError, ApiMethod};

use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = Vec::new();
    all.extend(ticket::methods());
    all.extend(users::methods());
    all.extend(tokens::methods());
    all.extend(groups::methods());
    all.extend(roles::methods());
    all.extend(acl::methods());
    all
}

/// Map an access-control error to the API error Proxmox would answer.
pub fn auth_error(err: AuthError) -> ApiError {
    match err {
        AuthError::Param { name, message } => ApiError::param(name, message),
        AuthError::PermissionDenied { path, privs } => {
            ApiError::permission_check_failed(&path, &privs)
        }
        other => ApiError::new(other.http_status(), other.to_string()),
    }
}

/// Parse the `userid` parameter (already format-checked by the schema).
pub fn userid_param(value: &str) -> Result<Userid, ApiError> {
    value
        .parse::<Userid>()
        .map_err(|e| ApiError::param("userid", e.to_string()))
}
