//! Guest firewalls in nftables: one bridge-family table of oxve's own (`bridge oxve-fw`), with
//! a chain per guest and direction, reached through verdict maps keyed by the guest's tap or
//! veth. The table is replaced in one `nft -f` transaction, so a change is atomic and rules of
//! the host or other tools stay untouched.

use std::fmt::Write;
use std::process::{Command, Stdio};

use super::macros::{self, MacroPart};
use super::rule::{Rule, RuleType};
use crate::error::Result;

/// The nftables table oxve owns for guest firewalls.
pub const TABLE: &str = "oxve-fw";

/// One guest's firewall as the ruleset needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestFirewall {
    pub vmid: u32,
    /// `policy_in` / `policy_out`: ACCEPT, DROP or REJECT.
    pub policy_in: String,
    pub policy_out: String,
    /// Let DHCP through (option `dhcp`).
    pub dhcp: bool,
    pub rules: Vec<Rule>,
    /// NICs with `firewall=1`: (`netN` index, device name).
    pub nics: Vec<(u32, String)>,
    /// MAC filter (option `macfilter`, on by default): per device, the only source MAC the
    /// guest may send from.
    pub macs: Vec<(String, String)>,
}

fn verdict(action: &str) -> &'static str {
    match action {
        "ACCEPT" => "accept",
        // the bridge family cannot reject in these hooks: refuse silently, like DROP
        _ => "drop",
    }
}

/// A datacenter IP set as an nftables set (`nomatch` entries in a second set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NftSet {
    pub name: String,
    pub elements: Vec<String>,
    pub nomatch: Vec<String>,
}

fn set_name(name: &str, nomatch: bool) -> String {
    format!("ipset-{name}{}", if nomatch { "-nomatch" } else { "" })
}

/// The match of an address spec: `ip saddr 10.0.0.0/8`, or an IP set reference.
fn addr_match(dir: &str, spec: &str, sets: &[NftSet]) -> String {
    if let Some(super::rule::AddrRef::IpSet(name)) = super::rule::addr_ref(spec) {
        let mut m = format!("ip {dir} @{}", set_name(&name, false));
        if sets.iter().any(|s| s.name == name && !s.nomatch.is_empty()) {
            m.push_str(&format!(" ip {dir} != @{}", set_name(&name, true)));
        }
        return m;
    }
    format!("ip {dir} {}", set(spec, false))
}

fn set(spec: &str, port: bool) -> String {
    let items: Vec<String> = spec
        .split(',')
        .map(|p| {
            if port {
                p.replace(':', "-")
            } else {
                p.to_string()
            }
        })
        .collect();
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

fn proto_match(
    proto: &str,
    dport: Option<&str>,
    sport: Option<&str>,
    icmp_type: Option<&str>,
) -> String {
    let p = proto.to_ascii_lowercase();
    let mut s = match p.as_str() {
        "icmp" | "1" => "ip protocol icmp".to_string(),
        "ipv6-icmp" | "icmpv6" | "58" => "meta l4proto ipv6-icmp".to_string(),
        other => format!("meta l4proto {other}"),
    };
    if let Some(d) = dport {
        let _ = write!(s, " th dport {}", set(d, true));
    }
    if let Some(sp) = sport {
        let _ = write!(s, " th sport {}", set(sp, true));
    }
    if let Some(t) = icmp_type.filter(|_| matches!(p.as_str(), "icmp" | "1")) {
        let _ = write!(s, " icmp type {t}");
    }
    s
}

/// The nft rule lines of one firewall rule in a guest chain (`dev_key` is `oifname` for
/// the in direction, `iifname` for out).
fn rule_lines(
    rule: &Rule,
    guest: &GuestFirewall,
    dev_key: &str,
    chain: &str,
    sets: &[NftSet],
) -> Vec<String> {
    let dev = match &rule.iface {
        Some(iface) => {
            let index: Option<u32> = iface.strip_prefix("net").and_then(|n| n.parse().ok());
            match guest.nics.iter().find(|(i, _)| Some(*i) == index) {
                Some((_, dev)) => Some(dev.as_str()),
                None => return Vec::new(), // that NIC has no firewall: the rule matches nothing
            }
        }
        None => None,
    };
    match_lines(rule, dev.map(|d| (dev_key, d)), chain, sets)
}

/// The nft rule lines of a host rule (its `iface` is a device of the node).
pub(super) fn host_rule_lines(
    rule: &Rule,
    dev_key: &str,
    chain: &str,
    sets: &[NftSet],
) -> Vec<String> {
    match_lines(
        rule,
        rule.iface.as_deref().map(|i| (dev_key, i)),
        chain,
        sets,
    )
}

/// The nft rule lines of one rule, with an optional device match (`iifname "x"`).
fn match_lines(
    rule: &Rule,
    dev: Option<(&str, &str)>,
    chain: &str,
    sets: &[NftSet],
) -> Vec<String> {
    let mut base = String::new();
    if let Some((key, dev)) = dev {
        let _ = write!(base, "{key} \"{dev}\" ");
    }
    if let Some(src) = &rule.source {
        let _ = write!(base, "{} ", addr_match("saddr", src, sets));
    }
    if let Some(dst) = &rule.dest {
        let _ = write!(base, "{} ", addr_match("daddr", dst, sets));
    }
    let log = rule
        .log
        .as_deref()
        .filter(|l| *l != "nolog")
        .map(|l| {
            format!(
                "log prefix \"{chain}: \" level {} ",
                if l == "err" { "err" } else { l }
            )
        })
        .unwrap_or_default();
    let v = verdict(&rule.action);
    let parts: Vec<String> = match rule.macro_name.as_deref().and_then(macros::lookup) {
        Some(parts) => parts
            .iter()
            .map(
                |MacroPart {
                     proto,
                     dport,
                     sport,
                 }| {
                    proto_match(
                        proto,
                        rule.dport.as_deref().or(*dport),
                        rule.sport.as_deref().or(*sport),
                        rule.icmp_type.as_deref().or(Some("echo-request")),
                    )
                },
            )
            .collect(),
        None => match &rule.proto {
            Some(p) => vec![proto_match(
                p,
                rule.dport.as_deref(),
                rule.sport.as_deref(),
                rule.icmp_type.as_deref(),
            )],
            None => vec![String::new()],
        },
    };
    parts
        .into_iter()
        .map(|m| {
            format!("{base}{m} {log}{v}")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn chain(
    s: &mut String,
    name: &str,
    guest: &GuestFirewall,
    ty: RuleType,
    stateful: bool,
    sets: &[NftSet],
) {
    let (dev_key, policy) = match ty {
        RuleType::In => ("oifname", &guest.policy_in),
        _ => ("iifname", &guest.policy_out),
    };
    let _ = writeln!(s, "  chain {name} {{");
    if ty == RuleType::Out {
        for (dev, mac) in &guest.macs {
            let _ = writeln!(
                s,
                "    iifname \"{dev}\" ether saddr != {} drop",
                mac.to_ascii_lowercase()
            );
        }
    }
    if stateful {
        let _ = writeln!(s, "    ct state established,related accept");
        let _ = writeln!(s, "    ct state invalid drop");
    }
    // address resolution and IPv6 neighbour discovery always pass
    let _ = writeln!(s, "    ether type arp accept");
    let _ = writeln!(s, "    meta l4proto ipv6-icmp accept");
    if guest.dhcp {
        let (sport, dport) = if ty == RuleType::In {
            (67, 68)
        } else {
            (68, 67)
        };
        let _ = writeln!(s, "    udp sport {sport} udp dport {dport} accept");
    }
    for rule in guest
        .rules
        .iter()
        .filter(|r| r.enable && r.rule_type == Some(ty))
    {
        for line in rule_lines(rule, guest, dev_key, name, sets) {
            let _ = writeln!(s, "    {line}");
        }
    }
    let _ = writeln!(s, "    {}", verdict(policy));
    let _ = writeln!(s, "  }}");
}

/// The nft script that makes the table enforce exactly these guest firewalls. `stateful`
/// adds connection tracking (the kernel needs bridge conntrack, `nf_conntrack_bridge`).
pub fn ruleset(guests: &[GuestFirewall], stateful: bool) -> String {
    ruleset_with_sets(guests, &[], stateful)
}

/// [`ruleset`] with the datacenter's IP sets, which rules use as `+name`.
pub fn ruleset_with_sets(guests: &[GuestFirewall], sets: &[NftSet], stateful: bool) -> String {
    let mut s = format!("table bridge {TABLE}\ndelete table bridge {TABLE}\n");
    let active: Vec<&GuestFirewall> = guests.iter().filter(|g| !g.nics.is_empty()).collect();
    if active.is_empty() {
        return s;
    }
    let _ = writeln!(s, "table bridge {TABLE} {{");
    for set in sets {
        for (nomatch, elements) in [(false, &set.elements), (true, &set.nomatch)] {
            if nomatch && elements.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                "  set {} {{\n    type ipv4_addr; flags interval; auto-merge;\n",
                set_name(&set.name, nomatch)
            );
            if !elements.is_empty() {
                let _ = writeln!(s, "    elements = {{ {} }}", elements.join(", "));
            }
            let _ = writeln!(s, "  }}");
        }
    }
    for g in &active {
        let name_in = format!("guest{}-in", g.vmid);
        chain(&mut s, &name_in, g, RuleType::In, stateful, sets);
        let name_out = format!("guest{}-out", g.vmid);
        chain(&mut s, &name_out, g, RuleType::Out, stateful, sets);
    }
    let map = |dir: &str| {
        active
            .iter()
            .flat_map(|g| {
                g.nics
                    .iter()
                    .map(move |(_, dev)| format!("\"{dev}\" : jump guest{}-{dir}", g.vmid))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // traffic towards a guest leaves the bridge through its port; traffic from it enters there
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type filter hook postrouting priority 0; policy accept;\n    oifname vmap {{ {} }}\n  }}",
        map("in")
    );
    let _ = writeln!(
        s,
        "  chain prerouting {{\n    type filter hook prerouting priority 0; policy accept;\n    iifname vmap {{ {} }}\n  }}",
        map("out")
    );
    let _ = writeln!(s, "}}");
    s
}

/// Whether this kernel tracks connections of bridged traffic (`ct` in the bridge family).
pub fn kernel_has_bridge_conntrack() -> bool {
    let probe = "table bridge oxve-probe {\n  chain c { type filter hook prerouting priority 0; ct state established accept; }\n}\n";
    let child = Command::new("nft")
        .args(["-c", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        let _ = stdin.write_all(probe.as_bytes());
    }
    child.wait().map(|s| s.success()).unwrap_or(false)
}

/// Replace the chains of one guest in the existing table (flush, then refill).
pub(super) fn chain_update(g: &GuestFirewall, stateful: bool, sets: &[NftSet]) -> String {
    let (name_in, name_out) = (
        format!("guest{}-in", g.vmid),
        format!("guest{}-out", g.vmid),
    );
    let mut s = format!("flush chain bridge {TABLE} {name_in}\nflush chain bridge {TABLE} {name_out}\ntable bridge {TABLE} {{\n");
    chain(&mut s, &name_in, g, RuleType::In, stateful, sets);
    chain(&mut s, &name_out, g, RuleType::Out, stateful, sets);
    s.push_str("}\n");
    s
}

/// Apply the guest firewalls (one transaction).
pub fn apply(guests: &[GuestFirewall], stateful: bool) -> Result<()> {
    crate::nat::nft_apply(&ruleset(guests, stateful))
}

/// Apply the guest firewalls with the datacenter's IP sets (one transaction).
pub fn apply_with_sets(guests: &[GuestFirewall], sets: &[NftSet], stateful: bool) -> Result<()> {
    crate::nat::nft_apply(&ruleset_with_sets(guests, sets, stateful))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(rules: &[&str]) -> GuestFirewall {
        GuestFirewall {
            vmid: 100,
            policy_in: "DROP".into(),
            policy_out: "ACCEPT".into(),
            dhcp: false,
            rules: rules.iter().map(|l| Rule::parse_line(l).unwrap()).collect(),
            nics: vec![(0, "tap100i0".into())],
            macs: vec![("tap100i0".into(), "BC:24:11:00:00:01".into())],
        }
    }

    #[test]
    fn rules_become_chains() {
        let g = guest(&[
            "IN ACCEPT -p tcp -dport 80,8000:8080",
            "IN SSH(ACCEPT) -source 10.0.0.0/8",
            "|IN ACCEPT -p tcp -dport 81",
            "IN DROP -i net1 -p tcp -dport 82",
            "OUT REJECT -p udp -dport 53 -log info",
            "IN Ping(ACCEPT)",
        ]);
        let s = ruleset(&[g], true);
        assert!(
            s.starts_with("table bridge oxve-fw\ndelete table bridge oxve-fw\n"),
            "{s}"
        );
        assert!(
            s.contains("    meta l4proto tcp th dport { 80, 8000-8080 } accept\n"),
            "{s}"
        );
        assert!(
            s.contains("    ip saddr 10.0.0.0/8 meta l4proto tcp th dport 22 accept\n"),
            "{s}"
        );
        assert!(!s.contains("dport 81"), "disabled rules are left out: {s}");
        assert!(
            !s.contains("dport 82"),
            "a rule for a NIC without firewall matches nothing: {s}"
        );
        assert!(
            s.contains(
                "meta l4proto udp th dport 53 log prefix \"guest100-out: \" level info drop"
            ),
            "{s}"
        );
        assert!(
            s.contains("ip protocol icmp icmp type echo-request accept"),
            "{s}"
        );
        assert!(
            s.contains("oifname vmap { \"tap100i0\" : jump guest100-in }"),
            "{s}"
        );
        assert!(s.contains("ct state established,related accept"));
        assert!(
            s.contains("iifname \"tap100i0\" ether saddr != bc:24:11:00:00:01 drop"),
            "{s}"
        );
        assert!(!ruleset(&[guest(&[])], false).contains("ct state"));
        assert_eq!(
            ruleset(&[], true),
            "table bridge oxve-fw\ndelete table bridge oxve-fw\n"
        );
    }
}
