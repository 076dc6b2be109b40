//! NAT bridges and port forwards in nftables: one table of oxve's own (`ip oxve-nat`),
//! replaced as a whole in one `nft -f` transaction, so rules of the host or of other tools
//! are never touched and a half-applied state never exists.

use std::fmt::Write;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::cidr::Ipv4Cidr;
use crate::error::{NetError, Result};
use crate::forwards::{Forward, Proto};

/// The nftables table oxve owns.
pub const TABLE: &str = "oxve-nat";

/// A bridge whose subnet is masqueraded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatBridge {
    pub bridge: String,
    /// The bridge's own address with the subnet's prefix length.
    pub cidr: Ipv4Cidr,
    /// The bridge's IPv6 subnet when it is a unique local one (`fd00::/8`), masqueraded too.
    pub ula6: Option<String>,
}

fn proto(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// The nft script that makes the table hold exactly these NAT bridges and forwards.
pub fn ruleset(nats: &[NatBridge], forwards: &[Forward]) -> String {
    let mut s = String::new();
    // declaring then deleting makes the replace work whether or not the table exists
    let _ = writeln!(s, "table ip {TABLE}\ndelete table ip {TABLE}");
    if nats.is_empty() && forwards.is_empty() {
        ipv6_masquerade(&mut s, nats);
        return s;
    }
    let _ = writeln!(s, "table ip {TABLE} {{");
    let dnat_rules = |hook_comment: &str| {
        let mut r = String::new();
        for f in forwards {
            let src = f
                .source
                .map(|c| format!("ip saddr {} ", c.subnet()))
                .unwrap_or_default();
            let _ = writeln!(
                r,
                "    {src}fib daddr type local {p} dport {} dnat to {}:{} comment \"{hook_comment} {}\"",
                f.host_port,
                f.guest,
                f.guest_port,
                f.id(),
                p = proto(f.proto),
            );
        }
        r
    };
    let _ = writeln!(
        s,
        "  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;"
    );
    s.push_str(&dnat_rules("forward"));
    let _ = writeln!(s, "  }}");
    // connections the host itself makes to its forwarded ports
    let _ = writeln!(
        s,
        "  chain output {{\n    type nat hook output priority -100; policy accept;"
    );
    s.push_str(&dnat_rules("local forward"));
    let _ = writeln!(s, "  }}");
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;"
    );
    for n in nats {
        let subnet = n.cidr.subnet();
        let _ = writeln!(
            s,
            "    ip saddr {subnet} ip daddr != {subnet} masquerade comment \"nat {}\"",
            n.bridge
        );
    }
    // a guest reaching another guest through the host's forwarded port: answer via the host
    for f in forwards {
        let _ = writeln!(
            s,
            "    ct status dnat ip saddr {} ip daddr {} {} dport {} masquerade comment \"hairpin {}\"",
            nats.iter()
                .find(|n| n.bridge == f.bridge)
                .map(|n| n.cidr.subnet().to_string())
                .unwrap_or_else(|| format!("{}/32", f.guest)),
            f.guest,
            proto(f.proto),
            f.guest_port,
            f.id(),
        );
    }
    let _ = writeln!(s, "  }}\n}}");
    ipv6_masquerade(&mut s, nats);
    s
}

/// The IPv6 table of oxve's NAT: masquerade of NAT bridges' unique local subnets (IPv6 NAT
/// is NAT66, as the nat family `ip6` does it).
fn ipv6_masquerade(s: &mut String, nats: &[NatBridge]) {
    let _ = writeln!(s, "table ip6 {TABLE}\ndelete table ip6 {TABLE}");
    let subnets: Vec<(&str, &str)> = nats
        .iter()
        .filter_map(|n| Some((n.bridge.as_str(), n.ula6.as_deref()?)))
        .collect();
    if subnets.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "table ip6 {TABLE} {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;"
    );
    for (bridge, subnet) in subnets {
        let _ = writeln!(
            s,
            "    ip6 saddr {subnet} ip6 daddr != {subnet} masquerade comment \"nat {bridge}\""
        );
    }
    let _ = writeln!(s, "  }}\n}}");
}

/// A bridge's unique local IPv6 subnet (`fdXX:...::/len`) from its `inet6` address.
pub fn ula_subnet(address: &str, netmask: Option<&str>) -> Option<String> {
    let (addr, len) = match address.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()?),
        None => (address, netmask?.parse::<u8>().ok()?),
    };
    let ip: std::net::Ipv6Addr = addr.parse().ok()?;
    if ip.segments()[0] & 0xfe00 != 0xfc00 || len > 128 {
        return None;
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    let net = std::net::Ipv6Addr::from(u128::from(ip) & mask);
    Some(format!("{net}/{len}"))
}

/// Apply an nft script in one transaction (`nft -f -`).
pub fn nft_apply(script: &str) -> Result<()> {
    nft_run(&["-f", "-"], script).map(|_| ())
}

fn nft_run(args: &[&str], script: &str) -> Result<String> {
    let fail = |message: String| NetError::Command {
        command: format!("nft {}", args.join(" ")),
        message,
    };
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    child
        .stdin
        .take()
        .ok_or_else(|| fail("no stdin".into()))?
        .write_all(script.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Enable IPv4 forwarding in this namespace (NAT routes the guests' traffic).
pub fn enable_ip_forward() -> Result<()> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    std::fs::write(path, "1").map_err(|e| NetError::io("writing", path, e))
}

/// Enable IPv6 forwarding in this namespace (for NAT bridges with an IPv6 subnet).
pub fn enable_ipv6_forward() -> Result<()> {
    let path = "/proc/sys/net/ipv6/conf/all/forwarding";
    std::fs::write(path, "1").map_err(|e| NetError::io("writing", path, e))
}

/// The bridge's address as the guests' gateway.
pub fn gateway(n: &NatBridge) -> Ipv4Addr {
    n.cidr.addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replaces_only_oxves_table() {
        let nat = NatBridge {
            bridge: "vmbr1".into(),
            cidr: "10.10.0.1/24".parse().unwrap(),
            ula6: ula_subnet("fd10::1/64", None),
        };
        let fwd = Forward {
            bridge: "vmbr1".into(),
            proto: Proto::Tcp,
            host_port: 8080,
            guest: "10.10.0.5".parse().unwrap(),
            guest_port: 80,
            source: None,
            comment: None,
        };
        let s = ruleset(&[nat], &[fwd]);
        assert!(
            s.starts_with("table ip oxve-nat\ndelete table ip oxve-nat\ntable ip oxve-nat {"),
            "{s}"
        );
        assert!(
            s.contains("fib daddr type local tcp dport 8080 dnat to 10.10.0.5:80"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 10.10.0.0/24 ip daddr != 10.10.0.0/24 masquerade"),
            "{s}"
        );
        assert!(
            s.contains("ip6 saddr fd10::/64 ip6 daddr != fd10::/64 masquerade"),
            "{s}"
        );
        assert!(!s.contains("flush ruleset"));
        let empty = ruleset(&[], &[]);
        assert_eq!(
            empty,
            "table ip oxve-nat\ndelete table ip oxve-nat\ntable ip6 oxve-nat\ndelete table ip6 oxve-nat\n"
        );
        assert_eq!(
            ula_subnet("2001:db8::1/64", None),
            None,
            "only unique local"
        );
        assert_eq!(
            ula_subnet("fd12:3456::7", Some("48")).as_deref(),
            Some("fd12:3456::/48")
        );
    }
}
