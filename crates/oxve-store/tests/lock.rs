//! Guest locks over a real store.

use std::sync::Arc;

use oxve_store::{
    clear_guest_lock, guest_lock, set_guest_lock, ConfigStore, Expect, GuestKind, GuestLock,
    GuestRef, SqliteStore, StoreError,
};

const CONF: &str = "#web server\nboot: order=scsi0\ncores: 2\nmemory: 2048\nname: web\n\n[snap1]\ncores: 1\nsnaptime: 1700000000\n";

async fn setup() -> (tempfile::TempDir, Arc<dyn ConfigStore>, GuestRef) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    let guest = GuestRef::new("n1", GuestKind::Qemu, 100);
    store.create_guest(&guest, CONF).await.unwrap();
    (dir, Arc::new(store), guest)
}

#[tokio::test]
async fn set_and_clear() {
    let (_dir, store, guest) = setup().await;
    let store = &*store;
    assert_eq!(guest_lock(store, &guest).await.unwrap(), None);

    set_guest_lock(store, &guest, GuestLock::Backup)
        .await
        .unwrap();
    assert_eq!(
        guest_lock(store, &guest).await.unwrap().as_deref(),
        Some("backup")
    );
    let text = store.get(&guest.config_key()).await.unwrap().unwrap().text;
    assert!(
        text.contains("cores: 2\nlock: backup\nmemory: 2048\n"),
        "{text}"
    );

    let err = set_guest_lock(store, &guest, GuestLock::Migrate)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "VM 100 is locked (backup)");
    // Even the same lock type cannot be taken twice.
    assert!(matches!(
        set_guest_lock(store, &guest, GuestLock::Backup).await,
        Err(StoreError::Locked { vmid: 100, .. })
    ));

    let err = clear_guest_lock(store, &guest, GuestLock::Snapshot)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "found lock 'backup' trying to remove 'snapshot' lock"
    );
    clear_guest_lock(store, &guest, GuestLock::Backup)
        .await
        .unwrap();
    assert_eq!(guest_lock(store, &guest).await.unwrap(), None);
    // Every other byte of the config is as it was.
    assert_eq!(
        store.get(&guest.config_key()).await.unwrap().unwrap().text,
        CONF
    );

    let err = clear_guest_lock(store, &guest, GuestLock::Backup)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no lock found trying to remove 'backup' lock"
    );
}

#[tokio::test]
async fn unknown_lock_in_config_still_blocks() {
    let (_dir, store, guest) = setup().await;
    let key = guest.config_key();
    let d = store.get(&key).await.unwrap().unwrap().digest;
    store
        .put(&key, "cores: 1\nlock: future-thing\n", Expect::Digest(d))
        .await
        .unwrap();
    assert_eq!(
        guest_lock(&*store, &guest).await.unwrap().as_deref(),
        Some("future-thing")
    );
    assert!(matches!(
        set_guest_lock(&*store, &guest, GuestLock::Disk).await,
        Err(StoreError::Locked { lock, .. }) if lock == "future-thing"
    ));
}

#[tokio::test]
async fn missing_guest() {
    let (_dir, store, _) = setup().await;
    let ghost = GuestRef::new("n1", GuestKind::Lxc, 100);
    for err in [
        set_guest_lock(&*store, &ghost, GuestLock::Backup)
            .await
            .unwrap_err(),
        clear_guest_lock(&*store, &ghost, GuestLock::Backup)
            .await
            .unwrap_err(),
        guest_lock(&*store, &ghost).await.unwrap_err(),
    ] {
        assert_eq!(
            err.to_string(),
            "Configuration file 'nodes/n1/lxc/100.conf' does not exist"
        );
    }
}

/// Many tasks race for the lock while others keep editing the config: exactly one gets it,
/// and no concurrent edit is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_locker_wins_under_contention() {
    let (_dir, store, guest) = setup().await;
    let key = guest.config_key();

    let lockers: Vec<_> = GuestLock::ALL
        .into_iter()
        .cycle()
        .take(24)
        .map(|lock| {
            let (store, guest) = (Arc::clone(&store), guest.clone());
            tokio::spawn(async move { set_guest_lock(&*store, &guest, lock).await })
        })
        .collect();
    // Concurrent editors append a comment line each, retrying on digest mismatch.
    let editors: Vec<_> = (0..8)
        .map(|i| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move {
                loop {
                    let e = store.get(&key).await.unwrap().unwrap();
                    let text = format!("#edit {i}\n{}", e.text);
                    match store.put(&key, &text, Expect::Digest(e.digest)).await {
                        Ok(_) => break,
                        Err(StoreError::DigestMismatch) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();

    let mut winners = Vec::new();
    for (i, t) in lockers.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(()) => winners.push(i),
            Err(StoreError::Locked { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    for t in editors {
        t.await.unwrap();
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let won = GuestLock::ALL[winners[0] % GuestLock::ALL.len()];
    assert_eq!(
        guest_lock(&*store, &guest).await.unwrap().as_deref(),
        Some(won.as_str())
    );
    let text = store.get(&key).await.unwrap().unwrap().text;
    for i in 0..8 {
        assert!(text.contains(&format!("#edit {i}\n")), "{text}");
    }
    assert_eq!(text.matches("lock: ").count(), 1, "{text}");
}
