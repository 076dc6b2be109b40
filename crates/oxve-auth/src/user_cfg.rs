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

use std::collections::{BTreeMap, BTreeSet};

use tracing::warn;

use crate::acl::{normalize_path, Acl, RoleFlags};
use crate::privileges::{split_list, PrivSet};
use crate::roles::{builtin_role, is_builtin};
use crate::text::{decode_text, encode_text};
use crate::userid::{verify_group_id, verify_pool_id, verify_role_id, Authid, TokenName, Userid};

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

fn opt_text(field: Option<&str>) -> Option<String> {
    field.filter(|s| !s.is_empty()).map(decode_text)
}

fn opt_raw(field: Option<&str>) -> Option<String> {
    field.filter(|s| !s.is_empty()).map(str::to_string)
}

fn parse_int(field: Option<&str>) -> Option<i64> {
    match field {
        None | Some("") => Some(0),
        Some(s) if s.chars().all(|c| c.is_ascii_digit()) => s.parse().ok(),
        Some(_) => None,
    }
}

fn flag(field: Option<&str>) -> bool {
    // Perl truthiness of the field.
    !matches!(field, None | Some("") | Some("0"))
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

    /// Parse `user.cfg` text. Never fails: invalid lines are logged and skipped.
    pub fn parse(raw: &str) -> Self {
        let mut cfg = UserConfig::default();
        let mut acl_lines = Vec::new();
        let mut token_lines = Vec::new();
        for line in raw.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(':').map(str::trim).collect();
            match fields[0] {
                "user" => cfg.parse_user(line, &fields),
                "group" => cfg.parse_group(&fields),
                "role" => cfg.parse_role(&fields),
                "pool" => cfg.parse_pool(&fields),
                // Tokens need their users, ACLs need users, groups, roles and tokens: Proxmox
                // writes them in that order, but a hand-edited file might not.
                "token" => token_lines.push(fields.clone()),
                "acl" => acl_lines.push(fields.clone()),
                _ => warn!("user config - ignore config line: {line}"),
            }
        }
        for fields in token_lines {
            cfg.parse_token(&fields);
        }
        for fields in acl_lines {
            cfg.parse_acl(&fields);
        }
        cfg.users.entry(Userid::root()).or_default();
        cfg
    }

    fn parse_user(&mut self, line: &str, f: &[&str]) {
        let get = |i: usize| f.get(i).copied();
        let name = get(1).unwrap_or("");
        let Ok(user) = name.parse::<Userid>() else {
            warn!("user config - ignore user '{name}' - invalid user name");
            return;
        };
        let Some(expire) = parse_int(get(3)) else {
            warn!("user config - ignore user '{name}' - illegal characters in expire: {line}");
            return;
        };
        let entry = UserEntry {
            enable: flag(get(2)),
            expire,
            firstname: opt_text(get(4)),
            lastname: opt_text(get(5)),
            email: opt_raw(get(6)),
            comment: opt_text(get(7)),
            keys: opt_raw(get(8)),
            tokens: BTreeMap::new(),
        };
        self.users.insert(user, entry);
    }

    fn parse_group(&mut self, f: &[&str]) {
        let get = |i: usize| f.get(i).copied();
        let name = get(1).unwrap_or("");
        if verify_group_id(name).is_err() {
            warn!("user config - ignore group '{name}' - invalid characters in group name");
            return;
        }
        let group = self.groups.entry(name.to_string()).or_default();
        if let Some(c) = opt_text(get(3)) {
            group.comment = Some(c);
        }
        for member in split_list(get(2).unwrap_or("")) {
            match member.parse::<Userid>() {
                Ok(u) => {
                    if !self.users.contains_key(&u) {
                        warn!("user config - ignore invalid group member '{member}'");
                    }
                    // Kept anyway, as Proxmox keeps it.
                    group.members.insert(u);
                }
                Err(_) => warn!("user config - ignore invalid group member '{member}'"),
            }
        }
    }

    fn parse_role(&mut self, f: &[&str]) {
        let get = |i: usize| f.get(i).copied();
        let name = get(1).unwrap_or("");
        if verify_role_id(name).is_err() || is_builtin(name) {
            warn!("user config - ignore role '{name}' - invalid or reserved role name");
            return;
        }
        let privs = self.roles.entry(name.to_string()).or_default();
        for p in split_list(get(2).unwrap_or("")) {
            if !privs.insert(p) {
                warn!("user config - ignore invalid privilege '{p}'");
            }
        }
    }

    fn parse_pool(&mut self, f: &[&str]) {
        let get = |i: usize| f.get(i).copied();
        let name = get(1).unwrap_or("");
        if verify_pool_id(name).is_err() {
            warn!("user config - ignore pool '{name}' - invalid characters in pool name");
            return;
        }
        let taken: BTreeSet<u32> = self
            .pools
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .flat_map(|(_, p)| p.vms.iter().copied())
            .collect();
        let pool = self.pools.entry(name.to_string()).or_default();
        if let Some(c) = opt_text(get(2)) {
            pool.comment = Some(c);
        }
        for vmid in split_list(get(3).unwrap_or("")) {
            match vmid.parse::<u32>() {
                Ok(v) if !taken.contains(&v) => {
                    pool.vms.insert(v);
                }
                Ok(_) => warn!("user config - ignore duplicate vmid '{vmid}' in pool '{name}'"),
                Err(_) => warn!("user config - ignore invalid vmid '{vmid}' in pool '{name}'"),
            }
        }
        for storeid in split_list(get(4).unwrap_or("")) {
            pool.storage.insert(storeid.to_string());
        }
    }

    fn parse_token(&mut self, f: &[&str]) {
        let get = |i: usize| f.get(i).copied();
        let id = get(1).unwrap_or("");
        let Ok(authid) = Authid::parse_token_id(id) else {
            warn!("user config - ignore invalid tokenid '{id}'");
            return;
        };
        let Some(expire) = parse_int(get(2)) else {
            warn!("user config - ignore token '{id}' - illegal characters in expire");
            return;
        };
        let Some(user) = self.users.get_mut(authid.user()) else {
            warn!("user config - ignore token '{id}' - user does not exist");
            return;
        };
        let name = authid.token().cloned().expect("token id has a token part");
        user.tokens.insert(
            name,
            TokenEntry {
                expire,
                privsep: flag(get(3)),
                comment: get(4).filter(|s| !s.is_empty()).map(decode_text),
            },
        );
    }

    fn parse_acl(&mut self, f: &[&str]) {
        let get = |i: usize| f.get(i).copied();
        let propagate = flag(get(1));
        let path_text = get(2).unwrap_or("");
        let Some(path) = normalize_path(path_text) else {
            warn!("user config - ignore invalid path in acl '{path_text}'");
            return;
        };
        let members = split_list(get(3).unwrap_or(""));
        for role in split_list(get(4).unwrap_or("")) {
            if !self.role_exists(role) {
                warn!("user config - ignore invalid acl role '{role}'");
                continue;
            }
            for ug in &members {
                self.add_acl_member(&path, ug, role, propagate);
            }
        }
    }

    fn add_acl_member(&mut self, path: &str, ug: &str, role: &str, propagate: bool) {
        let set = |flags: &mut RoleFlags| {
            flags.insert(role.to_string(), propagate);
        };
        if let Some(group) = ug.strip_prefix('@') {
            if verify_group_id(group).is_ok() {
                if !self.groups.contains_key(group) {
                    warn!("user config - ignore invalid acl group '{group}'");
                }
                let node = self.acl.node_mut(path);
                set(node.groups.entry(group.to_string()).or_default());
                return;
            }
        }
        match ug.parse::<Authid>() {
            Ok(id) if !id.is_token() => {
                if !self.users.contains_key(id.user()) {
                    warn!("user config - ignore invalid acl member '{ug}'");
                }
                let node = self.acl.node_mut(path);
                set(node.users.entry(id.user().clone()).or_default());
            }
            Ok(id) => {
                if self.token(&id).is_some() {
                    set(self.acl.node_mut(path).tokens.entry(id).or_default());
                } else {
                    warn!("user config - ignore invalid acl token '{ug}'");
                }
            }
            Err(_) => warn!("user config - invalid user/group '{ug}' in acl"),
        }
    }

    /// Write the config in Proxmox's format and order.
    pub fn write(&self) -> String {
        let mut out = String::new();
        for (user, d) in &self.users {
            let text = |v: &Option<String>| v.as_deref().map(encode_text).unwrap_or_default();
            out.push_str(&format!(
                "user:{user}:{}:{}:{}:{}:{}:{}:{}:\n",
                u8::from(d.enable),
                d.expire.max(0),
                text(&d.firstname),
                text(&d.lastname),
                d.email.as_deref().unwrap_or(""),
                text(&d.comment),
                d.keys.as_deref().unwrap_or(""),
            ));
            for (name, t) in &d.tokens {
                out.push_str(&format!(
                    "token:{user}!{name}:{}:{}:{}:\n",
                    t.expire.max(0),
                    u8::from(t.privsep),
                    t.comment.as_deref().map(encode_text).unwrap_or_default(),
                ));
            }
        }
        out.push('\n');
        for (name, g) in &self.groups {
            let members: Vec<String> = g.members.iter().map(Userid::to_string).collect();
            out.push_str(&format!(
                "group:{name}:{}:{}:\n",
                members.join(","),
                g.comment.as_deref().map(encode_text).unwrap_or_default(),
            ));
        }
        out.push('\n');
        for (name, p) in &self.pools {
            // Proxmox sorts vmids as strings.
            let mut vms: Vec<String> = p.vms.iter().map(u32::to_string).collect();
            vms.sort();
            let storage: Vec<&str> = p.storage.iter().map(String::as_str).collect();
            out.push_str(&format!(
                "pool:{name}:{}:{}:{}:\n",
                p.comment.as_deref().map(encode_text).unwrap_or_default(),
                vms.join(","),
                storage.join(","),
            ));
        }
        out.push('\n');
        for (name, privs) in &self.roles {
            if !is_builtin(name) {
                out.push_str(&format!("role:{name}:{privs}:\n"));
            }
        }
        out.push('\n');
        for (path, node) in &self.acl.nodes {
            // (propagate, role list) -> members
            let mut lines: BTreeMap<(bool, String), BTreeSet<String>> = BTreeMap::new();
            let mut collect = |member: String, flags: &RoleFlags| {
                for prop in [false, true] {
                    let roles: Vec<&str> = flags
                        .iter()
                        .filter(|(_, p)| **p == prop)
                        .map(|(r, _)| r.as_str())
                        .collect();
                    if !roles.is_empty() {
                        lines
                            .entry((prop, roles.join(",")))
                            .or_default()
                            .insert(member.clone());
                    }
                }
            };
            for (g, flags) in &node.groups {
                collect(format!("@{g}"), flags);
            }
            for (u, flags) in &node.users {
                if !u.is_root() {
                    collect(u.to_string(), flags);
                }
            }
            for (t, flags) in &node.tokens {
                collect(t.to_string(), flags);
            }
            for ((prop, roles), members) in lines {
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                out.push_str(&format!(
                    "acl:{}:{path}:{}:{roles}:\n",
                    u8::from(prop),
                    members.join(",")
                ));
            }
        }
        out
    }
}
