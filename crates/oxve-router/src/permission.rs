//! Declared permissions, evaluated through a [`PermissionChecker`] the server provides.
//! The forms follow Proxmox's `permissions => { check => [...] }`.

use oxve_types::params::Params;

/// Who may call a method.
#[derive(Debug, Clone)]
pub enum Permission {
    /// No authentication needed (login itself).
    World,
    /// Any authenticated user; the handler filters what it shows (Proxmox `user => 'all'`).
    Anybody,
    /// `['perm', path, privs, any => any]`: `{param}` in the path is filled from parameters.
    Privs {
        path: &'static str,
        privs: &'static [&'static str],
        any: bool,
    },
    /// `['userid-param', 'self']`: the `userid` parameter names the caller (not a token).
    UserParamSelf,
    /// `['userid-group', privs]`: privs on `/access/groups/<g>` for a group of the target user,
    /// or on `/access/groups` itself.
    UserGroup {
        privs: &'static [&'static str],
    },
    /// Only `root@pam`.
    Root,
    Or(Vec<Permission>),
    And(Vec<Permission>),
    /// The handler checks itself; the text documents how.
    Custom(&'static str),
}

/// The server's view of the caller, used to evaluate a [`Permission`].
pub trait PermissionChecker {
    fn has_privs(&self, path: &str, privs: &[&str], any: bool) -> bool;
    /// Whether `userid` is the calling user itself (not through a token).
    fn is_self(&self, userid: &str) -> bool;
    /// Whether the caller has `privs` on a group `userid` belongs to (or on all groups).
    fn has_user_group_privs(&self, userid: &str, privs: &[&str]) -> bool;
    fn is_root(&self) -> bool;
}

/// Why a permission check failed: Proxmox names the path and privilege.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub path: String,
    pub privs: String,
}

impl Permission {
    /// Evaluate this permission for the caller, with `{param}` taken from `params`.
    pub fn check(&self, checker: &dyn PermissionChecker, params: &Params) -> Result<(), Denied> {
        match self {
            Permission::World | Permission::Anybody | Permission::Custom(_) => Ok(()),
            Permission::Privs { path, privs, any } => {
                let path = fill_path(path, params);
                if checker.has_privs(&path, privs, *any) {
                    Ok(())
                } else {
                    Err(Denied {
                        path,
                        privs: privs.join(if *any { "|" } else { ", " }),
                    })
                }
            }
            Permission::UserParamSelf => {
                let userid = params.str("userid").unwrap_or_default();
                if checker.is_self(userid) {
                    Ok(())
                } else {
                    Err(Denied {
                        path: format!("/access/users/{userid}"),
                        privs: "self".into(),
                    })
                }
            }
            Permission::UserGroup { privs } => {
                let userid = params.str("userid").unwrap_or_default();
                if checker.has_user_group_privs(userid, privs) {
                    Ok(())
                } else {
                    Err(Denied {
                        path: "/access/groups".into(),
                        privs: privs.join(", "),
                    })
                }
            }
            Permission::Root => {
                if checker.is_root() {
                    Ok(())
                } else {
                    Err(Denied {
                        path: "/".into(),
                        privs: "root@pam".into(),
                    })
                }
            }
            Permission::Or(alternatives) => {
                let mut first_denial = None;
                for alt in alternatives {
                    match alt.check(checker, params) {
                        Ok(()) => return Ok(()),
                        Err(denied) => {
                            first_denial.get_or_insert(denied);
                        }
                    }
                }
                first_denial.map_or(Ok(()), Err)
            }
            Permission::And(all) => all.iter().try_for_each(|p| p.check(checker, params)),
        }
    }

    /// Whether the method requires an authenticated caller.
    pub fn needs_auth(&self) -> bool {
        !matches!(self, Permission::World)
    }
}

/// Replace `{name}` in a permission path with the parameter's value.
pub fn fill_path(template: &str, params: &Params) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        match params.get(name) {
            Some(serde_json::Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => {}
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_path_parameters() {
        let params = Params::new(
            json!({"vmid": 100, "node": "n1"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(fill_path("/vms/{vmid}", &params), "/vms/100");
        assert_eq!(fill_path("/nodes/{node}", &params), "/nodes/n1");
        assert_eq!(fill_path("/", &params), "/");
    }
}
