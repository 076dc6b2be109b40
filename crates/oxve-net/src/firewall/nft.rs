//! Guest firewalls in nftables: one bridge-family table of oxve's own (`bridge oxve-fw`), with
//! a chain per guest and direction, reached through verdict maps keyed by the guest's tap or
//! veth; and a small `inet oxve-fwstate` table for what the bridge family cannot do on every
//! kernel. Both are replaced in one `nft -f` transaction, so a change is atomic and rules of
//! the host or other tools stay untouched.
//!
//! Connection state and REJECT go through two bits of the packet mark, since the bridge
//! family has neither `ct` (without `nf_conntrack_bridge`) nor `reject` (without
//! `nft_reject_bridge`) here. With bridge netfilter on (`bridge-nf-call-iptables`, as Proxmox
//! sets it), bridged packets pass the inet hooks too: the state table marks packets of
//! established connections before the guest chains run, and guest chains mark packets to
//! reject, which the state table's forward and input chains reject (TCP reset, ICMP
//! unreachable). A marked packet that reaches no reject chain (sent by the host itself to a
//! guest) is dropped at the end.
//!
//! Hooks: traffic from a guest in bridge prerouting (after bridge netfilter, priority 10);
//! traffic to a guest in bridge forward and output (before bridge netfilter, priority -10).

use std::fmt::Write;

pub use super::matching::NftSet;
use super::matching::{match_lines, set_decls};
use super::rule::{Rule, RuleType};
use crate::error::Result;

/// The nftables table oxve owns for guest firewalls.
pub const TABLE: &str = "oxve-fw";
/// The inet table for connection state and rejects.
pub const STATE_TABLE: &str = "oxve-fwstate";
/// Mark bit: the packet belongs to an established (or related) connection.
pub const MARK_ESTABLISHED: u32 = 0x0800_0000;
/// Mark bit: a guest rule rejects the packet.
pub const MARK_REJECT: u32 = 0x0400_0000;

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
    /// The bridges of those NICs (their traffic gets connection state).
    pub bridges: Vec<String>,
    /// IP filter (option `ipfilter`): per device, the IP set (in the ruleset's sets) of the
    /// only source addresses the guest may use (its IPv6 link-local address among them).
    pub ipfilter: Vec<(String, String)>,
}

fn reject_verdict() -> String {
    format!("meta mark set meta mark | {MARK_REJECT:#010x} accept")
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
    match_lines(
        rule,
        dev.map(|d| (dev_key, d)),
        chain,
        sets,
        &reject_verdict(),
    )
}

/// Neighbour discovery, which IPv6 needs as IPv4 needs ARP.
const NDP: &str =
    "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept";

fn policy_verdict(policy: &str) -> String {
    super::matching::verdict(policy, &reject_verdict()).to_string()
}

/// The name of a guest's chain for direction `ty` (`guest100-in`, `guest100-out`).
pub fn chain_name(vmid: u32, ty: RuleType) -> String {
    let dir = if ty == RuleType::In { "in" } else { "out" };
    format!("guest{vmid}-{dir}")
}

/// A guest chain: fixed head rules (filters, state, ARP, NDP, DHCP), the rules from the
/// guest's rule list (kept in block chains of at most [`BLOCK`] rules, which the chain jumps
/// to in order, so a change rewrites only the blocks it touches), and the policy verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParts {
    pub head: Vec<String>,
    pub body: Vec<String>,
    pub policy: String,
}

/// Rules per block chain: small enough that rewriting one is cheap, large enough that a
/// packet makes few jumps.
pub const BLOCK: usize = 32;

/// The rules of a guest's chain for direction `ty`, one nft rule per line.
pub fn chain_parts(
    guest: &GuestFirewall,
    ty: RuleType,
    stateful: bool,
    sets: &[NftSet],
) -> ChainParts {
    let name = chain_name(guest.vmid, ty);
    let (dev_key, policy) = match ty {
        RuleType::In => ("oifname", &guest.policy_in),
        _ => ("iifname", &guest.policy_out),
    };
    let mut out = Vec::new();
    if ty == RuleType::Out {
        for (dev, mac) in &guest.macs {
            out.push(format!(
                "iifname \"{dev}\" ether saddr != {} drop",
                mac.to_ascii_lowercase()
            ));
        }
        for (dev, set) in &guest.ipfilter {
            let v4 = super::matching::set_name(set, super::rule::Family::V4, false);
            let v6 = super::matching::set_name(set, super::rule::Family::V6, false);
            // unconfigured senders (DHCP, duplicate address probes) pass
            out.push(format!(
                "iifname \"{dev}\" ip saddr != 0.0.0.0 ip saddr != @{v4} drop"
            ));
            out.push(format!(
                "iifname \"{dev}\" arp saddr ip != 0.0.0.0 arp saddr ip != @{v4} drop"
            ));
            out.push(format!(
                "iifname \"{dev}\" ip6 saddr != :: ip6 saddr != @{v6} drop"
            ));
        }
    }
    if stateful {
        out.push(format!(
            "meta mark & {MARK_ESTABLISHED:#010x} == {MARK_ESTABLISHED:#010x} accept"
        ));
    }
    // address resolution and IPv6 neighbour discovery always pass
    out.push("ether type arp accept".into());
    out.push(NDP.into());
    if guest.dhcp {
        let (sport, dport) = if ty == RuleType::In {
            (67, 68)
        } else {
            (68, 67)
        };
        out.push(format!("udp sport {sport} udp dport {dport} accept"));
    }
    let body = guest
        .rules
        .iter()
        .filter(|r| r.enable && r.rule_type == Some(ty))
        .flat_map(|rule| rule_lines(rule, guest, dev_key, &name, sets))
        .collect();
    ChainParts {
        head: out,
        body,
        policy: policy_verdict(policy),
    }
}

/// The rules of a guest's main chain: its head, a jump to each block, its policy.
pub fn main_lines(parts: &ChainParts, blocks: &[String]) -> Vec<String> {
    let mut out = parts.head.clone();
    out.extend(blocks.iter().map(|b| format!("jump {b}")));
    out.push(parts.policy.clone());
    out
}

/// The name of block `n` of chain `name`.
pub fn block_name(name: &str, n: usize) -> String {
    format!("{name}-{n}")
}

fn chain(s: &mut String, guest: &GuestFirewall, ty: RuleType, stateful: bool, sets: &[NftSet]) {
    let name = chain_name(guest.vmid, ty);
    let parts = chain_parts(guest, ty, stateful, sets);
    let mut blocks = Vec::new();
    // blocks first: the main chain's jumps need them
    for (n, block) in parts.body.chunks(BLOCK).enumerate() {
        let block_chain = block_name(&name, n);
        let _ = writeln!(s, "  chain {block_chain} {{");
        for line in block {
            let _ = writeln!(s, "    {line}");
        }
        let _ = writeln!(s, "  }}");
        blocks.push(block_chain);
    }
    let _ = writeln!(s, "  chain {name} {{");
    for line in main_lines(&parts, &blocks) {
        let _ = writeln!(s, "    {line}");
    }
    let _ = writeln!(s, "  }}");
}

/// The nft script that makes the table enforce exactly these guest firewalls. `stateful`
/// lets packets of established connections through (needs bridge netfilter).
pub fn ruleset(guests: &[GuestFirewall], stateful: bool) -> String {
    ruleset_with_sets(guests, &[], stateful)
}

/// The inet table: established-connection marks (when `stateful`) and rejects.
fn state_table(s: &mut String, stateful: bool, bridges: &[&str]) {
    let _ = writeln!(s, "table inet {STATE_TABLE} {{");
    if stateful && !bridges.is_empty() {
        // only traffic of the guests' bridges is marked (entering from them, or routed or
        // sent to them), so the host's own traffic and mark-based routing stay untouched
        let names = bridges
            .iter()
            .map(|b| format!("\"{b}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let set = format!(
            "ct state established,related meta mark set meta mark | {MARK_ESTABLISHED:#010x}"
        );
        for (hook, prio, only) in [
            ("prerouting", -150, format!("iifname {{ {names} }} ")),
            ("forward", -10, format!("oifname {{ {names} }} ")),
            ("output", -150, format!("oifname {{ {names} }} ")),
        ] {
            let _ = writeln!(
                s,
                "  chain mark-{hook} {{\n    type filter hook {hook} priority {prio}; policy accept;\n    {only}{set}\n  }}"
            );
        }
    }
    for hook in ["forward", "input"] {
        let _ = writeln!(
            s,
            "  chain reject-{hook} {{\n    type filter hook {hook} priority 0; policy accept;\n    \
             meta mark & {MARK_REJECT:#010x} == {MARK_REJECT:#010x} meta l4proto tcp reject with tcp reset\n    \
             meta mark & {MARK_REJECT:#010x} == {MARK_REJECT:#010x} reject\n  }}"
        );
    }
    let _ = writeln!(s, "}}");
}

/// [`ruleset`] with the IP sets rules use as `+name`.
pub fn ruleset_with_sets(guests: &[GuestFirewall], sets: &[NftSet], stateful: bool) -> String {
    let mut s = format!(
        "table bridge {TABLE}\ndelete table bridge {TABLE}\n\
         table inet {STATE_TABLE}\ndelete table inet {STATE_TABLE}\n"
    );
    let active: Vec<&GuestFirewall> = guests.iter().filter(|g| !g.nics.is_empty()).collect();
    if active.is_empty() {
        return s;
    }
    let _ = writeln!(s, "table bridge {TABLE} {{");
    s.push_str(&set_decls(sets));
    for g in &active {
        chain(&mut s, g, RuleType::In, stateful, sets);
        chain(&mut s, g, RuleType::Out, stateful, sets);
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
    let (to, from) = (map("in"), map("out"));
    // traffic to a guest: bridged from another port, or sent by the host (routed, NAT)
    for (chain, hook) in [("to-guests", "forward"), ("to-guests-local", "output")] {
        let _ = writeln!(
            s,
            "  chain {chain} {{\n    type filter hook {hook} priority -10; policy accept;\n    oifname vmap {{ {to} }}\n  }}"
        );
    }
    let _ = writeln!(
        s,
        "  chain from-guests {{\n    type filter hook prerouting priority 10; policy accept;\n    iifname vmap {{ {from} }}\n  }}"
    );
    let _ = writeln!(
        s,
        "  chain unrejected {{\n    type filter hook postrouting priority 0; policy accept;\n    \
         meta mark & {MARK_REJECT:#010x} == {MARK_REJECT:#010x} drop\n  }}"
    );
    let _ = writeln!(s, "}}");
    let mut bridges: Vec<&str> = active
        .iter()
        .flat_map(|g| g.bridges.iter().map(String::as_str))
        .collect();
    bridges.sort_unstable();
    bridges.dedup();
    state_table(&mut s, stateful, &bridges);
    s
}

/// Turn bridge netfilter on in this namespace (bridged packets pass the inet hooks, as with
/// Proxmox's firewall); false when this kernel has none, and guest firewalls are stateless.
pub fn enable_bridge_netfilter() -> bool {
    ["iptables", "ip6tables"].iter().all(|t| {
        let path = format!("/proc/sys/net/bridge/bridge-nf-call-{t}");
        std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1")
            || std::fs::write(&path, "1").is_ok()
    })
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
            ipfilter: vec![("tap100i0".into(), "g100-ipfilter-net0".into())],
            bridges: vec!["vmbr0".into()],
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
                "meta l4proto udp th dport 53 log prefix \"guest100-out: \" level info meta mark set meta mark | 0x04000000 accept"
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
        assert!(
            s.contains("meta mark & 0x08000000 == 0x08000000 accept"),
            "{s}"
        );
        assert!(
            s.contains("ct state established,related meta mark set"),
            "{s}"
        );
        assert!(
            s.contains(
                "meta mark & 0x04000000 == 0x04000000 meta l4proto tcp reject with tcp reset"
            ),
            "{s}"
        );
        assert!(
            s.contains("iifname \"tap100i0\" ip saddr != 0.0.0.0 ip saddr != @ipset-g100-ipfilter-net0 drop"),
            "{s}"
        );
        assert!(
            s.contains("meta l4proto ipv6-icmp icmpv6 type echo-request accept"),
            "{s}"
        );
        assert!(
            s.contains("iifname \"tap100i0\" ether saddr != bc:24:11:00:00:01 drop"),
            "{s}"
        );
        assert!(!ruleset(&[guest(&[])], false).contains("ct state"));
        assert_eq!(
            ruleset(&[], true),
            "table bridge oxve-fw\ndelete table bridge oxve-fw\ntable inet oxve-fwstate\ndelete table inet oxve-fwstate\n"
        );
    }
}
