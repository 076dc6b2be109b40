//! Reading an interfaces file.

use super::{FamilyConfig, Iface, InterfacesFile, NAT_OPTION};

/// File spellings of options Proxmox stores under another name.
fn canonical(option: &str) -> &str {
    match option {
        "ovs_mtu" => "mtu",
        "bond-slaves" | "bond_slaves" => "slaves",
        "bond-xmit-hash-policy" => "bond_xmit_hash_policy",
        "bond-mode" => "bond_mode",
        "bond-miimon" => "bond_miimon",
        "bridge-vlan-aware" => "bridge_vlan_aware",
        "bridge-fd" => "bridge_fd",
        "bridge-stp" => "bridge_stp",
        "bridge-ports" => "bridge_ports",
        "bridge-vids" => "bridge_vids",
        other => other,
    }
}

/// Options kept by their name on the interface (the rest stay verbatim per family).
const SIMPLE: &[&str] = &[
    "mtu",
    "bridge_fd",
    "bridge_vids",
    "bridge-access",
    "bridge-learning",
    "bridge-arp-nd-suppress",
    "bridge-unicast-flood",
    "bridge-multicast-flood",
    "bond_miimon",
    "bond_xmit_hash_policy",
    "bond-primary",
    "uplink-id",
    "vlan-protocol",
    "vlan-raw-device",
    "vlan-id",
    "vxlan-id",
    "vxlan-svcnodeip",
    "vxlan-physdev",
    "vxlan-local-tunnelip",
    NAT_OPTION,
];

/// Bond modes by number, for files that use `bond-mode 1`.
const BOND_MODES: &[&str] = &[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
];

fn starts_stanza(line: &str) -> bool {
    let t = line.trim_start();
    [
        "iface ",
        "mapping ",
        "auto ",
        "allow-",
        "source ",
        "source-directory ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// Parse the text of an interfaces file. Never fails: lines it does not understand are kept.
pub fn parse(text: &str) -> InterfacesFile {
    let mut file = InterfacesFile::default();
    // 1 is reserved for lo, as Proxmox numbers them.
    let mut priority = 2u32;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        i += 1;
        if trimmed.starts_with('#') || trimmed.starts_with("allow-hotplug") {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        match words.next() {
            Some("auto") | Some("allow-ovs") => {
                for name in words {
                    file.ifaces.entry(name.to_string()).or_default().autostart = true;
                }
            }
            Some("iface") => {
                let parts: Vec<&str> = words.collect();
                let [name, family, method] = parts[..] else {
                    file.other_lines.push((priority, line.to_string()));
                    priority += 1;
                    continue;
                };
                if family != "inet" && family != "inet6" {
                    file.other_lines.push((priority, line.to_string()));
                    priority += 1;
                    continue;
                }
                let iface = file.ifaces.entry(name.to_string()).or_default();
                if iface.priority == 0 {
                    iface.priority = priority;
                    priority += 1;
                }
                let mut fam = FamilyConfig {
                    method: method.to_string(),
                    ..Default::default()
                };
                while i < lines.len() && !starts_stanza(lines[i]) {
                    let body = lines[i].trim_end();
                    let t = body.trim_start();
                    if t.is_empty() {
                        // a blank line ends the block, as Proxmox reads it
                        break;
                    }
                    if let Some(comment) = t.strip_prefix('#') {
                        let c = fam.comments.get_or_insert_with(String::new);
                        c.push_str(comment.trim_end());
                        c.push('\n');
                    } else if let Some((key, value)) = t.split_once(char::is_whitespace) {
                        block_option(iface, &mut fam, t, key, value.trim());
                    } else if !t.is_empty() {
                        // A bare word is no option ifupdown knows: end of the block.
                        break;
                    }
                    i += 1;
                }
                if family == "inet" {
                    iface.inet = Some(fam);
                } else {
                    iface.inet6 = Some(fam);
                }
            }
            Some(_) => {
                file.other_lines.push((priority, line.to_string()));
                priority += 1;
            }
            None => {}
        }
    }
    if let Some(lo) = file.ifaces.get_mut("lo") {
        lo.priority = 1;
    }
    // Proxmox shows a bridge's forward delay and STP even when the file leaves them out.
    for (name, iface) in file.ifaces.iter_mut() {
        if iface.iface_type(name) == super::IfaceType::Bridge {
            iface
                .settings
                .entry("bridge_fd".into())
                .or_insert_with(|| "0".into());
            iface
                .settings
                .entry("bridge_stp".into())
                .or_insert_with(|| "off".into());
        }
    }
    file
}

fn block_option(iface: &mut Iface, fam: &mut FamilyConfig, raw: &str, key: &str, value: &str) {
    let id = canonical(key);
    match id {
        "address" => fam.address = Some(value.to_string()),
        "netmask" => fam.netmask = Some(value.to_string()),
        "gateway" => fam.gateway = Some(value.to_string()),
        "broadcast" => fam.broadcast = Some(value.to_string()),
        "slaves" | "bridge_ports" => {
            // repeated lines add up; each port once, sorted, as Proxmox lists them
            let entry = iface.settings.entry(id.to_string()).or_default();
            let mut ports: Vec<&str> = entry
                .split_whitespace()
                .chain(value.split_whitespace())
                .filter(|p| *p != "none")
                .collect();
            ports.sort_unstable();
            ports.dedup();
            *entry = ports.join(" ");
        }
        "bridge_stp" => {
            let on = matches!(value.to_ascii_lowercase().as_str(), "on" | "yes");
            iface
                .settings
                .insert(id.into(), if on { "on" } else { "off" }.into());
        }
        "bridge_vlan_aware" => {
            if super::is_true(value) {
                iface.settings.insert(id.into(), "1".into());
            }
        }
        "bond_mode" => {
            let mode = value
                .parse::<usize>()
                .ok()
                .and_then(|n| BOND_MODES.get(n).copied())
                .unwrap_or(value);
            iface.settings.insert(id.into(), mode.to_string());
        }
        "vxlan-remoteip" => iface.vxlan_remoteip.push(value.to_string()),
        _ if SIMPLE.contains(&id) => {
            iface.settings.insert(id.to_string(), value.to_string());
        }
        _ => fam.options.push(raw.to_string()),
    }
}
