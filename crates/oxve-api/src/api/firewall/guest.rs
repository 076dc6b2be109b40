//! Rule lists (`.../firewall/rules[/{pos}]`) of guests, the datacenter and nodes, and the
//! guests' `.../firewall/options`.

use oxve_net::firewall::rule::{ACTIONS, LOG_LEVELS};
use oxve_net::firewall::{FwConfig, Rule, RuleType};
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_store::{guest_config_key, GuestKind, GuestRef};
use oxve_types::format;
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Map, Value};

use super::store::{check_digest, digest_of, guest_key, load, save, Loaded};
use super::sync_firewall;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

/// Where a rule list lives: its paths, permissions, parameters and file.
struct Paths {
    /// The guest kind, or `None` for the host lists (datacenter, node).
    kind: Option<GuestKind>,
    rules: &'static str,
    rule: &'static str,
    /// A guest's options; host options are declared in `host.rs`.
    options: Option<&'static str>,
    audit: Permission,
    modify: Permission,
    base: fn() -> ObjectSchema,
    /// The `.fw` file of a host list.
    host_key: fn(&RpcEnv) -> String,
}

const GUEST_AUDIT: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Audit"],
    any: false,
};
const GUEST_MODIFY: Permission = Permission::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Config.Network"],
    any: false,
};

fn no_host_key(_: &RpcEnv) -> String {
    String::new()
}

fn cluster_file(_: &RpcEnv) -> String {
    super::store::cluster_key()
}

fn node_file(env: &RpcEnv) -> String {
    super::store::node_key(&env.state.node)
}

fn no_params() -> ObjectSchema {
    Schema::object("")
}

fn node_params() -> ObjectSchema {
    Schema::object("").required("node", node_param())
}

static QEMU: Paths = Paths {
    kind: Some(GuestKind::Qemu),
    rules: "/nodes/{node}/qemu/{vmid}/firewall/rules",
    rule: "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}",
    options: Some("/nodes/{node}/qemu/{vmid}/firewall/options"),
    audit: GUEST_AUDIT,
    modify: GUEST_MODIFY,
    base,
    host_key: no_host_key,
};

static LXC: Paths = Paths {
    kind: Some(GuestKind::Lxc),
    rules: "/nodes/{node}/lxc/{vmid}/firewall/rules",
    rule: "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}",
    options: Some("/nodes/{node}/lxc/{vmid}/firewall/options"),
    audit: GUEST_AUDIT,
    modify: GUEST_MODIFY,
    base,
    host_key: no_host_key,
};

static CLUSTER: Paths = Paths {
    kind: None,
    rules: "/cluster/firewall/rules",
    rule: "/cluster/firewall/rules/{pos}",
    options: None,
    audit: Permission::Privs {
        path: "/",
        privs: &["Sys.Audit"],
        any: false,
    },
    modify: Permission::Privs {
        path: "/",
        privs: &["Sys.Modify"],
        any: false,
    },
    base: no_params,
    host_key: cluster_file,
};

static NODE: Paths = Paths {
    kind: None,
    rules: "/nodes/{node}/firewall/rules",
    rule: "/nodes/{node}/firewall/rules/{pos}",
    options: None,
    audit: Permission::Privs {
        path: "/nodes/{node}",
        privs: &["Sys.Audit"],
        any: false,
    },
    modify: Permission::Privs {
        path: "/nodes/{node}",
        privs: &["Sys.Modify"],
        any: false,
    },
    base: node_params,
    host_key: node_file,
};

/// The `.fw` file of the guest a request addresses (checking the node and the guest).
pub(super) async fn guest_file(
    env: &RpcEnv,
    kind: GuestKind,
    params: &Params,
) -> Result<String, ApiError> {
    local_node(env, params.req_str("node"))?;
    let id = vmid(params);
    check_guest(env, kind, id).await?;
    Ok(guest_key(id))
}

pub(super) fn guest_base() -> ObjectSchema {
    base()
}

pub(super) const GUEST_AUDIT_PERM: Permission = GUEST_AUDIT;
pub(super) const GUEST_MODIFY_PERM: Permission = GUEST_MODIFY;

/// The `.fw` file a request addresses (checking the node and, for guests, the guest).
async fn target_key(env: &RpcEnv, p: &Paths, params: &Params) -> Result<String, ApiError> {
    if params.has("node") {
        local_node(env, params.req_str("node"))?;
    }
    match p.kind {
        Some(kind) => {
            let id = vmid(params);
            check_guest(env, kind, id).await?;
            Ok(guest_key(id))
        }
        None => Ok((p.host_key)(env)),
    }
}

const POLICIES: &[&str] = &["ACCEPT", "REJECT", "DROP"];

fn base() -> ObjectSchema {
    Schema::object("").required("node", node_param()).required(
        "vmid",
        Schema::integer("The (unique) ID of the VM.")
            .minimum(100)
            .maximum(999_999_999),
    )
}

fn digest_param() -> oxve_types::schema::StringSchema {
    Schema::string("Prevent changes if current configuration file has a different digest.")
        .max_length(64)
}

pub(super) fn rule_fields(schema: ObjectSchema, creating: bool) -> ObjectSchema {
    let text = |d| Schema::string(d).max_length(512);
    let type_schema = Schema::string("Rule type.").enum_values(&["in", "out", "forward", "group"]);
    let action = Schema::string("Rule action ('ACCEPT', 'DROP', 'REJECT') or security group name.")
        .max_length(64);
    let schema = if creating {
        schema
            .required("type", type_schema)
            .required("action", action)
    } else {
        schema
            .optional("type", type_schema)
            .optional("action", action)
            .optional(
                "moveto",
                Schema::integer("Move rule to new position <moveto>.").minimum(0),
            )
            .optional(
                "delete",
                Schema::string("A list of settings you want to delete.").format(CONFIG_ID_LIST),
            )
    };
    schema
        .optional(
            "pos",
            Schema::integer("Update rule at position <pos>.").minimum(0),
        )
        .optional(
            "enable",
            Schema::integer("Flag to enable/disable a rule.").minimum(0),
        )
        .optional(
            "iface",
            Schema::string("Network interface name (netN).").max_length(20),
        )
        .optional("source", text("Restrict packet source address."))
        .optional("dest", text("Restrict packet destination address."))
        .optional("proto", Schema::string("IP protocol.").max_length(32))
        .optional("dport", text("Restrict TCP/UDP destination port."))
        .optional("sport", text("Restrict TCP/UDP source port."))
        .optional(
            "macro",
            Schema::string("Use predefined standard macro.").max_length(128),
        )
        .optional(
            "icmp-type",
            Schema::string("Specify icmp-type.").max_length(64),
        )
        .optional(
            "log",
            Schema::string("Log level for firewall rule.").enum_values(LOG_LEVELS),
        )
        .optional(
            "comment",
            Schema::string("Descriptive comment.").max_length(4096),
        )
        .optional("digest", digest_param())
}

const CONFIG_ID_LIST: format::Format = format::Format::List {
    name: "pve-configid-list",
    check: format::check_config_id,
};

fn vmid(params: &Params) -> u32 {
    params.int("vmid").unwrap_or_default() as u32
}

/// The guest must exist on this node, as a VM or container as the path says.
async fn check_guest(env: &RpcEnv, kind: GuestKind, vmid: u32) -> Result<(), ApiError> {
    let guest = GuestRef {
        node: env.state.node.clone(),
        kind,
        vmid,
    };
    let exists = env
        .state
        .store
        .get(&guest_config_key(&guest))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .is_some();
    if exists {
        Ok(())
    } else {
        let dir = if kind == GuestKind::Lxc {
            "lxc"
        } else {
            "qemu-server"
        };
        Err(ApiError::internal(format!(
            "Configuration file 'nodes/{}/{dir}/{vmid}.conf' does not exist",
            env.state.node
        )))
    }
}

pub(super) fn rule_json(rule: &Rule, pos: usize, digest: &str) -> Value {
    let mut v = Map::new();
    v.insert("pos".into(), json!(pos));
    v.insert(
        "type".into(),
        json!(rule.rule_type.map(RuleType::as_str).unwrap_or("in")),
    );
    v.insert("action".into(), json!(rule.action));
    v.insert("enable".into(), json!(u8::from(rule.enable)));
    v.insert("digest".into(), json!(digest));
    v.insert("ipversion".into(), json!(4));
    for (k, val) in [
        ("macro", &rule.macro_name),
        ("iface", &rule.iface),
        ("source", &rule.source),
        ("dest", &rule.dest),
        ("proto", &rule.proto),
        ("dport", &rule.dport),
        ("sport", &rule.sport),
        ("icmp-type", &rule.icmp_type),
        ("log", &rule.log),
        ("comment", &rule.comment),
    ] {
        if let Some(x) = val {
            v.insert(k.into(), json!(x));
        }
    }
    Value::Object(v)
}

/// Apply client parameters to a rule.
pub(super) fn apply_rule_params(
    rule: &mut Rule,
    params: &Params,
    host: bool,
) -> Result<(), ApiError> {
    if let Some(d) = params.str("delete") {
        for key in format::split_list(d) {
            match key {
                "macro" => rule.macro_name = None,
                "iface" => rule.iface = None,
                "source" => rule.source = None,
                "dest" => rule.dest = None,
                "proto" => rule.proto = None,
                "dport" => rule.dport = None,
                "sport" => rule.sport = None,
                "icmp-type" => rule.icmp_type = None,
                "log" => rule.log = None,
                "comment" => rule.comment = None,
                other => {
                    return Err(ApiError::param(
                        "delete",
                        format!("cannot delete '{other}'"),
                    ))
                }
            }
        }
    }
    if let Some(t) = params.str("type") {
        rule.rule_type = RuleType::parse(t);
    }
    if let Some(a) = params.str("action") {
        rule.action = if ACTIONS.contains(&a.to_ascii_uppercase().as_str()) {
            a.to_ascii_uppercase()
        } else {
            a.to_string()
        };
    }
    if let Some(e) = params.int("enable") {
        rule.enable = e != 0;
    }
    let set = |slot: &mut Option<String>, key: &str| {
        if let Some(v) = params.str(key) {
            *slot = Some(v.to_string()).filter(|v| !v.is_empty());
        }
    };
    set(&mut rule.macro_name, "macro");
    set(&mut rule.iface, "iface");
    set(&mut rule.source, "source");
    set(&mut rule.dest, "dest");
    set(&mut rule.proto, "proto");
    set(&mut rule.dport, "dport");
    set(&mut rule.sport, "sport");
    set(&mut rule.icmp_type, "icmp-type");
    set(&mut rule.log, "log");
    set(&mut rule.comment, "comment");
    // Proxmox stores a macro by its canonical name
    if let Some(m) = &rule.macro_name {
        if let Some(name) = oxve_net::firewall::macros::names().find(|n| n.eq_ignore_ascii_case(m))
        {
            rule.macro_name = Some(name.to_string());
        }
    }
    let checked = if host {
        rule.validate_host()
    } else {
        rule.validate()
    };
    checked.map_err(|e| ApiError::param(e.param, e.message))
}

/// What a rule names must exist: its security group in the datacenter file, its IP sets and
/// aliases there or in the rule's own file `key` (a guest's own IP sets and aliases).
pub(super) async fn check_group_exists(
    env: &RpcEnv,
    key: &str,
    rule: &Rule,
) -> Result<(), ApiError> {
    let store = env.state.store.as_ref();
    let mut cluster = load(store, &super::store::cluster_key()).await?.config;
    if key != super::store::cluster_key() {
        let own = load(store, key).await?.config;
        cluster.ipsets.extend(own.ipsets);
        cluster.aliases.extend(own.aliases);
    }
    check_refs(&cluster, rule)
}

/// [`check_group_exists`] against a loaded datacenter file.
pub(super) fn check_refs(cluster: &FwConfig, rule: &Rule) -> Result<(), ApiError> {
    if rule.rule_type == Some(RuleType::Group) && cluster.group(&rule.action).is_none() {
        return Err(ApiError::param(
            "action",
            format!("security group '{}' does not exist", rule.action),
        ));
    }
    for (param, r) in rule.refs() {
        let missing = match &r {
            oxve_net::firewall::rule::AddrRef::IpSet(n) => cluster
                .ipset(n)
                .is_none()
                .then(|| format!("no such IP set '{n}'")),
            oxve_net::firewall::rule::AddrRef::Alias(n) => cluster
                .alias(n)
                .is_none()
                .then(|| format!("no such alias '{n}'")),
        };
        if let Some(m) = missing {
            return Err(ApiError::param(param, m));
        }
    }
    Ok(())
}

/// Save the guest's file and apply; on failure the previous file and rules come back.
async fn commit(env: &RpcEnv, key: &str, loaded: &Loaded, cfg: &FwConfig) -> Result<(), ApiError> {
    let store = env.state.store.as_ref();
    save(store, key, loaded, cfg).await?;
    if let Err(e) = sync_firewall(&env.state).await {
        if let Ok(now) = load(store, key).await {
            let _ = save(store, key, &now, &loaded.config).await;
        }
        let _ = sync_firewall(&env.state).await;
        return Err(ApiError::internal(format!(
            "applying the firewall failed: {e}"
        )));
    }
    Ok(())
}

pub(super) fn pos_of(params: &Params, len: usize) -> Result<usize, ApiError> {
    let pos = params.int("pos").unwrap_or(-1);
    if pos < 0 || pos as usize >= len {
        return Err(ApiError::param("pos", "no rule at this position"));
    }
    Ok(pos as usize)
}

fn methods_for(p: &'static Paths) -> Vec<ApiMethod<RpcEnv>> {
    let mut out = vec![
        ApiMethod::new(HttpMethod::Get, p.rules, "get_rules")
            .description("List rules.")
            .parameters((p.base)())
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(p.audit.clone())
            .handler(move |env: RpcEnv, params| async move {
                let key = target_key(&env, p, &params).await?;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                let digest = digest_of(&loaded);
                let list: Vec<Value> = loaded
                    .config
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| rule_json(r, i, &digest))
                    .collect();
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Post, p.rules, "create_rule")
            .description("Create new rule.")
            .parameters(rule_fields((p.base)(), true))
            .returns(Schema::Null)
            .permission(p.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = target_key(&env, p, &params).await?;
                let mut rule = Rule {
                    enable: false,
                    ..Default::default()
                };
                apply_rule_params(&mut rule, &params, p.kind.is_none())?;
                check_group_exists(&env, &key, &rule).await?;
                let _guard = env.state.network.firewall_lock().await;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                check_digest(&loaded, params.str("digest"))?;
                let mut cfg = loaded.config.clone();
                // Proxmox inserts at the top unless told where
                let pos = (params.int("pos").unwrap_or(0).max(0) as usize).min(cfg.rules.len());
                cfg.rules.insert(pos, rule);
                commit(&env, &key, &loaded, &cfg).await?;
                Ok(Value::Null)
            }),
        ApiMethod::new(HttpMethod::Get, p.rule, "get_rule")
            .description("Get single rule data.")
            .parameters((p.base)().optional(
                "pos",
                Schema::integer("Update rule at position <pos>.").minimum(0),
            ))
            .returns(Schema::object("").additional_properties(true))
            .permission(p.audit.clone())
            .handler(move |env: RpcEnv, params| async move {
                let key = target_key(&env, p, &params).await?;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                let pos = pos_of(&params, loaded.config.rules.len())?;
                Ok(rule_json(
                    &loaded.config.rules[pos],
                    pos,
                    &digest_of(&loaded),
                ))
            }),
        ApiMethod::new(HttpMethod::Put, p.rule, "update_rule")
            .description("Modify rule data.")
            .parameters(rule_fields((p.base)(), false))
            .returns(Schema::Null)
            .permission(p.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = target_key(&env, p, &params).await?;
                let _guard = env.state.network.firewall_lock().await;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                check_digest(&loaded, params.str("digest"))?;
                let mut cfg = loaded.config.clone();
                let pos = pos_of(&params, cfg.rules.len())?;
                if let Some(to) = params.int("moveto") {
                    let rule = cfg.rules.remove(pos);
                    let to = (to.max(0) as usize).min(cfg.rules.len());
                    cfg.rules.insert(to, rule);
                } else {
                    let mut rule = cfg.rules[pos].clone();
                    apply_rule_params(&mut rule, &params, p.kind.is_none())?;
                    check_group_exists(&env, &key, &rule).await?;
                    cfg.rules[pos] = rule;
                }
                commit(&env, &key, &loaded, &cfg).await?;
                Ok(Value::Null)
            }),
        ApiMethod::new(HttpMethod::Delete, p.rule, "delete_rule")
            .description("Delete rule.")
            .parameters(
                (p.base)()
                    .optional(
                        "pos",
                        Schema::integer("Update rule at position <pos>.").minimum(0),
                    )
                    .optional("digest", digest_param()),
            )
            .returns(Schema::Null)
            .permission(p.modify.clone())
            .protected()
            .handler(move |env: RpcEnv, params| async move {
                let key = target_key(&env, p, &params).await?;
                let _guard = env.state.network.firewall_lock().await;
                let loaded = load(env.state.store.as_ref(), &key).await?;
                check_digest(&loaded, params.str("digest"))?;
                let mut cfg = loaded.config.clone();
                let pos = pos_of(&params, cfg.rules.len())?;
                cfg.rules.remove(pos);
                commit(&env, &key, &loaded, &cfg).await?;
                Ok(Value::Null)
            }),
    ];
    if let Some(options) = p.options {
        out.extend(vec![
            ApiMethod::new(HttpMethod::Get, options, "get_options")
                .description("Get VM firewall options.")
                .parameters((p.base)())
                .returns(Schema::object("").additional_properties(true))
                .permission(p.audit.clone())
                .handler(move |env: RpcEnv, params| async move {
                    let key = target_key(&env, p, &params).await?;
                    let loaded = load(env.state.store.as_ref(), &key).await?;
                    let mut out = Map::new();
                    for (k, v) in &loaded.config.options {
                        let value = match k.as_str() {
                            "enable" | "dhcp" | "ipfilter" | "macfilter" | "ndp" | "radv" => {
                                json!(u8::from(loaded.config.flag(k)))
                            }
                            _ => json!(v),
                        };
                        out.insert(k.clone(), value);
                    }
                    out.insert("digest".into(), json!(digest_of(&loaded)));
                    Ok(Value::Object(out))
                }),
            ApiMethod::new(HttpMethod::Put, options, "set_options")
                .description("Set Firewall options.")
                .parameters(
                    (p.base)()
                        .optional("enable", Schema::boolean("Enable/disable firewall rules."))
                        .optional(
                            "policy_in",
                            Schema::string("Input policy.").enum_values(POLICIES),
                        )
                        .optional(
                            "policy_out",
                            Schema::string("Output policy.").enum_values(POLICIES),
                        )
                        .optional("dhcp", Schema::boolean("Enable DHCP."))
                        .optional("ipfilter", Schema::boolean("Enable default IP filters."))
                        .optional(
                            "macfilter",
                            Schema::boolean("Enable/disable MAC address filter."),
                        )
                        .optional(
                            "ndp",
                            Schema::boolean("Enable NDP (Neighbor Discovery Protocol)."),
                        )
                        .optional(
                            "radv",
                            Schema::boolean("Allow sending Router Advertisement."),
                        )
                        .optional(
                            "log_level_in",
                            Schema::string("Log level for incoming traffic.")
                                .enum_values(LOG_LEVELS),
                        )
                        .optional(
                            "log_level_out",
                            Schema::string("Log level for outgoing traffic.")
                                .enum_values(LOG_LEVELS),
                        )
                        .optional(
                            "delete",
                            Schema::string("A list of settings you want to delete.")
                                .format(CONFIG_ID_LIST),
                        )
                        .optional("digest", digest_param()),
                )
                .returns(Schema::Null)
                .permission(p.modify.clone())
                .protected()
                .handler(move |env: RpcEnv, params| async move {
                    let key = target_key(&env, p, &params).await?;
                    let _guard = env.state.network.firewall_lock().await;
                    let loaded = load(env.state.store.as_ref(), &key).await?;
                    check_digest(&loaded, params.str("digest"))?;
                    let mut cfg = loaded.config.clone();
                    for key in format::split_list(params.str("delete").unwrap_or_default()) {
                        cfg.options.remove(key);
                    }
                    for key in [
                        "enable",
                        "policy_in",
                        "policy_out",
                        "dhcp",
                        "ipfilter",
                        "macfilter",
                        "ndp",
                        "radv",
                        "log_level_in",
                        "log_level_out",
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
                    commit(&env, &key, &loaded, &cfg).await?;
                    Ok(Value::Null)
                }),
        ]);
    }
    out
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut out = methods_for(&QEMU);
    out.extend(methods_for(&LXC));
    out.extend(methods_for(&CLUSTER));
    out.extend(methods_for(&NODE));
    out
}
