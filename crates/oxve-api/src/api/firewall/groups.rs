//! Security groups: `/cluster/firewall/groups[/{group}[/{pos}]]`, kept in the datacenter's
//! `cluster.fw` as `[group NAME]` sections. Guests use them through rules of type `group`.

use oxve_net::firewall::{check_group_name, FwConfig, Rule, RuleType, SecurityGroup};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::format::Format;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Value};

use super::guest::{apply_rule_params, pos_of, rule_fields, rule_json};
use super::store::{check_digest, cluster_key, digest_of, load, save, Loaded};
use super::sync_firewall;
use crate::env::RpcEnv;

const AUDIT: Permission = Permission::Privs {
    path: "/",
    privs: &["Sys.Audit"],
    any: false,
};
const MODIFY: Permission = Permission::Privs {
    path: "/",
    privs: &["Sys.Modify"],
    any: false,
};
const GROUP_NAME: Format = Format::Named {
    name: "pve-security-group-name",
    check: check_group_name,
};

fn group_param() -> oxve_types::schema::StringSchema {
    Schema::string("Security Group name.")
        .format(GROUP_NAME)
        .max_length(18)
}

fn with_group() -> ObjectSchema {
    Schema::object("").required("group", group_param())
}

fn digest_param() -> oxve_types::schema::StringSchema {
    Schema::string("Prevent changes if current configuration file has a different digest.")
        .max_length(64)
}

fn group_of<'a>(cfg: &'a mut FwConfig, name: &str) -> Result<&'a mut SecurityGroup, ApiError> {
    cfg.groups
        .iter_mut()
        .find(|g| g.name == name)
        .ok_or_else(|| ApiError::param("group", format!("no such security group '{name}'")))
}

/// Save cluster.fw and apply; on failure the previous file and rules come back.
async fn commit(env: &RpcEnv, loaded: &Loaded, cfg: &FwConfig) -> Result<(), ApiError> {
    let store = env.state.store.as_ref();
    save(store, &cluster_key(), loaded, cfg).await?;
    if let Err(e) = sync_firewall(&env.state).await {
        if let Ok(now) = load(store, &cluster_key()).await {
            let _ = save(store, &cluster_key(), &now, &loaded.config).await;
        }
        let _ = sync_firewall(&env.state).await;
        return Err(ApiError::internal(format!(
            "applying the firewall failed: {e}"
        )));
    }
    Ok(())
}

/// Change the datacenter file under the firewall lock.
async fn change<F>(env: &RpcEnv, params: &Params, f: F) -> Result<Value, ApiError>
where
    F: FnOnce(&mut FwConfig) -> Result<(), ApiError>,
{
    let _guard = env.state.network.firewall_lock().await;
    let loaded = load(env.state.store.as_ref(), &cluster_key()).await?;
    check_digest(&loaded, params.str("digest"))?;
    let mut cfg = loaded.config.clone();
    f(&mut cfg)?;
    commit(env, &loaded, &cfg).await?;
    Ok(Value::Null)
}

/// Guests whose firewall rules use security group `name`.
async fn group_users(env: &RpcEnv, name: &str) -> Result<Vec<String>, ApiError> {
    let entries = env
        .state
        .store
        .list("firewall/")
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut users = Vec::new();
    for e in entries {
        let Some(vmid) = e
            .key
            .strip_prefix("firewall/")
            .and_then(|k| k.strip_suffix(".fw"))
        else {
            continue;
        };
        if vmid == "cluster" {
            continue;
        }
        let uses = FwConfig::parse(&e.text)
            .map(|c| {
                c.rules
                    .iter()
                    .any(|r| r.rule_type == Some(RuleType::Group) && r.action == name)
            })
            .unwrap_or(false);
        if uses {
            users.push(vmid.to_string());
        }
    }
    Ok(users)
}

fn group_rule(params: &Params, rule: &mut Rule, cluster: &FwConfig) -> Result<(), ApiError> {
    apply_rule_params(rule, params, false)?;
    super::guest::check_refs(cluster, rule)?;
    if rule.rule_type == Some(RuleType::Group) {
        return Err(ApiError::param(
            "type",
            "security groups cannot contain group rules",
        ));
    }
    Ok(())
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(
            HttpMethod::Get,
            "/cluster/firewall/groups",
            "list_security_groups",
        )
        .description("List security groups.")
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(Permission::Anybody)
        .handler(|env: RpcEnv, _| async move {
            let loaded = load(env.state.store.as_ref(), &cluster_key()).await?;
            let digest = digest_of(&loaded);
            let list: Vec<Value> = loaded
                .config
                .groups
                .iter()
                .map(|g| {
                    let mut v = json!({ "group": g.name, "digest": digest });
                    if let Some(c) = &g.comment {
                        v["comment"] = json!(c);
                    }
                    v
                })
                .collect();
            Ok(json!(list))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/cluster/firewall/groups",
            "create_security_group",
        )
        .description("Create new security group (or rename one with 'rename').")
        .parameters(
            with_group()
                .optional("comment", Schema::string("Comment.").max_length(4096))
                .optional("rename", group_param())
                .optional("digest", digest_param()),
        )
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let name = params.req_str("group").to_string();
            let comment = params.str("comment").map(str::to_string);
            let rename = params.str("rename").map(str::to_string);
            change(&env, &params, |cfg| {
                match rename {
                    // Proxmox: `rename` is the existing group, `group` its new name
                    Some(old) => {
                        if cfg.group(&name).is_some() {
                            return Err(ApiError::param(
                                "group",
                                format!("security group '{name}' already exists"),
                            ));
                        }
                        let g = group_of(cfg, &old).map_err(|_| {
                            ApiError::param("rename", format!("no such security group '{old}'"))
                        })?;
                        g.name = name;
                        if comment.is_some() {
                            g.comment = comment;
                        }
                    }
                    None => {
                        if cfg.group(&name).is_some() {
                            return Err(ApiError::param(
                                "group",
                                format!("security group '{name}' already exists"),
                            ));
                        }
                        cfg.groups.push(SecurityGroup {
                            name,
                            comment,
                            rules: Vec::new(),
                        });
                    }
                }
                Ok(())
            })
            .await
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/cluster/firewall/groups/{group}",
            "get_rules",
        )
        .description("List rules of a security group.")
        .parameters(with_group())
        .returns(Schema::array(
            "",
            Schema::object("").additional_properties(true),
        ))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            let mut loaded = load(env.state.store.as_ref(), &cluster_key()).await?;
            let digest = digest_of(&loaded);
            let g = group_of(&mut loaded.config, params.req_str("group"))?;
            Ok(json!(g
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| rule_json(r, i, &digest))
                .collect::<Vec<_>>()))
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/cluster/firewall/groups/{group}",
            "create_rule",
        )
        .description("Create new rule in a security group.")
        .parameters(rule_fields(with_group(), true))
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let name = params.req_str("group").to_string();
            let pos = params.int("pos").unwrap_or(0).max(0) as usize;
            let p = params.clone();
            change(&env, &params, move |cfg| {
                let mut rule = Rule::default();
                group_rule(&p, &mut rule, cfg)?;
                let g = group_of(cfg, &name)?;
                let pos = pos.min(g.rules.len());
                g.rules.insert(pos, rule);
                Ok(())
            })
            .await
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/cluster/firewall/groups/{group}",
            "delete_security_group",
        )
        .description("Delete security group (it must be empty and unused).")
        .parameters(with_group())
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let name = params.req_str("group").to_string();
            let users = group_users(&env, &name).await?;
            if !users.is_empty() {
                return Err(ApiError::param(
                    "group",
                    format!(
                        "security group '{name}' is used by guest(s) {}",
                        users.join(", ")
                    ),
                ));
            }
            change(&env, &params, |cfg| {
                let g = group_of(cfg, &name)?;
                if !g.rules.is_empty() {
                    return Err(ApiError::param(
                        "group",
                        format!("security group '{name}' is not empty"),
                    ));
                }
                if cfg
                    .rules
                    .iter()
                    .any(|r| r.rule_type == Some(RuleType::Group) && r.action == name)
                {
                    return Err(ApiError::param(
                        "group",
                        format!("security group '{name}' is in use"),
                    ));
                }
                cfg.groups.retain(|g| g.name != name);
                Ok(())
            })
            .await
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/cluster/firewall/groups/{group}/{pos}",
            "get_rule",
        )
        .description("Get single rule data.")
        .parameters(with_group().optional("pos", Schema::integer("Rule position.").minimum(0)))
        .returns(Schema::object("").additional_properties(true))
        .permission(AUDIT)
        .handler(|env: RpcEnv, params| async move {
            let mut loaded = load(env.state.store.as_ref(), &cluster_key()).await?;
            let digest = digest_of(&loaded);
            let g = group_of(&mut loaded.config, params.req_str("group"))?;
            let pos = pos_of(&params, g.rules.len())?;
            Ok(rule_json(&g.rules[pos], pos, &digest))
        }),
        ApiMethod::new(
            HttpMethod::Put,
            "/cluster/firewall/groups/{group}/{pos}",
            "update_rule",
        )
        .description("Modify rule data.")
        .parameters(rule_fields(with_group(), false))
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let name = params.req_str("group").to_string();
            let p = params.clone();
            change(&env, &params, move |cfg| {
                let snapshot = cfg.clone();
                let g = group_of(cfg, &name)?;
                let pos = pos_of(&p, g.rules.len())?;
                if let Some(to) = p.int("moveto") {
                    let rule = g.rules.remove(pos);
                    let to = (to.max(0) as usize).min(g.rules.len());
                    g.rules.insert(to, rule);
                } else {
                    let mut rule = g.rules[pos].clone();
                    group_rule(&p, &mut rule, &snapshot)?;
                    g.rules[pos] = rule;
                }
                Ok(())
            })
            .await
        }),
        ApiMethod::new(
            HttpMethod::Delete,
            "/cluster/firewall/groups/{group}/{pos}",
            "delete_rule",
        )
        .description("Delete rule.")
        .parameters(
            with_group()
                .optional("pos", Schema::integer("Rule position.").minimum(0))
                .optional("digest", digest_param()),
        )
        .returns(Schema::Null)
        .permission(MODIFY)
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let name = params.req_str("group").to_string();
            let p = params.clone();
            change(&env, &params, move |cfg| {
                let g = group_of(cfg, &name)?;
                let pos = pos_of(&p, g.rules.len())?;
                g.rules.remove(pos);
                Ok(())
            })
            .await
        }),
    ]
}
