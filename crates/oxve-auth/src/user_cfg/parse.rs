//! Parsing of `user.cfg`, as Proxmox's `parse_user_config`: invalid lines are logged and
//! skipped.

use std::collections::{BTreeMap, BTreeSet};

use tracing::warn;

use super::{TokenEntry, UserConfig, UserEntry};
use crate::acl::{normalize_path, RoleFlags};
use crate::privileges::split_list;
use crate::roles::is_builtin;
use crate::text::decode_text;
use crate::userid::{verify_group_id, verify_pool_id, verify_role_id, Authid, Userid};

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
}
