//! /access/groups: list, create, read, update, delete.

use oxve_router::{ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::format;
use oxve_types::schema::Schema;
use serde_json::json;

use super::auth_error;
use crate::env::RpcEnv;

fn groupid_schema() -> oxve_types::schema::StringSchema {
    Schema::string("The group ID.")
        .format(format::GROUPID)
        .max_length(64)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/access/groups", "index")
            .description("Group index: the groups the caller may see.")
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Custom(
                "groups on which the caller has Sys.Audit, Group.Allocate or User.Modify",
            ))
            .handler(|env: RpcEnv, _| async move {
                let perms = env.permissions().await?;
                let groups = env.state.access.list_groups().await.map_err(auth_error)?;
                let visible: Vec<_> = groups
                    .into_iter()
                    .filter(|g| {
                        perms.has_privs(
                            &format!("/access/groups/{}", g.groupid),
                            &["Sys.Audit", "Group.Allocate", "User.Modify"],
                            true,
                        )
                    })
                    .collect();
                Ok(json!(visible))
            }),
        ApiMethod::new(HttpMethod::Post, "/access/groups", "create_group")
            .description("Create new group.")
            .parameters(
                Schema::object("")
                    .required("groupid", groupid_schema())
                    .optional("comment", Schema::string("Comment.").max_length(2048)),
            )
            .returns(Schema::Null)
            .permission(Permission::Privs {
                path: "/access/groups",
                privs: &["Group.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                env.state
                    .access
                    .create_group(params.req_str("groupid"), params.str("comment"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Get, "/access/groups/{groupid}", "read_group")
            .description("Get group configuration.")
            .parameters(Schema::object("").required("groupid", groupid_schema()))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/access/groups/{groupid}",
                privs: &["Sys.Audit", "Group.Allocate"],
                any: true,
            })
            .handler(|env: RpcEnv, params| async move {
                let info = env
                    .state
                    .access
                    .get_group(params.req_str("groupid"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(info))
            }),
        ApiMethod::new(HttpMethod::Put, "/access/groups/{groupid}", "update_group")
            .description("Update group data.")
            .parameters(
                Schema::object("")
                    .required("groupid", groupid_schema())
                    .optional("comment", Schema::string("Comment.").max_length(2048)),
            )
            .returns(Schema::Null)
            .permission(Permission::Privs {
                path: "/access/groups/{groupid}",
                privs: &["Group.Allocate"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                env.state
                    .access
                    .update_group(params.req_str("groupid"), params.str("comment"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/access/groups/{groupid}",
            "delete_group",
        )
        .description("Delete group.")
        .parameters(Schema::object("").required("groupid", groupid_schema()))
        .returns(Schema::Null)
        .permission(Permission::Privs {
            path: "/access/groups/{groupid}",
            privs: &["Group.Allocate"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            env.state
                .access
                .delete_group(params.req_str("groupid"))
                .await
                .map_err(auth_error)?;
            Ok(json!(null))
        }),
    ]
}
