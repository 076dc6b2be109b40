//! The parsed access-control state at one store revision, with indexes for fast checks.
//! Rebuilt only when the store revision changes, so per-request checks parse nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use oxve_store::ConfigStore;
use tracing::warn;

use crate::authkey::AuthKeyRing;
use crate::error::Result;
use crate::store_io::{AUTHKEY, CSRF_KEY, TOKEN_CFG, USER_CFG};
use crate::tokens::parse_token_cfg;
use crate::user_cfg::UserConfig;
use crate::userid::Userid;

/// Access-control state at one store revision.
#[derive(Debug)]
pub struct Snapshot {
    /// Store revision this was read at.
    pub revision: u64,
    /// Whether user.cfg exists in the store (it does not before bootstrap).
    pub user_cfg_exists: bool,
    pub(crate) cfg: UserConfig,
    pub(crate) member_of: HashMap<Userid, BTreeSet<String>>,
    pub(crate) vm_pool: HashMap<u32, String>,
    pub(crate) storage_pools: HashMap<String, Vec<String>>,
    pub(crate) token_digests: BTreeMap<String, [u8; 32]>,
    pub(crate) authkeys: Option<AuthKeyRing>,
    pub(crate) csrf_key: Option<Vec<u8>>,
}

static NO_GROUPS: BTreeSet<String> = BTreeSet::new();

impl Snapshot {
    /// Read every access-control document from `store`.
    pub(crate) async fn load(store: &dyn ConfigStore, revision: u64) -> Result<Self> {
        let user_cfg = store.get(USER_CFG).await?;
        let tokens = store.get(TOKEN_CFG).await?;
        let authkey = store.get(AUTHKEY).await?;
        let csrf = store.get(CSRF_KEY).await?;

        let authkeys = authkey.and_then(|e| match AuthKeyRing::parse(&e.text) {
            Ok(ring) => Some(ring),
            Err(err) => {
                warn!("ignoring unreadable {AUTHKEY}: {err}");
                None
            }
        });
        let csrf_key = csrf.and_then(|e| match STANDARD.decode(e.text.trim()) {
            Ok(k) if k.len() >= 16 => Some(k),
            _ => {
                warn!("ignoring unreadable {CSRF_KEY}");
                None
            }
        });
        let cfg = user_cfg
            .as_ref()
            .map(|e| UserConfig::parse(&e.text))
            .unwrap_or_default();
        Ok(Self::build(
            revision,
            user_cfg.is_some(),
            cfg,
            tokens.map(|e| parse_token_cfg(&e.text)).unwrap_or_default(),
            authkeys,
            csrf_key,
        ))
    }

    fn build(
        revision: u64,
        user_cfg_exists: bool,
        cfg: UserConfig,
        token_digests: BTreeMap<String, [u8; 32]>,
        authkeys: Option<AuthKeyRing>,
        csrf_key: Option<Vec<u8>>,
    ) -> Self {
        let mut member_of: HashMap<Userid, BTreeSet<String>> = HashMap::new();
        for (group, g) in &cfg.groups {
            for user in &g.members {
                member_of
                    .entry(user.clone())
                    .or_default()
                    .insert(group.clone());
            }
        }
        let mut vm_pool = HashMap::new();
        let mut storage_pools: HashMap<String, Vec<String>> = HashMap::new();
        for (pool, p) in &cfg.pools {
            for vmid in &p.vms {
                vm_pool.insert(*vmid, pool.clone());
            }
            for sid in &p.storage {
                storage_pools
                    .entry(sid.clone())
                    .or_default()
                    .push(pool.clone());
            }
        }
        Snapshot {
            revision,
            user_cfg_exists,
            cfg,
            member_of,
            vm_pool,
            storage_pools,
            token_digests,
            authkeys,
            csrf_key,
        }
    }

    /// A snapshot of `cfg` alone (no keys or token secrets), e.g. to evaluate permissions of
    /// a config that is not in a store.
    pub fn from_config(cfg: UserConfig) -> Self {
        Self::build(0, true, cfg, BTreeMap::new(), None, None)
    }

    /// The parsed user.cfg.
    pub fn config(&self) -> &UserConfig {
        &self.cfg
    }

    /// The groups `user` belongs to.
    pub fn user_groups(&self, user: &Userid) -> &BTreeSet<String> {
        self.member_of.get(user).unwrap_or(&NO_GROUPS)
    }

    /// The pools whose members include ACL path `path` (`/vms/<id>` or `/storage/<id>`).
    pub(crate) fn pools_of_path(&self, path: &str) -> Vec<&str> {
        if let Some(id) = path.strip_prefix("/vms/") {
            return id
                .parse::<u32>()
                .ok()
                .and_then(|v| self.vm_pool.get(&v))
                .map(|p| vec![p.as_str()])
                .unwrap_or_default();
        }
        if let Some(sid) = path.strip_prefix("/storage/") {
            return self
                .storage_pools
                .get(sid)
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default();
        }
        Vec::new()
    }
}
