//! One firewall rule as nft rule lines, for IPv4 and IPv6: a rule whose addresses, IP sets or
//! protocol fix the family gets lines of that family (an IP set with addresses of both gets
//! one line each); a rule with none matches both with one line.

use std::fmt::Write;

use super::macros::{self, MacroPart};
use super::rule::{addr_ref, spec_family, AddrRef, Family, Rule};

/// An IP set as nftables sets: per family, the members and the `nomatch` exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NftSet {
    pub name: String,
    pub elements: Vec<String>,
    pub nomatch: Vec<String>,
}

fn of_family(items: &[String], family: Family) -> Vec<String> {
    items
        .iter()
        .filter(|e| spec_family(e) == Some(family))
        .cloned()
        .collect()
}

/// The nft name of an IP set's set for `family` (`nomatch` for its exceptions).
pub fn set_name(name: &str, family: Family, nomatch: bool) -> String {
    format!(
        "ipset-{name}{}{}",
        if family == Family::V6 { "-v6" } else { "" },
        if nomatch { "-nomatch" } else { "" }
    )
}

impl NftSet {
    fn families(&self) -> Vec<Family> {
        let fams: Vec<Family> = [Family::V4, Family::V6]
            .into_iter()
            .filter(|f| !of_family(&self.elements, *f).is_empty())
            .collect();
        // an empty set matches nothing: one line that never matches is enough
        if fams.is_empty() {
            vec![Family::V4]
        } else {
            fams
        }
    }
}

/// One declared nftables set: its name, its address type, its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredSet {
    pub name: String,
    pub family: Family,
    pub elements: Vec<String>,
}

/// The nftables sets `sets` become: per IP set and family the members (both families always
/// exist, so rules may name either), and the `nomatch` exceptions where there are any.
pub fn declared_sets(sets: &[NftSet]) -> Vec<DeclaredSet> {
    let mut out = Vec::new();
    for set in sets {
        for family in [Family::V4, Family::V6] {
            for nomatch in [false, true] {
                let elements =
                    of_family(if nomatch { &set.nomatch } else { &set.elements }, family);
                if nomatch && elements.is_empty() {
                    continue;
                }
                out.push(DeclaredSet {
                    name: set_name(&set.name, family, nomatch),
                    family,
                    elements,
                });
            }
        }
    }
    out
}

/// The set declarations of `sets`.
pub fn set_decls(sets: &[NftSet]) -> String {
    let mut s = String::new();
    for set in declared_sets(sets) {
        let ty = if set.family == Family::V4 {
            "ipv4_addr"
        } else {
            "ipv6_addr"
        };
        let _ = write!(
            s,
            "  set {} {{\n    type {ty}; flags interval; auto-merge;\n",
            set.name
        );
        if !set.elements.is_empty() {
            let _ = writeln!(s, "    elements = {{ {} }}", set.elements.join(", "));
        }
        let _ = writeln!(s, "  }}");
    }
    s
}

/// The families an address spec allows (`None`: any).
fn spec_families(spec: Option<&str>, sets: &[NftSet]) -> Option<Vec<Family>> {
    let spec = spec?;
    if let Some(AddrRef::IpSet(name)) = addr_ref(spec) {
        return Some(
            sets.iter()
                .find(|s| s.name == name)
                .map(NftSet::families)
                .unwrap_or_else(|| vec![Family::V4]),
        );
    }
    spec_family(spec).map(|f| vec![f])
}

fn intersect(a: Option<Vec<Family>>, b: Option<Vec<Family>>) -> Option<Vec<Family>> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(a.into_iter().filter(|f| b.contains(f)).collect()),
    }
}

fn list(spec: &str, port: bool) -> String {
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

/// The match of an address spec in `family`: `ip saddr 10.0.0.0/8`, or an IP set.
fn addr_match(dir: &str, spec: &str, family: Family, sets: &[NftSet]) -> String {
    let key = if family == Family::V4 { "ip" } else { "ip6" };
    if let Some(AddrRef::IpSet(name)) = addr_ref(spec) {
        let mut m = format!("{key} {dir} @{}", set_name(&name, family, false));
        let exceptions = sets
            .iter()
            .any(|s| s.name == name && !of_family(&s.nomatch, family).is_empty());
        if exceptions {
            let _ = write!(m, " {key} {dir} != @{}", set_name(&name, family, true));
        }
        return m;
    }
    format!("{key} {dir} {}", list(spec, false))
}

/// The protocol family a protocol fixes (ICMP is IPv4's, ICMPv6 IPv6's).
fn proto_family(proto: &str) -> Option<Family> {
    match proto.to_ascii_lowercase().as_str() {
        "icmp" | "1" => Some(Family::V4),
        "ipv6-icmp" | "icmpv6" | "58" => Some(Family::V6),
        _ => None,
    }
}

fn proto_match(
    proto: &str,
    dport: Option<&str>,
    sport: Option<&str>,
    icmp_type: Option<&str>,
) -> String {
    let mut s = match proto_family(proto) {
        Some(Family::V4) => "ip protocol icmp".to_string(),
        Some(Family::V6) => "meta l4proto ipv6-icmp".to_string(),
        None => format!("meta l4proto {}", proto.to_ascii_lowercase()),
    };
    if let Some(d) = dport {
        let _ = write!(s, " th dport {}", list(d, true));
    }
    if let Some(sp) = sport {
        let _ = write!(s, " th sport {}", list(sp, true));
    }
    match (proto_family(proto), icmp_type) {
        (Some(Family::V4), Some(t)) => {
            let _ = write!(s, " icmp type {t}");
        }
        (Some(Family::V6), Some(t)) => {
            let _ = write!(s, " icmpv6 type {t}");
        }
        _ => {}
    }
    s
}

/// How a rule's action is written: `reject` is the verdict text for REJECT (the host table
/// rejects itself; bridge chains mark the packet for oxve's reject chains).
pub fn verdict<'a>(action: &str, reject: &'a str) -> &'a str {
    match action {
        "ACCEPT" => "accept",
        "REJECT" => reject,
        _ => "drop",
    }
}

/// The nft rule lines of one rule, with an optional device match (`iifname "x"`).
pub fn match_lines(
    rule: &Rule,
    dev: Option<(&str, &str)>,
    chain: &str,
    sets: &[NftSet],
    reject: &str,
) -> Vec<String> {
    let mut base = String::new();
    if let Some((key, dev)) = dev {
        let _ = write!(base, "{key} \"{dev}\" ");
    }
    let log = rule
        .log
        .as_deref()
        .filter(|l| *l != "nolog")
        .map(|l| format!("log prefix \"{chain}: \" level {l} "))
        .unwrap_or_default();
    let v = verdict(&rule.action, reject);
    let addr_fams = intersect(
        spec_families(rule.source.as_deref(), sets),
        spec_families(rule.dest.as_deref(), sets),
    );
    let parts: Vec<(Option<&str>, String)> =
        match rule.macro_name.as_deref().and_then(macros::lookup) {
            Some(parts) => parts
                .iter()
                .map(
                    |MacroPart {
                         proto,
                         dport,
                         sport,
                         icmp_type,
                     }| {
                        (
                            Some(*proto),
                            proto_match(
                                proto,
                                rule.dport.as_deref().or(*dport),
                                rule.sport.as_deref().or(*sport),
                                rule.icmp_type.as_deref().or(*icmp_type),
                            ),
                        )
                    },
                )
                .collect(),
            None => match &rule.proto {
                Some(p) => vec![(
                    Some(p.as_str()),
                    proto_match(
                        p,
                        rule.dport.as_deref(),
                        rule.sport.as_deref(),
                        rule.icmp_type.as_deref(),
                    ),
                )],
                None => vec![(None, String::new())],
            },
        };
    let mut out = Vec::new();
    for (proto, m) in parts {
        let fams: Vec<Option<Family>> = match (addr_fams.clone(), proto.and_then(proto_family)) {
            (None, None) => vec![None],
            (None, Some(f)) => vec![Some(f)],
            (Some(v), None) => v.into_iter().map(Some).collect(),
            (Some(v), Some(f)) => v.into_iter().filter(|x| *x == f).map(Some).collect(),
        };
        for fam in fams {
            let mut addrs = String::new();
            if let Some(f) = fam {
                for (dir, spec) in [("saddr", &rule.source), ("daddr", &rule.dest)] {
                    if let Some(spec) = spec {
                        let _ = write!(addrs, "{} ", addr_match(dir, spec, f, sets));
                    }
                }
            }
            let line = format!("{base}{addrs}{m} {log}{v}");
            out.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(rule: &str, sets: &[NftSet]) -> Vec<String> {
        match_lines(&Rule::parse_line(rule).unwrap(), None, "c", sets, "reject")
    }

    #[test]
    fn families_follow_addresses_sets_and_protocols() {
        assert_eq!(
            lines("IN ACCEPT -source fd00::/64 -p tcp -dport 22", &[]),
            ["ip6 saddr fd00::/64 meta l4proto tcp th dport 22 accept"]
        );
        assert_eq!(
            lines("IN DROP -p tcp -dport 22", &[]),
            ["meta l4proto tcp th dport 22 drop"]
        );
        let set = NftSet {
            name: "mixed".into(),
            elements: vec!["10.0.0.0/8".into(), "fd00::/8".into()],
            nomatch: vec!["fd00::1".into()],
        };
        assert_eq!(
            lines("IN REJECT -source +mixed", std::slice::from_ref(&set)),
            [
                "ip saddr @ipset-mixed reject",
                "ip6 saddr @ipset-mixed-v6 ip6 saddr != @ipset-mixed-v6-nomatch reject"
            ]
        );
        // Ping means echo requests of both families; a v4 source keeps only the v4 one
        assert_eq!(
            lines("IN Ping(ACCEPT)", &[]),
            [
                "ip protocol icmp icmp type echo-request accept",
                "meta l4proto ipv6-icmp icmpv6 type echo-request accept"
            ]
        );
        assert_eq!(
            lines("IN Ping(ACCEPT) -source 10.0.0.1", &[]),
            ["ip saddr 10.0.0.1 ip protocol icmp icmp type echo-request accept"]
        );
        assert_eq!(
            lines("IN DROP -p ipv6-icmp -icmp-type echo-request", &[]),
            ["meta l4proto ipv6-icmp icmpv6 type echo-request drop"]
        );
        let decls = set_decls(&[set]);
        assert!(
            decls.contains("set ipset-mixed-v6 {\n    type ipv6_addr;"),
            "{decls}"
        );
        assert!(decls.contains("elements = { fd00::/8 }"), "{decls}");
    }
}
