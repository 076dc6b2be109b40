//! Role operations: built-in roles are read-only, custom roles can be created, changed and
//! deleted.

use std::collections::BTreeMap;

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::privileges::PrivSet;
use crate::roles::{builtin_roles, is_builtin, verify_new_role_id};
use crate::store_io::modify_user_cfg;
use crate::types::RoleListEntry;

fn no_such_role(roleid: &str) -> AuthError {
    AuthError::NotFound(format!("role '{roleid}' does not exist"))
}

/// Parse privilege names, naming the first unknown one.
fn parse_privs<I, S>(privs: I) -> Result<PrivSet>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut set = PrivSet::EMPTY;
    for p in privs {
        let p = p.as_ref();
        if !set.insert(p) {
            return Err(AuthError::param(
                "privs",
                format!("invalid privilege '{p}'"),
            ));
        }
    }
    Ok(set)
}

impl AccessControl {
    /// `GET /access/roles`: built-in (`special: 1`) and custom roles, sorted by id.
    pub async fn list_roles(&self) -> Result<Vec<RoleListEntry>> {
        let snap = self.snapshot().await?;
        let mut all: BTreeMap<String, (PrivSet, bool)> = builtin_roles()
            .iter()
            .map(|(name, privs)| (name.to_string(), (*privs, true)))
            .collect();
        for (name, privs) in &snap.config().roles {
            all.entry(name.clone()).or_insert((*privs, false));
        }
        Ok(all
            .into_iter()
            .map(|(roleid, (privs, special))| RoleListEntry {
                roleid,
                privs: privs.to_string(),
                special: u8::from(special),
            })
            .collect())
    }

    /// `GET /access/roles/{roleid}`: `{privilege: 1}`.
    pub async fn get_role(&self, roleid: &str) -> Result<BTreeMap<String, u8>> {
        let snap = self.snapshot().await?;
        let privs = snap
            .config()
            .role_privs(roleid)
            .ok_or_else(|| no_such_role(roleid))?;
        Ok(privs.iter().map(|p| (p.to_string(), 1)).collect())
    }

    /// `POST /access/roles`: a custom role with `privs` (every name must be a privilege).
    pub async fn create_role<I, S>(&self, roleid: &str, privs: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        verify_new_role_id(roleid)?;
        let privs = parse_privs(privs)?;
        modify_user_cfg(self.store(), |cfg| {
            if cfg.role_exists(roleid) {
                return Err(AuthError::AlreadyExists(format!(
                    "role '{roleid}' already exists"
                )));
            }
            cfg.roles.insert(roleid.to_string(), privs);
            Ok(())
        })
        .await
    }

    /// `PUT /access/roles/{roleid}`: replace the privileges, or add them with `append`.
    pub async fn update_role<I, S>(&self, roleid: &str, privs: I, append: bool) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if is_builtin(roleid) {
            return Err(AuthError::Refused(format!(
                "auto-generated role '{roleid}' cannot be modified"
            )));
        }
        let privs = parse_privs(privs)?;
        modify_user_cfg(self.store(), |cfg| {
            let current = cfg
                .roles
                .get_mut(roleid)
                .ok_or_else(|| no_such_role(roleid))?;
            *current = if append { current.union(privs) } else { privs };
            Ok(())
        })
        .await
    }

    /// `DELETE /access/roles/{roleid}`: also removes ACL entries using it.
    pub async fn delete_role(&self, roleid: &str) -> Result<()> {
        if is_builtin(roleid) {
            return Err(AuthError::Refused(format!(
                "auto-generated role '{roleid}' cannot be deleted"
            )));
        }
        modify_user_cfg(self.store(), |cfg| {
            cfg.roles
                .remove(roleid)
                .ok_or_else(|| no_such_role(roleid))?;
            cfg.acl.remove_role(roleid);
            Ok(())
        })
        .await
    }
}
