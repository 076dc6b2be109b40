//! Read-modify-write of store documents with compare-and-swap and retries.

use oxve_store::{ConfigStore, Expect};

use crate::error::{AuthError, Result};
use crate::user_cfg::UserConfig;

/// Store key of the user, group, role, pool and ACL config.
pub const USER_CFG: &str = "user.cfg";
/// Store key of the `pve` realm password hashes.
pub const SHADOW_CFG: &str = "priv/shadow.cfg";
/// Store key of the API token secret digests.
pub const TOKEN_CFG: &str = "priv/token.cfg";
/// Store key of the ticket signing keys.
pub const AUTHKEY: &str = "priv/authkey.key";
/// Store key of the CSRF token key.
pub const CSRF_KEY: &str = "priv/csrf.key";

/// How often a compare-and-swap is retried before giving up.
pub const MAX_ATTEMPTS: u32 = 16;

/// Apply `f` to the current text of `key` (`None` if missing) and store the text it returns,
/// only if the document did not change in between; retried on conflicts. `f` returning
/// `None` as text means "nothing to write".
pub async fn modify<T, F>(store: &dyn ConfigStore, key: &str, mut f: F) -> Result<T>
where
    F: FnMut(Option<&str>) -> Result<(Option<String>, T)>,
{
    for _ in 0..MAX_ATTEMPTS {
        let entry = store.get(key).await?;
        let expect = match &entry {
            Some(e) => Expect::Digest(e.digest.clone()),
            None => Expect::Absent,
        };
        let (text, out) = f(entry.as_ref().map(|e| e.text.as_str()))?;
        let Some(text) = text else {
            return Ok(out);
        };
        match store.put(key, &text, expect).await {
            Ok(_) => return Ok(out),
            Err(e) => {
                let e = AuthError::from(e);
                if !e.is_conflict() {
                    return Err(e);
                }
                tracing::debug!("concurrent update of '{key}', retrying");
            }
        }
    }
    Err(oxve_store::StoreError::TooManyConflicts {
        key: key.to_string(),
        attempts: MAX_ATTEMPTS,
    }
    .into())
}

/// Apply `f` to the parsed user.cfg and write it back (compare-and-swap, retried).
pub async fn modify_user_cfg<T, F>(store: &dyn ConfigStore, mut f: F) -> Result<T>
where
    F: FnMut(&mut UserConfig) -> Result<T>,
{
    modify(store, USER_CFG, |text| {
        let mut cfg = text.map(UserConfig::parse).unwrap_or_default();
        let out = f(&mut cfg)?;
        Ok((Some(cfg.write()), out))
    })
    .await
}
