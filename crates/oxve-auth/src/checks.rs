//! Proxmox's composite permission tests used by the access endpoints (`userid-group`,
//! `userid-param`, `perm-modify`), evaluated on a [`Snapshot`] so the API layer can run
//! them synchronously.

use std::collections::BTreeSet;

use crate::error::{AuthError, Result};
use crate::privileges::split_list;
use crate::snapshot::Snapshot;
use crate::types::AclUpdate;
use crate::userid::{Authid, Userid};

impl Snapshot {
    /// The groups on which `caller` holds any of `privs` (`/access/groups/<group>`).
    pub fn groups_with_privs(&self, caller: &Authid, privs: &[&str], now: i64) -> BTreeSet<&str> {
        self.cfg
            .groups
            .keys()
            .filter(|g| self.check(caller, &format!("/access/groups/{g}"), privs, true, now))
            .map(String::as_str)
            .collect()
    }

    /// Proxmox `['userid-group', privs, groups_param => ...]`: `caller` holds any of `privs`
    /// on `/access/groups`, or else on a group `target` belongs to. With `groups` (the
    /// `groups` parameter of create/update), `caller` must also hold them on each listed
    /// group; with `creating`, `target` need not exist yet.
    pub fn check_userid_group(
        &self,
        caller: &Authid,
        target: &Userid,
        privs: &[&str],
        groups: Option<&[String]>,
        creating: bool,
        now: i64,
    ) -> bool {
        if !creating && !self.cfg.users.contains_key(target) {
            return false;
        }
        if self.check(caller, "/access/groups", privs, true, now) {
            return true;
        }
        let allowed = self.groups_with_privs(caller, privs, now);
        if let Some(groups) = groups {
            if groups.is_empty() || groups.iter().any(|g| !allowed.contains(g.as_str())) {
                return false;
            }
        }
        creating
            || self
                .user_groups(target)
                .iter()
                .any(|g| allowed.contains(g.as_str()))
    }

    /// Proxmox `['userid-param', 'self']`: `caller` is the (existing) user `target` itself,
    /// not one of its tokens.
    pub fn is_self(&self, caller: &Authid, target: &Userid) -> bool {
        !caller.is_token() && caller.user() == target && self.cfg.users.contains_key(target)
    }

    /// Proxmox `['userid-param', 'Realm.AllocateUser']`: `Realm.AllocateUser` on
    /// `/access/realm/<realm of target>`.
    pub fn check_realm_allocate(&self, caller: &Authid, target: &Userid, now: i64) -> bool {
        self.check(
            caller,
            &format!("/access/realm/{}", target.realm()),
            &["Realm.AllocateUser"],
            false,
            now,
        )
    }

    /// Proxmox `['perm-modify', path]`: `Permissions.Modify` on `path`, or the allocate
    /// privilege of the object (`Datastore.Allocate` on `/storage/...`, `VM.Allocate` on
    /// `/vms/...`, `Pool.Allocate` on `/pool/...`). An empty path means `/access`.
    pub fn check_perm_modify(&self, caller: &Authid, path: &str, now: i64) -> bool {
        if path.is_empty() {
            return self.check(caller, "/access", &["Permissions.Modify"], false, now);
        }
        let mut privs = vec!["Permissions.Modify"];
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| !rest.trim_matches('/').is_empty())
        };
        if under("/storage/") {
            privs.push("Datastore.Allocate");
        } else if under("/vms/") {
            privs.push("VM.Allocate");
        } else if under("/pool/") {
            privs.push("Pool.Allocate");
        }
        self.check(caller, path, &privs, true, now)
    }

    /// The permission check of `PUT /access/acl`: `perm-modify` on the path, and without
    /// `Permissions.Modify` there, only roles whose privileges `caller` holds itself on the
    /// path may be granted or revoked.
    pub fn check_acl_update(&self, caller: &Authid, params: &AclUpdate, now: i64) -> Result<()> {
        let path = params.path.as_str();
        if !self.check_perm_modify(caller, path, now) {
            return Err(AuthError::denied(path, "Permissions.Modify"));
        }
        if self.check(caller, path, &["Permissions.Modify"], false, now) {
            return Ok(());
        }
        let have = self.privileges(caller, path, now);
        for role in params.roles.iter().flat_map(|r| split_list(r)) {
            let Some(privs) = self.cfg.role_privs(role) else {
                continue; // update_acl reports the unknown role
            };
            if let Some(missing) = privs.difference(have).iter().next() {
                return Err(AuthError::denied(path, missing));
            }
        }
        Ok(())
    }
}
