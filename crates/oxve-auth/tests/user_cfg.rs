//! user.cfg parsing and writing against a realistic Proxmox VE file.

use oxve_auth::user_cfg::UserConfig;
use oxve_auth::{Authid, PrivSet, Userid};

/// A user.cfg as Proxmox VE writes it (users with tokens, groups, a pool, a custom role and
/// ACLs for groups, users and tokens, with both propagate values).
const SAMPLE: &str = "\
user:admin@pve:1:0:Ada:Admin:ada@example.com:Main administrator::
token:admin@pve!automation:0:1:CI%3A nightly jobs:
token:admin@pve!full:1767225600:0::
user:joe@pve:1:1893456000:Jo%C3%ABl:Doe:joe@example.com:::
user:ops@pam:0:0:::::x!oath:
token:ops@pam!monitor:0:1::
user:root@pam:1:0:::root@example.com:::

group:admins:admin@pve,joe@pve:Administrators:
group:empty:::

pool:dev:Development pool:100,1000,101:local,nfs-iso:

role:VM_Power-only:VM.Console,VM.PowerMgmt:

acl:1:/:@admins:Administrator:
acl:0:/storage/local:joe@pve:PVEDatastoreUser:
acl:1:/vms:ops@pam!monitor:PVEAuditor:
acl:1:/vms:joe@pve,ops@pam:PVEVMUser,VM_Power-only:
acl:0:/vms/100:@admins,admin@pve!automation:NoAccess:
acl:1:/vms/100:@admins,admin@pve!automation:PVEVMUser:
";

fn u(s: &str) -> Userid {
    s.parse().unwrap()
}

#[test]
fn round_trip_is_exact() {
    let cfg = UserConfig::parse(SAMPLE);
    assert_eq!(cfg.write(), SAMPLE);
    assert_eq!(UserConfig::parse(&cfg.write()), cfg);
}

#[test]
fn parsed_values() {
    let cfg = UserConfig::parse(SAMPLE);
    assert_eq!(cfg.users.len(), 4);
    let admin = &cfg.users[&u("admin@pve")];
    assert!(admin.enable);
    assert_eq!(admin.firstname.as_deref(), Some("Ada"));
    assert_eq!(admin.comment.as_deref(), Some("Main administrator"));
    assert_eq!(admin.tokens.len(), 2);
    let auto = &admin.tokens[&"automation".parse().unwrap()];
    assert!(auto.privsep);
    assert_eq!(auto.comment.as_deref(), Some("CI: nightly jobs"));
    let full = &admin.tokens[&"full".parse().unwrap()];
    assert!(!full.privsep);
    assert_eq!(full.expire, 1_767_225_600);

    let joe = &cfg.users[&u("joe@pve")];
    assert_eq!(joe.firstname.as_deref(), Some("Joël"));
    assert_eq!(joe.expire, 1_893_456_000);
    let ops = &cfg.users[&u("ops@pam")];
    assert!(!ops.enable);
    assert_eq!(ops.keys.as_deref(), Some("x!oath"));
    assert_eq!(ops.email, None);

    assert_eq!(cfg.groups["admins"].members.len(), 2);
    assert_eq!(
        cfg.groups["admins"].comment.as_deref(),
        Some("Administrators")
    );
    assert!(cfg.groups["empty"].members.is_empty());
    assert_eq!(cfg.user_groups(&u("joe@pve")).len(), 1);

    let pool = &cfg.pools["dev"];
    assert_eq!(
        pool.vms.iter().copied().collect::<Vec<_>>(),
        [100, 101, 1000]
    );
    assert_eq!(pool.storage.len(), 2);

    assert_eq!(
        cfg.roles["VM_Power-only"],
        PrivSet::from_names(["VM.Console", "VM.PowerMgmt"]).unwrap()
    );

    let vms = &cfg.acl.nodes["/vms"];
    assert_eq!(vms.users[&u("joe@pve")].len(), 2);
    let tok: Authid = "ops@pam!monitor".parse().unwrap();
    assert!(vms.tokens[&tok]["PVEAuditor"]);
    let storage = &cfg.acl.nodes["/storage/local"];
    assert!(!storage.users[&u("joe@pve")]["PVEDatastoreUser"]);
    let vm100 = &cfg.acl.nodes["/vms/100"];
    assert!(!vm100.groups["admins"]["NoAccess"]);
    assert!(vm100.groups["admins"]["PVEVMUser"]);

    let entries = cfg.acl.entries();
    assert_eq!(entries.len(), 11);
    let json = serde_json::to_value(&entries[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"path": "/", "type": "group", "ugid": "admins",
                           "roleid": "Administrator", "propagate": 1})
    );
}

#[test]
fn root_is_always_present_and_its_acls_never_written() {
    let cfg = UserConfig::parse("acl:1:/:root@pam:PVEAuditor:\n");
    assert!(cfg.users.contains_key(&Userid::root()));
    assert_eq!(cfg.acl.nodes["/"].users.len(), 1);
    let text = cfg.write();
    assert!(text.starts_with("user:root@pam:1:0::::::\n"), "{text}");
    assert!(!text.contains("acl:"), "{text}");
}

#[test]
fn invalid_lines_are_skipped() {
    let raw = "\
  user:good@pve:1:0:::::: \r
user:bad user@pve:1:0::::::
user:x@pve:1:soon::::::
token:ghost@pve!t1:0:1::
token:good@pve!1bad:0:1::
group:bad group:good@pve::
group:g1:good@pve,not-a-user::
role:PVEAdmin:VM.Audit:
role:custom:VM.Audit,VM.Monitor:
acl:1:/vms:good@pve:NoSuchRole,custom:
acl:1:/bad path:good@pve:custom:
acl:1:/vms/100:ghost@pve!t1,@g1:custom:
garbage line
";
    let cfg = UserConfig::parse(raw);
    assert_eq!(
        cfg.users.keys().map(|u| u.as_str()).collect::<Vec<_>>(),
        ["good@pve", "root@pam"]
    );
    assert!(cfg.users[&u("good@pve")].tokens.is_empty());
    assert_eq!(cfg.groups.keys().collect::<Vec<_>>(), ["g1"]);
    assert!(!cfg.roles.contains_key("PVEAdmin"));
    assert_eq!(cfg.roles["custom"].to_string(), "VM.Audit");
    assert_eq!(cfg.acl.nodes.len(), 2);
    assert_eq!(
        cfg.acl.nodes["/vms"].users[&u("good@pve")]
            .keys()
            .collect::<Vec<_>>(),
        ["custom"]
    );
    assert!(cfg.acl.nodes["/vms/100"].tokens.is_empty());
    assert_eq!(cfg.acl.nodes["/vms/100"].groups.len(), 1);
}

#[test]
fn acl_paths_are_normalized() {
    let cfg = UserConfig::parse("user:a@pve:1:0::::::\nacl:1://vms//100/:a@pve:PVEAuditor:\n");
    assert!(cfg.acl.nodes.contains_key("/vms/100"));
    assert!(cfg.write().contains("acl:1:/vms/100:a@pve:PVEAuditor:\n"));
}

#[test]
fn empty_config() {
    let cfg = UserConfig::parse("");
    assert_eq!(cfg, UserConfig::default());
    assert_eq!(cfg.write(), "user:root@pam:1:0::::::\n\n\n\n\n");
}
