//! Test helpers: an in-memory [`ConfigStore`] and a ready-made [`AccessControl`].

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oxve_auth::{AccessControl, AuthOptions, HashParams, ManualClock};
use oxve_store::{ConfigStore, Entry, Expect, GuestRef, StoreError};

/// A start time for tests: 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000;

#[derive(Default)]
struct State {
    docs: BTreeMap<String, Entry>,
    revision: u64,
}

/// A HashMap-backed store with a revision counter, counting reads, and able to simulate
/// concurrent writers.
#[derive(Default)]
pub struct MemStore {
    state: Mutex<State>,
    /// Number of `get` calls so far.
    pub gets: AtomicU64,
    /// The next this-many `put`s fail as if another writer changed the document first.
    pub inject_conflicts: AtomicU32,
}

impl MemStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Current text of `key` (test inspection, not counted).
    pub fn text(&self, key: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .docs
            .get(key)
            .map(|e| e.text.clone())
    }

    fn check(state: &State, key: &str, expect: &Expect) -> Result<(), StoreError> {
        let cur = state.docs.get(key);
        match (expect, cur) {
            (Expect::Any, _) => Ok(()),
            (Expect::Absent, None) => Ok(()),
            (Expect::Absent, Some(_)) => Err(StoreError::AlreadyExists { key: key.into() }),
            (Expect::Digest(d), Some(e)) if *d == e.digest => Ok(()),
            (Expect::Digest(_), _) => Err(StoreError::DigestMismatch),
        }
    }
}

#[async_trait]
impl ConfigStore for MemStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        Ok(self.state.lock().unwrap().docs.get(key).cloned())
    }

    async fn put(&self, key: &str, text: &str, expect: Expect) -> Result<String, StoreError> {
        let mut st = self.state.lock().unwrap();
        if self
            .inject_conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            // Another writer got there first: bump the document.
            st.revision += 1;
            let rev = st.revision;
            if let Some(e) = st.docs.get_mut(key) {
                e.text.push('\n');
                e.digest = oxve_store::digest(&e.text);
                e.revision = rev;
                return Err(StoreError::DigestMismatch);
            }
            let text = "\n".to_string();
            st.docs.insert(
                key.into(),
                Entry {
                    key: key.into(),
                    digest: oxve_store::digest(&text),
                    text,
                    revision: rev,
                },
            );
            return Err(StoreError::AlreadyExists { key: key.into() });
        }
        Self::check(&st, key, &expect)?;
        st.revision += 1;
        let digest = oxve_store::digest(text);
        let entry = Entry {
            key: key.into(),
            text: text.into(),
            digest: digest.clone(),
            revision: st.revision,
        };
        st.docs.insert(key.into(), entry);
        Ok(digest)
    }

    async fn delete(&self, key: &str, expect: Expect) -> Result<(), StoreError> {
        let mut st = self.state.lock().unwrap();
        Self::check(&st, key, &expect)?;
        if st.docs.remove(key).is_some() {
            st.revision += 1;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let st = self.state.lock().unwrap();
        Ok(st
            .docs
            .values()
            .filter(|e| e.key.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn revision(&self) -> Result<u64, StoreError> {
        Ok(self.state.lock().unwrap().revision)
    }

    async fn create_guest(&self, guest: &GuestRef, text: &str) -> Result<String, StoreError> {
        self.put(&guest.config_key(), text, Expect::Absent).await
    }

    async fn guests(&self) -> Result<Vec<GuestRef>, StoreError> {
        Ok(Vec::new())
    }

    async fn next_free_vmid(&self, start: Option<u32>) -> Result<u32, StoreError> {
        Ok(start.unwrap_or(100))
    }
}

/// An access control over a fresh [`MemStore`] with a manual clock at [`T0`] and cheap
/// password hashing.
pub struct Harness {
    pub store: Arc<MemStore>,
    pub clock: Arc<ManualClock>,
    pub ac: AccessControl,
}

pub fn harness() -> Harness {
    let store = MemStore::new();
    let clock = Arc::new(ManualClock::new(T0));
    let mut opts = AuthOptions::new("oxve-test");
    opts.clock = clock.clone();
    opts.hash_params = HashParams::insecure_fast();
    let ac = AccessControl::new(store.clone(), opts);
    Harness { store, clock, ac }
}

/// A harness whose user.cfg holds `user_cfg`.
pub async fn harness_with(user_cfg: &str) -> Harness {
    let h = harness();
    h.store
        .put("user.cfg", user_cfg, Expect::Any)
        .await
        .unwrap();
    h
}

pub fn uid(s: &str) -> oxve_auth::Userid {
    s.parse().unwrap()
}

pub fn aid(s: &str) -> oxve_auth::Authid {
    s.parse().unwrap()
}
