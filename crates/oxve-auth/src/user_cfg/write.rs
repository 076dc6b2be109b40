//! Writing of `user.cfg` in Proxmox's format and order (`write_user_config`).

use std::collections::{BTreeMap, BTreeSet};

use super::UserConfig;
use crate::acl::RoleFlags;
use crate::roles::is_builtin;
use crate::text::encode_text;
use crate::userid::Userid;

impl UserConfig {
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
