//! User, group, role, token and ACL operations through the store.

mod common;

use std::sync::atomic::Ordering;

use common::{aid, harness, harness_with, uid};
use oxve_auth::{AclUpdate, AuthError, TokenOptions, TokenUpdate, UserCreate, UserUpdate};

fn user(id: &str) -> UserCreate {
    UserCreate::new(uid(id))
}

fn acl(path: &str, roles: &[&str]) -> AclUpdate {
    AclUpdate {
        path: path.into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn user_lifecycle() {
    let h = harness();
    h.ac.create_group("devs", Some("Developers")).await.unwrap();
    let mut p = user("joe@pve");
    p.password = Some("s3cret-pass".into());
    p.firstname = Some("Joël".into());
    p.email = Some("joe@example.com".into());
    p.comment = Some("on call: weekdays".into());
    p.groups = vec!["devs".into()];
    p.expire = Some(2_000_000_000);
    h.ac.create_user(p.clone()).await.unwrap();

    let err = h.ac.create_user(p).await.unwrap_err();
    assert_eq!(err.to_string(), "user 'joe@pve' already exists");

    let text = h.store.text("user.cfg").unwrap();
    assert!(
        text.contains(
            "user:joe@pve:1:2000000000:Jo%C3%ABl::joe@example.com:on call%3A weekdays::\n"
        ),
        "{text}"
    );
    assert!(text.contains("group:devs:joe@pve:Developers:\n"), "{text}");
    let shadow = h.store.text("priv/shadow.cfg").unwrap();
    assert!(shadow.starts_with("joe@pve:$argon2id$"), "{shadow}");

    let info = h.ac.get_user(&uid("joe@pve")).await.unwrap();
    let v = serde_json::to_value(&info).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"enable": 1, "expire": 2000000000, "firstname": "Joël",
            "email": "joe@example.com", "comment": "on call: weekdays", "groups": ["devs"]})
    );

    let list = h.ac.list_users(false, None).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|u| u.userid.as_str()).collect();
    assert_eq!(ids, ["joe@pve", "root@pam"]);
    let v = serde_json::to_value(&list[0]).unwrap();
    assert_eq!(v["realm-type"], "pve");
    assert!(v.get("groups").is_none());
    let full = h.ac.list_users(true, Some(true)).await.unwrap();
    assert_eq!(full[0].groups.as_deref(), Some("devs"));

    // Update: append a group, clear the comment, disable.
    h.ac.create_group("ops", None).await.unwrap();
    let upd = UserUpdate {
        groups: Some(vec!["ops".into()]),
        append: true,
        comment: Some(String::new()),
        enable: Some(false),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), upd).await.unwrap();
    let info = h.ac.get_user(&uid("joe@pve")).await.unwrap();
    assert_eq!(info.groups, ["devs", "ops"]);
    assert_eq!(info.comment, None);
    assert_eq!(info.enable, 0);
    assert!(h.ac.list_users(false, Some(true)).await.unwrap().len() == 1);
    // Replace groups.
    let upd = UserUpdate {
        groups: Some(vec!["ops".into()]),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), upd).await.unwrap();
    assert_eq!(
        h.ac.get_user(&uid("joe@pve")).await.unwrap().groups,
        ["ops"]
    );
    let bad = UserUpdate {
        groups: Some(vec!["nope".into()]),
        ..Default::default()
    };
    let err = h.ac.update_user(&uid("joe@pve"), bad).await.unwrap_err();
    assert_eq!(err.to_string(), "no such group 'nope'");

    let err = h.ac.get_user(&uid("ghost@pve")).await.unwrap_err();
    assert_eq!(err.to_string(), "no such user ('ghost@pve')");
    assert!(matches!(err, AuthError::NotFound(_)));
}

#[tokio::test]
async fn create_user_validation() {
    let h = harness();
    let err = h.ac.create_user(user("x@ldap")).await.unwrap_err();
    assert_eq!(err.to_string(), "userid: auth domain 'ldap' does not exist");
    let mut p = user("x@pve");
    p.email = Some("not an email".into());
    assert!(matches!(
        h.ac.create_user(p).await,
        Err(AuthError::Param { name, .. }) if name == "email"
    ));
    let mut p = user("x@pve");
    p.password = Some("short".into());
    assert!(matches!(
        h.ac.create_user(p).await,
        Err(AuthError::Param { name, .. }) if name == "password"
    ));
    let mut p = user("x@pve");
    p.groups = vec!["missing".into()];
    assert_eq!(
        h.ac.create_user(p).await.unwrap_err().to_string(),
        "no such group 'missing'"
    );
    let mut p = user("x@pam");
    p.password = Some("long enough".into());
    let err = h.ac.create_user(p).await.unwrap_err();
    assert!(err.to_string().contains("changed on the host"), "{err}");
    // Nothing was written by the failed attempts.
    assert_eq!(h.ac.list_users(false, None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn delete_user_cleans_up_everything() {
    let h = harness();
    h.ac.create_group("devs", None).await.unwrap();
    let mut p = user("joe@pve");
    p.password = Some("password123".into());
    p.groups = vec!["devs".into()];
    h.ac.create_user(p).await.unwrap();
    h.ac.create_user(user("ann@pve")).await.unwrap();
    let tok = "ci".parse().unwrap();
    h.ac.create_token(&uid("joe@pve"), &tok, TokenOptions::default())
        .await
        .unwrap();
    h.ac.create_token(&uid("ann@pve"), &tok, TokenOptions::default())
        .await
        .unwrap();
    let mut grant = acl("/vms", &["PVEVMUser"]);
    grant.users = vec!["joe@pve".into(), "ann@pve".into()];
    grant.tokens = vec!["joe@pve!ci".into()];
    h.ac.update_acl(grant).await.unwrap();

    h.ac.delete_user(&uid("joe@pve")).await.unwrap();
    let text = h.store.text("user.cfg").unwrap();
    assert!(!text.contains("joe@pve"), "{text}");
    assert!(text.contains("acl:1:/vms:ann@pve:PVEVMUser:"), "{text}");
    assert!(text.contains("group:devs:::"), "{text}");
    assert!(!h.store.text("priv/shadow.cfg").unwrap().contains("joe@pve"));
    let tokens = h.store.text("priv/token.cfg").unwrap();
    assert!(!tokens.contains("joe@pve!ci") && tokens.contains("ann@pve!ci"));
    assert!(h.ac.delete_user(&uid("joe@pve")).await.is_err());
}

#[tokio::test]
async fn groups() {
    let h = harness();
    h.ac.create_group("devs", Some("Developers")).await.unwrap();
    assert_eq!(
        h.ac.create_group("devs", None)
            .await
            .unwrap_err()
            .to_string(),
        "group 'devs' already exists"
    );
    assert!(matches!(
        h.ac.create_group("bad name", None).await,
        Err(AuthError::Param { .. })
    ));
    let mut p = user("joe@pve");
    p.groups = vec!["devs".into()];
    h.ac.create_user(p).await.unwrap();
    let list = h.ac.list_groups().await.unwrap();
    assert_eq!(
        serde_json::to_value(&list).unwrap(),
        serde_json::json!([{"groupid": "devs", "comment": "Developers", "users": "joe@pve"}])
    );
    h.ac.update_group("devs", Some("")).await.unwrap();
    let g = h.ac.get_group("devs").await.unwrap();
    assert_eq!(
        serde_json::to_value(&g).unwrap(),
        serde_json::json!({"members": ["joe@pve"]})
    );
    let mut grant = acl("/", &["PVEAuditor"]);
    grant.groups = vec!["devs".into()];
    h.ac.update_acl(grant).await.unwrap();
    h.ac.delete_group("devs").await.unwrap();
    assert!(h.ac.list_acl().await.unwrap().is_empty());
    assert!(h
        .ac
        .get_user(&uid("joe@pve"))
        .await
        .unwrap()
        .groups
        .is_empty());
    assert_eq!(
        h.ac.get_group("devs").await.unwrap_err().to_string(),
        "group 'devs' does not exist"
    );
}

#[tokio::test]
async fn roles() {
    let h = harness();
    let roles = h.ac.list_roles().await.unwrap();
    assert_eq!(roles.len(), 17);
    assert!(roles.iter().all(|r| r.special == 1));

    h.ac.create_role("VM_Power-only", ["VM.PowerMgmt", "VM.Console"])
        .await
        .unwrap();
    let err =
        h.ac.create_role("Bad", ["VM.Audit", "VM.Bogus"])
            .await
            .unwrap_err();
    assert_eq!(err.to_string(), "privs: invalid privilege 'VM.Bogus'");
    assert!(h.ac.create_role("PVEMine", ["VM.Audit"]).await.is_err());
    assert_eq!(
        h.ac.create_role("VM_Power-only", ["VM.Audit"])
            .await
            .unwrap_err()
            .to_string(),
        "role 'VM_Power-only' already exists"
    );
    assert_eq!(
        h.ac.create_role("NoAccess", Vec::<String>::new())
            .await
            .unwrap_err()
            .to_string(),
        "role 'NoAccess' already exists"
    );
    let r = h.ac.get_role("VM_Power-only").await.unwrap();
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"VM.Console": 1, "VM.PowerMgmt": 1})
    );
    h.ac.update_role("VM_Power-only", ["VM.Audit"], true)
        .await
        .unwrap();
    assert_eq!(h.ac.get_role("VM_Power-only").await.unwrap().len(), 3);
    h.ac.update_role("VM_Power-only", ["VM.Audit"], false)
        .await
        .unwrap();
    assert_eq!(h.ac.get_role("VM_Power-only").await.unwrap().len(), 1);
    assert!(h
        .store
        .text("user.cfg")
        .unwrap()
        .contains("role:VM_Power-only:VM.Audit:\n"));

    let err =
        h.ac.update_role("PVEAdmin", ["VM.Audit"], true)
            .await
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "auto-generated role 'PVEAdmin' cannot be modified"
    );
    let err = h.ac.delete_role("Administrator").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "auto-generated role 'Administrator' cannot be deleted"
    );
    assert_eq!(
        h.ac.get_role("Nope").await.unwrap_err().to_string(),
        "role 'Nope' does not exist"
    );
    let list = h.ac.list_roles().await.unwrap();
    let custom = list.iter().find(|r| r.roleid == "VM_Power-only").unwrap();
    assert_eq!((custom.special, custom.privs.as_str()), (0, "VM.Audit"));

    let mut grant = acl("/vms", &["VM_Power-only"]);
    grant.users = vec!["root@pam".into()];
    h.ac.create_user(user("joe@pve")).await.unwrap();
    grant.users = vec!["joe@pve".into()];
    h.ac.update_acl(grant).await.unwrap();
    h.ac.delete_role("VM_Power-only").await.unwrap();
    assert!(h.ac.list_acl().await.unwrap().is_empty());
}

#[tokio::test]
async fn tokens() {
    let h = harness();
    h.ac.create_user(user("joe@pve")).await.unwrap();
    let name = "ci".parse().unwrap();
    let created =
        h.ac.create_token(
            &uid("joe@pve"),
            &name,
            TokenOptions {
                comment: Some("nightly".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let v = serde_json::to_value(&created).unwrap();
    assert_eq!(v["full-tokenid"], "joe@pve!ci");
    assert_eq!(
        v["info"],
        serde_json::json!({"privsep": 1, "expire": 0, "comment": "nightly"})
    );
    assert_eq!(created.value.len(), 36);
    let stored = h.store.text("priv/token.cfg").unwrap();
    assert!(
        !stored.contains(&created.value),
        "secret must not be stored"
    );
    assert!(stored.starts_with("joe@pve!ci "));

    let err =
        h.ac.create_token(&uid("joe@pve"), &name, TokenOptions::default())
            .await
            .unwrap_err();
    assert_eq!(err.to_string(), "tokenid: Token already exists.");
    let err =
        h.ac.create_token(&uid("ghost@pve"), &name, TokenOptions::default())
            .await
            .unwrap_err();
    assert_eq!(err.to_string(), "no such user ('ghost@pve')");

    let upd = TokenUpdate {
        privsep: Some(false),
        expire: Some(1_900_000_000),
        delete: vec!["comment".into()],
        ..Default::default()
    };
    let info =
        h.ac.update_token(&uid("joe@pve"), &name, upd)
            .await
            .unwrap();
    assert_eq!(
        serde_json::to_value(&info).unwrap(),
        serde_json::json!({"privsep": 0, "expire": 1900000000})
    );
    let list = h.ac.list_tokens(&uid("joe@pve")).await.unwrap();
    assert_eq!(
        serde_json::to_value(&list).unwrap(),
        serde_json::json!([{"tokenid": "ci", "privsep": 0, "expire": 1900000000}])
    );
    assert_eq!(h.ac.get_token(&uid("joe@pve"), &name).await.unwrap(), info);
    let full = h.ac.list_users(true, None).await.unwrap();
    assert_eq!(full[0].tokens.as_ref().unwrap().len(), 1);
    let user = h.ac.get_user(&uid("joe@pve")).await.unwrap();
    assert!(user.tokens.unwrap().contains_key("ci"));

    let mut grant = acl("/vms", &["PVEAuditor"]);
    grant.tokens = vec!["joe@pve!ci".into()];
    h.ac.update_acl(grant).await.unwrap();
    h.ac.delete_token(&uid("joe@pve"), &name).await.unwrap();
    assert!(h.ac.list_acl().await.unwrap().is_empty());
    assert!(!h
        .store
        .text("priv/token.cfg")
        .unwrap()
        .contains("joe@pve!ci"));
    let err = h.ac.get_token(&uid("joe@pve"), &name).await.unwrap_err();
    assert_eq!(err.to_string(), "no such token 'ci' for user 'joe@pve'");
}

#[tokio::test]
async fn acl_updates() {
    let h = harness();
    h.ac.create_user(user("joe@pve")).await.unwrap();
    h.ac.create_group("devs", None).await.unwrap();

    let mut grant = acl("/vms//100/", &["PVEVMUser", "PVEAuditor"]);
    grant.users = vec!["joe@pve".into()];
    grant.groups = vec!["devs".into()];
    grant.propagate = Some(false);
    h.ac.update_acl(grant.clone()).await.unwrap();
    let list = h.ac.list_acl().await.unwrap();
    assert_eq!(list.len(), 4);
    assert!(list
        .iter()
        .all(|e| e.path == "/vms/100" && e.propagate == 0));
    assert!(h
        .store
        .text("user.cfg")
        .unwrap()
        .contains("acl:0:/vms/100:@devs,joe@pve:PVEAuditor,PVEVMUser:\n"));

    let mut revoke = grant.clone();
    revoke.roles = vec!["PVEAuditor".into()];
    revoke.delete = true;
    h.ac.update_acl(revoke).await.unwrap();
    assert_eq!(h.ac.list_acl().await.unwrap().len(), 2);

    let cases: Vec<(AclUpdate, &str)> = vec![
        (
            acl("/vms", &["PVEAuditor"]),
            "users: either 'users', 'groups' or 'tokens' is required.",
        ),
        (
            AclUpdate {
                users: vec!["joe@pve".into()],
                ..acl("/nope", &["PVEAuditor"])
            },
            "path: invalid ACL path '/nope'",
        ),
        (
            AclUpdate {
                users: vec!["joe@pve".into()],
                ..acl("/vms/../x", &["PVEAuditor"])
            },
            "path: invalid ACL path '/vms/../x'",
        ),
        (
            AclUpdate {
                users: vec!["joe@pve".into()],
                ..acl("/vms", &["Nope"])
            },
            "role 'Nope' does not exist",
        ),
        (
            AclUpdate {
                users: vec!["ghost@pve".into()],
                ..acl("/vms", &["PVEAuditor"])
            },
            "user 'ghost@pve' does not exist",
        ),
        (
            AclUpdate {
                groups: vec!["ghosts".into()],
                ..acl("/vms", &["PVEAuditor"])
            },
            "group 'ghosts' does not exist",
        ),
        (
            AclUpdate {
                tokens: vec!["joe@pve!nope".into()],
                ..acl("/vms", &["PVEAuditor"])
            },
            "no such token 'nope' for user 'joe@pve'",
        ),
        (
            AclUpdate {
                users: vec!["not-a-user".into()],
                ..acl("/vms", &["PVEAuditor"])
            },
            "users: value 'not-a-user' does not look like a valid user name (missing '@realm')",
        ),
    ];
    for (params, want) in cases {
        let err = h.ac.update_acl(params).await.unwrap_err();
        assert_eq!(err.to_string(), want);
    }
    assert_eq!(h.ac.list_acl().await.unwrap().len(), 2);
}

#[tokio::test]
async fn writes_retry_on_concurrent_changes() {
    let h = harness();
    h.ac.create_user(user("a@pve")).await.unwrap();
    h.store.inject_conflicts.store(3, Ordering::SeqCst);
    h.ac.create_user(user("b@pve")).await.unwrap();
    assert_eq!(h.store.inject_conflicts.load(Ordering::SeqCst), 0);
    let users = h.ac.list_users(false, None).await.unwrap();
    assert_eq!(users.len(), 3);
    // A writer that always loses gives up with an error instead of looping forever.
    h.store.inject_conflicts.store(1000, Ordering::SeqCst);
    let err = h.ac.create_user(user("c@pve")).await.unwrap_err();
    assert!(
        err.to_string().contains("concurrent modifications"),
        "{err}"
    );
}

#[tokio::test]
async fn domains_and_existing_configs() {
    let h = harness_with("user:a@pve:1:0::::::\nacl:1:/:a@pve:PVEAuditor:\n").await;
    let d = serde_json::to_value(h.ac.domains()).unwrap();
    assert_eq!(d[0]["realm"], "pam");
    assert_eq!(d[1]["type"], "pve");
    assert!(h
        .ac
        .check(&aid("a@pve"), "/vms", &["VM.Audit"], false)
        .await
        .unwrap());
}
