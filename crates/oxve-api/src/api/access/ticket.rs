//! POST /access/ticket (login and renewal), GET /access/ticket, GET /access/domains,
//! PUT /access/password, GET /access/permissions.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::format;
use oxve_types::schema::Schema;
use serde_json::json;

use super::{auth_error, userid_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/access/ticket", "get_ticket")
            .description("Dummy; lets formatters offer a login page.")
            .returns(Schema::Null)
            .permission(Permission::World)
            .handler(|_env: RpcEnv, _| async { Ok(json!(null)) }),
        ApiMethod::new(HttpMethod::Post, "/access/ticket", "create_ticket")
            .description(
                "Create or verify an authentication ticket. A valid ticket given as password renews it.",
            )
            .parameters(
                Schema::object("")
                    .required("username", Schema::string("User name (may include @realm).").max_length(64))
                    .required("password", Schema::string("The secret password, or a valid ticket."))
                    .optional("realm", Schema::string("Authentication realm; appended to the user name as @realm.").format(format::REALM))
                    .optional("otp", Schema::string("One-time password for two-factor authentication."))
                    .optional("tfa-challenge", Schema::string("The signed TFA challenge from the first login step."))
                    .optional("path", Schema::string("Verify ticket, and check if the user has 'privs' on 'path'.").max_length(64))
                    .optional("privs", Schema::string("Verify ticket, and check if the user has 'privs' on 'path'.").max_length(64))
                    .optional("new-format", Schema::boolean("Ignored; kept for compatibility.").default(true)),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::World)
            .no_token()
            .protected()
            .handler(create_ticket),
        ApiMethod::new(HttpMethod::Get, "/access/domains", "index")
            .description("Authentication domains (realms) index.")
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::World)
            .handler(|env: RpcEnv, _| async move { Ok(json!(env.state.access.domains())) }),
        ApiMethod::new(HttpMethod::Put, "/access/password", "change_password")
            .description("Change user password.")
            .parameters(
                Schema::object("")
                    .required("userid", Schema::string("Full User ID, in the `name@realm` format.").format(format::USERID).max_length(64))
                    .required("password", Schema::string("The new password.").min_length(8).max_length(64))
                    .optional("confirmation-password", Schema::string("The current password of the user performing the change.").max_length(64)),
            )
            .returns(Schema::Null)
            .permission(Permission::Or(vec![
                Permission::UserParamSelf,
                Permission::UserGroup { privs: &["User.Modify"] },
            ]))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let userid = userid_param(params.req_str("userid"))?;
                env.state
                    .access
                    .change_password(&userid, params.req_str("password"))
                    .await
                    .map_err(auth_error)?;
                Ok(json!(null))
            }),
        ApiMethod::new(HttpMethod::Get, "/access/permissions", "permissions")
            .description("Effective permissions of the caller (or of `userid`) per path.")
            .parameters(
                Schema::object("")
                    .optional("userid", Schema::string("User ID or full API token ID.").format(format::AUTHID))
                    .optional("path", Schema::string("Only dump this specific path, not the whole tree.").format(format::ACL_PATH)),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Custom(
                "anybody for themselves and their tokens; Sys.Audit on /access for others",
            ))
            .handler(|env: RpcEnv, params| async move {
                let caller = env.caller()?.clone();
                let target: oxve_auth::Authid = match params.str("userid") {
                    Some(id) => id.parse().map_err(|e: oxve_auth::IdError| ApiError::param("userid", e.to_string()))?,
                    None => caller.clone(),
                };
                let perms = env.permissions().await?;
                // Own rights, or those of one's own tokens, are always visible.
                let own = target.user() == caller.user() && (!caller.is_token() || target == caller);
                if !own && !perms.has_privs("/access", &["Sys.Audit"], false) {
                    return Err(ApiError::permission_check_failed("/access", "Sys.Audit"));
                }
                let map = perms
                    .snapshot()
                    .permissions(&target, params.str("path"), perms.now());
                Ok(json!(map))
            }),
    ]
}

async fn create_ticket(
    env: RpcEnv,
    params: oxve_types::params::Params,
) -> Result<serde_json::Value, ApiError> {
    let access = &env.state.access;
    if params.has("otp") || params.has("tfa-challenge") {
        return Err(ApiError::unauthorized("authentication failure"));
    }
    let client = env
        .client
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let userid = access
        .authenticate(
            params.req_str("username"),
            params.req_str("password"),
            params.str("realm"),
            client,
        )
        .await
        .map_err(|e| match e.http_status() {
            401 => ApiError::unauthorized("authentication failure"),
            _ => auth_error(e),
        })?;

    // Verify-only mode: check `privs` on `path`, hand out no new ticket.
    if let Some(path) = params.str("path") {
        let privs: Vec<&str> = params
            .str("privs")
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.is_empty())
            .collect();
        let authid = oxve_auth::Authid::from(userid.clone());
        if privs.is_empty()
            || !access
                .check(&authid, path, &privs, false)
                .await
                .map_err(auth_error)?
        {
            return Err(ApiError::unauthorized("authentication failure"));
        }
        return Ok(json!({ "username": userid.to_string() }));
    }

    let (ticket, csrf) = access.create_ticket(&userid).await.map_err(auth_error)?;
    let cap = access
        .api_capabilities(&oxve_auth::Authid::from(userid.clone()))
        .await
        .map_err(auth_error)?;
    Ok(json!({
        "username": userid.to_string(),
        "ticket": ticket,
        "CSRFPreventionToken": csrf,
        "cap": cap,
    }))
}
