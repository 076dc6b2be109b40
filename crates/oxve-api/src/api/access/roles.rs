//! /access/roles: built-in and custom roles.

use oxve_router::{ApiMethod, HttpMethod, Permission};
use oxve_types::format;
use oxve_types::schema::Schema;
use serde_json::json;

use super::auth_error;
use crate::env::RpcEnv;

fn roleid_schema() -> oxve_types::schema::StringSchema {
    Schema::string("The role ID.")
        .format(format::ROLEID)
        .max_length(64)
}

fn privs_schema() -> oxve_types::schema::StringSchema {
    Schema::string("Comma-separated privilege names.").max_length(4096)
}

fn privs_list(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| format::split_list(v).map(str::to_string).collect())
        .unwrap_or_default()
}

const MODIFY_ACCESS: Permission = Permission::Privs {
    path: "/access",
    privs: &["Sys.Modify"],
    any: false,
};

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/access/roles", "index")
            .description("Role index.")
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(Permission::Anybody)
            .handler(|env: RpcEnv, _| async move {
                Ok(json!(env
                    .state
                    .access
                    .list_roles()
                    .await
                    .map_err(auth_error)?))
            }),
        ApiMethod::new(HttpMethod::Post, "/access/roles", "create_role")
            .description("Create new role.")
            .parameters(
                Schema::object("")
                    .required("roleid", roleid_schema())
                    .optional("privs", privs_schema()),
            )
            .returns(Schema::Null)
            .permission(MODIFY_ACCESS)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                env.state
                    .access
                    .create_role(params.req_str("roleid"), privs_list(params.str("privs")))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Get, "/access/roles/{roleid}", "read_role")
            .description("Get role configuration: its privileges.")
            .parameters(Schema::object("").required("roleid", roleid_schema()))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Anybody)
            .handler(|env: RpcEnv, params| async move {
                let privs = env
                    .state
                    .access
                    .get_role(params.req_str("roleid"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(privs))
            }),
        ApiMethod::new(HttpMethod::Put, "/access/roles/{roleid}", "update_role")
            .description("Update an existing role.")
            .parameters(
                Schema::object("")
                    .required("roleid", roleid_schema())
                    .optional("privs", privs_schema())
                    .optional(
                        "append",
                        Schema::boolean("Add the privileges instead of replacing them."),
                    ),
            )
            .returns(Schema::Null)
            .permission(MODIFY_ACCESS)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                env.state
                    .access
                    .update_role(
                        params.req_str("roleid"),
                        privs_list(params.str("privs")),
                        params.bool_or("append", false),
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Delete, "/access/roles/{roleid}", "delete_role")
            .description("Delete role.")
            .parameters(Schema::object("").required("roleid", roleid_schema()))
            .returns(Schema::Null)
            .permission(MODIFY_ACCESS)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                env.state
                    .access
                    .delete_role(params.req_str("roleid"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
    ]
}
