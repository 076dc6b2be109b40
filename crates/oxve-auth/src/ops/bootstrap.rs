//! First start: create the initial administrator.

use oxve_store::Expect;
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::control::AccessControl;
use crate::error::Result;
use crate::ops::blocking;
use crate::password::{check_new_password, hash_password};
use crate::roles::ADMINISTRATOR;
use crate::store_io::USER_CFG;
use crate::user_cfg::{UserConfig, UserEntry};
use crate::userid::Userid;

/// Length of a generated administrator password (alphanumeric, about 119 bits).
const GENERATED_PASSWORD_LEN: usize = 20;

impl AccessControl {
    /// If user.cfg does not exist yet, create it with `admin@pve` (password `password`, or a
    /// generated one) holding `Administrator` on `/` (propagating), besides `root@pam`, which
    /// always has every privilege as in Proxmox. Returns the generated password, for the
    /// daemon to print once; `None` if a password was given or user.cfg already existed.
    pub async fn bootstrap_admin(&self, password: Option<String>) -> Result<Option<String>> {
        if self.snapshot().await?.user_cfg_exists {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(|| {
            rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(GENERATED_PASSWORD_LEN)
                .map(char::from)
                .collect()
        });
        check_new_password(&password)?;
        let (pw, cost) = (password.clone(), self.inner.opts.hash_params);
        let hash = blocking(move || hash_password(&pw, cost)).await??;

        let admin: Userid = "admin@pve".parse().expect("valid user id");
        let mut cfg = UserConfig::default();
        cfg.users.insert(
            admin.clone(),
            UserEntry {
                comment: Some("oxve administrator".into()),
                ..Default::default()
            },
        );
        cfg.acl
            .node_mut("/")
            .users
            .entry(admin.clone())
            .or_default()
            .insert(ADMINISTRATOR.to_string(), true);
        let digest = match self
            .store()
            .put(USER_CFG, &cfg.write(), Expect::Absent)
            .await
        {
            Ok(d) => d,
            Err(oxve_store::StoreError::AlreadyExists { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = self.set_shadow(&admin, Some(hash)).await {
            // Leave no administrator without a password behind: the next start retries.
            if let Err(u) = self.store().delete(USER_CFG, Expect::Digest(digest)).await {
                tracing::error!("could not undo bootstrap of user.cfg: {u}");
            }
            return Err(e);
        }
        tracing::info!("created initial administrator 'admin@pve'");
        Ok(generated.then_some(password))
    }
}
