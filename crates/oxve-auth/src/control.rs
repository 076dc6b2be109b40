//! [`AccessControl`]: the entry point, holding the store, options and the cached snapshot.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use oxve_store::ConfigStore;

use crate::access::ApiCapabilities;
use crate::authkey::{random_bytes, AuthKeyRing, KEY_BYTES};
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::password::HashParams;
use crate::privileges::PrivSet;
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::snapshot::Snapshot;
use crate::store_io::{modify, AUTHKEY, CSRF_KEY};
use crate::userid::Authid;

/// Settings of an [`AccessControl`].
#[derive(Clone)]
pub struct AuthOptions {
    /// PAM service name used for the `pam` realm (a file in `/etc/pam.d`; PAM falls back to
    /// `other` if it does not exist).
    pub pam_service: String,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Cost of new password hashes.
    pub hash_params: HashParams,
    /// Failed-login limits per client address.
    pub rate_limit: RateLimitConfig,
}

impl AuthOptions {
    /// Default options with PAM service `pam_service`.
    pub fn new(pam_service: impl Into<String>) -> Self {
        AuthOptions {
            pam_service: pam_service.into(),
            clock: Arc::new(SystemClock),
            hash_params: HashParams::default(),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

impl Default for AuthOptions {
    /// PAM service `oxve`, system clock, default hash cost and rate limit.
    fn default() -> Self {
        AuthOptions::new("oxve")
    }
}

impl fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthOptions")
            .field("pam_service", &self.pam_service)
            .field("hash_params", &self.hash_params)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ConfigStore>,
    pub(crate) opts: AuthOptions,
    pub(crate) limiter: RateLimiter,
    /// Hash checked for users without one, to equalize login timing.
    pub(crate) dummy_hash: OnceLock<String>,
    cache: RwLock<Option<Arc<Snapshot>>>,
}

/// Users, groups, roles, ACLs, tokens and authentication over a [`ConfigStore`]. Cloning is
/// cheap (a shared pointer); all clones share one cache and one rate limiter.
#[derive(Clone)]
pub struct AccessControl {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for AccessControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessControl")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

impl AccessControl {
    /// Access control over `store`.
    pub fn new(store: Arc<dyn ConfigStore>, opts: AuthOptions) -> Self {
        let limiter = RateLimiter::new(opts.rate_limit);
        AccessControl {
            inner: Arc::new(Inner {
                store,
                opts,
                limiter,
                dummy_hash: OnceLock::new(),
                cache: RwLock::new(None),
            }),
        }
    }

    pub(crate) fn store(&self) -> &dyn ConfigStore {
        &*self.inner.store
    }

    /// The current Unix time of the configured clock.
    pub fn now(&self) -> i64 {
        self.inner.opts.clock.now()
    }

    /// The state at the store's current revision: cached, and re-read only when the revision
    /// changed, so a check costs one `revision()` call and no parsing.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let revision = self.store().revision().await?;
        if let Some(s) = self.cached(revision) {
            return Ok(s);
        }
        let snap = Arc::new(Snapshot::load(self.store(), revision).await?);
        let mut cache = self.inner.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().is_none_or(|c| c.revision <= revision) {
            *cache = Some(snap.clone());
        }
        Ok(snap)
    }

    fn cached(&self, revision: u64) -> Option<Arc<Snapshot>> {
        let cache = self.inner.cache.read().unwrap_or_else(|e| e.into_inner());
        cache.as_ref().filter(|s| s.revision == revision).cloned()
    }

    /// Privileges of `authid` on `path`.
    pub async fn privileges(&self, authid: &Authid, path: &str) -> Result<PrivSet> {
        Ok(self.snapshot().await?.privileges(authid, path, self.now()))
    }

    /// Whether `authid` has all (or with `any`, one) of `privs` on `path`.
    pub async fn check(
        &self,
        authid: &Authid,
        path: &str,
        privs: &[&str],
        any: bool,
    ) -> Result<bool> {
        Ok(self
            .snapshot()
            .await?
            .check(authid, path, privs, any, self.now()))
    }

    /// `GET /access/permissions` for `authid`: `{path: {privilege: propagate}}`.
    pub async fn permissions(
        &self,
        authid: &Authid,
        path: Option<&str>,
    ) -> Result<BTreeMap<String, BTreeMap<String, u8>>> {
        Ok(self.snapshot().await?.permissions(authid, path, self.now()))
    }

    /// The `cap` object of the ticket response.
    pub async fn api_capabilities(&self, authid: &Authid) -> Result<ApiCapabilities> {
        Ok(self.snapshot().await?.api_capabilities(authid, self.now()))
    }

    /// The ticket key ring for signing: created on first use and rotated when it is a day
    /// old. (Verification uses the snapshot's ring and never writes.)
    pub(crate) async fn signing_keys(&self) -> Result<AuthKeyRing> {
        let now = self.now();
        let snap = self.snapshot().await?;
        if let Some(ring) = snap.authkeys.as_ref().filter(|r| !r.needs_rotation(now)) {
            return Ok(ring.clone());
        }
        let ring = modify(self.store(), AUTHKEY, |text| {
            let current = text.and_then(|t| AuthKeyRing::parse(t).ok());
            Ok(match current {
                // Somebody else rotated or created it meanwhile.
                Some(ring) if !ring.needs_rotation(now) => (None, ring),
                Some(ring) => {
                    let ring = ring.rotated(now);
                    tracing::info!("rotating ticket signing key");
                    (Some(ring.to_text()), ring)
                }
                None => {
                    let ring = AuthKeyRing::generate(now);
                    (Some(ring.to_text()), ring)
                }
            })
        })
        .await?;
        Ok(ring)
    }

    /// The CSRF key, created on first use.
    pub(crate) async fn csrf_key(&self) -> Result<Vec<u8>> {
        let snap = self.snapshot().await?;
        if let Some(k) = &snap.csrf_key {
            return Ok(k.clone());
        }
        let key = modify(self.store(), CSRF_KEY, |text| {
            if let Some(k) = text.and_then(|t| STANDARD.decode(t.trim()).ok()) {
                if k.len() >= 16 {
                    return Ok((None, k));
                }
            }
            let k = random_bytes(KEY_BYTES);
            Ok((Some(format!("{}\n", STANDARD.encode(&k))), k))
        })
        .await?;
        Ok(key)
    }
}
