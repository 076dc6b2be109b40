//! ACL operations: `GET /access/acl` and `PUT /access/acl`.

use crate::acl::{check_path, normalize_path, AclEntry};
use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::ops::tokens::no_such_token;
use crate::store_io::modify_user_cfg;
use crate::types::AclUpdate;
use crate::userid::{verify_group_id, Authid, Userid};

impl AccessControl {
    /// `GET /access/acl`: every entry (filtering by the caller's rights is the API layer's).
    pub async fn list_acl(&self) -> Result<Vec<AclEntry>> {
        Ok(self.snapshot().await?.config().acl.entries())
    }

    /// Drops every ACL entry on `path` (purging a destroyed guest); true if there were any.
    pub async fn remove_acl_path(&self, path: &str) -> Result<bool> {
        let path = normalize_path(path)
            .ok_or_else(|| AuthError::param("path", format!("invalid ACL path '{path}'")))?;
        let mut removed = false;
        modify_user_cfg(self.store(), |cfg| {
            removed = cfg.acl.nodes.contains_key(&path);
            cfg.acl.remove_path(&path);
            Ok(())
        })
        .await?;
        Ok(removed)
    }

    /// `PUT /access/acl`: grant (or with `delete`, revoke) each role to each user, group and
    /// token on the path. Every role, user, group and token must exist, and a new entry's
    /// path must be one ACLs can be set on.
    pub async fn update_acl(&self, params: AclUpdate) -> Result<()> {
        if params.users.is_empty() && params.groups.is_empty() && params.tokens.is_empty() {
            return Err(AuthError::param(
                "users",
                "either 'users', 'groups' or 'tokens' is required.",
            ));
        }
        if params.roles.is_empty() {
            return Err(AuthError::param("roles", "at least one role is required."));
        }
        let invalid = || AuthError::param("path", format!("invalid ACL path '{}'", params.path));
        let path = normalize_path(&params.path).ok_or_else(invalid)?;
        if !params.delete && !check_path(&path) {
            return Err(invalid());
        }
        let users = params
            .users
            .iter()
            .map(|u| {
                u.parse::<Userid>()
                    .map_err(|e| AuthError::from_id("users", e))
            })
            .collect::<Result<Vec<_>>>()?;
        for g in &params.groups {
            verify_group_id(g).map_err(|e| AuthError::from_id("groups", e))?;
        }
        let tokens = params
            .tokens
            .iter()
            .map(|t| Authid::parse_token_id(t).map_err(|e| AuthError::from_id("tokens", e)))
            .collect::<Result<Vec<_>>>()?;
        let propagate = params.propagate.unwrap_or(true);

        modify_user_cfg(self.store(), |cfg| {
            for role in &params.roles {
                if !cfg.role_exists(role) {
                    return Err(AuthError::NotFound(format!("role '{role}' does not exist")));
                }
            }
            if let Some(g) = params.groups.iter().find(|g| !cfg.groups.contains_key(*g)) {
                return Err(AuthError::NotFound(format!("group '{g}' does not exist")));
            }
            if let Some(u) = users.iter().find(|u| !cfg.users.contains_key(*u)) {
                return Err(AuthError::NotFound(format!("user '{u}' does not exist")));
            }
            for t in &tokens {
                if !cfg.users.contains_key(t.user()) {
                    return Err(AuthError::NotFound(format!(
                        "no such user ('{}')",
                        t.user()
                    )));
                }
                if cfg.token(t).is_none() {
                    let name = t.token().expect("token id");
                    return Err(no_such_token(t.user(), name));
                }
            }
            let node = cfg.acl.node_mut(&path);
            for role in &params.roles {
                let apply = |flags: &mut crate::acl::RoleFlags| {
                    if params.delete {
                        flags.remove(role);
                    } else {
                        flags.insert(role.clone(), propagate);
                    }
                };
                for g in &params.groups {
                    apply(node.groups.entry(g.clone()).or_default());
                }
                for u in &users {
                    apply(node.users.entry(u.clone()).or_default());
                }
                for t in &tokens {
                    apply(node.tokens.entry(t.clone()).or_default());
                }
            }
            cfg.acl.prune();
            Ok(())
        })
        .await
    }
}
