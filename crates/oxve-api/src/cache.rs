//! Derived views kept between requests and rebuilt only when the store changes, so hot reads
//! such as /cluster/resources cost a lookup, not a parse of every guest config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oxve_router::Prerendered;

use crate::guests::GuestSummary;

/// How long the node's own figures (CPU, memory) in a cached resource list stay current.
pub const NODE_FIGURES_SECS: u64 = 2;

/// Caches shared by all requests.
#[derive(Default)]
pub struct Caches {
    guests: Mutex<Option<(u64, Arc<Vec<GuestSummary>>)>>,
    resources: Mutex<HashMap<ResourceKey, CachedResources>>,
}

/// One rendered resource list: per caller (permissions differ) and type filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceKey {
    pub auth_id: String,
    pub type_filter: Option<String>,
}

struct CachedResources {
    revision: u64,
    epoch: u64,
    body: Arc<Prerendered>,
}

/// Bound on cached lists; beyond it the cache starts afresh (callers are few in practice).
const MAX_RESOURCE_ENTRIES: usize = 256;

impl Caches {
    /// Guest summaries at `revision`, if cached.
    pub fn guests(&self, revision: u64) -> Option<Arc<Vec<GuestSummary>>> {
        let cached = self.guests.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(rev, _)| *rev == revision)
            .map(|(_, list)| Arc::clone(list))
    }

    pub fn put_guests(&self, revision: u64, list: Arc<Vec<GuestSummary>>) {
        *self.guests.lock().unwrap_or_else(|e| e.into_inner()) = Some((revision, list));
    }

    /// A rendered resource list still valid at `revision` and `epoch`.
    pub fn resources(
        &self,
        key: &ResourceKey,
        revision: u64,
        epoch: u64,
    ) -> Option<Arc<Prerendered>> {
        let cached = self.resources.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .get(key)
            .filter(|c| c.revision == revision && c.epoch == epoch)
            .map(|c| Arc::clone(&c.body))
    }

    pub fn put_resources(
        &self,
        key: ResourceKey,
        revision: u64,
        epoch: u64,
        body: Arc<Prerendered>,
    ) {
        let mut cached = self.resources.lock().unwrap_or_else(|e| e.into_inner());
        if cached.len() >= MAX_RESOURCE_ENTRIES {
            cached.clear();
        }
        cached.insert(
            key,
            CachedResources {
                revision,
                epoch,
                body,
            },
        );
    }
}
