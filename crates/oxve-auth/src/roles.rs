//! Built-in roles, derived as Proxmox derives them, and role-name rules for custom roles.
//!
//! Proxmox sorts each privilege category into `root` (only Administrator), `admin`, `user`
//! and `audit` tiers. `PVE<Cat>Admin` gets admin+user+audit of its category, `PVE<Cat>User`
//! (only where the user tier is not empty) user+audit, `PVEAuditor` every audit tier,
//! `PVEAdmin` every admin+user+audit tier except `Mapping.Modify`, `Administrator`
//! everything and `NoAccess` nothing. `Permissions.Modify` belongs to no tier.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::error::{AuthError, Result};
use crate::privileges::{split_list, PrivSet};
use crate::userid::verify_role_id;

/// The role that grants everything.
pub const ADMINISTRATOR: &str = "Administrator";
/// The role that cancels every other role on a path.
pub const NO_ACCESS: &str = "NoAccess";

struct Category {
    name: &'static str,
    root: &'static [&'static str],
    admin: &'static [&'static str],
    user: &'static [&'static str],
    audit: &'static [&'static str],
}

const CATEGORIES: &[Category] = &[
    Category {
        name: "VM",
        root: &[],
        admin: &[
            "VM.Config.Disk",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.HWType",
            "VM.Config.Options",
            "VM.Allocate",
            "VM.Clone",
            "VM.GuestAgent.Unrestricted",
            "VM.Migrate",
            "VM.Replicate",
            "VM.Snapshot",
            "VM.Snapshot.Rollback",
        ],
        user: &[
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Console",
            "VM.Backup",
            "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.FileWrite",
            "VM.PowerMgmt",
        ],
        audit: &["VM.Audit", "VM.GuestAgent.Audit"],
    },
    Category {
        name: "Sys",
        root: &[
            "Sys.PowerMgmt",
            "Sys.Modify",
            "Sys.Incoming",
            "Sys.AccessNetwork",
        ],
        admin: &["Sys.Console", "Sys.Syslog"],
        user: &[],
        audit: &["Sys.Audit"],
    },
    Category {
        name: "Datastore",
        root: &[],
        admin: &["Datastore.Allocate", "Datastore.AllocateTemplate"],
        user: &["Datastore.AllocateSpace"],
        audit: &["Datastore.Audit"],
    },
    Category {
        name: "SDN",
        root: &[],
        admin: &["SDN.Allocate", "SDN.Audit"],
        user: &["SDN.Use"],
        audit: &["SDN.Audit"],
    },
    Category {
        name: "User",
        root: &["Realm.Allocate"],
        admin: &["User.Modify", "Group.Allocate", "Realm.AllocateUser"],
        user: &[],
        audit: &[],
    },
    Category {
        name: "Pool",
        root: &[],
        admin: &["Pool.Allocate"],
        user: &["Pool.Audit"],
        audit: &["Pool.Audit"],
    },
    Category {
        name: "Mapping",
        root: &[],
        admin: &["Mapping.Modify"],
        user: &["Mapping.Use"],
        audit: &["Mapping.Audit"],
    },
];

fn build_builtin() -> BTreeMap<&'static str, PrivSet> {
    let mut roles = BTreeMap::new();
    let mut pve_admin = PrivSet::EMPTY;
    let mut auditor = PrivSet::EMPTY;
    // Administrator: every tier of every category, plus the uncategorized Permissions.Modify.
    let mut every = PrivSet::of(&["Permissions.Modify"]);
    for cat in CATEGORIES {
        for tier in [cat.root, cat.admin, cat.user, cat.audit] {
            every = every.union(PrivSet::of(tier));
        }
        let admin = PrivSet::of(cat.admin)
            .union(PrivSet::of(cat.user))
            .union(PrivSet::of(cat.audit));
        let name: &'static str = Box::leak(format!("PVE{}Admin", cat.name).into_boxed_str());
        roles.insert(name, admin);
        pve_admin = pve_admin.union(admin);
        if !cat.user.is_empty() {
            let user = PrivSet::of(cat.user).union(PrivSet::of(cat.audit));
            let name: &'static str = Box::leak(format!("PVE{}User", cat.name).into_boxed_str());
            roles.insert(name, user);
        }
        auditor = auditor.union(PrivSet::of(cat.audit));
    }
    // Mapping.Modify is kept for Administrator and PVEMappingAdmin only.
    pve_admin = pve_admin.difference(PrivSet::of(&["Mapping.Modify"]));
    roles.insert("PVEAdmin", pve_admin);
    roles.insert("PVEAuditor", auditor);
    roles.insert("PVETemplateUser", PrivSet::of(&["VM.Clone", "VM.Audit"]));
    roles.insert(ADMINISTRATOR, every);
    roles.insert(NO_ACCESS, PrivSet::EMPTY);
    roles
}

/// The built-in (`special`) roles and their privileges.
pub fn builtin_roles() -> &'static BTreeMap<&'static str, PrivSet> {
    static ROLES: OnceLock<BTreeMap<&'static str, PrivSet>> = OnceLock::new();
    ROLES.get_or_init(build_builtin)
}

/// The privileges of built-in role `name`.
pub fn builtin_role(name: &str) -> Option<PrivSet> {
    builtin_roles().get(name).copied()
}

/// Whether `name` is a built-in role (cannot be changed or deleted).
pub fn is_builtin(name: &str) -> bool {
    builtin_roles().contains_key(name)
}

/// Parse a `pve-priv-list` parameter (`privs`): every name must be a known privilege.
pub fn parse_priv_list(param: &str, text: &str) -> Result<PrivSet> {
    PrivSet::from_names(split_list(text))
        .map_err(|bad| AuthError::param(param, format!("invalid privilege '{bad}'")))
}

/// Check a new custom role id: valid characters, not in the reserved `PVE` namespace.
pub fn verify_new_role_id(roleid: &str) -> Result<()> {
    verify_role_id(roleid).map_err(|e| AuthError::from_id("roleid", e))?;
    if roleid
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("PVE"))
    {
        return Err(AuthError::param(
            "roleid",
            "cannot use role ID starting with the (case-insensitive) 'PVE' namespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> String {
        builtin_role(name).unwrap().to_string()
    }

    #[test]
    fn role_names() {
        let names: Vec<&str> = builtin_roles().keys().copied().collect();
        assert_eq!(
            names,
            [
                "Administrator",
                "NoAccess",
                "PVEAdmin",
                "PVEAuditor",
                "PVEDatastoreAdmin",
                "PVEDatastoreUser",
                "PVEMappingAdmin",
                "PVEMappingUser",
                "PVEPoolAdmin",
                "PVEPoolUser",
                "PVESDNAdmin",
                "PVESDNUser",
                "PVESysAdmin",
                "PVETemplateUser",
                "PVEUserAdmin",
                "PVEVMAdmin",
                "PVEVMUser",
            ]
        );
    }

    /// The privilege lists `pveum role list` prints on Proxmox VE 9.
    #[test]
    fn privileges_match_proxmox_ve_9() {
        assert_eq!(
            role("Administrator"),
            crate::privileges::PRIVILEGES.join(",")
        );
        assert_eq!(role("NoAccess"), "");
        assert_eq!(
            role("PVEAdmin"),
            "Datastore.Allocate,Datastore.AllocateSpace,Datastore.AllocateTemplate,\
             Datastore.Audit,Group.Allocate,Mapping.Audit,Mapping.Use,Pool.Allocate,Pool.Audit,\
             Realm.AllocateUser,SDN.Allocate,SDN.Audit,SDN.Use,Sys.Audit,Sys.Console,Sys.Syslog,\
             User.Modify,VM.Allocate,VM.Audit,VM.Backup,VM.Clone,VM.Config.CDROM,VM.Config.CPU,\
             VM.Config.Cloudinit,VM.Config.Disk,VM.Config.HWType,VM.Config.Memory,\
             VM.Config.Network,VM.Config.Options,VM.Console,VM.GuestAgent.Audit,\
             VM.GuestAgent.FileRead,VM.GuestAgent.FileSystemMgmt,VM.GuestAgent.FileWrite,\
             VM.GuestAgent.Unrestricted,VM.Migrate,VM.PowerMgmt,VM.Replicate,VM.Snapshot,\
             VM.Snapshot.Rollback"
        );
        assert_eq!(
            role("PVEAuditor"),
            "Datastore.Audit,Mapping.Audit,Pool.Audit,SDN.Audit,Sys.Audit,VM.Audit,\
             VM.GuestAgent.Audit"
        );
        assert_eq!(
            role("PVEVMAdmin"),
            "VM.Allocate,VM.Audit,VM.Backup,VM.Clone,VM.Config.CDROM,VM.Config.CPU,\
             VM.Config.Cloudinit,VM.Config.Disk,VM.Config.HWType,VM.Config.Memory,\
             VM.Config.Network,VM.Config.Options,VM.Console,VM.GuestAgent.Audit,\
             VM.GuestAgent.FileRead,VM.GuestAgent.FileSystemMgmt,VM.GuestAgent.FileWrite,\
             VM.GuestAgent.Unrestricted,VM.Migrate,VM.PowerMgmt,VM.Replicate,VM.Snapshot,\
             VM.Snapshot.Rollback"
        );
        assert_eq!(
            role("PVEVMUser"),
            "VM.Audit,VM.Backup,VM.Config.CDROM,VM.Config.Cloudinit,VM.Console,\
             VM.GuestAgent.Audit,VM.GuestAgent.FileRead,VM.GuestAgent.FileSystemMgmt,\
             VM.GuestAgent.FileWrite,VM.PowerMgmt"
        );
        assert_eq!(
            role("PVEDatastoreAdmin"),
            "Datastore.Allocate,Datastore.AllocateSpace,Datastore.AllocateTemplate,Datastore.Audit"
        );
        assert_eq!(
            role("PVEDatastoreUser"),
            "Datastore.AllocateSpace,Datastore.Audit"
        );
        assert_eq!(role("PVEPoolAdmin"), "Pool.Allocate,Pool.Audit");
        assert_eq!(role("PVEPoolUser"), "Pool.Audit");
        assert_eq!(
            role("PVEUserAdmin"),
            "Group.Allocate,Realm.AllocateUser,User.Modify"
        );
        assert_eq!(role("PVESysAdmin"), "Sys.Audit,Sys.Console,Sys.Syslog");
        assert_eq!(role("PVETemplateUser"), "VM.Audit,VM.Clone");
        assert_eq!(role("PVESDNAdmin"), "SDN.Allocate,SDN.Audit,SDN.Use");
        assert_eq!(role("PVESDNUser"), "SDN.Audit,SDN.Use");
        assert_eq!(
            role("PVEMappingAdmin"),
            "Mapping.Audit,Mapping.Modify,Mapping.Use"
        );
        assert_eq!(role("PVEMappingUser"), "Mapping.Audit,Mapping.Use");
    }

    #[test]
    fn tiers_cover_every_privilege() {
        assert_eq!(builtin_role(ADMINISTRATOR), Some(PrivSet::all()));
    }

    #[test]
    fn custom_role_rules() {
        assert!(verify_new_role_id("VM_Power-only").is_ok());
        let err = verify_new_role_id("pveFoo").unwrap_err();
        assert!(err.to_string().contains("'PVE' namespace"), "{err}");
        assert!(verify_new_role_id("a b").is_err());
        let err = parse_priv_list("privs", "VM.Audit,VM.Monitor").unwrap_err();
        assert_eq!(err.to_string(), "privs: invalid privilege 'VM.Monitor'");
        assert_eq!(
            parse_priv_list("privs", "VM.PowerMgmt VM.Console")
                .unwrap()
                .len(),
            2
        );
    }
}
