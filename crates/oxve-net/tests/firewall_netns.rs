//! The guest firewall's nftables table in a throwaway namespace: a ruleset with 1,000 rules
//! is accepted by the kernel and applied in one transaction, fast (the target is
//! under 50 ms; the figure is printed), and replacing it leaves other tables alone.

use std::time::Instant;

use oxve_net::firewall::applier::{ApplyKind, GuestFirewallApplier};
use oxve_net::firewall::nft::{apply, enable_bridge_netfilter, GuestFirewall};
use oxve_net::firewall::Rule;
use oxve_net::netns::NamedNetns;

fn guest(vmid: u32, rules: usize) -> GuestFirewall {
    GuestFirewall {
        vmid,
        policy_in: "DROP".into(),
        policy_out: "ACCEPT".into(),
        dhcp: true,
        rules: (0..rules)
            .map(|i| {
                let line = match i % 4 {
                    0 => format!(
                        "IN ACCEPT -p tcp -dport {} -source 10.{}.0.0/16",
                        1000 + i,
                        i % 250
                    ),
                    1 => format!("IN DROP -p udp -dport {}:{}", 2000 + i, 2001 + i),
                    2 => format!(
                        "OUT ACCEPT -p tcp -dport {} -dest 192.168.{}.1",
                        3000 + i,
                        i % 250
                    ),
                    _ => "IN HTTPS(ACCEPT) -source 172.16.0.0/12 -log info".to_string(),
                };
                Rule::parse_line(&line).unwrap()
            })
            .collect(),
        nics: vec![(0, format!("tap{vmid}i0")), (1, format!("tap{vmid}i1"))],
        macs: vec![(format!("tap{vmid}i0"), "BC:24:11:00:00:01".into())],
        ipfilter: Vec::new(),
        bridges: vec!["vmbr0".into()],
    }
}

#[test]
fn a_thousand_rules_apply_in_one_quick_transaction() {
    let ns = NamedNetns::create("oxvenet").unwrap();
    let stateful = ns.run(enable_bridge_netfilter).unwrap();
    eprintln!("bridge netfilter in this kernel: {stateful}");
    // somebody else's table, which must survive
    let other = ns
        .exec(&["nft", "add", "table", "inet", "somebody-else"])
        .unwrap();
    assert!(other.status.success());

    let guests: Vec<GuestFirewall> = vec![guest(100, 1000), guest(101, 10), guest(102, 10)];
    // the whole table written anew (the path of layout changes), for reference
    ns.run(|| apply(&guests, stateful)).unwrap().unwrap();
    let mut full = Vec::new();
    for round in 0..5 {
        let mut changed = guests.clone();
        changed[0].rules[500] =
            Rule::parse_line(&format!("IN ACCEPT -p tcp -dport {}", 59000 + round)).unwrap();
        let t = Instant::now();
        ns.run(|| apply(&changed, stateful)).unwrap().unwrap();
        full.push(t.elapsed());
    }
    full.sort();
    // the daemon's path: a rule of the guest that has all 1,000 rules changes; the rules
    // before and after it stay in the kernel
    let applier = GuestFirewallApplier::default();
    assert_eq!(
        ns.run(|| applier.apply(&guests, &[], stateful))
            .unwrap()
            .unwrap(),
        ApplyKind::Full
    );
    let mut times = Vec::new();
    let mut changed = guests.clone();
    for round in 0..9 {
        let at = [0, 500, 999][round % 3];
        changed[0].rules[at] =
            Rule::parse_line(&format!("IN ACCEPT -p tcp -dport {}", 60000 + round)).unwrap();
        let t = Instant::now();
        let kind = ns
            .run(|| applier.apply(&changed, &[], stateful))
            .unwrap()
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(kind, ApplyKind::Guests(1));
    }
    times.sort();
    let median = times[times.len() / 2];
    let full_median = full[full.len() / 2];
    eprintln!(
        "firewall change on the guest with all 1,000 of the node's 1,020 rules, one nft transaction: median {median:?}, max {:?} (all: {times:?}); the whole table written anew: median {full_median:?}; ratio {:.2}",
        times[times.len() - 1],
        median.as_secs_f64() / full_median.as_secs_f64()
    );
    // the in-place result equals a fresh full apply
    let fresh = NamedNetns::create("oxvenet").unwrap();
    fresh.run(|| apply(&changed, stateful)).unwrap().unwrap();
    let list = |ns: &NamedNetns| {
        String::from_utf8_lossy(
            &ns.exec(&["nft", "list", "table", "bridge", "oxve-fw"])
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    assert_eq!(list(&ns), list(&fresh), "in place equals a full write");
    let listed = ns
        .exec(&["nft", "-a", "list", "table", "bridge", "oxve-fw"])
        .unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("dport 60008 accept"),
        "the last change is in force"
    );
    assert!(ns
        .exec(&["nft", "list", "table", "inet", "somebody-else"])
        .unwrap()
        .status
        .success());
    assert!(median.as_millis() < 1000, "applying took {median:?}");
}

/// Changing one guest's rules sends only that guest's chains; the result is the same ruleset
/// a full apply writes, and a table removed behind oxve's back is written again whole.
#[test]
fn one_guest_changes_only_its_chains() {
    use oxve_net::firewall::nft::ruleset;

    let ns = NamedNetns::create("oxvenet").unwrap();
    // 1,000 rules on the node, over 10 guests
    let guests: Vec<GuestFirewall> = (0..10).map(|i| guest(200 + i, 100)).collect();
    let applier = GuestFirewallApplier::default();
    let kind = ns
        .run(|| applier.apply(&guests, &[], false))
        .unwrap()
        .unwrap();
    assert_eq!(kind, ApplyKind::Full);
    assert_eq!(
        ns.run(|| applier.apply(&guests, &[], false))
            .unwrap()
            .unwrap(),
        ApplyKind::Unchanged
    );

    let mut times = Vec::new();
    let mut changed = guests.clone();
    for round in 0..5 {
        changed[3].rules[0] =
            Rule::parse_line(&format!("IN ACCEPT -p tcp -dport {}", 61000 + round)).unwrap();
        let t = Instant::now();
        let kind = ns
            .run(|| applier.apply(&changed, &[], false))
            .unwrap()
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(kind, ApplyKind::Guests(1));
    }
    times.sort();
    eprintln!(
        "firewall change of one guest, 1,000 rules on the node over 10 guests: median {:?} (all: {times:?})",
        times[times.len() / 2]
    );
    // the incremental result equals a fresh full apply
    let listed = |ns: &NamedNetns| {
        String::from_utf8_lossy(
            &ns.exec(&["nft", "list", "table", "bridge", "oxve-fw"])
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    let incremental = listed(&ns);
    let fresh = NamedNetns::create("oxvenet").unwrap();
    fresh
        .run(|| oxve_net::nat::nft_apply(&ruleset(&changed, false)))
        .unwrap()
        .unwrap();
    assert_eq!(incremental, listed(&fresh));

    // somebody deletes the table: the next change writes it whole
    ns.exec(&["nft", "delete", "table", "bridge", "oxve-fw"])
        .unwrap();
    changed[3].rules[0] = Rule::parse_line("IN ACCEPT -p tcp -dport 62000").unwrap();
    assert_eq!(
        ns.run(|| applier.apply(&changed, &[], false))
            .unwrap()
            .unwrap(),
        ApplyKind::Full
    );
    assert!(listed(&ns).contains("dport 62000"));
}

/// New members of an IP set are sent as set elements, not as a new table; a set's first IPv6
/// member adds the IPv6 lines of the rules that name it.
#[test]
fn ip_set_members_change_in_place() {
    use oxve_net::firewall::nft::NftSet;

    let ns = NamedNetns::create("oxvenet").unwrap();
    let mut g = guest(300, 100);
    g.rules.insert(
        0,
        Rule::parse_line("IN ACCEPT -source +web -p tcp -dport 443").unwrap(),
    );
    let guests = vec![g];
    let set = |members: &[&str]| {
        vec![NftSet {
            name: "web".into(),
            elements: members.iter().map(|m| m.to_string()).collect(),
            nomatch: Vec::new(),
        }]
    };
    let applier = GuestFirewallApplier::default();
    let apply = |sets: &[NftSet]| {
        ns.run(|| applier.apply(&guests, sets, false))
            .unwrap()
            .unwrap()
    };
    let listed = || {
        String::from_utf8_lossy(
            &ns.exec(&["nft", "list", "table", "bridge", "oxve-fw"])
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    assert_eq!(apply(&set(&["10.9.0.0/16"])), ApplyKind::Full);
    assert_eq!(
        apply(&set(&["10.9.0.0/16", "10.11.0.0/16"])),
        ApplyKind::Guests(0)
    );
    assert!(listed().contains("10.11.0.0/16"), "{}", listed());
    assert_eq!(
        apply(&set(&["10.9.0.0/16", "fd00::/8"])),
        ApplyKind::Guests(1)
    );
    let text = listed();
    assert!(text.contains("fd00::/8"), "{text}");
    assert!(text.contains("ip6 saddr @ipset-web-v6"), "{text}");
    assert!(!text.contains("10.11.0.0/16"), "{text}");
}
