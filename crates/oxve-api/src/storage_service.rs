//! The node's storages as the handlers use them: storage.cfg from the config store (parsed
//! once per store revision) with the plugin registry, and storage calls run on blocking
//! threads (plugins run external tools).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use oxve_router::ApiError;
use oxve_storage::{PluginContext, PluginRegistry, StorageConfig, StorageError, StorageManager};
use oxve_store::{ConfigStore, Expect, StoreError};

/// Where storage.cfg lives in the store (as in pmxcfs).
pub const STORAGE_CFG: &str = "storage.cfg";

pub struct StorageService {
    data_dir: PathBuf,
    registry: PluginRegistry,
    ctx: PluginContext,
    cached: Mutex<Option<(u64, Arc<StorageManager>)>>,
}

/// Map a storage error to the API error Proxmox answers.
pub fn storage_error(err: StorageError) -> ApiError {
    match &err {
        StorageError::UnknownStorage(id) => {
            ApiError::internal(format!("storage '{id}' does not exist"))
        }
        _ if err.is_bad_request() => match err.param() {
            Some(param) => ApiError::param(param, err.to_string()),
            None => ApiError::bad_request(err.to_string()),
        },
        _ => ApiError::internal(err.to_string()),
    }
}

fn store_error(err: StoreError) -> ApiError {
    ApiError::internal(err.to_string())
}

impl StorageService {
    pub fn new(data_dir: PathBuf) -> Self {
        StorageService {
            ctx: PluginContext::system(&data_dir),
            data_dir,
            registry: PluginRegistry::with_builtin(),
            cached: Mutex::new(None),
        }
    }

    /// The storage manager for the current storage.cfg (and its digest).
    pub async fn manager(&self, store: &dyn ConfigStore) -> Result<Arc<StorageManager>, ApiError> {
        let revision = store.revision().await.map_err(store_error)?;
        if let Some((rev, manager)) = self
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if *rev == revision {
                return Ok(Arc::clone(manager));
            }
        }
        let text = store
            .get(STORAGE_CFG)
            .await
            .map_err(store_error)?
            .map(|e| e.text)
            .unwrap_or_default();
        let config =
            StorageConfig::parse_with_local(&text, &self.data_dir).map_err(storage_error)?;
        let manager = Arc::new(StorageManager::new(
            config,
            self.registry.clone(),
            self.ctx.clone(),
        ));
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((revision, Arc::clone(&manager)));
        Ok(manager)
    }

    /// The digest of storage.cfg as stored (empty before the first change).
    pub async fn digest(&self, store: &dyn ConfigStore) -> Result<String, ApiError> {
        Ok(store
            .get(STORAGE_CFG)
            .await
            .map_err(store_error)?
            .map(|e| e.digest)
            .unwrap_or_default())
    }

    /// Change storage.cfg with compare-and-swap, retrying when another writer got there
    /// first; `expected_digest` (from the client) must match the current one.
    pub async fn update_config<F>(
        &self,
        store: &dyn ConfigStore,
        expected_digest: Option<&str>,
        change: F,
    ) -> Result<(), ApiError>
    where
        F: Fn(&mut StorageConfig) -> Result<(), StorageError>,
    {
        for _ in 0..16 {
            let current = store.get(STORAGE_CFG).await.map_err(store_error)?;
            let (text, expect) = match &current {
                Some(e) => (e.text.clone(), Expect::Digest(e.digest.clone())),
                None => (String::new(), Expect::Absent),
            };
            if let Some(wanted) = expected_digest {
                let have = current
                    .as_ref()
                    .map(|e| e.digest.as_str())
                    .unwrap_or_default();
                if wanted != have {
                    return Err(ApiError::internal(StoreError::DigestMismatch.to_string()));
                }
            }
            let mut config =
                StorageConfig::parse_with_local(&text, &self.data_dir).map_err(storage_error)?;
            change(&mut config).map_err(storage_error)?;
            let new_text = config.to_text().map_err(storage_error)?;
            match store.put(STORAGE_CFG, &new_text, expect).await {
                Ok(_) => return Ok(()),
                Err(StoreError::DigestMismatch | StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ApiError::internal(
            "storage.cfg is changing too fast, try again",
        ))
    }

    /// Run a storage operation on a blocking thread.
    pub async fn run<T, F>(&self, store: &dyn ConfigStore, op: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&StorageManager) -> Result<T, StorageError> + Send + 'static,
    {
        let manager = self.manager(store).await?;
        tokio::task::spawn_blocking(move || op(&manager))
            .await
            .map_err(|e| ApiError::internal(format!("storage worker failed: {e}")))?
            .map_err(storage_error)
    }
}

/// Resolves volume ids to what QEMU opens, through the storages.
pub struct StorageResolver(pub Arc<StorageManager>);

impl oxve_qemu::VolumeResolver for StorageResolver {
    fn path(&self, volid: &str) -> Result<oxve_qemu::ResolvedVolume, oxve_qemu::BoxError> {
        let id = oxve_storage::VolumeId::parse(volid)?;
        let path = self.0.path(&id)?;
        // Files without image info (ISO images on a CD drive) are raw.
        let format = match self.0.info(&id) {
            Ok(info) => info.format.as_str().to_string(),
            Err(_) if path.is_file() => "raw".to_string(),
            Err(e) => return Err(e.into()),
        };
        Ok(oxve_qemu::ResolvedVolume::new(
            path.to_string_lossy().into_owned(),
            Some(format.as_str()),
        ))
    }
}
