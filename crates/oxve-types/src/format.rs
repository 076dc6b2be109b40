//! Named string formats as Proxmox declares them (`format => 'pve-node'`), each with its check.

use std::fmt;
use std::sync::Arc;

use crate::property_string::PropertyStringFormat;

/// A string format: a named check, a list of such items, or a property string.
#[derive(Clone)]
pub enum Format {
    /// One value checked by `check`, which returns the reason it is wrong.
    Named {
        name: &'static str,
        check: fn(&str) -> Result<(), String>,
    },
    /// A Proxmox `-list` format: items separated by `,`, `;` or whitespace, each checked.
    List {
        name: &'static str,
        check: fn(&str) -> Result<(), String>,
    },
    /// A property string (`key=value,...`) with its keys.
    PropertyString {
        name: &'static str,
        format: Arc<PropertyStringFormat>,
    },
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Format({})", self.name())
    }
}

impl Format {
    pub fn name(&self) -> &'static str {
        match self {
            Format::Named { name, .. }
            | Format::List { name, .. }
            | Format::PropertyString { name, .. } => name,
        }
    }

    /// Check `value` against this format.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self {
            Format::Named { check, .. } => check(value),
            Format::List { check, .. } => split_list(value).try_for_each(check),
            Format::PropertyString { format, .. } => {
                format.parse(value).map(|_| ()).map_err(|e| e.to_string())
            }
        }
    }
}

/// Split a Proxmox list value (`a,b;c d`) into its non-empty items.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace() || c == '\0')
        .filter(|s| !s.is_empty())
}

fn is_ident(value: &str, first_alpha: bool, extra: &[char]) -> bool {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || (!first_alpha && c.is_ascii_alphanumeric()) => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// A DNS-style node name (Proxmox `pve-node`).
pub fn check_node(value: &str) -> Result<(), String> {
    let ok = value.len() <= 63
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    ok.then_some(())
        .ok_or_else(|| "value does not look like a valid node name".into())
}

/// A VMID as a string (Proxmox `pve-vmid`).
pub fn check_vmid(value: &str) -> Result<(), String> {
    match value.parse::<u64>() {
        Ok(v) if (100..=999_999_999).contains(&v) && !value.starts_with('0') => Ok(()),
        _ => Err("value does not look like a valid VM ID".into()),
    }
}

/// A storage, pool, group or role id: starts with a letter, then letters, digits, `-_.`.
pub fn check_config_id(value: &str) -> Result<(), String> {
    (value.len() <= 64 && is_ident(value, true, &['-', '_', '.']))
        .then_some(())
        .ok_or_else(|| "invalid configuration ID".into())
}

/// A pool id (Proxmox `pve-poolid`): up to three `/`-separated levels (nested pools) of
/// letters, digits, `.`, `-`, `_`.
pub fn check_pool_id(value: &str) -> Result<(), String> {
    let levels: Vec<&str> = value.split('/').collect();
    if levels.len() > 3 {
        return Err(format!(
            "pool name '{value}' nested too deeply (max levels = 3)"
        ));
    }
    let level_ok = |l: &&str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if value.len() > 64 * 3 || !levels.iter().all(level_ok) {
        return Err(format!("pool name '{value}' contains invalid characters"));
    }
    Ok(())
}

/// A realm name (Proxmox `pve-realm`).
pub fn check_realm(value: &str) -> Result<(), String> {
    (value.len() <= 32 && is_ident(value, true, &['.', '-', '_']))
        .then_some(())
        .ok_or_else(|| "value does not look like a valid realm".into())
}

/// `name@realm` (Proxmox `pve-userid`): the realm follows the last `@` (so AD-style names
/// like `john@corp.com@ad` work); the name has no `:`, `/` or control characters.
pub fn check_userid(value: &str) -> Result<(), String> {
    let err = || format!("value '{value}' does not look like a valid user name");
    let (name, realm) = value.rsplit_once('@').ok_or_else(err)?;
    let name_ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.chars().any(|c| c == ':' || c == '/' || c.is_control());
    if value.len() > 64 || !name_ok || check_realm(realm).is_err() {
        return Err(err());
    }
    Ok(())
}

/// A user or token id: `name@realm` or `name@realm!tokenid`.
pub fn check_authid(value: &str) -> Result<(), String> {
    match value.split_once('!') {
        Some((user, token)) => {
            check_userid(user)?;
            check_tokenid(token)
        }
        None => check_userid(value),
    }
}

/// A token name (the part after `!`).
pub fn check_tokenid(value: &str) -> Result<(), String> {
    (value.len() <= 64 && is_ident(value, true, &['-', '_', '.']))
        .then_some(())
        .ok_or_else(|| format!("invalid token ID '{value}'"))
}

/// An e-mail address, loosely as Proxmox checks it; empty clears it (`email-opt`).
pub fn check_email(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let ok = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    ok.then_some(())
        .ok_or_else(|| format!("value '{value}' does not look like a valid email address"))
}

/// An ACL path: `/` or `/a/b` with safe segments, no `..`.
pub fn check_acl_path(value: &str) -> Result<(), String> {
    let ok = value.starts_with('/')
        && value.len() <= 256
        && value.split('/').skip(1).all(|seg| {
            seg != ".."
                && seg != "."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@!".contains(c))
        });
    ok.then_some(())
        .ok_or_else(|| format!("invalid ACL path '{value}'"))
}

pub const NODE: Format = Format::Named {
    name: "pve-node",
    check: check_node,
};
pub const VMID: Format = Format::Named {
    name: "pve-vmid",
    check: check_vmid,
};
pub const VMID_LIST: Format = Format::List {
    name: "pve-vmid-list",
    check: check_vmid,
};
pub const CONFIG_ID: Format = Format::Named {
    name: "pve-configid",
    check: check_config_id,
};
pub const STORAGE_ID: Format = Format::Named {
    name: "pve-storage-id",
    check: check_config_id,
};
pub const STORAGE_ID_LIST: Format = Format::List {
    name: "pve-storage-id-list",
    check: check_config_id,
};
pub const REALM: Format = Format::Named {
    name: "pve-realm",
    check: check_realm,
};
pub const USERID: Format = Format::Named {
    name: "pve-userid",
    check: check_userid,
};
pub const USERID_LIST: Format = Format::List {
    name: "pve-userid-list",
    check: check_userid,
};
pub const AUTHID: Format = Format::Named {
    name: "pve-auth-id",
    check: check_authid,
};
pub const TOKENID_LIST: Format = Format::List {
    name: "pve-tokenid-list",
    check: check_authid,
};
pub const GROUPID: Format = Format::Named {
    name: "pve-groupid",
    check: check_config_id,
};
pub const GROUPID_LIST: Format = Format::List {
    name: "pve-groupid-list",
    check: check_config_id,
};
pub const POOLID: Format = Format::Named {
    name: "pve-poolid",
    check: check_pool_id,
};
pub const ROLEID: Format = Format::Named {
    name: "pve-roleid",
    check: check_config_id,
};
pub const ROLEID_LIST: Format = Format::List {
    name: "pve-roleid-list",
    check: check_config_id,
};
pub const EMAIL: Format = Format::Named {
    name: "email-opt",
    check: check_email,
};
pub const CALENDAR_EVENT: Format = Format::Named {
    name: "pve-calendar-event",
    check: crate::calendar::check_calendar_event,
};
pub const ACL_PATH: Format = Format::Named {
    name: "pve-acl-path",
    check: check_acl_path,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids() {
        for ok in ["dev", "a/b/c", "a.b-c_d", "1x"] {
            assert!(check_pool_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a//b", "/a", "a/", "a/b/c/d", "a b", "a:b"] {
            assert!(check_pool_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn userids() {
        assert!(check_userid("root@pam").is_ok());
        assert!(check_userid("a.b-c@pve").is_ok());
        assert!(check_userid("root").is_err());
        assert!(check_userid("a:b@pve").is_err());
        assert!(check_userid("a@1x").is_err());
        assert!(check_authid("root@pam!tok1").is_ok());
        assert!(check_authid("root@pam!1tok").is_err());
    }

    #[test]
    fn vmids_and_lists() {
        assert!(check_vmid("100").is_ok());
        assert!(check_vmid("99").is_err());
        assert!(check_vmid("0100").is_err());
        assert!(VMID_LIST.check("100,101;102 103").is_ok());
        assert!(VMID_LIST.check("100,abc").is_err());
    }

    #[test]
    fn paths_and_nodes() {
        assert!(check_acl_path("/").is_ok());
        assert!(check_acl_path("/vms/100").is_ok());
        assert!(check_acl_path("/vms/../x").is_err());
        assert!(check_acl_path("vms").is_err());
        assert!(check_node("pve-1").is_ok());
        assert!(check_node("-x").is_err());
        assert!(check_node("a/b").is_err());
    }
}
