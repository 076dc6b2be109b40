//! /cluster/firewall/options: the datacenter firewall switch and default policies.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Map, Value};

use super::store::{check_digest, cluster_key, digest_of, load, save};
use super::sync_firewall;
use crate::env::RpcEnv;

const POLICIES: &[&str] = &["ACCEPT", "REJECT", "DROP"];

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/cluster/firewall/options", "get_options")
            .description("Get Firewall options.")
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Privs {
                path: "/",
                privs: &["Sys.Audit"],
                any: false,
            })
            .handler(|env: RpcEnv, _| async move {
                let loaded = load(env.state.store.as_ref(), &cluster_key()).await?;
                let mut out = Map::new();
                for (k, v) in &loaded.config.options {
                    let value = match k.as_str() {
                        "enable" => json!(v.parse::<i64>().unwrap_or(0)),
                        "ebtables" => json!(u8::from(v == "1")),
                        _ => json!(v),
                    };
                    out.insert(k.clone(), value);
                }
                out.insert("digest".into(), json!(digest_of(&loaded)));
                Ok(Value::Object(out))
            }),
        ApiMethod::new(HttpMethod::Put, "/cluster/firewall/options", "set_options")
            .description("Set Firewall options.")
            .parameters(
                Schema::object("")
                    .optional(
                        "enable",
                        Schema::integer("Enable or disable the firewall cluster wide.").minimum(0),
                    )
                    .optional(
                        "policy_in",
                        Schema::string("Input policy.").enum_values(POLICIES),
                    )
                    .optional(
                        "policy_out",
                        Schema::string("Output policy.").enum_values(POLICIES),
                    )
                    .optional(
                        "policy_forward",
                        Schema::string("Forward policy.").enum_values(&["ACCEPT", "DROP"]),
                    )
                    .optional(
                        "ebtables",
                        Schema::boolean("Enable ebtables rules cluster wide."),
                    )
                    .optional(
                        "log_ratelimit",
                        Schema::string("Log ratelimiting settings").max_length(128),
                    )
                    .optional(
                        "delete",
                        Schema::string("A list of settings you want to delete.").max_length(4096),
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
            .permission(Permission::Privs {
                path: "/",
                privs: &["Sys.Modify"],
                any: false,
            })
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let _guard = env.state.network.firewall_lock().await;
                let store = env.state.store.as_ref();
                let loaded = load(store, &cluster_key()).await?;
                check_digest(&loaded, params.str("digest"))?;
                let mut cfg = loaded.config.clone();
                for key in oxve_types::format::split_list(params.str("delete").unwrap_or_default())
                {
                    cfg.options.remove(key);
                }
                for key in [
                    "enable",
                    "policy_in",
                    "policy_out",
                    "policy_forward",
                    "ebtables",
                    "log_ratelimit",
                ] {
                    if let Some(v) = params.get(key) {
                        let text = match v {
                            Value::Bool(b) => u8::from(*b).to_string(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        cfg.options.insert(key.into(), text);
                    }
                }
                save(store, &cluster_key(), &loaded, &cfg).await?;
                if let Err(e) = sync_firewall(&env.state).await {
                    // put the previous file back and its rules with it
                    if let Ok(now) = load(store, &cluster_key()).await {
                        let _ = save(store, &cluster_key(), &now, &loaded.config).await;
                    }
                    let _ = sync_firewall(&env.state).await;
                    return Err(ApiError::internal(format!(
                        "applying the firewall failed: {e}"
                    )));
                }
                Ok(Value::Null)
            }),
    ]
}
