//! `user.cfg` in Proxmox's line format: parsing and writing.
//!
//! ```text
//! user:<userid>:<enable>:<expire>:<firstname>:<lastname>:<email>:<comment>:<keys>:
//! token:<userid>!<token>:<expire>:<privsep>:<comment>:
//! group:<groupid>:<user,user,...>:<comment>:
//! pool:<poolid>:<comment>:<vmid,...>:<storage,...>:
//! role:<roleid>:<priv,priv,...>:
//! acl:<propagate>:<path>:<@group,user,token,...>:<role,role,...>:
//! ```
//!
//! Free text is escaped with [`crate::text::encode_text`]. Built-in roles are never written,
//! nor ACL entries of `root@pam` (always Administrator). Like Proxmox, the parser skips bad
//! lines with a warning instead of failing, and always adds `root@pam`.

mod parse;
mod write;

use std::collections::{BTreeMap, BTreeSet};

use crate::acl::Acl;
use crate::privileges::PrivSet;
use crate::roles::builtin_role;
use crate::userid::{Authid, TokenName, Userid};

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// Whether the account may log in.
    pub enable: bool,
    /// Expiry as a Unix time; 0 means never.
    pub expire: i64,
    /// First name.
    pub firstname: Option<String>,
    /// Last name.
    pub lastname: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Free comment.
    pub comment: Option<String>,
    /// Legacy two-factor key list.
    pub keys: Option<String>,
    /// The user's API tokens.
    pub tokens: BTreeMap<TokenName, TokenEntry>,
}

impl Default for UserEntry {
    fn default() -> Self {
        UserEntry {
            enable: true,
            expire: 0,
            firstname: None,
            lastname: None,
            email: None,
            comment: None,
            keys: None,
            tokens: BTreeMap::new(),
        }
    }
}

impl UserEntry {
    /// Enabled and not expired at Unix time `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.enable && (self.expire == 0 || self.expire >= now)
    }
}

/// One API token's settings (its secret lives in `priv/token.cfg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// Expiry as a Unix time; 0 means "same as the user".
    pub expire: i64,
    /// Privilege separation: the token's rights are the intersection of its own ACLs and the
    /// user's rights; without it the token has the user's rights.
    pub privsep: bool,
    /// Free comment.
    pub comment: Option<String>,
}

impl Default for TokenEntry {
    fn default() -> Self {
        TokenEntry {
            expire: 0,
            privsep: true,
            comment: None,
        }
    }
}

/// One group; membership is stored on the group line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupEntry {
    /// Free comment.
    pub comment: Option<String>,
    /// Member users.
    pub members: BTreeSet<Userid>,
}

/// One resource pool (kept so user.cfg round-trips; pools are managed elsewhere).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolEntry {
    /// Free comment.
    pub comment: Option<String>,
    /// Member guests.
    pub vms: BTreeSet<u32>,
    /// Member storages.
    pub storage: BTreeSet<String>,
}

/// The parsed `user.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// Users by id.
    pub users: BTreeMap<Userid, UserEntry>,
    /// Groups by id.
    pub groups: BTreeMap<String, GroupEntry>,
    /// Pools by id.
    pub pools: BTreeMap<String, PoolEntry>,
    /// Custom roles (built-in roles are not stored).
    pub roles: BTreeMap<String, PrivSet>,
    /// The ACL.
    pub acl: Acl,
}

impl Default for UserConfig {
    /// An empty config holding only `root@pam`.
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(Userid::root(), UserEntry::default());
        UserConfig {
            users,
            groups: BTreeMap::new(),
            pools: BTreeMap::new(),
            roles: BTreeMap::new(),
            acl: Acl::default(),
        }
    }
}

impl UserConfig {
    /// The privileges of role `name`: built-in or custom.
    pub fn role_privs(&self, name: &str) -> Option<PrivSet> {
        builtin_role(name).or_else(|| self.roles.get(name).copied())
    }

    /// Whether role `name` exists (built-in or custom).
    pub fn role_exists(&self, name: &str) -> bool {
        self.role_privs(name).is_some()
    }

    /// The groups `user` is a member of.
    pub fn user_groups(&self, user: &Userid) -> BTreeSet<String> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members.contains(user))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The token entry of `authid`, if it is an existing token.
    pub fn token(&self, authid: &Authid) -> Option<&TokenEntry> {
        let name = authid.token()?;
        self.users.get(authid.user())?.tokens.get(name)
    }
}
