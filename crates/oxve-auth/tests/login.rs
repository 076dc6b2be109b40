//! Authentication: passwords, PAM, rate limiting, tickets, CSRF tokens, API tokens,
//! bootstrap and cache invalidation.

mod common;

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use common::{aid, harness, harness_with, uid, Harness, T0};
use oxve_auth::authkey::AUTHKEY_LIFETIME;
use oxve_auth::ticket::{AUTH_GRACE_PERIOD, TICKET_LIFETIME};
use oxve_auth::{AuthError, PrivSet, TokenOptions, UserCreate, UserUpdate};
use oxve_store::{ConfigStore, Expect};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const CLIENT: &str = "192.0.2.10";

async fn with_user(id: &str, password: &str) -> Harness {
    let h = harness();
    let mut p = UserCreate::new(uid(id));
    p.password = Some(password.into());
    h.ac.create_user(p).await.unwrap();
    h
}

#[tokio::test]
async fn pve_password_login() {
    let h = with_user("joe@pve", "correct horse").await;
    let c = ip(CLIENT);
    assert_eq!(
        h.ac.authenticate("joe@pve", "correct horse", None, c)
            .await
            .unwrap(),
        uid("joe@pve")
    );
    assert_eq!(
        h.ac.authenticate("joe", "correct horse", Some("pve"), c)
            .await
            .unwrap(),
        uid("joe@pve")
    );
    for (user, pw) in [
        ("joe@pve", "wrong horse"),
        ("joe@pve", ""),
        ("ghost@pve", "correct horse"),
        ("joe@nope", "correct horse"),
        ("not a user", "x"),
    ] {
        let err = h.ac.authenticate(user, pw, None, c).await.unwrap_err();
        assert!(
            matches!(err, AuthError::AuthenticationFailed),
            "{user}: {err:?}"
        );
        assert_eq!(err.to_string(), "authentication failure");
        assert_eq!(err.http_status(), 401);
    }
}

#[tokio::test]
async fn password_change() {
    let h = with_user("joe@pve", "first-password").await;
    let c = ip(CLIENT);
    h.ac.change_password(&uid("joe@pve"), "second-password")
        .await
        .unwrap();
    assert!(h
        .ac
        .authenticate("joe@pve", "first-password", None, c)
        .await
        .is_err());
    assert!(h
        .ac
        .authenticate("joe@pve", "second-password", None, c)
        .await
        .is_ok());
    let err =
        h.ac.change_password(&uid("root@pam"), "whatever1")
            .await
            .unwrap_err();
    assert!(matches!(err, AuthError::Refused(_)));
    assert!(
        err.to_string()
            .contains("PAM passwords are changed on the host"),
        "{err}"
    );
    assert!(matches!(
        h.ac.change_password(&uid("ghost@pve"), "whatever1").await,
        Err(AuthError::NotFound(_))
    ));
    assert!(matches!(
        h.ac.change_password(&uid("joe@pve"), "short").await,
        Err(AuthError::Param { .. })
    ));
}

#[tokio::test]
async fn disabled_and_expired_users_cannot_log_in() {
    let h = with_user("joe@pve", "correct horse").await;
    let c = ip(CLIENT);
    let disable = UserUpdate {
        enable: Some(false),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), disable).await.unwrap();
    assert!(h
        .ac
        .authenticate("joe@pve", "correct horse", None, c)
        .await
        .is_err());
    let expire = UserUpdate {
        enable: Some(true),
        expire: Some(T0 + 10),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), expire).await.unwrap();
    assert!(h
        .ac
        .authenticate("joe@pve", "correct horse", None, c)
        .await
        .is_ok());
    h.clock.advance(11);
    assert!(h
        .ac
        .authenticate("joe@pve", "correct horse", None, c)
        .await
        .is_err());
}

#[tokio::test]
async fn pam_login_failures() {
    let h = harness();
    let c = ip(CLIENT);
    // root@pam is implicitly present; a wrong password is refused by PAM.
    assert!(h
        .ac
        .authenticate("root@pam", "definitely wrong", None, c)
        .await
        .is_err());
    // A pam user that is not in user.cfg is refused before PAM is asked.
    assert!(h
        .ac
        .authenticate("nobody", "x", Some("pam"), c)
        .await
        .is_err());
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_client() {
    let h = with_user("joe@pve", "correct horse").await;
    let (a, b) = (ip("192.0.2.1"), ip("2001:db8::1"));
    for _ in 0..5 {
        assert!(matches!(
            h.ac.authenticate("joe@pve", "wrong", None, a).await,
            Err(AuthError::AuthenticationFailed)
        ));
    }
    // Blocked even with the right password, which is not checked.
    let err =
        h.ac.authenticate("joe@pve", "correct horse", None, a)
            .await
            .unwrap_err();
    assert!(
        matches!(err, AuthError::TooManyFailures { retry_after: 60 }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "authentication failure");
    // Other clients are not affected, and their successes do not unblock `a`.
    assert!(h
        .ac
        .authenticate("joe@pve", "correct horse", None, b)
        .await
        .is_ok());
    assert!(h
        .ac
        .authenticate("joe@pve", "correct horse", None, a)
        .await
        .is_err());
    h.clock.advance(60);
    assert!(h
        .ac
        .authenticate("joe@pve", "correct horse", None, a)
        .await
        .is_ok());
}

#[tokio::test]
async fn tickets() {
    let h = with_user("joe@pve", "correct horse").await;
    let (ticket, csrf) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    assert!(
        ticket.starts_with(&format!("PVE:joe@pve:{T0:08X}::")),
        "{ticket}"
    );
    assert!(csrf.starts_with(&format!("{T0:08X}:")), "{csrf}");
    assert_eq!(h.ac.verify_ticket(&ticket).await.unwrap(), uid("joe@pve"));

    // Tampering.
    let forged = ticket.replace("joe@pve", "root@pam");
    assert!(matches!(
        h.ac.verify_ticket(&forged).await,
        Err(AuthError::InvalidTicket)
    ));
    let mut sig_flip = ticket.clone();
    let last = sig_flip.pop().unwrap();
    sig_flip.push(if last == 'A' { 'B' } else { 'A' });
    assert!(h.ac.verify_ticket(&sig_flip).await.is_err());
    assert!(h.ac.verify_ticket("garbage").await.is_err());

    // Expiry after 2 h.
    h.clock.advance(TICKET_LIFETIME - 1);
    assert!(h.ac.verify_ticket(&ticket).await.is_ok());
    h.clock.advance(1);
    let err = h.ac.verify_ticket(&ticket).await.unwrap_err();
    assert_eq!(err.to_string(), "permission denied - invalid PVE ticket");
    assert_eq!(err.http_status(), 401);
}

#[tokio::test]
async fn tickets_from_the_future_within_the_grace_period() {
    let h = with_user("joe@pve", "correct horse").await;
    // Make sure the key exists and is old enough, then issue tickets "ahead" of our clock.
    h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    h.clock.advance(3600);
    h.clock.advance(AUTH_GRACE_PERIOD - 1);
    let (ahead, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    h.clock.advance(-(AUTH_GRACE_PERIOD - 1));
    assert!(h.ac.verify_ticket(&ahead).await.is_ok());
    h.clock.advance(AUTH_GRACE_PERIOD + 1);
    let (far, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    h.clock.advance(-(AUTH_GRACE_PERIOD + 1));
    assert!(h.ac.verify_ticket(&far).await.is_err());
}

#[tokio::test]
async fn tickets_of_disabled_users_are_refused() {
    let h = with_user("joe@pve", "correct horse").await;
    let (ticket, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    let disable = UserUpdate {
        enable: Some(false),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), disable).await.unwrap();
    assert!(h.ac.verify_ticket(&ticket).await.is_err());
}

#[tokio::test]
async fn key_rotation_keeps_issued_tickets_valid() {
    let h = with_user("joe@pve", "correct horse").await;
    let (first, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    let key_before = h.store.text("priv/authkey.key").unwrap();
    h.clock.advance(AUTHKEY_LIFETIME - 600);
    let (late, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    assert_eq!(h.store.text("priv/authkey.key").unwrap(), key_before);
    h.clock.advance(600);
    let (fresh, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    let key_after = h.store.text("priv/authkey.key").unwrap();
    assert_ne!(key_after, key_before, "rotated after 24 h");
    assert_eq!(key_after.lines().count(), 2, "previous key kept");
    assert!(
        h.ac.verify_ticket(&late).await.is_ok(),
        "signed with the previous key"
    );
    assert!(h.ac.verify_ticket(&fresh).await.is_ok());
    assert!(h.ac.verify_ticket(&first).await.is_err(), "long expired");
}

#[tokio::test]
async fn ticket_renewal() {
    let h = with_user("joe@pve", "correct horse").await;
    let h2_user = UserCreate::new(uid("ann@pve"));
    h.ac.create_user(h2_user).await.unwrap();
    let c = ip(CLIENT);
    let (ticket, _) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    h.clock.advance(3600);
    assert_eq!(
        h.ac.authenticate("joe@pve", &ticket, None, c)
            .await
            .unwrap(),
        uid("joe@pve")
    );
    // Not for another user...
    assert!(h
        .ac
        .authenticate("ann@pve", &ticket, None, c)
        .await
        .is_err());
    // ...unless the ticket is root@pam's.
    let (root_ticket, _) = h.ac.create_ticket(&uid("root@pam")).await.unwrap();
    assert!(h
        .ac
        .authenticate("ann@pve", &root_ticket, None, c)
        .await
        .is_ok());
    // Expired tickets do not renew.
    h.clock.advance(TICKET_LIFETIME);
    assert!(h
        .ac
        .authenticate("joe@pve", &ticket, None, c)
        .await
        .is_err());
}

#[tokio::test]
async fn csrf_tokens() {
    let h = with_user("joe@pve", "correct horse").await;
    let (_, csrf) = h.ac.create_ticket(&uid("joe@pve")).await.unwrap();
    h.ac.verify_csrf(&uid("joe@pve"), &csrf).await.unwrap();
    let err = h.ac.verify_csrf(&uid("root@pam"), &csrf).await.unwrap_err();
    assert_eq!(err.to_string(), "Permission denied - invalid csrf token");
    assert!(h
        .ac
        .verify_csrf(&uid("joe@pve"), "00000000:abc")
        .await
        .is_err());
    h.clock.advance(TICKET_LIFETIME);
    assert!(h.ac.verify_csrf(&uid("joe@pve"), &csrf).await.is_err());
    let fresh = h.ac.csrf_token(&uid("joe@pve")).await.unwrap();
    h.ac.verify_csrf(&uid("joe@pve"), &fresh).await.unwrap();
}

#[tokio::test]
async fn api_tokens() {
    let h = with_user("joe@pve", "correct horse").await;
    let name = "ci".parse().unwrap();
    let opts = TokenOptions {
        expire: Some(T0 + 1000),
        ..Default::default()
    };
    let created =
        h.ac.create_token(&uid("joe@pve"), &name, opts)
            .await
            .unwrap();
    let header = format!("PVEAPIToken=joe@pve!ci={}", created.value);
    assert_eq!(
        h.ac.verify_api_token(&header).await.unwrap(),
        aid("joe@pve!ci")
    );
    let spaced = format!("PVEAPIToken joe@pve!ci={}", created.value);
    assert!(h.ac.verify_api_token(&spaced).await.is_ok());

    let wrong = format!("PVEAPIToken=joe@pve!ci={}x", created.value);
    let err = h.ac.verify_api_token(&wrong).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid token value!");
    assert_eq!(err.http_status(), 401);
    let other = format!("PVEAPIToken=joe@pve!cd={}", created.value);
    assert_eq!(
        h.ac.verify_api_token(&other).await.unwrap_err().to_string(),
        "no such token 'cd' for user 'joe@pve'"
    );
    assert_eq!(
        h.ac.verify_api_token("PVEAPIToken=joe@pve!ci")
            .await
            .unwrap_err()
            .to_string(),
        "no tokenid specified"
    );

    // Expired token.
    h.clock.advance(1001);
    assert_eq!(
        h.ac.verify_api_token(&header)
            .await
            .unwrap_err()
            .to_string(),
        "token 'ci' access expired"
    );
    h.clock.advance(-1001);

    // Disabled user.
    let off = UserUpdate {
        enable: Some(false),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), off).await.unwrap();
    assert_eq!(
        h.ac.verify_api_token(&header)
            .await
            .unwrap_err()
            .to_string(),
        "user 'joe@pve' is disabled"
    );
    let on = UserUpdate {
        enable: Some(true),
        ..Default::default()
    };
    h.ac.update_user(&uid("joe@pve"), on).await.unwrap();
    assert!(h.ac.verify_api_token(&header).await.is_ok());

    // Deleted token.
    h.ac.delete_token(&uid("joe@pve"), &name).await.unwrap();
    assert!(h.ac.verify_api_token(&header).await.is_err());
    // Re-created with the same name: the old secret does not work.
    let again =
        h.ac.create_token(&uid("joe@pve"), &name, TokenOptions::default())
            .await
            .unwrap();
    assert_ne!(again.value, created.value);
    assert!(h.ac.verify_api_token(&header).await.is_err());
}

#[tokio::test]
async fn bootstrap_creates_the_first_admin_once() {
    let h = harness();
    let c = ip(CLIENT);
    let password =
        h.ac.bootstrap_admin(None)
            .await
            .unwrap()
            .expect("generated");
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|ch| ch.is_ascii_alphanumeric()));
    assert_eq!(
        h.ac.authenticate("admin@pve", &password, None, c)
            .await
            .unwrap(),
        uid("admin@pve")
    );
    let text = h.store.text("user.cfg").unwrap();
    assert!(text.contains("user:root@pam:1:0::::::\n"), "{text}");
    assert!(
        text.contains("acl:1:/:admin@pve:Administrator:\n"),
        "{text}"
    );
    for who in ["admin@pve", "root@pam"] {
        for path in ["/", "/vms/100", "/nodes/n1", "/storage/local"] {
            assert_eq!(
                h.ac.privileges(&aid(who), path).await.unwrap(),
                PrivSet::all()
            );
        }
    }
    // Second start: nothing changes.
    assert_eq!(h.ac.bootstrap_admin(None).await.unwrap(), None);
    assert_eq!(
        h.ac.bootstrap_admin(Some("another-pass".into()))
            .await
            .unwrap(),
        None
    );
    assert!(h
        .ac
        .authenticate("admin@pve", &password, None, c)
        .await
        .is_ok());
}

#[tokio::test]
async fn bootstrap_with_a_given_password() {
    let h = harness();
    assert_eq!(
        h.ac.bootstrap_admin(Some("given-password".into()))
            .await
            .unwrap(),
        None
    );
    assert!(h
        .ac
        .authenticate("admin@pve", "given-password", None, ip(CLIENT))
        .await
        .is_ok());
    let h = harness();
    assert!(h.ac.bootstrap_admin(Some("short".into())).await.is_err());
    assert!(h.store.text("user.cfg").is_none());
}

#[tokio::test]
async fn bootstrap_leaves_existing_configs_alone() {
    let h = harness_with("user:a@pve:1:0::::::\n").await;
    assert_eq!(h.ac.bootstrap_admin(None).await.unwrap(), None);
    assert!(!h.store.text("user.cfg").unwrap().contains("admin@pve"));
}

#[tokio::test]
async fn cache_follows_store_revisions() {
    let h = harness_with("user:a@pve:1:0::::::\nacl:1:/vms:a@pve:PVEAuditor:\n").await;
    let a = aid("a@pve");
    assert!(h
        .ac
        .check(&a, "/vms/100", &["VM.Audit"], false)
        .await
        .unwrap());
    let gets = h.store.gets.load(Ordering::SeqCst);
    for _ in 0..100 {
        assert!(h
            .ac
            .check(&a, "/vms/100", &["VM.Audit"], false)
            .await
            .unwrap());
    }
    assert_eq!(
        h.store.gets.load(Ordering::SeqCst),
        gets,
        "cached: no reads while the revision is unchanged"
    );
    let snap1 = h.ac.snapshot().await.unwrap();
    let snap2 = h.ac.snapshot().await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&snap1, &snap2));

    // Another node (or process) rewrites user.cfg directly in the store.
    h.store
        .put(
            "user.cfg",
            "user:a@pve:1:0::::::\nacl:1:/vms:a@pve:NoAccess:\n",
            Expect::Any,
        )
        .await
        .unwrap();
    assert!(!h
        .ac
        .check(&a, "/vms/100", &["VM.Audit"], false)
        .await
        .unwrap());
    assert!(h.store.gets.load(Ordering::SeqCst) > gets);
    // Changes through the API are seen immediately too.
    h.ac.delete_user(&uid("a@pve")).await.unwrap();
    assert!(h.ac.privileges(&a, "/").await.unwrap().is_empty());
    assert!(h.store.revision().await.unwrap() > snap1.revision);
}

/// A real PAM login through the default service, run only when a host account is given:
/// `OXVE_PAM_TEST_USER=u OXVE_PAM_TEST_PASSWORD=p cargo test -p oxve-auth --test login`.
#[tokio::test]
async fn pam_login_with_a_real_account_when_configured() {
    let (Ok(name), Ok(password)) = (
        std::env::var("OXVE_PAM_TEST_USER"),
        std::env::var("OXVE_PAM_TEST_PASSWORD"),
    ) else {
        return;
    };
    let h = harness();
    let c = ip(CLIENT);
    let userid = format!("{name}@pam");
    // Not in user.cfg yet: refused even with the right password.
    assert!(h
        .ac
        .authenticate(&userid, &password, None, c)
        .await
        .is_err());
    h.ac.create_user(UserCreate::new(uid(&userid)))
        .await
        .unwrap();
    assert_eq!(
        h.ac.authenticate(&name, &password, Some("pam"), c)
            .await
            .unwrap(),
        uid(&userid)
    );
    assert!(h
        .ac
        .authenticate(&userid, "wrong password", None, c)
        .await
        .is_err());
}
