//! /access/users/{userid}/token: API tokens of a user.

use oxve_auth::{TokenName, TokenOptions, TokenUpdate};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::format;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::json;

use super::users::userid_schema;
use super::{auth_error, userid_param};
use crate::env::RpcEnv;

fn tokenid_schema() -> oxve_types::schema::StringSchema {
    Schema::string("User-specific token identifier.")
        .pattern("[A-Za-z][A-Za-z0-9.\\-_]+")
        .max_length(64)
}

fn token_name(value: &str) -> Result<TokenName, ApiError> {
    value
        .parse::<TokenName>()
        .map_err(|e| ApiError::param("tokenid", e.to_string()))
}

fn owner_or_user_modify() -> Permission {
    Permission::Or(vec![
        Permission::UserParamSelf,
        Permission::UserGroup {
            privs: &["User.Modify"],
        },
    ])
}

fn token_options(schema: ObjectSchema) -> ObjectSchema {
    schema
        .optional("comment", Schema::string("Comment.").max_length(2048))
        .optional("expire", Schema::integer("API token expiration date (seconds since epoch). '0' means no expiration date.").minimum(0))
        .optional("privsep", Schema::boolean("Restrict API token privileges with separate ACLs (default), or give full privileges of corresponding user.").default(true))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let user_token = || {
        Schema::object("")
            .required("userid", userid_schema())
            .required("tokenid", tokenid_schema())
    };
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/access/users/{userid}/token",
            "token_index",
        )
        .description("Get user API tokens.")
        .parameters(Schema::object("").required("userid", userid_schema()))
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(owner_or_user_modify())
        .handler(|env: RpcEnv, params| async move {
            let userid = userid_param(params.req_str("userid"))?;
            let list = env
                .state
                .access
                .list_tokens(&userid)
                .await
                .map_err(auth_error)?;
            Ok(json!(list))
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/access/users/{userid}/token/{tokenid}",
            "read_token",
        )
        .description("Get specific API token information.")
        .parameters(user_token())
        .returns(Schema::object("").additional_properties(true))
        .permission(owner_or_user_modify())
        .handler(|env: RpcEnv, params| async move {
            let userid = userid_param(params.req_str("userid"))?;
            let name = token_name(params.req_str("tokenid"))?;
            let info = env
                .state
                .access
                .get_token(&userid, &name)
                .await
                .map_err(auth_error)?;
            Ok(json!(info))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/access/users/{userid}/token/{tokenid}",
            "generate_token",
        )
        .description("Generate a new API token for a specific user. The secret is shown only once.")
        .parameters(token_options(user_token()))
        .returns(Schema::object("").additional_properties(true))
        .permission(owner_or_user_modify())
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let userid = userid_param(params.req_str("userid"))?;
            let name = token_name(params.req_str("tokenid"))?;
            let opts = TokenOptions {
                expire: params.int("expire"),
                privsep: params.bool("privsep"),
                comment: params.str("comment").map(str::to_string),
            };
            let created = env
                .state
                .access
                .create_token(&userid, &name, opts)
                .await
                .map_err(auth_error)?;
            Ok(json!(created))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/access/users/{userid}/token/{tokenid}",
            "update_token_info",
        )
        .description("Update API token for a specific user.")
        .parameters(
            token_options(user_token()).optional(
                "delete",
                Schema::string("A list of settings you want to delete (comment, expire, privsep).")
                    .format(format::Format::List {
                        name: "pve-configid-list",
                        check: format::check_config_id,
                    }),
            ),
        )
        .returns(Schema::object("").additional_properties(true))
        .permission(owner_or_user_modify())
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let userid = userid_param(params.req_str("userid"))?;
            let name = token_name(params.req_str("tokenid"))?;
            let update = TokenUpdate {
                expire: params.int("expire"),
                privsep: params.bool("privsep"),
                comment: params.str("comment").map(str::to_string),
                delete: params
                    .str("delete")
                    .map(|d| format::split_list(d).map(str::to_string).collect())
                    .unwrap_or_default(),
            };
            let info = env
                .state
                .access
                .update_token(&userid, &name, update)
                .await
                .map_err(auth_error)?;
            Ok(json!(info))
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/access/users/{userid}/token/{tokenid}",
            "remove_token",
        )
        .description("Remove API token for a specific user.")
        .parameters(user_token())
        .returns(Schema::Null)
        .permission(owner_or_user_modify())
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let userid = userid_param(params.req_str("userid"))?;
            let name = token_name(params.req_str("tokenid"))?;
            env.state
                .access
                .delete_token(&userid, &name)
                .await
                .map_err(auth_error)?;
            Ok(json!(null))
        }),
    ]
}
