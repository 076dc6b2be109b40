//! The node's own firewall (datacenter and node rules, Proxmox's host level) in nftables:
//! `inet oxve-host`, input and output only, so guest and forwarded traffic is not touched.
//! The API and SSH always stay reachable from the node's own networks, and the services oxve
//! runs for NAT bridges (DHCP, DNS) and VPN endpoints stay open, so enabling a DROP policy
//! cannot lock the administrator out.

use std::fmt::Write;

use super::nft::NftSet;
use super::rule::{Rule, RuleType};
use crate::error::Result;

pub const TABLE: &str = "oxve-host";

/// What the host firewall enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFirewall {
    /// `policy_in` / `policy_out` of the datacenter (DROP / ACCEPT by default).
    pub policy_in: String,
    pub policy_out: String,
    /// Datacenter rules, then node rules (groups expanded, aliases resolved).
    pub rules: Vec<Rule>,
    /// TCP ports of management services (the API, SSH), open from `local_networks`.
    pub management_ports: Vec<u16>,
    /// The node's own networks (`10.0.0.0/24`).
    pub local_networks: Vec<String>,
    /// NAT bridges whose guests use the node's DHCP and DNS.
    pub nat_bridges: Vec<String>,
    /// UDP ports of VPN endpoints.
    pub vpn_ports: Vec<u16>,
}

fn verdict(policy: &str) -> &'static str {
    match policy {
        "ACCEPT" => "accept",
        "REJECT" => "reject",
        _ => "drop",
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The nft script replacing oxve's host table (`enabled: false` removes it).
pub fn ruleset(fw: Option<&HostFirewall>, sets: &[NftSet]) -> String {
    let mut s = format!("table inet {TABLE}\ndelete table inet {TABLE}\n");
    let Some(fw) = fw else { return s };
    let _ = writeln!(s, "table inet {TABLE} {{");
    s.push_str(&super::matching::set_decls(sets));
    let _ = writeln!(
        s,
        "  chain input {{\n    type filter hook input priority 0; policy accept;"
    );
    let _ = writeln!(s, "    iifname \"lo\" accept");
    let _ = writeln!(s, "    ct state established,related accept");
    let _ = writeln!(s, "    ct state invalid drop");
    if !fw.management_ports.is_empty() && !fw.local_networks.is_empty() {
        let _ = writeln!(
            s,
            "    ip saddr {{ {} }} tcp dport {{ {} }} accept comment \"management\"",
            fw.local_networks.join(", "),
            join(&fw.management_ports)
        );
    }
    if !fw.nat_bridges.is_empty() {
        let names: Vec<String> = fw.nat_bridges.iter().map(|b| format!("\"{b}\"")).collect();
        let _ = writeln!(
            s,
            "    iifname {{ {} }} udp dport {{ 53, 67 }} accept comment \"NAT DHCP/DNS\"",
            names.join(", ")
        );
        let _ = writeln!(
            s,
            "    iifname {{ {} }} tcp dport 53 accept",
            names.join(", ")
        );
    }
    if !fw.vpn_ports.is_empty() {
        let _ = writeln!(
            s,
            "    udp dport {{ {} }} accept comment \"VPN\"",
            join(&fw.vpn_ports)
        );
    }
    for rule in fw
        .rules
        .iter()
        .filter(|r| r.enable && r.rule_type == Some(RuleType::In))
    {
        for line in host_rule_lines(rule, "iifname", "host-in", sets) {
            let _ = writeln!(s, "    {line}");
        }
    }
    let _ = writeln!(s, "    {}\n  }}", verdict(&fw.policy_in));
    let _ = writeln!(
        s,
        "  chain output {{\n    type filter hook output priority 0; policy accept;"
    );
    let _ = writeln!(s, "    oifname \"lo\" accept");
    let _ = writeln!(s, "    ct state established,related accept");
    for rule in fw
        .rules
        .iter()
        .filter(|r| r.enable && r.rule_type == Some(RuleType::Out))
    {
        for line in host_rule_lines(rule, "oifname", "host-out", sets) {
            let _ = writeln!(s, "    {line}");
        }
    }
    let _ = writeln!(s, "    {}\n  }}\n}}", verdict(&fw.policy_out));
    s
}

/// The nft rule lines of a host rule (its `iface` is a device of the node).
fn host_rule_lines(rule: &Rule, dev_key: &str, chain: &str, sets: &[NftSet]) -> Vec<String> {
    let dev = rule.iface.as_deref().map(|i| (dev_key, i));
    super::matching::match_lines(rule, dev, chain, sets, "reject")
}

/// Apply the host firewall (one transaction); `None` removes it.
pub fn apply(fw: Option<&HostFirewall>, sets: &[NftSet]) -> Result<()> {
    crate::nat::nft_apply(&ruleset(fw, sets))
}

/// Applies the host firewall only when it changed (a guest's change leaves it alone).
#[derive(Debug, Default)]
pub struct HostFirewallApplier {
    last: std::sync::Mutex<Option<String>>,
}

impl HostFirewallApplier {
    /// Apply `fw` unless it is what was applied last; true when something was sent.
    pub fn apply(&self, fw: Option<&HostFirewall>, sets: &[NftSet]) -> Result<bool> {
        let script = ruleset(fw, sets);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() == Some(script.as_str()) {
            return Ok(false);
        }
        // forget what was applied until this succeeds
        *last = None;
        crate::nat::nft_apply(&script)?;
        *last = Some(script);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules_keep_management_open() {
        let fw = HostFirewall {
            policy_in: "DROP".into(),
            policy_out: "ACCEPT".into(),
            rules: vec![
                Rule::parse_line("IN ACCEPT -p tcp -dport 9000").unwrap(),
                Rule::parse_line("IN DROP -i vmbr0 -p udp -dport 161").unwrap(),
            ],
            management_ports: vec![8006, 22],
            local_networks: vec!["10.0.0.0/24".into()],
            nat_bridges: vec!["vmbr1".into()],
            vpn_ports: vec![51820],
        };
        let s = ruleset(Some(&fw), &[]);
        assert!(
            s.contains("ip saddr { 10.0.0.0/24 } tcp dport { 8006, 22 } accept"),
            "{s}"
        );
        assert!(s.contains("meta l4proto tcp th dport 9000 accept"), "{s}");
        assert!(
            s.contains("iifname \"vmbr0\" meta l4proto udp th dport 161 drop"),
            "{s}"
        );
        assert!(
            s.contains("iifname { \"vmbr1\" } udp dport { 53, 67 } accept"),
            "{s}"
        );
        assert!(s.contains("udp dport { 51820 } accept"), "{s}");
        assert!(s.contains("    drop\n  }\n  chain output"), "{s}");
        assert_eq!(
            ruleset(None, &[]),
            "table inet oxve-host\ndelete table inet oxve-host\n"
        );
    }
}
