//! /access/users: list, create, read, update, delete.

use oxve_auth::{UserCreate, UserUpdate};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::format;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::json;

use super::{auth_error, userid_param};
use crate::env::RpcEnv;

pub fn userid_schema() -> oxve_types::schema::StringSchema {
    Schema::string("Full User ID, in the `name@realm` format.")
        .format(format::USERID)
        .max_length(64)
}

/// Properties shared by create and update.
fn user_properties(schema: ObjectSchema) -> ObjectSchema {
    schema
        .optional(
            "enable",
            Schema::boolean(
                "Enable the account (default). You can set this to '0' to disable the account",
            )
            .default(true),
        )
        .optional(
            "expire",
            Schema::integer(
                "Account expiration date (seconds since epoch). '0' means no expiration date.",
            )
            .minimum(0),
        )
        .optional("firstname", Schema::string("First name.").max_length(1024))
        .optional("lastname", Schema::string("Last name.").max_length(1024))
        .optional(
            "email",
            Schema::string("E-mail address.")
                .format(format::EMAIL)
                .max_length(254),
        )
        .optional("comment", Schema::string("Comment.").max_length(2048))
        .optional(
            "keys",
            Schema::string("Keys for two factor auth (yubico).").max_length(1024),
        )
        .optional(
            "groups",
            Schema::string("Groups the user is a member of.").format(format::GROUPID_LIST),
        )
}

fn groups_of(params: &Params) -> Option<Vec<String>> {
    params.str("groups").map(|g| {
        format::split_list(g)
            .map(str::to_string)
            .collect::<Vec<_>>()
    })
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/access/users", "index")
            .description("User index: the users the caller may see.")
            .parameters(
                Schema::object("")
                    .optional("enabled", Schema::boolean("Optional filter for enable property."))
                    .optional("full", Schema::boolean("Include group and token information.").default(false)),
            )
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Custom(
                "the caller itself; all users with User.Modify or Sys.Audit on /access/groups (or their group)",
            ))
            .handler(|env: RpcEnv, params| async move {
                let perms = env.permissions().await?;
                let caller = perms.auth_id().clone();
                let users = env
                    .state
                    .access
                    .list_users(params.bool_or("full", false), params.bool("enabled"))
                    .await
                    .map_err(auth_error)?;
                let see_all = perms.has_privs("/access/groups", &["User.Modify", "Sys.Audit"], true);
                let visible: Vec<_> = users
                    .into_iter()
                    .filter(|u| {
                        see_all
                            || u.userid == *caller.user()
                            || perms.has_user_group_privs(u.userid.as_str(), &["User.Modify", "Sys.Audit"])
                    })
                    .collect();
                Ok(json!(visible))
            }),
        ApiMethod::new(HttpMethod::Post, "/access/users", "create_user")
            .description("Create new user.")
            .parameters(user_properties(
                Schema::object("")
                    .required("userid", userid_schema())
                    .optional("password", Schema::string("Initial password.").min_length(8).max_length(64)),
            ))
            .returns(Schema::Null)
            .permission(Permission::Custom(
                "User.Modify on /access/groups (or on every given group) and Realm.AllocateUser on the user's realm",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let userid = userid_param(params.req_str("userid"))?;
                let groups = groups_of(&params).unwrap_or_default();
                let perms = env.permissions().await?;
                let snap = perms.snapshot();
                let caller = perms.auth_id();
                if !snap.check_realm_allocate(caller, &userid, perms.now()) {
                    return Err(ApiError::permission_check_failed(
                        &format!("/access/realm/{}", userid.realm()),
                        "Realm.AllocateUser",
                    ));
                }
                if !snap.check_userid_group(caller, &userid, &["User.Modify"], Some(&groups), true, perms.now()) {
                    return Err(ApiError::permission_check_failed("/access/groups", "User.Modify"));
                }
                let create = UserCreate {
                    password: params.str("password").map(str::to_string),
                    enable: params.bool("enable"),
                    expire: params.int("expire"),
                    firstname: params.str("firstname").map(str::to_string),
                    lastname: params.str("lastname").map(str::to_string),
                    email: params.str("email").map(str::to_string),
                    comment: params.str("comment").map(str::to_string),
                    keys: params.str("keys").map(str::to_string),
                    groups,
                    ..UserCreate::new(userid)
                };
                env.state.access.create_user(create).await.map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Get, "/access/users/{userid}", "read_user")
            .description("Get user configuration.")
            .parameters(Schema::object("").required("userid", userid_schema()))
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Or(vec![
                Permission::UserParamSelf,
                Permission::UserGroup { privs: &["User.Modify", "Sys.Audit"] },
            ]))
            .handler(|env: RpcEnv, params| async move {
                let userid = userid_param(params.req_str("userid"))?;
                let info = env.state.access.get_user(&userid).await.map_err(auth_error)?;
                Ok(json!(info))
            }),
        ApiMethod::new(HttpMethod::Put, "/access/users/{userid}", "update_user")
            .description("Update user configuration.")
            .parameters(user_properties(
                Schema::object("")
                    .required("userid", userid_schema())
                    .optional("append", Schema::boolean("Add the given groups instead of replacing the list.")),
            ))
            .returns(Schema::Null)
            .permission(Permission::UserGroup { privs: &["User.Modify"] })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let userid = userid_param(params.req_str("userid"))?;
                let groups = groups_of(&params);
                if let Some(groups) = &groups {
                    let perms = env.permissions().await?;
                    if !perms.snapshot().check_userid_group(perms.auth_id(), &userid, &["User.Modify"], Some(groups), false, perms.now()) {
                        return Err(ApiError::permission_check_failed("/access/groups", "User.Modify"));
                    }
                }
                let update = UserUpdate {
                    enable: params.bool("enable"),
                    expire: params.int("expire"),
                    firstname: params.str("firstname").map(str::to_string),
                    lastname: params.str("lastname").map(str::to_string),
                    email: params.str("email").map(str::to_string),
                    comment: params.str("comment").map(str::to_string),
                    keys: params.str("keys").map(str::to_string),
                    groups,
                    append: params.bool_or("append", false),
                };
                env.state
                    .access
                    .update_user(&userid, update)
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Delete, "/access/users/{userid}", "delete_user")
            .description("Delete user, with its tokens, ACL entries and group memberships.")
            .parameters(Schema::object("").required("userid", userid_schema()))
            .returns(Schema::Null)
            .permission(Permission::UserGroup { privs: &["User.Modify"] })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let userid = userid_param(params.req_str("userid"))?;
                let perms = env.permissions().await?;
                if !perms.snapshot().check_realm_allocate(perms.auth_id(), &userid, perms.now()) {
                    return Err(ApiError::permission_check_failed(
                        &format!("/access/realm/{}", userid.realm()),
                        "Realm.AllocateUser",
                    ));
                }
                env.state.access.delete_user(&userid).await.map_err(auth_error)?;
                Ok(json!(null))
            }),
    ]
}
