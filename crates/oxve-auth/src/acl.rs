//! The ACL tree: paths, entries per path, and Proxmox's role resolution along a path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::roles::NO_ACCESS;
use crate::userid::{Authid, Userid};

/// Roles assigned to one user, group or token on one path: role name -> propagate flag.
pub type RoleFlags = BTreeMap<String, bool>;

/// The ACL entries on one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclNode {
    /// Entries for users.
    pub users: BTreeMap<Userid, RoleFlags>,
    /// Entries for groups (by group id, without the `@` user.cfg uses).
    pub groups: BTreeMap<String, RoleFlags>,
    /// Entries for API tokens.
    pub tokens: BTreeMap<Authid, RoleFlags>,
}

impl AclNode {
    /// Whether the node holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.users.values().all(BTreeMap::is_empty)
            && self.groups.values().all(BTreeMap::is_empty)
            && self.tokens.values().all(BTreeMap::is_empty)
    }
}

/// The whole ACL: normalized path -> entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Nodes by normalized path.
    pub nodes: BTreeMap<String, AclNode>,
}

/// Kind of an ACL entry's subject, as `GET /access/acl` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AclType {
    /// A user.
    User,
    /// A group.
    Group,
    /// An API token.
    Token,
}

/// One entry of `GET /access/acl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclEntry {
    /// The ACL path.
    pub path: String,
    /// Subject kind.
    #[serde(rename = "type")]
    pub kind: AclType,
    /// User id, group id or full token id.
    pub ugid: String,
    /// The role.
    pub roleid: String,
    /// 1 if the entry is inherited by deeper paths.
    pub propagate: u8,
}

/// Whose roles are resolved: a user with its groups, or an API token's own entries.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A user and the groups it belongs to.
    User {
        /// The user.
        id: &'a Userid,
        /// Its groups.
        groups: &'a BTreeSet<String>,
    },
    /// An API token (only entries for the token itself apply).
    Token(&'a Authid),
}

impl Acl {
    /// The node for `path` (normalized), created if missing.
    pub fn node_mut(&mut self, path: &str) -> &mut AclNode {
        self.nodes.entry(path.to_string()).or_default()
    }

    /// Drop every entry of `user`.
    pub fn remove_user(&mut self, user: &Userid) {
        for node in self.nodes.values_mut() {
            node.users.remove(user);
        }
        self.prune();
    }

    /// Drop every entry of `group`.
    pub fn remove_group(&mut self, group: &str) {
        for node in self.nodes.values_mut() {
            node.groups.remove(group);
        }
        self.prune();
    }

    /// Drop every entry of token `token`.
    pub fn remove_token(&mut self, token: &Authid) {
        for node in self.nodes.values_mut() {
            node.tokens.remove(token);
        }
        self.prune();
    }

    /// Drop every entry of the tokens owned by `user`.
    pub fn remove_user_tokens(&mut self, user: &Userid) {
        for node in self.nodes.values_mut() {
            node.tokens.retain(|t, _| t.user() != user);
        }
        self.prune();
    }

    /// Drop every entry naming `role`.
    pub fn remove_role(&mut self, role: &str) {
        for node in self.nodes.values_mut() {
            for flags in node
                .users
                .values_mut()
                .chain(node.groups.values_mut())
                .chain(node.tokens.values_mut())
            {
                flags.remove(role);
            }
        }
        self.prune();
    }

    /// Drop every entry on `path` (a destroyed guest's `/vms/<vmid>`).
    pub fn remove_path(&mut self, path: &str) {
        self.nodes.remove(path);
    }

    /// Remove empty subjects and empty nodes.
    pub fn prune(&mut self) {
        for node in self.nodes.values_mut() {
            node.users.retain(|_, f| !f.is_empty());
            node.groups.retain(|_, f| !f.is_empty());
            node.tokens.retain(|_, f| !f.is_empty());
        }
        self.nodes.retain(|_, n| !n.is_empty());
    }

    /// Every entry, sorted by path, then users, groups, tokens.
    pub fn entries(&self) -> Vec<AclEntry> {
        let mut out = Vec::new();
        for (path, node) in &self.nodes {
            let mut push = |kind, ugid: String, flags: &RoleFlags| {
                for (role, prop) in flags {
                    out.push(AclEntry {
                        path: path.clone(),
                        kind,
                        ugid: ugid.clone(),
                        roleid: role.clone(),
                        propagate: u8::from(*prop),
                    });
                }
            };
            for (u, f) in &node.users {
                push(AclType::User, u.to_string(), f);
            }
            for (g, f) in &node.groups {
                push(AclType::Group, g.clone(), f);
            }
            for (t, f) in &node.tokens {
                push(AclType::Token, t.to_string(), f);
            }
        }
        out
    }

    /// The roles `subject` holds on `path` (normalized), with their propagate flags, resolved
    /// as Proxmox does: walking from `/` down to `path`, entries with propagate=0 count only
    /// on `path` itself; at each level the subject's own entries replace what was inherited
    /// (for a user its user entries, or else the union of its groups' entries); if `NoAccess`
    /// is among the result, it is the only role.
    pub fn roles(&self, subject: Subject<'_>, path: &str) -> RoleFlags {
        let mut roles = RoleFlags::new();
        for (level, is_final) in path_levels(path) {
            let Some(node) = self.nodes.get(level) else {
                continue;
            };
            let applicable = |flags: &RoleFlags, into: &mut RoleFlags| {
                for (role, prop) in flags {
                    if is_final || *prop {
                        let e = into.entry(role.clone()).or_insert(false);
                        *e |= *prop;
                    }
                }
            };
            let mut new = RoleFlags::new();
            match subject {
                Subject::Token(token) => {
                    if let Some(flags) = node.tokens.get(token) {
                        applicable(flags, &mut new);
                    }
                }
                Subject::User { id, groups } => {
                    if let Some(flags) = node.users.get(id) {
                        applicable(flags, &mut new);
                    }
                    if new.is_empty() {
                        for (group, flags) in &node.groups {
                            if groups.contains(group) {
                                applicable(flags, &mut new);
                            }
                        }
                    }
                }
            }
            if !new.is_empty() {
                roles = new;
            }
        }
        if let Some(prop) = roles.get(NO_ACCESS) {
            return RoleFlags::from([(NO_ACCESS.to_string(), *prop)]);
        }
        roles
    }
}

/// The levels of normalized `path` from `/` down, each with "is the last one".
fn path_levels(path: &str) -> impl Iterator<Item = (&str, bool)> {
    let mut ends: Vec<usize> = vec![1];
    if path != "/" {
        ends.extend(
            path.match_indices('/')
                .skip(1)
                .map(|(i, _)| i)
                .chain(std::iter::once(path.len())),
        );
    }
    let last = ends.len() - 1;
    ends.into_iter()
        .enumerate()
        .map(move |(i, end)| (&path[..end], i == last))
}

/// Normalize an ACL path as Proxmox: collapse repeated `/`, drop a trailing `/`, add a
/// leading one. `None` for an empty path, characters other than letters, digits, `.`, `-`,
/// `_`, `/`, or a `.`/`..` segment.
pub fn normalize_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ok_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if segments
        .iter()
        .any(|s| !ok_chars(s) || *s == "." || *s == "..")
    {
        return None;
    }
    Some(format!("/{}", segments.join("/")))
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn is_vmid(s: &str) -> bool {
    s.len() >= 3 && !s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit())
}

fn is_vlan(s: &str) -> bool {
    (1..=4).contains(&s.len()) && !s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit())
}

/// Whether normalized `path` is one ACLs may be set on (Proxmox `check_path`).
pub fn check_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let seg: Vec<&str> = rest.split('/').collect();
    let names = |from: usize| seg[from..].iter().all(|s| is_name(s));
    match (seg[0], seg.len()) {
        ("access", 1) => true,
        ("access", 2 | 3) => matches!(seg[1], "groups" | "realm") && names(2),
        ("nodes" | "storage", 1 | 2) => names(1),
        ("pool", 1..=4) => names(1),
        ("sdn", 1) => true,
        ("sdn", 2..=4) => seg[1] == "zones" && names(2),
        ("sdn", 5) => seg[1] == "zones" && names(2) && is_vlan(seg[4]),
        ("vms", 1) => true,
        ("vms", 2) => is_vmid(seg[1]),
        ("mapping", 1..=3) => names(1),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        assert_eq!(normalize_path("/").as_deref(), Some("/"));
        assert_eq!(normalize_path("//vms//100/").as_deref(), Some("/vms/100"));
        assert_eq!(normalize_path("vms/100").as_deref(), Some("/vms/100"));
        assert_eq!(normalize_path("/pool/dev/"), Some("/pool/dev".into()));
        assert_eq!(normalize_path(""), None);
        assert_eq!(normalize_path("/vms/../storage"), None);
        assert_eq!(normalize_path("/vms/./1"), None);
        assert_eq!(normalize_path("/vms/1 0"), None);
        assert_eq!(normalize_path("/vms/{vmid}"), None);
    }

    #[test]
    fn levels() {
        let l: Vec<_> = path_levels("/").collect();
        assert_eq!(l, [("/", true)]);
        let l: Vec<_> = path_levels("/vms/100").collect();
        assert_eq!(l, [("/", false), ("/vms", false), ("/vms/100", true)]);
    }

    #[test]
    fn valid_acl_paths() {
        for ok in [
            "/",
            "/access",
            "/access/groups",
            "/access/groups/admins",
            "/access/realm/pve",
            "/nodes",
            "/nodes/n1",
            "/pool/dev",
            "/pool/dev/sub/leaf",
            "/sdn",
            "/sdn/zones",
            "/sdn/zones/localnetwork/vmbr0",
            "/sdn/zones/z/vnet/100",
            "/storage/local",
            "/vms",
            "/vms/100",
            "/mapping/pci/gpu",
        ] {
            assert!(check_path(ok), "{ok}");
        }
        for bad in [
            "/vms/99",
            "/vms/0100",
            "/vms/abc",
            "/foo",
            "/access/users",
            "/sdn/zones/z/v/0",
            "/sdn/zones/z/v/12345",
            "/nodes/a/b",
            "/pool/a/b/c/d",
        ] {
            assert!(!check_path(bad), "{bad}");
        }
    }
}
