//! The guest firewall, Proxmox-style: `.fw` files (options and rules) at datacenter and guest
//! level, rule macros, and enforcement in nftables on the guests' taps and veths.

pub mod config;
pub mod macros;
pub mod nft;
pub mod rule;

pub use config::{check_group_name, FwConfig, SecurityGroup};
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
