//! /access/acl: read and update the access control list.

use oxve_auth::AclUpdate;
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::format;
use oxve_types::schema::Schema;
use serde_json::json;

use super::auth_error;
use crate::env::RpcEnv;

fn list(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| format::split_list(v).map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/access/acl", "read_acl")
            .description("Get Access Control List (ACLs) on the paths the caller may audit.")
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom(
                "entries on paths where the caller has Sys.Audit or Permissions.Modify",
            ))
            .handler(|env: RpcEnv, _| async move {
                let perms = env.permissions().await?;
                let entries = env.state.access.list_acl().await.map_err(auth_error)?;
                let visible: Vec<_> = entries
                    .into_iter()
                    .filter(|e| {
                        perms.has_privs(&e.path, &["Sys.Audit", "Permissions.Modify"], true)
                    })
                    .collect();
                Ok(json!(visible))
            }),
        ApiMethod::new(HttpMethod::Put, "/access/acl", "update_acl")
            .description("Update Access Control List (add or remove permissions).")
            .parameters(
                Schema::object("")
                    .required(
                        "path",
                        Schema::string("Access control path").format(format::ACL_PATH),
                    )
                    .required(
                        "roles",
                        Schema::string("List of roles.").format(format::ROLEID_LIST),
                    )
                    .optional(
                        "users",
                        Schema::string("List of users.").format(format::USERID_LIST),
                    )
                    .optional(
                        "groups",
                        Schema::string("List of groups.").format(format::GROUPID_LIST),
                    )
                    .optional(
                        "tokens",
                        Schema::string("List of API tokens.").format(format::TOKENID_LIST),
                    )
                    .optional(
                        "propagate",
                        Schema::boolean("Allow to propagate (inherit) permissions.").default(true),
                    )
                    .optional(
                        "delete",
                        Schema::boolean("Remove permissions (instead of adding it)."),
                    )
                    .optional(
                        "digest",
                        Schema::string(
                            "Prevent changes if current configuration file has a different digest.",
                        )
                        .max_length(64),
                    ),
            )
            .returns(Schema::Null)
            .permission(Permission::Custom(
                "Permissions.Modify on the path, or the privileges of every granted role there",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let update = AclUpdate {
                    path: params.req_str("path").to_string(),
                    roles: list(params.str("roles")),
                    users: list(params.str("users")),
                    groups: list(params.str("groups")),
                    tokens: list(params.str("tokens")),
                    propagate: params.bool("propagate"),
                    delete: params.bool_or("delete", false),
                };
                if update.users.is_empty() && update.groups.is_empty() && update.tokens.is_empty() {
                    return Err(ApiError::param(
                        "users",
                        "either 'users', 'groups' or 'tokens' is required",
                    ));
                }
                if let Some(digest) = params.str("digest") {
                    let current = env
                        .state
                        .store
                        .get("user.cfg")
                        .await
                        .map_err(|e| ApiError::internal(e.to_string()))?
                        .map(|e| e.digest)
                        .unwrap_or_default();
                    if current != digest {
                        return Err(ApiError::internal(
                            oxve_store::StoreError::DigestMismatch.to_string(),
                        ));
                    }
                }
                let perms = env.permissions().await?;
                perms
                    .snapshot()
                    .check_acl_update(perms.auth_id(), &update, perms.now())
                    .map_err(auth_error)?;
                env.state
                    .access
                    .update_acl(update)
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
    ]
}
