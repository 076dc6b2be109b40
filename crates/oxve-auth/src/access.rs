//! Effective privileges, permission checks, `GET /access/permissions` and the `cap` object of
//! the ticket response, evaluated on a [`Snapshot`] as Proxmox's `RPCEnvironment` does.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::acl::{normalize_path, RoleFlags, Subject};
use crate::error::{AuthError, Result};
use crate::privileges::{priv_index, EffectivePrivs, PrivSet};
use crate::roles::NO_ACCESS;
use crate::snapshot::Snapshot;
use crate::userid::{Authid, Userid};

/// Top-level paths `GET /access/permissions` always reports (when not empty).
pub const DEFAULT_PERMISSION_PATHS: [&str; 9] = [
    "/",
    "/access",
    "/access/groups",
    "/mapping",
    "/nodes",
    "/pool",
    "/sdn",
    "/storage",
    "/vms",
];

/// The `cap` object of `POST /access/ticket`: per area, the privileges the user holds on
/// some path of that area, each set to 1 (Proxmox `compute_api_permission`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiCapabilities {
    /// `VM.*` (and `Permissions.Modify`) from `/vms...` and `/pool...`.
    pub vms: BTreeMap<String, u8>,
    /// `User.*`, `Group.*`, `Permissions.Modify` from `/access...`.
    pub access: BTreeMap<String, u8>,
    /// `Datastore.*` (and `Permissions.Modify`) from `/storage...` and `/pool...`.
    pub storage: BTreeMap<String, u8>,
    /// `Sys.*`, `Permissions.Modify` from `/nodes...`.
    pub nodes: BTreeMap<String, u8>,
    /// `SDN.*`, `Permissions.Modify` from `/sdn...`.
    pub sdn: BTreeMap<String, u8>,
    /// `Sys.Audit`, `Sys.Modify`, `SDN.*` from `/`.
    pub dc: BTreeMap<String, u8>,
    /// `Mapping.*`, `Permissions.Modify` from `/mapping...`.
    pub mapping: BTreeMap<String, u8>,
}

impl Snapshot {
    fn roles_to_privs(&self, roles: &RoleFlags) -> EffectivePrivs {
        let mut out = EffectivePrivs::default();
        for (role, prop) in roles {
            if let Some(privs) = self.cfg.role_privs(role) {
                out.privs = out.privs.union(privs);
                if *prop {
                    out.propagate = out.propagate.union(privs);
                }
            }
        }
        out
    }

    /// ACL roles plus roles inherited through pool membership (never propagating; a pool's
    /// NoAccess wins over other roles, but a direct NoAccess is kept).
    fn roles_with_pools(&self, subject: Subject<'_>, path: &str) -> RoleFlags {
        let mut roles = self.cfg.acl.roles(subject, path);
        let pools = self.pools_of_path(path);
        if pools.is_empty() || roles.contains_key(NO_ACCESS) {
            return roles;
        }
        let mut pool_roles = RoleFlags::new();
        for pool in pools {
            pool_roles.extend(self.cfg.acl.roles(subject, &format!("/pool/{pool}")));
        }
        if pool_roles.contains_key(NO_ACCESS) {
            return RoleFlags::from([(NO_ACCESS.to_string(), false)]);
        }
        for role in pool_roles.into_keys() {
            roles.entry(role).or_insert(false);
        }
        roles
    }

    /// Whether `authid` may act at all at Unix time `now`: the user exists, is enabled and not
    /// expired, and for a token, the token exists and has not expired.
    pub fn is_active(&self, authid: &Authid, now: i64) -> bool {
        let Some(user) = self.cfg.users.get(authid.user()) else {
            return false;
        };
        if !user.is_active(now) {
            return false;
        }
        match authid.token() {
            None => true,
            Some(name) => user
                .tokens
                .get(name)
                .is_some_and(|t| t.expire == 0 || t.expire >= now),
        }
    }

    fn user_privs(&self, user: &Userid, path: &str) -> EffectivePrivs {
        if user.is_root() {
            return EffectivePrivs::all();
        }
        let subject = Subject::User {
            id: user,
            groups: self.user_groups(user),
        };
        self.roles_to_privs(&self.roles_with_pools(subject, path))
    }

    /// Effective privileges of `authid` on `path` at Unix time `now`, with propagate flags.
    /// `root@pam` has everything; disabled or expired users and tokens, unknown ids and
    /// invalid paths have nothing. A privilege-separated token has the intersection of its
    /// own ACL privileges and its user's; otherwise a token has its user's privileges.
    pub fn effective_privileges(&self, authid: &Authid, path: &str, now: i64) -> EffectivePrivs {
        let Some(path) = normalize_path(path) else {
            return EffectivePrivs::default();
        };
        if !self.is_active(authid, now) {
            return EffectivePrivs::default();
        }
        let user = self.user_privs(authid.user(), &path);
        let Some(token) = self.cfg.token(authid) else {
            return user;
        };
        if !token.privsep {
            return user;
        }
        let own = self.roles_to_privs(&self.roles_with_pools(Subject::Token(authid), &path));
        let privs = own.privs.intersection(user.privs);
        EffectivePrivs {
            privs,
            propagate: own
                .propagate
                .intersection(user.propagate)
                .intersection(privs),
        }
    }

    /// The privileges of `authid` on `path` at `now`.
    pub fn privileges(&self, authid: &Authid, path: &str, now: i64) -> PrivSet {
        self.effective_privileges(authid, path, now).privs
    }

    /// Whether `authid` holds all (or with `any`, at least one) of `privs` on `path`.
    /// Unknown privilege names never match.
    pub fn check(&self, authid: &Authid, path: &str, privs: &[&str], any: bool, now: i64) -> bool {
        let have = self.privileges(authid, path, now);
        if any {
            privs.iter().any(|p| have.contains(p))
        } else {
            privs.iter().all(|p| have.contains(p))
        }
    }

    /// Like [`Snapshot::check`], failing with Proxmox's
    /// `Permission check failed (<path>, <priv>)`.
    pub fn require(
        &self,
        authid: &Authid,
        path: &str,
        privs: &[&str],
        any: bool,
        now: i64,
    ) -> Result<()> {
        if let Some(bad) = privs.iter().find(|p| priv_index(p).is_none()) {
            return Err(AuthError::Internal(format!("invalid privilege '{bad}'")));
        }
        let have = self.privileges(authid, path, now);
        if any {
            if privs.iter().any(|p| have.contains(p)) {
                return Ok(());
            }
            return Err(AuthError::denied(path, privs.join("|")));
        }
        match privs.iter().find(|p| !have.contains(p)) {
            None => Ok(()),
            Some(missing) => Err(AuthError::denied(path, *missing)),
        }
    }

    /// `GET /access/permissions`: for `path`, just that path (even if empty); otherwise every
    /// path with ACL entries, every pool member path and the default top-level paths, leaving
    /// out those where `authid` has nothing. Values are the propagate flags (0/1).
    pub fn permissions(
        &self,
        authid: &Authid,
        path: Option<&str>,
        now: i64,
    ) -> BTreeMap<String, BTreeMap<String, u8>> {
        if let Some(path) = path {
            let privs = self.effective_privileges(authid, path, now);
            return BTreeMap::from([(path.to_string(), privs.to_map())]);
        }
        let mut paths: Vec<String> = DEFAULT_PERMISSION_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect();
        paths.extend(self.cfg.acl.nodes.keys().cloned());
        for p in self.cfg.pools.values() {
            paths.extend(p.vms.iter().map(|v| format!("/vms/{v}")));
            paths.extend(p.storage.iter().map(|s| format!("/storage/{s}")));
        }
        paths
            .into_iter()
            .filter_map(|path| {
                let map = self.effective_privileges(authid, &path, now).to_map();
                (!map.is_empty()).then_some((path, map))
            })
            .collect()
    }

    /// The `cap` object of the ticket response for `authid`.
    pub fn api_capabilities(&self, authid: &Authid, now: i64) -> ApiCapabilities {
        let mut caps = ApiCapabilities::default();
        let mut paths: Vec<&str> = vec![
            "/",
            "/nodes",
            "/access/groups",
            "/vms",
            "/storage",
            "/sdn",
            "/mapping",
        ];
        paths.extend(self.cfg.acl.nodes.keys().map(String::as_str));
        paths.sort_unstable();
        paths.dedup();
        for path in paths {
            let privs = self.privileges(authid, path, now);
            let top = path[1..].split('/').next().unwrap_or("");
            for p in privs.iter() {
                let set = |m: &mut BTreeMap<String, u8>| {
                    m.insert(p.to_string(), 1);
                };
                let perm_mod = p == "Permissions.Modify";
                match top {
                    "pool" => {
                        if p.starts_with("VM.") {
                            set(&mut caps.vms);
                        } else if p.starts_with("Datastore.") {
                            set(&mut caps.storage);
                        } else if perm_mod {
                            set(&mut caps.vms);
                            set(&mut caps.storage);
                        }
                    }
                    "" if p == "Sys.Audit" || p == "Sys.Modify" || p.starts_with("SDN.") => {
                        set(&mut caps.dc)
                    }
                    "vms" if p.starts_with("VM.") || perm_mod => set(&mut caps.vms),
                    "access" if p.starts_with("User.") || p.starts_with("Group.") || perm_mod => {
                        set(&mut caps.access)
                    }
                    "storage" if p.starts_with("Datastore.") || perm_mod => set(&mut caps.storage),
                    "nodes" if p.starts_with("Sys.") || perm_mod => set(&mut caps.nodes),
                    "sdn" if p.starts_with("SDN.") || perm_mod => set(&mut caps.sdn),
                    "mapping" if p.starts_with("Mapping.") || perm_mod => set(&mut caps.mapping),
                    _ => {}
                }
            }
        }
        caps
    }
}
