//! Aliases (`.../firewall/aliases[/{name}]`) and IP sets (`.../firewall/ipset[/{name}[/{cidr}]]`)
//! of the datacenter (kept in `cluster.fw`) and of each guest (in its own `.fw`, Proxmox's
//! guest-level sets and aliases, which its rules see before the datacenter's; its
//! `ipfilter-netN` sets are what the IP filter allows); rules use them in `source`/`dest` as
//! `name` and `+name`.

use oxve_net::firewall::rule::AddrRef;
use oxve_net::firewall::{Alias, FwConfig, IpSet, IpSetEntry};
use oxve_router::{ApiError, ApiMethod, HttpMethod};
use oxve_types::format::Format;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema, StringSchema};
use serde_json::{json, Value};

use super::scopes::{scope_key, Scope, CLUSTER, LXC, QEMU};
use super::store::{check_digest, digest_of, load, save};
use super::sync_firewall;
use crate::env::RpcEnv;

fn check_name(v: &str) -> Result<(), String> {
    let mut c = v.chars();
    let ok = c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && v.len() >= 2
        && c.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid name '{v}'"))
    }
}

fn check_cidr(v: &str) -> Result<(), String> {
    if !v.contains('-') && oxve_net::firewall::rule::addr_family(v).is_some() {
        Ok(())
    } else {
        Err(format!(
            "value '{v}' does not look like a valid IP address or network"
        ))
    }
}

const NAME: Format = Format::Named {
    name: "pve-fw-alias",
    check: check_name,
};
const CIDR: Format = Format::Named {
    name: "IPorCIDR",
    check: check_cidr,
};

fn name_param(desc: &'static str) -> StringSchema {
    Schema::string(desc).format(NAME).max_length(64)
}

fn cidr_param() -> StringSchema {
    Schema::string("Network/IP specification in CIDR format.")
        .format(CIDR)
        .max_length(64)
}

fn digest_param() -> StringSchema {
    Schema::string("Prevent changes if current configuration file has a different digest.")
        .max_length(64)
}

fn alias_json(a: &Alias, digest: &str) -> Value {
    let version = match oxve_net::firewall::rule::spec_family(&a.cidr) {
        Some(oxve_net::firewall::rule::Family::V6) => 6,
        _ => 4,
    };
    let mut v = json!({ "name": a.name, "cidr": a.cidr, "digest": digest, "ipversion": version });
    if let Some(c) = &a.comment {
        v["comment"] = json!(c);
    }
    v
}

fn entry_json(e: &IpSetEntry, digest: &str) -> Value {
    let mut v = json!({ "cidr": e.cidr, "digest": digest });
    if e.nomatch {
        v["nomatch"] = json!(1);
    }
    if let Some(c) = &e.comment {
        v["comment"] = json!(c);
    }
    v
}

/// Whether any rule of any `.fw` file names `what`.
async fn in_use(env: &RpcEnv, what: &AddrRef) -> Result<Vec<String>, ApiError> {
    let entries = env
        .state
        .store
        .list("firewall/")
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut users = Vec::new();
    for e in entries {
        let Ok(cfg) = FwConfig::parse(&e.text) else {
            continue;
        };
        let rules = cfg
            .rules
            .iter()
            .chain(cfg.groups.iter().flat_map(|g| g.rules.iter()));
        let uses = rules.into_iter().any(|r| {
            r.refs().iter().any(|(_, x)| match (x, what) {
                (AddrRef::Alias(a), AddrRef::Alias(b)) => a.eq_ignore_ascii_case(b),
                (x, what) => x == what,
            })
        });
        if uses {
            users.push(
                e.key
                    .trim_start_matches("firewall/")
                    .trim_end_matches(".fw")
                    .to_string(),
            );
        }
    }
    Ok(users)
}

/// Change the `.fw` file `key` under the firewall lock and apply; the previous file comes
/// back if the apply fails.
async fn change<F>(env: &RpcEnv, key: &str, params: &Params, f: F) -> Result<Value, ApiError>
where
    F: FnOnce(&mut FwConfig) -> Result<(), ApiError>,
{
    let _guard = env.state.network.firewall_lock().await;
    let store = env.state.store.as_ref();
    let loaded = load(store, key).await?;
    check_digest(&loaded, params.str("digest"))?;
    let mut cfg = loaded.config.clone();
    f(&mut cfg)?;
    save(store, key, &loaded, &cfg).await?;
    if let Err(e) = sync_firewall(&env.state).await {
        if let Ok(now) = load(store, key).await {
            let _ = save(store, key, &now, &loaded.config).await;
        }
        let _ = sync_firewall(&env.state).await;
        return Err(ApiError::internal(format!(
            "applying the firewall failed: {e}"
        )));
    }
    Ok(Value::Null)
}

fn alias_of<'a>(cfg: &'a mut FwConfig, name: &str) -> Result<&'a mut Alias, ApiError> {
    cfg.aliases
        .iter_mut()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| ApiError::param("name", format!("no such alias '{name}'")))
}

fn ipset_of<'a>(cfg: &'a mut FwConfig, name: &str) -> Result<&'a mut IpSet, ApiError> {
    cfg.ipsets
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::param("name", format!("no such IP set '{name}'")))
}

fn named(s: &Scope, desc: &'static str) -> ObjectSchema {
    (s.base)().required("name", name_param(desc))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    [&CLUSTER, &QEMU, &LXC]
        .into_iter()
        .flat_map(scoped_methods)
        .collect()
}

fn scoped_methods(s: &'static Scope) -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, s.aliases, "get_aliases")
            .description("List aliases.")
            .parameters((s.base)())
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(s.audit.clone())
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                let d = digest_of(&loaded);
                Ok(json!(loaded
                    .config
                    .aliases
                    .iter()
                    .map(|a| alias_json(a, &d))
                    .collect::<Vec<_>>()))
            }),
        ApiMethod::new(HttpMethod::Post, s.aliases, "create_alias")
            .description("Create IP or Network Alias.")
            .parameters(
                named(s, "Alias name.")
                    .required("cidr", cidr_param())
                    .optional("comment", Schema::string("Comment.").max_length(4096)),
            )
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let alias = Alias {
                    name: params.req_str("name").to_string(),
                    cidr: params.req_str("cidr").to_string(),
                    comment: params.str("comment").map(str::to_string),
                };
                change(&env, &key, &params, move |cfg| {
                    if cfg.alias(&alias.name).is_some() {
                        return Err(ApiError::param(
                            "name",
                            format!("alias '{}' already exists", alias.name),
                        ));
                    }
                    cfg.aliases.push(alias);
                    Ok(())
                })
                .await
            }),
        ApiMethod::new(HttpMethod::Get, s.alias, "read_alias")
            .description("Read alias.")
            .parameters(named(s, "Alias name."))
            .returns(Schema::object("").additional_properties(true))
            .permission(s.audit.clone())
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let mut loaded = load(env.state.store.as_ref(), &key).await?;
                let d = digest_of(&loaded);
                let a = alias_of(&mut loaded.config, params.req_str("name"))?;
                Ok(alias_json(a, &d))
            }),
        ApiMethod::new(HttpMethod::Put, s.alias, "update_alias")
            .description("Update IP or Network alias.")
            .parameters(
                named(s, "Alias name.")
                    .required("cidr", cidr_param())
                    .optional("comment", Schema::string("Comment.").max_length(4096))
                    .optional("rename", name_param("Rename an existing alias."))
                    .optional("digest", digest_param()),
            )
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let p = params.clone();
                change(&env, &key, &params, move |cfg| {
                    let name = p.req_str("name");
                    if let Some(new) = p.str("rename") {
                        if !new.eq_ignore_ascii_case(name) && cfg.alias(new).is_some() {
                            return Err(ApiError::param(
                                "rename",
                                format!("alias '{new}' already exists"),
                            ));
                        }
                    }
                    let a = alias_of(cfg, name)?;
                    a.cidr = p.req_str("cidr").to_string();
                    if let Some(c) = p.str("comment") {
                        a.comment = Some(c.to_string()).filter(|c| !c.is_empty());
                    }
                    if let Some(new) = p.str("rename") {
                        a.name = new.to_string();
                    }
                    Ok(())
                })
                .await
            }),
        ApiMethod::new(HttpMethod::Delete, s.alias, "remove_alias")
            .description("Remove IP or Network alias.")
            .parameters(named(s, "Alias name.").optional("digest", digest_param()))
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let name = params.req_str("name").to_string();
                let users = in_use(&env, &AddrRef::Alias(name.clone())).await?;
                if !users.is_empty() {
                    return Err(ApiError::param(
                        "name",
                        format!("alias '{name}' is used in {}", users.join(", ")),
                    ));
                }
                change(&env, &key, &params, move |cfg| {
                    alias_of(cfg, &name)?;
                    cfg.aliases.retain(|a| !a.name.eq_ignore_ascii_case(&name));
                    Ok(())
                })
                .await
            }),
        ApiMethod::new(HttpMethod::Get, s.ipsets, "ipset_index")
            .description("List IPSets")
            .parameters((s.base)())
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(s.audit.clone())
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                let d = digest_of(&loaded);
                let list: Vec<Value> = loaded
                    .config
                    .ipsets
                    .iter()
                    .map(|s| {
                        let mut v = json!({ "name": s.name, "digest": d });
                        if let Some(c) = &s.comment {
                            v["comment"] = json!(c);
                        }
                        v
                    })
                    .collect();
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Post, s.ipsets, "create_ipset")
            .description("Create new IPSet")
            .parameters(
                named(s, "IP set name.")
                    .optional("comment", Schema::string("Comment.").max_length(4096))
                    .optional("rename", name_param("Rename an existing IPSet."))
                    .optional("digest", digest_param()),
            )
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let p = params.clone();
                change(&env, &key, &params, move |cfg| {
                    let name = p.req_str("name").to_string();
                    if cfg.ipset(&name).is_some() {
                        return Err(ApiError::param(
                            "name",
                            format!("IP set '{name}' already exists"),
                        ));
                    }
                    let comment = p.str("comment").map(str::to_string);
                    match p.str("rename") {
                        // Proxmox: `rename` is the existing set, `name` its new name
                        Some(old) => {
                            let set = ipset_of(cfg, old).map_err(|_| {
                                ApiError::param("rename", format!("no such IP set '{old}'"))
                            })?;
                            set.name = name;
                            if comment.is_some() {
                                set.comment = comment;
                            }
                        }
                        None => cfg.ipsets.push(IpSet {
                            name,
                            comment,
                            entries: Vec::new(),
                        }),
                    }
                    Ok(())
                })
                .await
            }),
        ApiMethod::new(HttpMethod::Get, s.ipset, "get_ipset")
            .description("List IPSet content")
            .parameters(named(s, "IP set name."))
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(s.audit.clone())
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let mut loaded = load(env.state.store.as_ref(), &key).await?;
                let d = digest_of(&loaded);
                let set = ipset_of(&mut loaded.config, params.req_str("name"))?;
                Ok(json!(set
                    .entries
                    .iter()
                    .map(|e| entry_json(e, &d))
                    .collect::<Vec<_>>()))
            }),
        ApiMethod::new(HttpMethod::Post, s.ipset, "create_ip")
            .description("Add IP or Network to IPSet.")
            .parameters(
                named(s, "IP set name.")
                    .required("cidr", cidr_param())
                    .optional("nomatch", Schema::boolean("Exclude this network."))
                    .optional("comment", Schema::string("Comment.").max_length(4096)),
            )
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let p = params.clone();
                change(&env, &key, &params, move |cfg| {
                    let set = ipset_of(cfg, p.req_str("name"))?;
                    let cidr = p.req_str("cidr").to_string();
                    if set.entries.iter().any(|e| e.cidr == cidr) {
                        return Err(ApiError::param(
                            "cidr",
                            format!("entry '{cidr}' already exists"),
                        ));
                    }
                    set.entries.push(IpSetEntry {
                        cidr,
                        nomatch: p.bool_or("nomatch", false),
                        comment: p.str("comment").map(str::to_string),
                    });
                    Ok(())
                })
                .await
            }),
        ApiMethod::new(HttpMethod::Delete, s.ipset, "delete_ipset")
            .description("Delete IPSet")
            .parameters(named(s, "IP set name.").optional(
                "force",
                Schema::boolean("Delete all members of the IPSet, if there are any."),
            ))
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let name = params.req_str("name").to_string();
                let users = in_use(&env, &AddrRef::IpSet(name.clone())).await?;
                if !users.is_empty() {
                    return Err(ApiError::param(
                        "name",
                        format!("IP set '{name}' is used in {}", users.join(", ")),
                    ));
                }
                let force = params.bool_or("force", false);
                change(&env, &key, &params, move |cfg| {
                    let set = ipset_of(cfg, &name)?;
                    if !set.entries.is_empty() && !force {
                        return Err(ApiError::param(
                            "name",
                            format!("IP set '{name}' is not empty"),
                        ));
                    }
                    cfg.ipsets.retain(|s| s.name != name);
                    Ok(())
                })
                .await
            }),
        ApiMethod::new(HttpMethod::Delete, s.entry, "remove_ip")
            .description("Remove IP or Network from IPSet.")
            .parameters(
                named(s, "IP set name.")
                    .required("cidr", cidr_param())
                    .optional("digest", digest_param()),
            )
            .returns(Schema::Null)
            .permission(s.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = scope_key(&env, s, &params).await?;
                let p = params.clone();
                change(&env, &key, &params, move |cfg| {
                    let set = ipset_of(cfg, p.req_str("name"))?;
                    let cidr = p.req_str("cidr");
                    let before = set.entries.len();
                    set.entries.retain(|e| e.cidr != cidr);
                    if set.entries.len() == before {
                        return Err(ApiError::param("cidr", "no such entry"));
                    }
                    Ok(())
                })
                .await
            }),
    ]
}
