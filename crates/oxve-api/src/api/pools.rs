//! /pools: resource pools (Proxmox `PVE::API2::Pool`), both the current form with `poolid`
//! as a parameter (`GET/PUT/DELETE /pools?poolid=`, nested ids `a/b/c`) and the deprecated
//! `/pools/{poolid}`. Pools live in user.cfg, managed by oxve-auth.

use std::collections::BTreeSet;

use oxve_auth::PoolUpdate;
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::format::{self, split_list};
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema, StringSchema};
use serde_json::{json, Value};

use super::access::auth_error;
use super::cluster::{guest_entry, guest_summaries, storage_entries};
use crate::env::RpcEnv;

fn poolid_schema() -> StringSchema {
    Schema::string("The pool ID.").format(format::POOLID)
}

fn type_schema() -> StringSchema {
    Schema::string("Only list members of this type.").enum_values(&["qemu", "lxc", "storage"])
}

fn update_schema() -> ObjectSchema {
    Schema::object("")
        .required("poolid", poolid_schema())
        .optional("comment", Schema::string("Comment.").max_length(4096))
        .optional(
            "vms",
            Schema::string("List of guest VMIDs to add or remove from this pool.")
                .format(format::VMID_LIST),
        )
        .optional(
            "storage",
            Schema::string("List of storage IDs to add or remove from this pool.")
                .format(format::STORAGE_ID_LIST),
        )
        .optional(
            "delete",
            Schema::boolean("Remove the passed VMIDs and/or storage IDs instead of adding them.")
                .default(false),
        )
        .optional(
            "allow-move",
            Schema::boolean(
                "Allow adding a guest even if already in another pool; it leaves its current pool.",
            )
            .default(false),
        )
}

const ALLOCATE: Permission = Permission::Privs {
    path: "/pool/{poolid}",
    privs: &["Pool.Allocate"],
    any: false,
};

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/pools", "index")
            .description("List pools or get pool configuration.")
            .parameters(
                Schema::object("")
                    .optional("poolid", poolid_schema())
                    .optional("type", type_schema()),
            )
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom(
                "pools on which the caller has Pool.Audit (or only the one named by poolid)",
            ))
            .handler(|env: RpcEnv, params| async move { index(&env, &params).await }),
        ApiMethod::new(HttpMethod::Post, "/pools", "create_pool")
            .description("Create new pool.")
            .parameters(
                Schema::object("")
                    .required("poolid", poolid_schema())
                    .optional("comment", Schema::string("Comment.").max_length(4096)),
            )
            .returns(Schema::Null)
            .permission(ALLOCATE)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                env.state
                    .access
                    .create_pool(params.req_str("poolid"), params.str("comment"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Put, "/pools", "update_pool")
            .description("Update pool.")
            .parameters(update_schema())
            .returns(Schema::Null)
            .permission(ALLOCATE)
            .protected()
            .handler(|env: RpcEnv, params| async move { update(&env, &params).await }),
        ApiMethod::new(HttpMethod::Delete, "/pools", "delete_pool")
            .description("Delete pool (only when it has no members).")
            .parameters(Schema::object("").required("poolid", poolid_schema()))
            .returns(Schema::Null)
            .permission(ALLOCATE)
            .protected()
            .handler(|env: RpcEnv, params| async move { delete(&env, &params).await }),
        ApiMethod::new(HttpMethod::Get, "/pools/{poolid}", "read_pool")
            .description("Get pool configuration (deprecated form).")
            .parameters(
                Schema::object("")
                    .required("poolid", poolid_schema())
                    .optional("type", type_schema()),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/pool/{poolid}",
                privs: &["Pool.Audit"],
                any: false,
            })
            .handler(|env: RpcEnv, params| async move {
                let poolid = params.req_str("poolid");
                let mut entry = pool_entry(&env, poolid, params.str("type")).await?;
                if let Some(obj) = entry.as_object_mut() {
                    obj.remove("poolid");
                }
                Ok(entry)
            }),
        ApiMethod::new(HttpMethod::Put, "/pools/{poolid}", "update_pool_deprecated")
            .description("Update pool data (deprecated form).")
            .parameters(update_schema())
            .returns(Schema::Null)
            .permission(ALLOCATE)
            .protected()
            .handler(|env: RpcEnv, params| async move { update(&env, &params).await }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/pools/{poolid}",
            "delete_pool_deprecated",
        )
        .description("Delete pool (deprecated form).")
        .parameters(Schema::object("").required("poolid", poolid_schema()))
        .returns(Schema::Null)
        .permission(ALLOCATE)
        .protected()
        .handler(|env: RpcEnv, params| async move { delete(&env, &params).await }),
    ]
}

/// `GET /pools`: every pool the caller may audit as `{poolid, comment}`; with `poolid`, just
/// that pool, with its members (filtered by `type`).
async fn index(env: &RpcEnv, params: &Params) -> Result<Value, ApiError> {
    let perms = env.permissions().await?;
    let Some(poolid) = params.str("poolid") else {
        if params.has("type") {
            return Err(ApiError::param(
                "type",
                "parameter 'type' requires 'poolid'",
            ));
        }
        let list: Vec<Value> = perms
            .snapshot()
            .config()
            .pools
            .iter()
            .filter(|(id, _)| perms.has_privs(&format!("/pool/{id}"), &["Pool.Audit"], false))
            .map(|(id, p)| {
                let mut entry = json!({ "poolid": id });
                if let Some(c) = &p.comment {
                    entry["comment"] = json!(c);
                }
                entry
            })
            .collect();
        return Ok(json!(list));
    };
    if !perms.has_privs(&format!("/pool/{poolid}"), &["Pool.Audit"], false) {
        return Err(ApiError::permission_check_failed(
            &format!("/pool/{poolid}"),
            "Pool.Audit",
        ));
    }
    let entry = pool_entry(env, poolid, params.str("type")).await?;
    Ok(json!([entry]))
}

/// One pool with its members as `/cluster/resources` shows them (guests that no longer
/// exist and storages not on this node are left out, as Proxmox does).
async fn pool_entry(
    env: &RpcEnv,
    poolid: &str,
    type_filter: Option<&str>,
) -> Result<Value, ApiError> {
    let perms = env.permissions().await?;
    let pool = perms
        .snapshot()
        .config()
        .pools
        .get(poolid)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("pool '{poolid}' does not exist")))?;
    let mut members = Vec::new();
    for guest in guest_summaries(env).await?.iter() {
        if !pool.vms.contains(&guest.guest.vmid) {
            continue;
        }
        let entry = guest_entry(env, &perms, guest);
        if type_filter.is_none_or(|t| entry["type"] == t) {
            members.push(entry);
        }
    }
    if type_filter.is_none_or(|t| t == "storage") {
        for (sid, entry) in storage_entries(env).await? {
            if pool.storage.contains(&sid) {
                members.push(entry);
            }
        }
    }
    let mut out = json!({ "poolid": poolid, "members": members });
    if let Some(c) = &pool.comment {
        out["comment"] = json!(c);
    }
    Ok(out)
}

/// `PUT /pools`: besides Pool.Allocate on the pool, the caller needs `perm-modify` on every
/// guest and storage added or removed, and Pool.Allocate on the pool a moved guest leaves.
async fn update(env: &RpcEnv, params: &Params) -> Result<Value, ApiError> {
    let poolid = params.req_str("poolid");
    let delete = params.bool("delete").unwrap_or(false);
    let mut vms = Vec::new();
    for v in split_list(params.str("vms").unwrap_or("")) {
        let vmid: u32 = v
            .parse()
            .map_err(|_| ApiError::param("vms", format!("invalid VMID '{v}'")))?;
        vms.push(vmid);
    }
    let storage: Vec<String> = split_list(params.str("storage").unwrap_or(""))
        .map(str::to_string)
        .collect();
    let perms = env.permissions().await?;
    let snap = perms.snapshot();
    let (caller, now) = (perms.auth_id(), perms.now());
    if !delete && !vms.is_empty() {
        let existing: BTreeSet<u32> = env
            .state
            .store
            .guests()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .iter()
            .map(|g| g.vmid)
            .collect();
        if let Some(missing) = vms.iter().find(|v| !existing.contains(v)) {
            return Err(ApiError::param(
                "vms",
                format!("VM {missing} does not exist"),
            ));
        }
    }
    if !delete && !storage.is_empty() {
        let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
        if let Some(missing) = storage.iter().find(|s| manager.config().get(s).is_err()) {
            return Err(ApiError::param(
                "storage",
                format!("storage '{missing}' does not exist"),
            ));
        }
    }
    for vmid in &vms {
        let path = format!("/vms/{vmid}");
        if !snap.check_perm_modify(caller, &path, now) {
            return Err(ApiError::permission_check_failed(
                &path,
                "Permissions.Modify|VM.Allocate",
            ));
        }
        if let Some(old) = snap.config().pool_of_vm(*vmid).filter(|p| *p != poolid) {
            let path = format!("/pool/{old}");
            if !delete && !snap.check(caller, &path, &["Pool.Allocate"], false, now) {
                return Err(ApiError::permission_check_failed(&path, "Pool.Allocate"));
            }
        }
    }
    for sid in &storage {
        let path = format!("/storage/{sid}");
        if !snap.check_perm_modify(caller, &path, now) {
            return Err(ApiError::permission_check_failed(
                &path,
                "Permissions.Modify|Datastore.Allocate",
            ));
        }
    }
    let upd = PoolUpdate {
        comment: params.str("comment").map(str::to_string),
        vms,
        storage,
        delete,
        allow_move: params.bool("allow-move").unwrap_or(false),
    };
    env.state
        .access
        .update_pool(poolid, &upd)
        .await
        .map_err(auth_error)?;
    Ok(json!(null))
}

/// `DELETE /pools`: refused while the pool has guests or storages that still exist.
async fn delete(env: &RpcEnv, params: &Params) -> Result<Value, ApiError> {
    let guests: BTreeSet<u32> = env
        .state
        .store
        .guests()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .iter()
        .map(|g| g.vmid)
        .collect();
    let manager = env.state.storage.manager(env.state.store.as_ref()).await?;
    env.state
        .access
        .delete_pool(
            params.req_str("poolid"),
            &|vmid| guests.contains(&vmid),
            &|sid| manager.config().get(sid).is_ok(),
        )
        .await
        .map_err(auth_error)?;
    Ok(json!(null))
}

/// The guests (of every node) in pool `poolid`, named by parameter `param` of the caller;
/// a pool that does not exist is a bad `param`.
pub(crate) async fn pool_guests(
    env: &RpcEnv,
    param: &str,
    poolid: &str,
) -> Result<BTreeSet<u32>, ApiError> {
    let snap = env.state.access.snapshot().await.map_err(auth_error)?;
    snap.config()
        .pools
        .get(poolid)
        .map(|p| p.vms.clone())
        .ok_or_else(|| ApiError::param(param, format!("pool '{poolid}' does not exist")))
}

/// The permission of create and restore as the router checks it: VM.Allocate on the guest
/// or on the pool it joins (completed by [`check_new_guest`]).
pub(crate) fn allocate_permission() -> Permission {
    Permission::Or(vec![
        Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Allocate"],
            any: false,
        },
        Permission::Privs {
            path: "/pool/{pool}",
            privs: &["VM.Allocate"],
            any: false,
        },
    ])
}

/// The permission check of create, restore and clone (Proxmox `['or', ['perm',
/// '/vms/{vmid}', ['VM.Allocate']], ['perm', '/pool/{pool}', ['VM.Allocate'],
/// require_param => 'pool']]`), and that a given pool exists. The router checks the same
/// alternatives, but would accept VM.Allocate on `/pool` itself when no pool is given.
pub(crate) async fn check_new_guest(
    env: &RpcEnv,
    vmid: u32,
    pool: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(pool) = pool {
        pool_guests(env, "pool", pool).await?;
    }
    let perms = env.permissions().await?;
    let vm_path = format!("/vms/{vmid}");
    if perms.has_privs(&vm_path, &["VM.Allocate"], false) {
        return Ok(());
    }
    if pool.is_some_and(|p| perms.has_privs(&format!("/pool/{p}"), &["VM.Allocate"], false)) {
        return Ok(());
    }
    Err(ApiError::permission_check_failed(&vm_path, "VM.Allocate"))
}

/// Put a newly created or restored guest into pool `pool`, if one was asked for (the last
/// step of create, restore and clone; a failure makes the task fail and undo).
pub(crate) async fn join_pool(env: &RpcEnv, pool: Option<&str>, vmid: u32) -> Result<(), String> {
    let Some(pool) = pool else { return Ok(()) };
    env.state
        .access
        .add_vm_to_pool(pool, vmid)
        .await
        .map_err(|e| format!("unable to add guest {vmid} to pool '{pool}' - {e}"))
}
