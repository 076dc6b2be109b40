//! Permission evaluation: a generated matrix of roles x grant paths x propagate x subject
//! kinds, then hand-written cases for overrides, NoAccess, pools, tokens and account state.

mod common;

use common::{aid, T0};
use oxve_auth::roles::builtin_role;
use oxve_auth::user_cfg::UserConfig;
use oxve_auth::{Authid, PrivSet, Snapshot};

const PATHS: [&str; 5] = ["/", "/vms", "/vms/100", "/storage/local", "/nodes/n1"];
const ROLES: [&str; 6] = [
    "PVEVMUser",
    "PVEAuditor",
    "PVEDatastoreAdmin",
    "PVESysAdmin",
    "Administrator",
    "NoAccess",
];

const USERS: &str = "\
user:alice@pve:1:0::::::
token:alice@pve!sep:0:1::
token:alice@pve!full:0:0::
group:devs:alice@pve::
";

fn snapshot(acl: &str) -> Snapshot {
    Snapshot::from_config(UserConfig::parse(&format!("{USERS}{acl}")))
}

fn privs(s: &Snapshot, who: &str, path: &str) -> PrivSet {
    s.privileges(&aid(who), path, T0)
}

fn role(name: &str) -> PrivSet {
    builtin_role(name).unwrap()
}

/// Whether a grant on `grant` reaches `check`.
fn reaches(grant: &str, check: &str, propagate: bool) -> bool {
    grant == check || (propagate && (grant == "/" || check.starts_with(&format!("{grant}/"))))
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    User,
    Group,
    /// privsep token with its own grant; the user holds Administrator on `/`.
    TokenSeparated,
    /// privsep token without any own grant; the user holds the grant.
    TokenSeparatedNoOwnAcl,
    /// non-privsep token: the user's grant counts, the token's own ACLs do not.
    TokenFull,
}

#[test]
fn generated_matrix() {
    let kinds = [
        Kind::User,
        Kind::Group,
        Kind::TokenSeparated,
        Kind::TokenSeparatedNoOwnAcl,
        Kind::TokenFull,
    ];
    let mut cases = 0;
    for r in ROLES {
        for grant in PATHS {
            for prop in [false, true] {
                for kind in kinds {
                    let p = u8::from(prop);
                    let (acl, who) = match kind {
                        Kind::User => (format!("acl:{p}:{grant}:alice@pve:{r}:\n"), "alice@pve"),
                        Kind::Group => (format!("acl:{p}:{grant}:@devs:{r}:\n"), "alice@pve"),
                        Kind::TokenSeparated => (
                            format!(
                                "acl:1:/:alice@pve:Administrator:\n\
                                 acl:{p}:{grant}:alice@pve!sep:{r}:\n"
                            ),
                            "alice@pve!sep",
                        ),
                        Kind::TokenSeparatedNoOwnAcl => {
                            (format!("acl:{p}:{grant}:alice@pve:{r}:\n"), "alice@pve!sep")
                        }
                        Kind::TokenFull => (
                            format!(
                                "acl:{p}:{grant}:alice@pve:{r}:\n\
                                 acl:1:/:alice@pve!full:Administrator:\n"
                            ),
                            "alice@pve!full",
                        ),
                    };
                    let s = snapshot(&acl);
                    for check in PATHS {
                        let expected = match kind {
                            Kind::TokenSeparatedNoOwnAcl => PrivSet::EMPTY,
                            _ if reaches(grant, check, prop) => role(r),
                            Kind::TokenSeparated => PrivSet::EMPTY,
                            _ => PrivSet::EMPTY,
                        };
                        assert_eq!(
                            privs(&s, who, check),
                            expected,
                            "role {r} granted on {grant} propagate={prop} to {kind:?}, checked on {check}"
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, ROLES.len() * PATHS.len() * 2 * 5 * PATHS.len());
}

#[test]
fn user_entries_override_group_entries_on_the_same_level() {
    let s = snapshot(
        "acl:1:/vms:@devs:PVEVMAdmin:\n\
         acl:1:/vms:alice@pve:PVEVMUser:\n",
    );
    assert_eq!(privs(&s, "alice@pve", "/vms"), role("PVEVMUser"));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEVMUser"));
    // A group NoAccess does not beat the user's own entry on that level.
    let s = snapshot(
        "acl:1:/vms:@devs:NoAccess:\n\
         acl:1:/vms:alice@pve:PVEVMUser:\n",
    );
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEVMUser"));
}

#[test]
fn deeper_levels_replace_what_was_inherited() {
    let s = snapshot(
        "acl:1:/:@devs:PVEAdmin:\n\
         acl:1:/vms:alice@pve:PVEAuditor:\n",
    );
    assert_eq!(privs(&s, "alice@pve", "/"), role("PVEAdmin"));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEAuditor"));
    assert_eq!(privs(&s, "alice@pve", "/storage/local"), role("PVEAdmin"));

    // A deeper group entry replaces an inherited user entry too.
    let s = snapshot(
        "acl:1:/:alice@pve:Administrator:\n\
         acl:1:/vms:@devs:PVEAuditor:\n",
    );
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEAuditor"));
    assert_eq!(privs(&s, "alice@pve", "/nodes/n1"), role("Administrator"));
}

#[test]
fn non_propagating_entries_apply_to_their_path_only() {
    let s = snapshot(
        "acl:1:/:alice@pve:PVEAuditor:\n\
         acl:0:/vms:alice@pve:PVEVMAdmin:\n",
    );
    assert_eq!(privs(&s, "alice@pve", "/vms"), role("PVEVMAdmin"));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEAuditor"));
    // Mixed flags for one user on one path: only the propagating role goes deeper.
    let s = snapshot(
        "acl:0:/vms:alice@pve:PVEVMAdmin:\n\
         acl:1:/vms:alice@pve:PVEDatastoreUser:\n",
    );
    assert_eq!(
        privs(&s, "alice@pve", "/vms"),
        role("PVEVMAdmin").union(role("PVEDatastoreUser"))
    );
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEDatastoreUser"));
}

#[test]
fn no_access_wins() {
    let s = snapshot(
        "acl:1:/:alice@pve:Administrator:\n\
         acl:1:/vms/100:alice@pve:NoAccess,PVEVMAdmin:\n",
    );
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), PrivSet::EMPTY);
    assert_eq!(privs(&s, "alice@pve", "/vms"), role("Administrator"));
    // NoAccess from several groups at once.
    let s = Snapshot::from_config(UserConfig::parse(
        "user:bob@pve:1:0::::::\ngroup:a:bob@pve::\ngroup:b:bob@pve::\n\
         acl:1:/vms:@a:PVEVMAdmin:\nacl:1:/vms:@b:NoAccess:\n",
    ));
    assert_eq!(
        s.privileges(&aid("bob@pve"), "/vms/100", T0),
        PrivSet::EMPTY
    );
}

#[test]
fn several_groups_on_one_level_add_up() {
    let s = Snapshot::from_config(UserConfig::parse(
        "user:bob@pve:1:0::::::\ngroup:a:bob@pve::\ngroup:b:bob@pve::\n\
         acl:1:/vms:@a:PVEVMUser:\nacl:1:/vms:@b:PVEDatastoreUser:\n",
    ));
    assert_eq!(
        s.privileges(&aid("bob@pve"), "/vms/100", T0),
        role("PVEVMUser").union(role("PVEDatastoreUser"))
    );
}

#[test]
fn privilege_separated_tokens_get_the_intersection() {
    let s = snapshot(
        "acl:1:/vms:alice@pve:PVEVMUser:\n\
         acl:1:/vms:alice@pve!sep:PVEVMAdmin:\n\
         acl:1:/:alice@pve!sep:PVEAuditor:\n",
    );
    assert_eq!(privs(&s, "alice@pve!sep", "/vms/100"), role("PVEVMUser"));
    // On / the user has nothing, so the token has nothing despite PVEAuditor.
    assert_eq!(privs(&s, "alice@pve!sep", "/"), PrivSet::EMPTY);
    // The full token ignores its own ACLs and has the user's rights.
    assert_eq!(privs(&s, "alice@pve!full", "/vms/100"), role("PVEVMUser"));
    assert_eq!(privs(&s, "alice@pve!full", "/"), PrivSet::EMPTY);
    // Unknown tokens have nothing.
    assert_eq!(privs(&s, "alice@pve!nope", "/vms/100"), PrivSet::EMPTY);
}

#[test]
fn root_has_everything() {
    let s = Snapshot::from_config(UserConfig::parse(
        "user:root@pam:1:0::::::\ntoken:root@pam!sep:0:1::\ntoken:root@pam!full:0:0::\n\
         acl:1:/vms:root@pam!sep:PVEAuditor:\n",
    ));
    for path in PATHS {
        assert_eq!(s.privileges(&aid("root@pam"), path, T0), PrivSet::all());
        assert_eq!(
            s.privileges(&aid("root@pam!full"), path, T0),
            PrivSet::all()
        );
    }
    assert_eq!(s.privileges(&aid("root@pam!sep"), "/", T0), PrivSet::EMPTY);
    assert_eq!(
        s.privileges(&aid("root@pam!sep"), "/vms/100", T0),
        role("PVEAuditor")
    );
}

#[test]
fn disabled_and_expired_accounts_have_nothing() {
    let s = Snapshot::from_config(UserConfig::parse(&format!(
        "user:off@pve:0:0::::::\n\
         user:old@pve:1:{}::::::\n\
         user:later@pve:1:{}::::::\n\
         token:later@pve!old:{}:0::\n\
         token:later@pve!ok:{}:0::\n\
         acl:1:/:off@pve,old@pve,later@pve:Administrator:\n",
        T0 - 1,
        T0 + 100,
        T0 - 1,
        T0 + 100
    )));
    let all = PrivSet::all();
    assert_eq!(s.privileges(&aid("off@pve"), "/", T0), PrivSet::EMPTY);
    assert_eq!(s.privileges(&aid("old@pve"), "/", T0), PrivSet::EMPTY);
    assert_eq!(s.privileges(&aid("later@pve"), "/", T0), all);
    assert_eq!(s.privileges(&aid("later@pve!old"), "/", T0), PrivSet::EMPTY);
    assert_eq!(s.privileges(&aid("later@pve!ok"), "/", T0), all);
    // Expiry is inclusive of the second itself, exclusive after.
    assert_eq!(s.privileges(&aid("later@pve"), "/", T0 + 100), all);
    assert_eq!(
        s.privileges(&aid("later@pve"), "/", T0 + 101),
        PrivSet::EMPTY
    );
    assert_eq!(s.privileges(&aid("nobody@pve"), "/", T0), PrivSet::EMPTY);
}

#[test]
fn pools_grant_to_their_members() {
    let base = "pool:dev::100:local:\n";
    let s = snapshot(&format!("{base}acl:1:/pool/dev:@devs:PVEVMAdmin:\n"));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEVMAdmin"));
    assert_eq!(privs(&s, "alice@pve", "/vms/101"), PrivSet::EMPTY);
    assert_eq!(privs(&s, "alice@pve", "/storage/local"), role("PVEVMAdmin"));
    // Pool-derived privileges never propagate.
    let eff = s.effective_privileges(&aid("alice@pve"), "/vms/100", T0);
    assert!(eff.propagate.is_empty());
    // A direct NoAccess is kept.
    let s = snapshot(&format!(
        "{base}acl:1:/pool/dev:@devs:PVEVMAdmin:\nacl:1:/vms/100:alice@pve:NoAccess:\n"
    ));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), PrivSet::EMPTY);
    // A pool NoAccess beats direct roles.
    let s = snapshot(&format!(
        "{base}acl:1:/pool/dev:@devs:NoAccess:\nacl:1:/vms:alice@pve:PVEVMAdmin:\n"
    ));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), PrivSet::EMPTY);
    assert_eq!(privs(&s, "alice@pve", "/vms/101"), role("PVEVMAdmin"));
    // Direct and pool roles add up.
    let s = snapshot(&format!(
        "{base}acl:1:/pool/dev:@devs:PVEDatastoreUser:\nacl:1:/vms:alice@pve:PVEVMUser:\n"
    ));
    assert_eq!(
        privs(&s, "alice@pve", "/vms/100"),
        role("PVEVMUser").union(role("PVEDatastoreUser"))
    );
}

#[test]
fn path_forms() {
    let s = snapshot("acl:1:/vms:alice@pve:PVEAuditor:\n");
    assert_eq!(privs(&s, "alice@pve", "/vms/100/"), role("PVEAuditor"));
    assert_eq!(privs(&s, "alice@pve", "vms//100"), role("PVEAuditor"));
    assert_eq!(privs(&s, "alice@pve", "/vms/../nodes"), PrivSet::EMPTY);
    assert_eq!(privs(&s, "alice@pve", ""), PrivSet::EMPTY);
}

#[test]
fn check_any_and_all() {
    let s = snapshot("acl:1:/vms:alice@pve:PVEVMUser:\n");
    let a: Authid = aid("alice@pve");
    assert!(s.check(&a, "/vms/100", &["VM.Audit", "VM.Console"], false, T0));
    assert!(!s.check(&a, "/vms/100", &["VM.Audit", "VM.Allocate"], false, T0));
    assert!(s.check(&a, "/vms/100", &["VM.Audit", "VM.Allocate"], true, T0));
    assert!(!s.check(&a, "/vms/100", &["VM.Bogus"], true, T0));
    let err = s
        .require(&a, "/vms/100", &["VM.Audit", "VM.Allocate"], false, T0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Permission check failed (/vms/100, VM.Allocate)"
    );
    assert_eq!(err.http_status(), 403);
    let err = s
        .require(&a, "/nodes/n1", &["Sys.Audit", "Sys.Modify"], true, T0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Permission check failed (/nodes/n1, Sys.Audit|Sys.Modify)"
    );
}

#[test]
fn permissions_listing() {
    let s = snapshot(
        "pool:dev::101::\n\
         acl:1:/vms:alice@pve:PVEAuditor:\n\
         acl:0:/vms/100:alice@pve:PVEVMUser:\n\
         acl:1:/pool/dev:alice@pve:PVETemplateUser:\n",
    );
    let a = aid("alice@pve");
    let all = s.permissions(&a, None, T0);
    assert_eq!(
        all.keys().map(String::as_str).collect::<Vec<_>>(),
        ["/pool/dev", "/vms", "/vms/100", "/vms/101"]
    );
    assert_eq!(all["/vms"]["VM.Audit"], 1);
    assert_eq!(all["/vms/100"]["VM.Console"], 0);
    assert_eq!(all["/vms/101"]["VM.Clone"], 0);
    assert_eq!(all["/vms/101"]["VM.Audit"], 1);
    let one = s.permissions(&a, Some("/nodes"), T0);
    assert_eq!(one.len(), 1);
    assert!(one["/nodes"].is_empty());
    let root = s.permissions(&aid("root@pam"), Some("/"), T0);
    assert_eq!(root["/"].len(), 47);
    assert!(root["/"].values().all(|v| *v == 1));
}

#[test]
fn api_capabilities() {
    let s = snapshot(
        "acl:1:/:alice@pve:PVEAuditor:\n\
         acl:1:/vms/100:alice@pve:PVEVMAdmin:\n\
         acl:1:/access/groups:alice@pve:PVEUserAdmin:\n",
    );
    let caps = s.api_capabilities(&aid("alice@pve"), T0);
    let v = serde_json::to_value(&caps).unwrap();
    assert_eq!(v["dc"], serde_json::json!({"SDN.Audit": 1, "Sys.Audit": 1}));
    assert_eq!(v["nodes"], serde_json::json!({"Sys.Audit": 1}));
    assert_eq!(v["storage"], serde_json::json!({"Datastore.Audit": 1}));
    assert_eq!(v["vms"]["VM.Allocate"], 1);
    assert_eq!(v["vms"]["VM.Audit"], 1);
    assert_eq!(
        v["access"],
        serde_json::json!({"Group.Allocate": 1, "User.Modify": 1})
    );
    assert_eq!(v["mapping"], serde_json::json!({"Mapping.Audit": 1}));
    assert_eq!(v["sdn"], serde_json::json!({"SDN.Audit": 1}));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7);

    let root = s.api_capabilities(&aid("root@pam"), T0);
    assert_eq!(root.vms["Permissions.Modify"], 1);
    assert_eq!(root.dc.len(), 5, "{:?}", root.dc);
    let nobody = s.api_capabilities(&aid("ghost@pve"), T0);
    assert_eq!(nobody, oxve_auth::ApiCapabilities::default());
}

#[test]
fn composite_checks() {
    let s = Snapshot::from_config(UserConfig::parse(
        "user:admin@pve:1:0::::::\nuser:helper@pve:1:0::::::\nuser:joe@pve:1:0::::::\n\
         user:ann@pve:1:0::::::\ntoken:helper@pve!tk:0:1::\n\
         group:devs:joe@pve::\ngroup:ops:ann@pve::\n\
         acl:1:/access/groups:admin@pve:PVEUserAdmin:\n\
         acl:1:/access/groups/devs:helper@pve:PVEUserAdmin:\n\
         acl:1:/access/realm/pve:helper@pve:PVEUserAdmin:\n\
         acl:1:/vms:helper@pve:PVEVMAdmin:\n",
    ));
    let (admin, helper) = (aid("admin@pve"), aid("helper@pve"));
    let (joe, ann) = (common::uid("joe@pve"), common::uid("ann@pve"));
    let m = ["User.Modify"];
    assert!(s.check_userid_group(&admin, &ann, &m, None, false, T0));
    assert!(s.check_userid_group(&helper, &joe, &m, None, false, T0));
    assert!(!s.check_userid_group(&helper, &ann, &m, None, false, T0));
    let devs = ["devs".to_string()];
    let ops = ["ops".to_string()];
    let new = common::uid("new@pve");
    assert!(s.check_userid_group(&helper, &new, &m, Some(&devs), true, T0));
    assert!(!s.check_userid_group(&helper, &new, &m, Some(&ops), true, T0));
    assert!(!s.check_userid_group(&helper, &new, &m, Some(&[]), true, T0));
    assert!(!s.check_userid_group(&helper, &new, &m, None, false, T0));

    assert!(s.is_self(&helper, &common::uid("helper@pve")));
    assert!(!s.is_self(&aid("helper@pve!tk"), &common::uid("helper@pve")));
    assert!(!s.is_self(&aid("ghost@pve"), &common::uid("ghost@pve")));
    assert!(s.check_realm_allocate(&helper, &joe, T0));
    assert!(!s.check_realm_allocate(&helper, &common::uid("x@pam"), T0));

    assert!(s.check_perm_modify(&helper, "/vms/100", T0));
    assert!(!s.check_perm_modify(&helper, "/vms", T0));
    assert!(!s.check_perm_modify(&helper, "", T0));
    assert!(s.check_perm_modify(&aid("root@pam"), "", T0));

    let grant = |role: &str| oxve_auth::AclUpdate {
        path: "/vms/100".into(),
        roles: vec![role.into()],
        users: vec!["joe@pve".into()],
        ..Default::default()
    };
    assert!(s.check_acl_update(&helper, &grant("PVEVMUser"), T0).is_ok());
    let err = s
        .check_acl_update(&helper, &grant("PVEAdmin"), T0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Permission check failed (/vms/100, Datastore.Allocate)"
    );
    assert!(s
        .check_acl_update(&aid("root@pam"), &grant("Administrator"), T0)
        .is_ok());
    assert!(s
        .check_acl_update(&aid("joe@pve"), &grant("PVEVMUser"), T0)
        .is_err());
}

#[test]
fn nested_pools_inherit_propagating_pool_acls() {
    let base = "pool:dev:::local:\npool:dev/web::100::\n";
    // A propagating grant on the parent pool reaches the guests of the child pool.
    let s = snapshot(&format!("{base}acl:1:/pool/dev:alice@pve:PVEVMUser:\n"));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), role("PVEVMUser"));
    assert_eq!(privs(&s, "alice@pve", "/storage/local"), role("PVEVMUser"));
    // A non-propagating one stays on the parent's own members.
    let s = snapshot(&format!("{base}acl:0:/pool/dev:alice@pve:PVEVMUser:\n"));
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), PrivSet::EMPTY);
    assert_eq!(privs(&s, "alice@pve", "/storage/local"), role("PVEVMUser"));
    // Removing the guest from the pool (a config without it) removes the access.
    let s = snapshot("pool:dev:::local:\npool:dev/web::::\nacl:1:/pool/dev:alice@pve:PVEVMUser:\n");
    assert_eq!(privs(&s, "alice@pve", "/vms/100"), PrivSet::EMPTY);
}
