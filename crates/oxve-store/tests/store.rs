//! Behaviour of the SQLite config store through the `ConfigStore` trait.

use std::sync::Arc;

use oxve_store::{
    digest, ConfigStore, Expect, GuestKind, GuestRef, SqliteStore, StoreError, VMID_MAX,
};
use tempfile::TempDir;

fn open() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sub/store.db")).unwrap();
    (dir, store)
}

fn qemu(node: &str, vmid: u32) -> GuestRef {
    GuestRef::new(node, GuestKind::Qemu, vmid)
}

fn lxc(node: &str, vmid: u32) -> GuestRef {
    GuestRef::new(node, GuestKind::Lxc, vmid)
}

#[tokio::test]
async fn crud() {
    let (_dir, store) = open();
    assert_eq!(store.get("user.cfg").await.unwrap(), None);

    let d1 = store
        .put("user.cfg", "user:root@pam:1:0:::\n", Expect::Absent)
        .await
        .unwrap();
    assert_eq!(d1, digest("user:root@pam:1:0:::\n"));
    let e = store.get("user.cfg").await.unwrap().unwrap();
    assert_eq!(e.key, "user.cfg");
    assert_eq!(e.text, "user:root@pam:1:0:::\n");
    assert_eq!(e.digest, d1);

    let d2 = store
        .put("user.cfg", "changed\n", Expect::Digest(d1.clone()))
        .await
        .unwrap();
    assert_ne!(d1, d2);
    assert_eq!(
        store.get("user.cfg").await.unwrap().unwrap().text,
        "changed\n"
    );

    store
        .put("storage.cfg", "dir: local\n", Expect::Any)
        .await
        .unwrap();
    store
        .put("priv/shadow.cfg", "x", Expect::Any)
        .await
        .unwrap();
    store.put("priv/token.cfg", "y", Expect::Any).await.unwrap();
    store.put("privilege", "z", Expect::Any).await.unwrap();
    let keys: Vec<_> = store
        .list("priv/")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["priv/shadow.cfg", "priv/token.cfg"]);
    assert_eq!(store.list("").await.unwrap().len(), 5);
    assert!(store.list("zzz").await.unwrap().is_empty());

    store.delete("user.cfg", Expect::Digest(d2)).await.unwrap();
    assert_eq!(store.get("user.cfg").await.unwrap(), None);
    // Deleting a missing key is fine unless a digest was expected.
    store.delete("user.cfg", Expect::Any).await.unwrap();
    assert!(matches!(
        store.delete("user.cfg", Expect::Digest("00".into())).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn expectations_are_enforced() {
    let (_dir, store) = open();
    let d = store.put("a.cfg", "one", Expect::Absent).await.unwrap();
    assert!(matches!(
        store.put("a.cfg", "two", Expect::Absent).await,
        Err(StoreError::AlreadyExists { key }) if key == "a.cfg"
    ));
    let err = store
        .put("a.cfg", "two", Expect::Digest(digest("stale")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch));
    assert_eq!(
        err.to_string(),
        "detected modified configuration - file changed by other user? Try again."
    );
    assert!(matches!(
        store.put("b.cfg", "x", Expect::Digest(d.clone())).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete("a.cfg", Expect::Digest(digest("stale"))).await,
        Err(StoreError::DigestMismatch)
    ));
    // Digests compare case-insensitively, as hex should.
    store
        .put("a.cfg", "two", Expect::Digest(d.to_uppercase()))
        .await
        .unwrap();
    assert_eq!(store.get("a.cfg").await.unwrap().unwrap().text, "two");
}

#[tokio::test]
async fn invalid_keys_are_rejected() {
    let (_dir, store) = open();
    for key in [
        "",
        "/abs",
        "a/../b",
        "a//b",
        "a\0b",
        "a\\b",
        "nodes/n/lxc/12.conf",
    ] {
        assert!(
            matches!(
                store.put(key, "x", Expect::Any).await,
                Err(StoreError::InvalidKey { .. })
            ),
            "{key:?}"
        );
        assert!(store.get(key).await.is_err(), "{key:?}");
        assert!(store.delete(key, Expect::Any).await.is_err(), "{key:?}");
    }
    assert_eq!(store.revision().await.unwrap(), 0);
}

#[tokio::test]
async fn revision_grows_with_every_change() {
    let (dir, store) = open();
    assert_eq!(store.revision().await.unwrap(), 0);
    store.put("a", "1", Expect::Any).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 1);
    store.put("b", "1", Expect::Any).await.unwrap();
    store.put("a", "2", Expect::Any).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 3);
    let a = store.get("a").await.unwrap().unwrap();
    let b = store.get("b").await.unwrap().unwrap();
    assert_eq!((a.revision, b.revision), (3, 2));

    // Failed writes and no-op deletes leave it alone.
    let _ = store.put("a", "3", Expect::Absent).await;
    store.delete("missing", Expect::Any).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 3);

    store.delete("b", Expect::Any).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 4);
    store.create_guest(&qemu("n1", 100), "x").await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 5);

    // The revision survives a reopen.
    drop(store);
    let store = SqliteStore::open(&dir.path().join("sub/store.db")).unwrap();
    assert_eq!(store.revision().await.unwrap(), 5);
    store.put("c", "1", Expect::Any).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), 6);
}

#[tokio::test]
async fn vmids_are_unique_across_nodes_and_kinds() {
    let (_dir, store) = open();
    let d = store
        .create_guest(&qemu("n1", 100), "name: a\n")
        .await
        .unwrap();
    assert_eq!(d, digest("name: a\n"));
    assert_eq!(
        store
            .get("nodes/n1/qemu-server/100.conf")
            .await
            .unwrap()
            .unwrap()
            .text,
        "name: a\n"
    );

    for other in [
        qemu("n1", 100),
        lxc("n1", 100),
        qemu("n2", 100),
        lxc("n2", 100),
    ] {
        let err = store.create_guest(&other, "x").await.unwrap_err();
        assert!(
            matches!(err, StoreError::VmidInUse { vmid: 100 }),
            "{other:?}"
        );
        assert_eq!(err.to_string(), "VM 100 already exists");
        // A plain put of another guest's key is held to the same rule.
        assert!(
            other == qemu("n1", 100)
                || matches!(
                    store.put(&other.config_key(), "x", Expect::Any).await,
                    Err(StoreError::VmidInUse { vmid: 100 })
                )
        );
    }

    store.create_guest(&lxc("n2", 101), "x").await.unwrap();
    store
        .put("nodes/n1/qemu-server/105.conf", "y", Expect::Absent)
        .await
        .unwrap();
    assert_eq!(
        store.guests().await.unwrap(),
        [qemu("n1", 100), lxc("n2", 101), qemu("n1", 105)]
    );

    // Updating an existing guest's config keeps its registration.
    store
        .put(
            "nodes/n1/qemu-server/100.conf",
            "name: b\n",
            Expect::Digest(d),
        )
        .await
        .unwrap();
    assert_eq!(store.guests().await.unwrap().len(), 3);

    // Deleting the config frees the VMID for any node and kind.
    store
        .delete("nodes/n1/qemu-server/100.conf", Expect::Any)
        .await
        .unwrap();
    assert_eq!(
        store.guests().await.unwrap(),
        [lxc("n2", 101), qemu("n1", 105)]
    );
    store.create_guest(&lxc("n3", 100), "ct").await.unwrap();

    assert!(matches!(
        store.create_guest(&qemu("n1", 99), "x").await,
        Err(StoreError::InvalidVmid { vmid: 99, .. })
    ));
    assert!(matches!(
        store.create_guest(&qemu("a/b", 200), "x").await,
        Err(StoreError::InvalidKey { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_guest_has_one_winner() {
    let (_dir, store) = open();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = Arc::clone(&store);
            let guest = GuestRef::new(format!("node{}", i % 4), GuestKind::ALL[i % 2], 4242);
            tokio::spawn(async move { store.create_guest(&guest, "x").await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::VmidInUse { vmid: 4242 }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.guests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn next_free_vmid_skips_used_ones() {
    let (_dir, store) = open();
    assert_eq!(store.next_free_vmid(None).await.unwrap(), 100);
    for vmid in [100, 101, 102, 104, 200] {
        store.create_guest(&qemu("n1", vmid), "x").await.unwrap();
    }
    store.create_guest(&lxc("n2", 103), "x").await.unwrap();
    assert_eq!(store.next_free_vmid(None).await.unwrap(), 105);
    assert_eq!(store.next_free_vmid(Some(100)).await.unwrap(), 105);
    assert_eq!(store.next_free_vmid(Some(1)).await.unwrap(), 105);
    assert_eq!(store.next_free_vmid(Some(150)).await.unwrap(), 150);
    assert_eq!(store.next_free_vmid(Some(200)).await.unwrap(), 201);
    assert_eq!(store.next_free_vmid(Some(104)).await.unwrap(), 105);

    store
        .create_guest(&qemu("n1", VMID_MAX), "x")
        .await
        .unwrap();
    assert!(matches!(
        store.next_free_vmid(Some(VMID_MAX)).await,
        Err(StoreError::NoFreeVmid { .. })
    ));
    assert!(matches!(
        store.next_free_vmid(Some(VMID_MAX + 1)).await,
        Err(StoreError::NoFreeVmid { .. })
    ));
    store
        .create_guest(&qemu("n1", VMID_MAX - 1), "x")
        .await
        .unwrap();
    assert_eq!(
        store.next_free_vmid(Some(VMID_MAX - 2)).await.unwrap(),
        VMID_MAX - 2
    );
    assert!(store.next_free_vmid(Some(VMID_MAX - 1)).await.is_err());
}

/// 32 writers all hold the same digest: exactly one may write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_winner_per_digest_generation() {
    let (_dir, store) = open();
    let store = Arc::new(store);
    let d0 = store.put("counter", "0", Expect::Absent).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, d0) = (Arc::clone(&store), d0.clone());
            tokio::spawn(async move {
                store
                    .put("counter", &format!("writer {i}"), Expect::Digest(d0))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => winners += 1,
            Err(StoreError::DigestMismatch) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.revision().await.unwrap(), 2);
}

/// Read-increment-write with retry on mismatch: no increment may be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retrying_writers_lose_no_update() {
    const WRITERS: usize = 32;
    const INCREMENTS: usize = 10;
    let (_dir, store) = open();
    let store: Arc<dyn ConfigStore> = Arc::new(store);
    store.put("counter", "0", Expect::Absent).await.unwrap();

    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        let e = store.get("counter").await.unwrap().unwrap();
                        let n: usize = e.text.parse().unwrap();
                        let next = (n + 1).to_string();
                        match store.put("counter", &next, Expect::Digest(e.digest)).await {
                            Ok(_) => break,
                            Err(StoreError::DigestMismatch) => conflicts += 1,
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let e = store.get("counter").await.unwrap().unwrap();
    assert_eq!(e.text, (WRITERS * INCREMENTS).to_string());
    assert_eq!(
        store.revision().await.unwrap(),
        1 + (WRITERS * INCREMENTS) as u64
    );
    // With 32 writers on 4 threads some must have collided, or the test proves nothing.
    assert!(conflicts > 0);
}

#[tokio::test]
async fn integrity_check_passes_on_fresh_store() {
    let (_dir, store) = open();
    store.put("a", "1", Expect::Any).await.unwrap();
    store.integrity_check().await.unwrap();
}
