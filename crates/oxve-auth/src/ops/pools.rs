//! Resource pool operations (Proxmox `PVE::API2::Pool` and the pool helpers of
//! `PVE::AccessControl`). Pools live in user.cfg; a guest belongs to at most one pool, a
//! storage may be in several. Permission checks are the caller's (API layer) job.

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::ops::text_field;
use crate::store_io::modify_user_cfg;
use crate::user_cfg::{PoolEntry, UserConfig};
use crate::userid::verify_pool_id;

fn no_such_pool(poolid: &str) -> AuthError {
    AuthError::NotFound(format!("pool '{poolid}' does not exist"))
}

/// What `PUT /pools` changes: the comment, and members added (or removed with `delete`).
#[derive(Debug, Clone, Default)]
pub struct PoolUpdate {
    /// New comment (`Some("")` clears it).
    pub comment: Option<String>,
    /// Guests to add or remove.
    pub vms: Vec<u32>,
    /// Storages to add or remove.
    pub storage: Vec<String>,
    /// Remove the listed members instead of adding them.
    pub delete: bool,
    /// Move guests that are in another pool instead of refusing them.
    pub allow_move: bool,
}

/// The pool whose id is `poolid`'s parent (`a/b` for `a/b/c`), if nested.
pub fn parent_pool(poolid: &str) -> Option<&str> {
    poolid.rsplit_once('/').map(|(parent, _)| parent)
}

impl UserConfig {
    /// The pool guest `vmid` belongs to.
    pub fn pool_of_vm(&self, vmid: u32) -> Option<&str> {
        self.pools
            .iter()
            .find(|(_, p)| p.vms.contains(&vmid))
            .map(|(id, _)| id.as_str())
    }

    /// Apply `upd` to pool `poolid`, failing (with nothing changed by the caller, who
    /// discards the config) on the first member that cannot be added or removed.
    fn apply_pool_update(&mut self, poolid: &str, upd: &PoolUpdate) -> Result<()> {
        if !self.pools.contains_key(poolid) {
            return Err(no_such_pool(poolid));
        }
        for &vmid in &upd.vms {
            let current = self.pool_of_vm(vmid).map(str::to_string);
            if upd.delete {
                if current.as_deref() != Some(poolid) {
                    return Err(AuthError::param(
                        "vms",
                        format!("VM {vmid} is not a pool member"),
                    ));
                }
                self.pools.get_mut(poolid).unwrap().vms.remove(&vmid);
                continue;
            }
            match current.as_deref() {
                Some(p) if p == poolid => {
                    return Err(AuthError::param(
                        "vms",
                        format!("VM {vmid} is already a pool member"),
                    ))
                }
                Some(other) if !upd.allow_move => {
                    return Err(AuthError::param(
                        "vms",
                        format!(
                        "VM {vmid} belongs already to pool '{other}' and 'allow-move' is not set"
                    ),
                    ))
                }
                Some(other) => {
                    let other = other.to_string();
                    self.pools.get_mut(&other).unwrap().vms.remove(&vmid);
                }
                None => {}
            }
            self.pools.get_mut(poolid).unwrap().vms.insert(vmid);
        }
        let pool = self.pools.get_mut(poolid).unwrap();
        for sid in &upd.storage {
            if upd.delete {
                if !pool.storage.remove(sid) {
                    return Err(AuthError::param(
                        "storage",
                        format!("Storage '{sid}' is not a pool member"),
                    ));
                }
            } else if !pool.storage.insert(sid.clone()) {
                return Err(AuthError::param(
                    "storage",
                    format!("Storage '{sid}' is already a pool member"),
                ));
            }
        }
        if let Some(c) = &upd.comment {
            pool.comment = (!c.is_empty()).then(|| c.clone());
        }
        Ok(())
    }
}

impl AccessControl {
    /// `POST /pools`: a new, empty pool; a nested pool needs its parent.
    pub async fn create_pool(&self, poolid: &str, comment: Option<&str>) -> Result<()> {
        verify_pool_id(poolid).map_err(|e| AuthError::from_id("poolid", e))?;
        let comment = text_field("comment", comment, 4096)?;
        modify_user_cfg(self.store(), |cfg| {
            if cfg.pools.contains_key(poolid) {
                return Err(AuthError::AlreadyExists(format!(
                    "pool '{poolid}' already exists"
                )));
            }
            if let Some(parent) = parent_pool(poolid) {
                if !cfg.pools.contains_key(parent) {
                    return Err(AuthError::param(
                        "poolid",
                        format!("parent '{parent}' of pool '{poolid}' does not exist"),
                    ));
                }
            }
            cfg.pools.insert(
                poolid.to_string(),
                PoolEntry {
                    comment: comment.clone(),
                    ..Default::default()
                },
            );
            Ok(())
        })
        .await
    }

    /// `PUT /pools`: change the comment and add or remove members, all or nothing.
    pub async fn update_pool(&self, poolid: &str, upd: &PoolUpdate) -> Result<()> {
        if let Some(c) = &upd.comment {
            text_field("comment", Some(c), 4096)?;
        }
        modify_user_cfg(self.store(), |cfg| cfg.apply_pool_update(poolid, upd)).await
    }

    /// `DELETE /pools`: only an empty pool (members that no longer exist, as told by
    /// `vm_exists`/`storage_exists`, do not count) without child pools; its ACL entries go too.
    pub async fn delete_pool(
        &self,
        poolid: &str,
        vm_exists: &(dyn Fn(u32) -> bool + Sync),
        storage_exists: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<()> {
        modify_user_cfg(self.store(), |cfg| {
            let pool = cfg.pools.get(poolid).ok_or_else(|| no_such_pool(poolid))?;
            if let Some(vmid) = pool.vms.iter().find(|v| vm_exists(**v)) {
                return Err(AuthError::Refused(format!(
                    "pool '{poolid}' is not empty (contains VM {vmid})"
                )));
            }
            if let Some(sid) = pool.storage.iter().find(|s| storage_exists(s)) {
                return Err(AuthError::Refused(format!(
                    "pool '{poolid}' is not empty (contains storage '{sid}')"
                )));
            }
            if let Some(child) = cfg.pools.keys().find(|k| parent_pool(k) == Some(poolid)) {
                return Err(AuthError::Refused(format!(
                    "pool '{poolid}' is not empty (contains child pool '{child}')"
                )));
            }
            cfg.pools.remove(poolid);
            cfg.acl.remove_path(&format!("/pool/{poolid}"));
            Ok(())
        })
        .await
    }

    /// Put a new guest into `poolid` (create, restore, clone: Proxmox `add_vm_to_pool`),
    /// taking it out of any other pool (a restored guest may have been in one).
    pub async fn add_vm_to_pool(&self, poolid: &str, vmid: u32) -> Result<()> {
        let upd = PoolUpdate {
            vms: vec![vmid],
            allow_move: true,
            ..Default::default()
        };
        modify_user_cfg(self.store(), |cfg| {
            if cfg.pool_of_vm(vmid) == Some(poolid) {
                return Ok(());
            }
            cfg.apply_pool_update(poolid, &upd)
        })
        .await
    }

    /// Drop guest `vmid` from whatever pool it is in (destroy with purge, failed creates).
    /// Writes nothing when it is in none.
    pub async fn remove_vm_from_pools(&self, vmid: u32) -> Result<()> {
        let snap = self.snapshot().await?;
        if snap.config().pool_of_vm(vmid).is_none() {
            return Ok(());
        }
        modify_user_cfg(self.store(), |cfg| {
            for pool in cfg.pools.values_mut() {
                pool.vms.remove(&vmid);
            }
            Ok(())
        })
        .await
    }

    /// Drop storage `storeid` from every pool (the storage was removed: Proxmox's
    /// `remove_storage_access`). Writes nothing when it is in none.
    pub async fn remove_storage_from_pools(&self, storeid: &str) -> Result<()> {
        let snap = self.snapshot().await?;
        if !snap
            .config()
            .pools
            .values()
            .any(|p| p.storage.contains(storeid))
        {
            return Ok(());
        }
        modify_user_cfg(self.store(), |cfg| {
            for pool in cfg.pools.values_mut() {
                pool.storage.remove(storeid);
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn cfg() -> UserConfig {
        UserConfig::parse("pool:a::100,101:local:\npool:b::102::\n")
    }

    fn add(vms: &[u32], allow_move: bool) -> PoolUpdate {
        PoolUpdate {
            vms: vms.to_vec(),
            allow_move,
            ..Default::default()
        }
    }

    #[test]
    fn a_guest_is_in_one_pool_unless_moved() {
        let mut c = cfg();
        let err = c.apply_pool_update("b", &add(&[100], false)).unwrap_err();
        assert!(
            err.to_string().contains("belongs already to pool 'a'"),
            "{err}"
        );
        c.apply_pool_update("b", &add(&[100], true)).unwrap();
        assert_eq!(c.pool_of_vm(100), Some("b"));
        assert!(!c.pools["a"].vms.contains(&100));
        assert!(c.apply_pool_update("b", &add(&[100], false)).is_err());
    }

    #[test]
    fn delete_removes_only_members() {
        let mut c = cfg();
        let del = PoolUpdate {
            vms: vec![101],
            storage: vec!["local".into()],
            delete: true,
            ..Default::default()
        };
        c.apply_pool_update("a", &del).unwrap();
        assert_eq!(c.pools["a"].vms, BTreeSet::from([100]));
        assert!(c.pools["a"].storage.is_empty());
        assert!(c.apply_pool_update("a", &del).is_err());
        assert!(c.apply_pool_update("zzz", &add(&[1], false)).is_err());
    }

    #[test]
    fn parents() {
        assert_eq!(parent_pool("a/b/c"), Some("a/b"));
        assert_eq!(parent_pool("a"), None);
    }
}
