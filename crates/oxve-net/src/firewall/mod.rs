//! The guest firewall, Proxmox-style: `.fw` files (options and rules) at datacenter and guest
//! level, rule macros, and enforcement in nftables on the guests' taps and veths.

pub mod applier;
pub mod config;
pub mod host;
pub mod macros;
pub mod matching;
pub mod nft;
pub mod rule;

pub use config::{check_group_name, Alias, FwConfig, IpSet, IpSetEntry, SecurityGroup};
pub use rule::{Rule, RuleError, RuleType};

/// Replace each enabled `group` rule by the group's rules (with the group rule's NIC, if it
/// names one); rules of missing groups match nothing and are dropped.
pub fn expand_groups(rules: &[Rule], groups: &[SecurityGroup]) -> Vec<Rule> {
    let mut out = Vec::new();
    for rule in rules {
        if rule.rule_type != Some(RuleType::Group) {
            out.push(rule.clone());
            continue;
        }
        if !rule.enable {
            continue;
        }
        let Some(group) = groups.iter().find(|g| g.name == rule.action) else {
            continue;
        };
        for inner in group
            .rules
            .iter()
            .filter(|r| r.enable && r.rule_type != Some(RuleType::Group))
        {
            let mut r = inner.clone();
            if rule.iface.is_some() {
                r.iface = rule.iface.clone();
            }
            out.push(r);
        }
    }
    out
}

/// Replace alias names in rules' source and dest by their addresses (unknown aliases stay
/// and fail the nft transaction, which the API prevents by checking references first).
pub fn resolve_aliases(rules: &[Rule], aliases: &[Alias]) -> Vec<Rule> {
    let resolve = |spec: &Option<String>| -> Option<String> {
        let spec = spec.as_ref()?;
        if matches!(rule::addr_ref(spec), Some(rule::AddrRef::IpSet(_))) {
            return Some(spec.clone());
        }
        let items: Vec<String> = spec
            .split(',')
            .map(|item| match rule::addr_ref(item) {
                Some(rule::AddrRef::Alias(name)) => aliases
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(&name))
                    .map(|a| a.cidr.clone())
                    .unwrap_or_else(|| item.to_string()),
                _ => item.to_string(),
            })
            .collect();
        Some(items.join(","))
    };
    rules
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.source = resolve(&r.source);
            r.dest = resolve(&r.dest);
            r
        })
        .collect()
}

/// The datacenter's IP sets as nftables sets.
pub fn nft_sets(ipsets: &[IpSet]) -> Vec<nft::NftSet> {
    ipsets
        .iter()
        .map(|s| nft::NftSet {
            name: s.name.clone(),
            elements: s
                .entries
                .iter()
                .filter(|e| !e.nomatch)
                .map(|e| e.cidr.clone())
                .collect(),
            nomatch: s
                .entries
                .iter()
                .filter(|e| e.nomatch)
                .map(|e| e.cidr.clone())
                .collect(),
        })
        .collect()
}
