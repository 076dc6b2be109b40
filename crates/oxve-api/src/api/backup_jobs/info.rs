//! `GET /cluster/backup-info/not-backed-up` (Proxmox's `PVE::API2::BackupInfo`): the guests
//! no backup job selects, among those the caller may audit.

use std::collections::BTreeSet;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_store::{guest_config_key, GuestRef};
use oxve_types::format::split_list;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::store::{read_jobs, BackupJob};
use crate::env::RpcEnv;

/// The guests a job selects (Proxmox's `get_included_guests`): the guests of its `pool`
/// (members as `pool_members` tells), else its `vmid` list, else with `all` every guest but
/// the excluded ones; guests of other nodes than the job's `node`, if it names one, are
/// left out (a listed VMID that names no guest stays, so it shows as missing).
pub(crate) fn selected_guests(
    job: &BackupJob,
    guests: &[GuestRef],
    pool_members: &dyn Fn(&str) -> BTreeSet<u32>,
) -> BTreeSet<u32> {
    let ids = |key: &str| -> BTreeSet<u32> {
        job.get(key)
            .map(|l| split_list(l).filter_map(|v| v.parse().ok()).collect())
            .unwrap_or_default()
    };
    let on_job_node = |vmid: &u32| {
        job.get("node").is_none_or(|n| {
            guests
                .iter()
                .find(|g| g.vmid == *vmid)
                .is_none_or(|g| g.node == n)
        })
    };
    let chosen = if let Some(pool) = job.get("pool") {
        let members = pool_members(pool);
        guests
            .iter()
            .map(|g| g.vmid)
            .filter(|v| members.contains(v))
            .collect()
    } else if job.get("vmid").is_some() {
        return ids("vmid");
    } else if job.flag("all") == Some(true) {
        let exclude = ids("exclude");
        guests
            .iter()
            .map(|g| g.vmid)
            .filter(|v| !exclude.contains(v))
            .collect()
    } else {
        BTreeSet::new()
    };
    chosen.into_iter().filter(on_job_node).collect()
}

/// A lookup of pool guests for [`selected_guests`] from the current user.cfg.
pub(crate) async fn pool_lookup(env: &RpcEnv) -> Result<impl Fn(&str) -> BTreeSet<u32>, ApiError> {
    let snap = env
        .state
        .access
        .snapshot()
        .await
        .map_err(crate::api::access::auth_error)?;
    Ok(move |pool: &str| {
        snap.config()
            .pools
            .get(pool)
            .map(|p| p.vms.clone())
            .unwrap_or_default()
    })
}

fn name_of(text: &str) -> Option<String> {
    text.lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| matches!(k.trim(), "name" | "hostname"))
        .map(|(_, v)| v.trim().to_string())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(
        HttpMethod::Get,
        "/cluster/backup-info/not-backed-up",
        "get_guests_not_in_backup",
    )
    .description("Shows all guests which are not covered by any backup job.")
    .returns(Schema::array(
        "Contains the guest objects.",
        Schema::object("").additional_properties(true),
    ))
    .permission(Permission::Privs {
        path: "/",
        privs: &["Sys.Audit"],
        any: false,
    })
    .protected()
    .handler(|env: RpcEnv, _| async move {
        let store = env.state.store.as_ref();
        let guests = store
            .guests()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let pools = pool_lookup(&env).await?;
        let mut covered = BTreeSet::new();
        for job in read_jobs(store).await? {
            covered.extend(selected_guests(&job, &guests, &pools));
        }
        let perms = env.permissions().await?;
        let mut out = Vec::new();
        for g in guests.iter().filter(|g| !covered.contains(&g.vmid)) {
            // Only guests the caller may see, so names do not leak.
            if !perms.has_privs(&format!("/vms/{}", g.vmid), &["VM.Audit"], false) {
                continue;
            }
            let text = store
                .get(&guest_config_key(g))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map(|e| e.text)
                .unwrap_or_default();
            let mut v = json!({ "vmid": g.vmid, "type": g.kind.as_str() });
            if let Some(name) = name_of(&text) {
                v["name"] = json!(name);
            }
            out.push(v);
        }
        Ok(Value::Array(out))
    })]
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxve_store::GuestKind;

    #[test]
    fn selects_like_vzdump() {
        let g = |vmid, node: &str| GuestRef {
            vmid,
            kind: GuestKind::Qemu,
            node: node.into(),
        };
        let guests = [g(100, "a"), g(101, "a"), g(102, "b")];
        let no_pools = |_: &str| BTreeSet::new();
        let mut job = BackupJob::default();
        job.set("vmid", "100,105");
        assert_eq!(selected_guests(&job, &guests, &no_pools), [100, 105].into());
        let mut job = BackupJob::default();
        job.set("all", "1");
        job.set("exclude", "101");
        assert_eq!(selected_guests(&job, &guests, &no_pools), [100, 102].into());
        job.set("node", "a");
        assert_eq!(selected_guests(&job, &guests, &no_pools), [100].into());
        assert!(selected_guests(&BackupJob::default(), &guests, &no_pools).is_empty());
    }

    #[test]
    fn a_pool_selects_its_guests_and_ignores_exclude() {
        let g = |vmid, node: &str| GuestRef {
            vmid,
            kind: GuestKind::Lxc,
            node: node.into(),
        };
        let guests = [g(100, "a"), g(101, "a"), g(102, "b")];
        let pools = |p: &str| match p {
            "dev" => BTreeSet::from([101, 102, 999]),
            _ => BTreeSet::new(),
        };
        let mut job = BackupJob::default();
        job.set("pool", "dev");
        job.set("exclude", "101");
        // 999 is a destroyed guest still listed in the pool: not selected.
        assert_eq!(selected_guests(&job, &guests, &pools), [101, 102].into());
        job.set("node", "a");
        assert_eq!(selected_guests(&job, &guests, &pools), [101].into());
        job.set("pool", "other");
        assert!(selected_guests(&job, &guests, &pools).is_empty());
    }
}
