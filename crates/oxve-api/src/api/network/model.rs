//! Between the interfaces model and the API: an interface as Proxmox returns it, and client
//! parameters applied to an interface.

use oxve_net::cidr::{netmask_bits, Ipv4Cidr};
use oxve_net::interfaces::{FamilyConfig, Iface, IfaceType, NAT_OPTION};
use oxve_router::ApiError;
use oxve_types::params::Params;
use serde_json::{json, Map, Value};

/// Settings that are numbers or flags in Proxmox's answers.
fn setting_json(key: &str, value: &str) -> Value {
    match key {
        "bridge_vlan_aware" => json!(1),
        // Proxmox answers a number here (and the Terraform provider decodes an int)
        "bridge_fd" => value
            .parse::<i64>()
            .map(|n| json!(n))
            .unwrap_or_else(|_| json!(value)),
        _ => json!(value),
    }
}

fn family_json(out: &mut Map<String, Value>, fam: &FamilyConfig, suffix: &str, v6: bool) {
    out.insert(format!("method{suffix}"), json!(fam.method));
    if let Some(addr) = &fam.address {
        let (base, bits) = match addr.split_once('/') {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => {
                let bits = fam.netmask.as_deref().and_then(|m| {
                    if v6 {
                        m.parse::<u8>().ok()
                    } else {
                        netmask_bits(m)
                    }
                });
                (addr.clone(), bits.map(|b| b.to_string()))
            }
        };
        let full = if v6 { "128" } else { "32" };
        out.insert(
            format!("cidr{suffix}"),
            json!(format!("{base}/{}", bits.as_deref().unwrap_or(full))),
        );
        out.insert(format!("address{suffix}"), json!(base));
        if let Some(bits) = bits {
            out.insert(format!("netmask{suffix}"), json!(bits));
        }
    }
    if let Some(gw) = &fam.gateway {
        out.insert(format!("gateway{suffix}"), json!(gw));
    }
    if let Some(c) = &fam.comments {
        out.insert(format!("comments{suffix}"), json!(c));
    }
    if !fam.options.is_empty() {
        out.insert(format!("options{suffix}"), json!(fam.options));
    }
}

/// An interface as `GET /nodes/{node}/network[/{iface}]` returns it.
pub fn iface_json(name: &str, iface: &Iface, active: bool) -> Value {
    let mut out = Map::new();
    let ty = iface.iface_type(name);
    out.insert("type".into(), json!(ty.as_str()));
    out.insert("priority".into(), json!(iface.priority));
    out.insert("autostart".into(), json!(u8::from(iface.autostart)));
    out.insert("active".into(), json!(u8::from(active)));
    if let Some(exists) = iface.exists {
        out.insert("exists".into(), json!(u8::from(exists)));
    }
    let mut families = Vec::new();
    if let Some(f) = &iface.inet {
        families.push("inet");
        family_json(&mut out, f, "", false);
    }
    if let Some(f) = &iface.inet6 {
        families.push("inet6");
        family_json(&mut out, f, "6", true);
    }
    if families.is_empty() {
        families.push("inet");
    }
    out.insert("families".into(), json!(families));
    out.entry("method").or_insert(json!("manual"));
    out.entry("method6").or_insert(json!("manual"));
    for (key, value) in &iface.settings {
        if key == NAT_OPTION {
            out.insert("nat".into(), json!(u8::from(iface.is_nat())));
        } else {
            out.insert(key.clone(), setting_json(key, value));
        }
    }
    if !iface.vxlan_remoteip.is_empty() {
        out.insert("vxlan-remoteip".into(), json!(iface.vxlan_remoteip));
    }
    Value::Object(out)
}

/// Settings kept under the same name in the file model.
const PLAIN: &[&str] = &[
    "bridge_vids",
    "bond_mode",
    "bond_xmit_hash_policy",
    "bond-primary",
    "vlan-raw-device",
];

fn number(params: &Params, key: &str) -> Option<String> {
    params.int(key).map(|n| n.to_string())
}

fn words(value: &str) -> String {
    oxve_types::format::split_list(value)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Remove the settings a client listed in `delete`.
pub fn delete_settings(iface: &mut Iface, delete: &str) {
    for key in oxve_types::format::split_list(delete) {
        let inet = iface.inet.as_mut();
        match key {
            "cidr" | "address" | "netmask" => {
                if let Some(f) = inet {
                    f.address = None;
                    f.netmask = None;
                }
            }
            "gateway" => {
                if let Some(f) = inet {
                    f.gateway = None;
                }
            }
            "comments" => {
                if let Some(f) = inet {
                    f.comments = None;
                }
            }
            "cidr6" | "address6" | "netmask6" => iface.inet6 = None,
            "gateway6" | "comments6" => {
                if let Some(f) = iface.inet6.as_mut() {
                    if key == "gateway6" {
                        f.gateway = None;
                    } else {
                        f.comments = None;
                    }
                }
            }
            "autostart" => iface.autostart = false,
            "bridge_vlan_aware" => {
                iface.settings.remove("bridge_vlan_aware");
            }
            "bridge_ports" => {
                // a bridge keeps `bridge-ports none`
                if iface.settings.contains_key("bridge_ports") {
                    iface.settings.insert("bridge_ports".into(), String::new());
                }
            }
            "nat" => {
                iface.settings.remove(NAT_OPTION);
            }
            other => {
                iface.settings.remove(other);
            }
        }
    }
}

/// Apply client parameters to `iface` (a new one when creating).
pub fn apply_params(
    name: &str,
    iface: &mut Iface,
    params: &Params,
    creating: bool,
) -> Result<(), ApiError> {
    // IPv4: cidr, or address with netmask
    let cidr = params.str("cidr");
    let address = params.str("address");
    let netmask = params.str("netmask");
    if cidr.is_some() && address.is_some() {
        return Err(ApiError::param("address", "address conflicts with cidr"));
    }
    if cidr.is_some() && netmask.is_some() {
        return Err(ApiError::param("netmask", "netmask conflicts with cidr"));
    }
    if address.is_some() != netmask.is_some() {
        let (missing, given) = if address.is_some() {
            ("netmask", "address")
        } else {
            ("address", "netmask")
        };
        return Err(ApiError::param(
            missing,
            format!("parameter is required when '{given}' is set"),
        ));
    }
    let inet = iface.inet.get_or_insert_with(|| FamilyConfig {
        method: "manual".into(),
        ..Default::default()
    });
    if let Some(c) = cidr {
        let parsed: Ipv4Cidr = c.parse().map_err(|e: String| ApiError::param("cidr", e))?;
        inet.address = Some(parsed.to_string());
        inet.netmask = None;
    } else if let (Some(a), Some(m)) = (address, netmask) {
        let parsed = Ipv4Cidr::from_parts(a, Some(m))
            .ok_or_else(|| ApiError::param("netmask", format!("invalid netmask '{m}'")))?;
        inet.address = Some(parsed.to_string());
        inet.netmask = None;
    }
    if let Some(gw) = params.str("gateway") {
        inet.gateway = Some(gw.to_string());
    }
    if let Some(c) = params.str("comments") {
        inet.comments = Some(if c.ends_with('\n') {
            c.to_string()
        } else {
            format!("{c}\n")
        });
    }
    if inet.method != "dhcp" && inet.method != "loopback" {
        inet.method = if inet.address.is_some() {
            "static"
        } else {
            "manual"
        }
        .into();
    }

    // IPv6
    let cidr6 = params.str("cidr6");
    let address6 = params.str("address6");
    let netmask6 = params.int("netmask6");
    if cidr6.is_some() && address6.is_some() {
        return Err(ApiError::param("address6", "address6 conflicts with cidr6"));
    }
    if cidr6.is_some() && netmask6.is_some() {
        return Err(ApiError::param("netmask6", "netmask6 conflicts with cidr6"));
    }
    if address6.is_some() != netmask6.is_some() {
        let missing = if address6.is_some() {
            "netmask6"
        } else {
            "address6"
        };
        return Err(ApiError::param(
            missing,
            "parameter is required with address6/netmask6",
        ));
    }
    let addr6 = cidr6
        .map(str::to_string)
        .or_else(|| address6.map(|a| format!("{a}/{}", netmask6.unwrap_or(128))));
    if let Some(a) = addr6 {
        let f = iface.inet6.get_or_insert_with(Default::default);
        f.method = "static".into();
        f.address = Some(a);
        f.netmask = None;
    }
    if params.str("gateway6").is_some() || params.str("comments6").is_some() {
        let Some(f) = iface.inet6.as_mut() else {
            let p = if params.has("gateway6") {
                "gateway6"
            } else {
                "comments6"
            };
            return Err(ApiError::param(
                p,
                "needs an IPv6 address (cidr6 or address6)",
            ));
        };
        if let Some(gw) = params.str("gateway6") {
            f.gateway = Some(gw.to_string());
        }
        if let Some(c) = params.str("comments6") {
            f.comments = Some(format!("{}\n", c.trim_end_matches('\n')));
        }
    }

    if let Some(a) = params.bool("autostart") {
        iface.autostart = a;
    }
    if let Some(p) = params.str("bridge_ports") {
        iface.settings.insert("bridge_ports".into(), words(p));
    }
    if let Some(p) = params.str("slaves") {
        iface.settings.insert("slaves".into(), words(p));
    }
    match params.bool("bridge_vlan_aware") {
        Some(true) => {
            iface
                .settings
                .insert("bridge_vlan_aware".into(), "1".into());
        }
        Some(false) => {
            iface.settings.remove("bridge_vlan_aware");
        }
        None => {}
    }
    match params.bool("nat") {
        Some(true) => {
            iface.settings.insert(NAT_OPTION.into(), "1".into());
        }
        Some(false) => {
            iface.settings.remove(NAT_OPTION);
        }
        None => {}
    }
    for key in PLAIN {
        if let Some(v) = params.str(key) {
            iface.settings.insert((*key).into(), v.to_string());
        }
    }
    for key in ["mtu", "vlan-id"] {
        if let Some(v) = number(params, key) {
            iface.settings.insert(key.into(), v);
        }
    }

    let wanted = params.req_str("type");
    if wanted.starts_with("OVS") {
        return Err(ApiError::param(
            "type",
            "Open vSwitch interfaces are not supported by oxve",
        ));
    }
    if creating {
        // the name and options decide the type, as in the file; make them agree
        match wanted {
            "bridge" => {
                iface.settings.entry("bridge_ports".into()).or_default();
            }
            "bond" => {
                iface.settings.entry("slaves".into()).or_default();
            }
            _ => {}
        }
    }
    let actual = iface.iface_type(name);
    let expected = match wanted {
        "bridge" => IfaceType::Bridge,
        "bond" => IfaceType::Bond,
        "eth" => IfaceType::Eth,
        "vlan" => IfaceType::Vlan,
        "alias" => IfaceType::Alias,
        other => {
            return Err(ApiError::param(
                "type",
                format!("interface type '{other}' is not supported by oxve"),
            ));
        }
    };
    if actual != expected {
        let hint = match expected {
            IfaceType::Vlan => " (name it <parent>.<tag>, or set vlan-raw-device)",
            IfaceType::Eth => " (physical NICs are named ethN, enX or ibX)",
            _ => "",
        };
        return Err(ApiError::param(
            "type",
            format!(
                "interface '{name}' is a {}, not a {wanted}{hint}",
                actual.as_str()
            ),
        ));
    }
    if iface.is_nat() && actual != IfaceType::Bridge {
        return Err(ApiError::param("nat", "NAT is only available on bridges"));
    }
    Ok(())
}
