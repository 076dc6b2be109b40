//! /nodes/{node}/firewall/options: the node's host firewall switch (its rules are in
//! `guest.rs` with the other rule lists; the datacenter options are in `cluster.rs`).

use oxve_net::firewall::rule::LOG_LEVELS;
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Map, Value};

use super::store::{check_digest, digest_of, load, node_key, save};
use super::sync_firewall;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

const FLAGS: &[&str] = &["enable", "ndp", "nosmurfs", "tcpflags", "nftables"];

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/firewall/options",
            "get_options",
        )
        .description("Get host firewall options.")
        .parameters(Schema::object("").required("node", node_param()))
        .returns(Schema::object("").additional_properties(true))
        .permission(Permission::Privs {
            path: "/nodes/{node}",
            privs: &["Sys.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let loaded = load(env.state.store.as_ref(), &node_key(&env.state.node)).await?;
            let mut out = Map::new();
            for (k, v) in &loaded.config.options {
                let value = if FLAGS.contains(&k.as_str()) {
                    json!(u8::from(loaded.config.flag(k)))
                } else {
                    json!(v)
                };
                out.insert(k.clone(), value);
            }
            out.insert("digest".into(), json!(digest_of(&loaded)));
            Ok(Value::Object(out))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/nodes/{node}/firewall/options",
            "set_options",
        )
        .description("Set Firewall options.")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .optional("enable", Schema::boolean("Enable host firewall rules."))
                .optional(
                    "ndp",
                    Schema::boolean("Enable NDP (Neighbor Discovery Protocol)."),
                )
                .optional("nosmurfs", Schema::boolean("Enable SMURFS filter."))
                .optional(
                    "tcpflags",
                    Schema::boolean("Filter illegal combinations of TCP flags."),
                )
                .optional(
                    "nftables",
                    Schema::boolean("Enable nftables based firewall."),
                )
                .optional(
                    "nf_conntrack_max",
                    Schema::integer("Maximum number of tracked connections.").minimum(32768),
                )
                .optional(
                    "log_level_in",
                    Schema::string("Log level for incoming traffic.").enum_values(LOG_LEVELS),
                )
                .optional(
                    "log_level_out",
                    Schema::string("Log level for outgoing traffic.").enum_values(LOG_LEVELS),
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
            path: "/nodes/{node}",
            privs: &["Sys.Modify"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let _guard = env.state.network.firewall_lock().await;
            let store = env.state.store.as_ref();
            let key = node_key(&env.state.node);
            let loaded = load(store, &key).await?;
            check_digest(&loaded, params.str("digest"))?;
            let mut cfg = loaded.config.clone();
            for k in oxve_types::format::split_list(params.str("delete").unwrap_or_default()) {
                cfg.options.remove(k);
            }
            for k in [
                "enable",
                "ndp",
                "nosmurfs",
                "tcpflags",
                "nftables",
                "nf_conntrack_max",
                "log_level_in",
                "log_level_out",
            ] {
                if let Some(v) = params.get(k) {
                    let text = match v {
                        Value::Bool(b) => u8::from(*b).to_string(),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    cfg.options.insert(k.into(), text);
                }
            }
            save(store, &key, &loaded, &cfg).await?;
            if let Err(e) = sync_firewall(&env.state).await {
                if let Ok(now) = load(store, &key).await {
                    let _ = save(store, &key, &now, &loaded.config).await;
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
