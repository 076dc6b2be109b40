//! `.fw` files in the config store (`firewall/cluster.fw`, `firewall/<vmid>.fw`, as Proxmox
//! keeps them under /etc/pve/firewall), with digests for concurrent edits.

use oxve_net::firewall::FwConfig;
use oxve_router::ApiError;
use oxve_store::{ConfigStore, Expect};

pub fn cluster_key() -> String {
    "firewall/cluster.fw".into()
}

/// A node's host rules (Proxmox's /etc/pve/nodes/<node>/host.fw).
pub fn node_key(node: &str) -> String {
    format!("nodes/{node}/host.fw")
}

pub fn guest_key(vmid: u32) -> String {
    format!("firewall/{vmid}.fw")
}

/// A `.fw` file with its digest (`None` when it does not exist yet).
pub struct Loaded {
    pub config: FwConfig,
    pub digest: Option<String>,
}

pub async fn load(store: &dyn ConfigStore, key: &str) -> Result<Loaded, ApiError> {
    match store
        .get(key)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    {
        Some(entry) => Ok(Loaded {
            config: FwConfig::parse(&entry.text)
                .map_err(|e| ApiError::internal(format!("{key}: {e}")))?,
            digest: Some(entry.digest),
        }),
        None => Ok(Loaded {
            config: FwConfig::default(),
            digest: None,
        }),
    }
}

/// The digest of an empty file, what clients see before the first write.
pub fn digest_of(loaded: &Loaded) -> String {
    // SHA-1 of the empty text, as the store computes digests
    loaded
        .digest
        .clone()
        .unwrap_or_else(|| "da39a3ee5e6b4b0d3255bfef95601890afd80709".into())
}

/// Refuse a change made against another version of the file.
pub fn check_digest(loaded: &Loaded, digest: Option<&str>) -> Result<(), ApiError> {
    match digest {
        Some(d) if d != digest_of(loaded) => Err(ApiError::param(
            "digest",
            "detected modified configuration - file changed by other user? Try again.",
        )),
        _ => Ok(()),
    }
}

/// Write `config` where `loaded` was read; returns the new digest.
pub async fn save(
    store: &dyn ConfigStore,
    key: &str,
    loaded: &Loaded,
    config: &FwConfig,
) -> Result<String, ApiError> {
    let expect = match &loaded.digest {
        Some(d) => Expect::Digest(d.clone()),
        None => Expect::Absent,
    };
    store
        .put(key, &config.render(), expect)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}
