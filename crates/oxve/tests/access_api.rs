//! Users, groups, roles, ACLs, API tokens and permissions through the API, as a Proxmox
//! administrator uses them.

mod common;

use common::{Daemon, Session, TokenClient};
use serde_json::Value;

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|e| e[key] == value)
}

#[tokio::test]
async fn users_groups_roles_crud() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;

    assert_eq!(
        s.post(
            "/access/groups",
            &[("groupid", "ops"), ("comment", "operators")]
        )
        .await
        .status,
        200
    );
    let r = s
        .post(
            "/access/users",
            &[
                ("userid", "alice@pve"),
                ("password", "alice-pass-1"),
                ("email", "alice@example.com"),
                ("firstname", "Alice"),
                ("groups", "ops"),
                ("comment", "first user"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let dup = s.post("/access/users", &[("userid", "alice@pve")]).await;
    assert_ne!(dup.status, 200);
    assert!(dup.body["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));

    let user = s.get("/access/users/alice@pve", &[]).await;
    assert_eq!(user.status, 200, "{:?}", user.body);
    assert_eq!(user.data()["email"], "alice@example.com");
    assert_eq!(user.data()["enable"], 1);
    assert!(user.data()["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "ops"));
    let users = s.get("/access/users", &[]).await;
    assert!(find(users.data(), "userid", "alice@pve").is_some());
    let group = s.get("/access/groups/ops", &[]).await;
    assert!(group.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "alice@pve"));

    // the new user can log in; disabled she cannot
    assert_eq!(
        common::login(&d, "alice@pve", "alice-pass-1").await.status,
        200
    );
    assert_eq!(
        s.put("/access/users/alice@pve", &[("enable", "0")])
            .await
            .status,
        200
    );
    assert_eq!(
        common::login(&d, "alice@pve", "alice-pass-1").await.status,
        401
    );
    assert_eq!(
        s.put("/access/users/alice@pve", &[("enable", "1")])
            .await
            .status,
        200
    );

    // password change
    let r = s
        .put(
            "/access/password",
            &[("userid", "alice@pve"), ("password", "alice-pass-2")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        common::login(&d, "alice@pve", "alice-pass-1").await.status,
        401
    );
    assert_eq!(
        common::login(&d, "alice@pve", "alice-pass-2").await.status,
        200
    );

    // roles: built-ins with Proxmox's names, custom roles validated
    let roles = s.get("/access/roles", &[]).await;
    for name in [
        "Administrator",
        "PVEAdmin",
        "PVEVMAdmin",
        "PVEVMUser",
        "PVEDatastoreAdmin",
        "PVEDatastoreUser",
        "PVEAuditor",
        "PVEPoolAdmin",
        "PVEUserAdmin",
        "NoAccess",
    ] {
        let role = find(roles.data(), "roleid", name).unwrap_or_else(|| panic!("role {name}"));
        assert_eq!(role["special"], 1);
    }
    assert_eq!(
        s.post(
            "/access/roles",
            &[("roleid", "Watcher"), ("privs", "VM.Audit,Sys.Audit")]
        )
        .await
        .status,
        200
    );
    let bad = s
        .post("/access/roles", &[("roleid", "Bad"), ("privs", "VM.Fly")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["errors"]["privs"].is_string(), "{:?}", bad.body);
    assert!(s.delete("/access/roles/Administrator", &[]).await.status >= 400);

    // bad ids and path tricks are 400 and change nothing
    let r = s
        .post("/access/users", &[("userid", "../../etc@pve")])
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/vms/../.."),
                ("roles", "PVEAuditor"),
                ("users", "alice@pve"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let long = "x".repeat(300);
    let r = s
        .post("/access/groups", &[("groupid", long.as_str())])
        .await;
    assert_eq!(r.status, 400);

    // a stale digest is refused and changes nothing
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/vms"),
                ("roles", "PVEAuditor"),
                ("users", "alice@pve"),
                ("digest", "0000"),
            ],
        )
        .await;
    assert_eq!(r.status, 500);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .contains("detected modified configuration"));
    let acl = s.get("/access/acl", &[]).await;
    assert!(find(acl.data(), "ugid", "alice@pve").is_none());

    // deleting a user removes its ACLs and memberships
    s.put(
        "/access/acl",
        &[
            ("path", "/vms"),
            ("roles", "Watcher"),
            ("users", "alice@pve"),
        ],
    )
    .await;
    assert_eq!(s.delete("/access/users/alice@pve", &[]).await.status, 200);
    let acl = s.get("/access/acl", &[]).await;
    assert!(find(acl.data(), "ugid", "alice@pve").is_none());
    assert_eq!(s.get("/access/users/alice@pve", &[]).await.status, 500);
}

/// Role × path × propagate, for users, groups and tokens, checked through
/// /access/permissions and real calls that need the privilege.
#[tokio::test]
async fn acl_matrix_and_tokens() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    for (user, pw) in [("carol@pve", "carol-pass-1"), ("dave@pve", "dave-pass-1")] {
        assert_eq!(
            s.post("/access/users", &[("userid", user), ("password", pw)])
                .await
                .status,
            200
        );
    }
    s.post("/access/groups", &[("groupid", "auditors")]).await;
    s.put("/access/users/dave@pve", &[("groups", "auditors")])
        .await;

    // carol: PVEAuditor on /nodes propagating; PVEVMAdmin on /vms/100 only (no propagate)
    s.put(
        "/access/acl",
        &[
            ("path", "/nodes"),
            ("roles", "PVEAuditor"),
            ("users", "carol@pve"),
        ],
    )
    .await;
    s.put(
        "/access/acl",
        &[
            ("path", "/vms/100"),
            ("roles", "PVEVMAdmin"),
            ("users", "carol@pve"),
            ("propagate", "0"),
        ],
    )
    .await;
    // the group: PVEAuditor on /, but NoAccess for dave himself on /nodes/testnode
    s.put(
        "/access/acl",
        &[
            ("path", "/"),
            ("roles", "PVEAuditor"),
            ("groups", "auditors"),
        ],
    )
    .await;
    s.put(
        "/access/acl",
        &[
            ("path", "/nodes/testnode"),
            ("roles", "NoAccess"),
            ("users", "dave@pve"),
        ],
    )
    .await;

    let carol = Session::new(&d, "carol@pve", "carol-pass-1").await;
    let perms = carol.get("/access/permissions", &[]).await;
    assert_eq!(perms.status, 200, "{:?}", perms.body);
    assert_eq!(perms.data()["/nodes"]["Sys.Audit"], 1);
    // values are the propagate flags, as Proxmox returns them
    assert_eq!(perms.data()["/vms/100"]["VM.PowerMgmt"], 0);
    let p = carol
        .get("/access/permissions", &[("path", "/vms/100/disk")])
        .await;
    assert!(
        p.data()["/vms/100/disk"].get("VM.PowerMgmt").is_none(),
        "propagate=0 must not inherit: {:?}",
        p.body
    );
    let p = carol
        .get("/access/permissions", &[("path", "/nodes/testnode")])
        .await;
    assert_eq!(p.data()["/nodes/testnode"]["Sys.Audit"], 1);
    // the privilege decides real calls
    assert_eq!(carol.get("/nodes/testnode/status", &[]).await.status, 200);
    assert_eq!(carol.get("/cluster/status", &[]).await.status, 403);
    let denied = carol.post("/access/users", &[("userid", "eve@pve")]).await;
    assert_eq!(denied.status, 403);
    assert!(denied.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Permission check failed"));

    let dave = Session::new(&d, "dave@pve", "dave-pass-1").await;
    assert_eq!(
        dave.get("/cluster/status", &[]).await.status,
        200,
        "group role on /"
    );
    assert_eq!(
        dave.get("/nodes/testnode/status", &[]).await.status,
        403,
        "user NoAccess wins"
    );
    // a user may read his own permissions but not another's without Sys.Audit... on /access
    let others = carol
        .get("/access/permissions", &[("userid", "dave@pve")])
        .await;
    assert_eq!(others.status, 403);

    // tokens: privsep=1 intersects with the token's own ACL; privsep=0 is the user's rights
    let r = s
        .post("/access/users/carol@pve/token/full", &[("privsep", "0")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["full-tokenid"], "carol@pve!full");
    let full_secret = r.data()["value"].as_str().unwrap().to_string();
    let r = s.post("/access/users/carol@pve/token/sep", &[]).await;
    let sep_secret = r.data()["value"].as_str().unwrap().to_string();
    assert_eq!(r.data()["info"]["privsep"], 1);

    let full = TokenClient::new(&d, "carol@pve!full", &full_secret);
    assert_eq!(full.get("/nodes/testnode/status", &[]).await.status, 200);
    let sep = TokenClient::new(&d, "carol@pve!sep", &sep_secret);
    assert_eq!(
        sep.get("/nodes/testnode/status", &[]).await.status,
        403,
        "privsep token without ACL"
    );
    s.put(
        "/access/acl",
        &[
            ("path", "/nodes"),
            ("roles", "PVEAuditor"),
            ("tokens", "carol@pve!sep"),
        ],
    )
    .await;
    assert_eq!(sep.get("/nodes/testnode/status", &[]).await.status, 200);
    // a token ACL cannot exceed the user's rights
    s.put(
        "/access/acl",
        &[
            ("path", "/"),
            ("roles", "Administrator"),
            ("tokens", "carol@pve!sep"),
        ],
    )
    .await;
    assert_eq!(sep.get("/cluster/status", &[]).await.status, 403);

    // wrong secret, tokens may not log in, deleted tokens stop working
    let wrong = TokenClient::new(&d, "carol@pve!full", "00000000-0000-0000-0000-000000000000");
    assert_eq!(wrong.get("/version", &[]).await.status, 401);
    assert_eq!(
        full.post(
            "/access/ticket",
            &[("username", "carol@pve"), ("password", "x")]
        )
        .await
        .status,
        401
    );
    let list = s.get("/access/users/carol@pve/token", &[]).await;
    assert_eq!(list.data().as_array().unwrap().len(), 2);
    assert_eq!(
        s.delete("/access/users/carol@pve/token/full", &[])
            .await
            .status,
        200
    );
    assert_eq!(full.get("/version", &[]).await.status, 401);
}

#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    // 24 clients add groups at once; every one must land (compare-and-swap with retry)
    let mut handles = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let name = format!("g{i}");
            s.post("/access/groups", &[("groupid", name.as_str())])
                .await
                .status
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let groups = s.get("/access/groups", &[]).await;
    assert_eq!(groups.data().as_array().unwrap().len(), 24);
}
