//! One firewall rule, as Proxmox writes it in a `.fw` file
//! (`[|]IN ACCEPT -i net0 -source 10.0.0.0/8 -p tcp -dport 80 -log nolog # comment`), with
//! the checks Proxmox makes of each field.

use std::fmt::Write;

use super::macros;
use crate::cidr::Ipv4Cidr;

/// A rule's direction or kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    In,
    Out,
    Forward,
    Group,
}

impl RuleType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "in" => Some(RuleType::In),
            "out" => Some(RuleType::Out),
            "forward" => Some(RuleType::Forward),
            "group" => Some(RuleType::Group),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::In => "in",
            RuleType::Out => "out",
            RuleType::Forward => "forward",
            RuleType::Group => "group",
        }
    }
}

/// A firewall rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub rule_type: Option<RuleType>,
    /// ACCEPT, DROP, REJECT, or the security group for a `group` rule.
    pub action: String,
    pub macro_name: Option<String>,
    pub enable: bool,
    pub iface: Option<String>,
    pub source: Option<String>,
    pub dest: Option<String>,
    pub proto: Option<String>,
    pub dport: Option<String>,
    pub sport: Option<String>,
    pub icmp_type: Option<String>,
    pub log: Option<String>,
    pub comment: Option<String>,
}

/// A bad rule field: the API parameter and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub param: &'static str,
    pub message: String,
}

fn bad(param: &'static str, message: impl Into<String>) -> RuleError {
    RuleError {
        param,
        message: message.into(),
    }
}

pub const ACTIONS: &[&str] = &["ACCEPT", "DROP", "REJECT"];
pub const LOG_LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog",
];

/// Protocols by name (what `-p` accepts besides numbers).
pub fn proto_number(name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return Some(n);
    }
    Some(match name.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        "udplite" => 136,
        _ => return None,
    })
}

/// Check a port spec (`80`, `80:90`, `22,80:90`; service names are not resolved).
pub fn check_ports(spec: &str) -> Result<(), String> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    for part in spec.split(',') {
        let ok = match part.split_once(':') {
            Some((a, b)) => matches!((port(a), port(b)), (Some(a), Some(b)) if a <= b),
            None => port(part).is_some(),
        };
        if !ok {
            return Err(format!("invalid port or range '{part}'"));
        }
    }
    Ok(())
}

/// A name in an address spec: an IP set (`+name`, `+dc/name`) or an alias (`name`,
/// `dc/name`), as Proxmox writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrRef {
    IpSet(String),
    Alias(String),
}

fn ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The IP set or alias an address spec item names, if it is a name (`dc/` and `guest/`
/// scopes are accepted, as Proxmox writes them).
pub fn addr_ref(item: &str) -> Option<AddrRef> {
    let unscoped = |s: &'_ str| {
        s.strip_prefix("dc/")
            .or_else(|| s.strip_prefix("guest/"))
            .unwrap_or(s)
            .to_string()
    };
    if let Some(set) = item.strip_prefix('+') {
        let set = unscoped(set);
        return ident(&set).then_some(AddrRef::IpSet(set));
    }
    let alias = unscoped(item);
    (ident(&alias) && !alias.contains('.')).then_some(AddrRef::Alias(alias))
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

fn v6_net(part: &str) -> bool {
    match part.split_once('/') {
        Some((a, len)) => {
            a.parse::<std::net::Ipv6Addr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 128)
        }
        None => part.parse::<std::net::Ipv6Addr>().is_ok(),
    }
}

/// The family of one address, network or `a-b` range; `None` when it is none of them.
pub fn addr_family(part: &str) -> Option<Family> {
    let v4 = if let Some((a, b)) = part.split_once('-') {
        a.parse::<std::net::Ipv4Addr>().is_ok() && b.parse::<std::net::Ipv4Addr>().is_ok()
    } else if part.contains('/') {
        part.parse::<Ipv4Cidr>().is_ok()
    } else {
        part.parse::<std::net::Ipv4Addr>().is_ok()
    };
    if v4 {
        return Some(Family::V4);
    }
    let v6 = match part.split_once('-') {
        Some((a, b)) => {
            a.parse::<std::net::Ipv6Addr>().is_ok() && b.parse::<std::net::Ipv6Addr>().is_ok()
        }
        None => v6_net(part),
    };
    v6.then_some(Family::V6)
}

/// The family of an address spec of literal addresses (aliases resolved), if it has one.
pub fn spec_family(spec: &str) -> Option<Family> {
    spec.split(',').find_map(addr_family)
}

/// Check an address spec: IPv4 or IPv6 addresses, networks or `a-b` ranges, comma-separated
/// and of one family, alias names among them, or one IP set (`+name`).
pub fn check_addresses(spec: &str) -> Result<(), String> {
    if matches!(addr_ref(spec), Some(AddrRef::IpSet(_))) {
        return Ok(());
    }
    let mut family = None;
    for part in spec.split(',') {
        if matches!(addr_ref(part), Some(AddrRef::Alias(_))) {
            continue;
        }
        let Some(f) = addr_family(part) else {
            return Err(format!(
                "invalid address '{part}' (IPv4 or IPv6 address, network or range)"
            ));
        };
        if family.is_some_and(|prev| prev != f) {
            return Err("IPv4 and IPv6 addresses cannot be mixed".into());
        }
        family = Some(f);
    }
    Ok(())
}

impl Rule {
    /// The IP sets and aliases the rule's source and dest name, with the parameter.
    pub fn refs(&self) -> Vec<(&'static str, AddrRef)> {
        let mut out = Vec::new();
        for (param, spec) in [("source", &self.source), ("dest", &self.dest)] {
            if let Some(spec) = spec {
                if let Some(r @ AddrRef::IpSet(_)) = addr_ref(spec) {
                    out.push((param, r));
                    continue;
                }
                out.extend(spec.split(',').filter_map(addr_ref).map(|r| (param, r)));
            }
        }
        out
    }

    /// Check every field of a guest rule (`iface` is `netN`); the error names the parameter.
    pub fn validate(&self) -> Result<(), RuleError> {
        self.validate_in(false)
    }

    /// Check every field of a host rule (datacenter or node: `iface` is a host interface).
    pub fn validate_host(&self) -> Result<(), RuleError> {
        self.validate_in(true)
    }

    fn validate_in(&self, host: bool) -> Result<(), RuleError> {
        let ty = self
            .rule_type
            .ok_or_else(|| bad("type", "missing rule type"))?;
        if ty == RuleType::Group {
            if self.action.is_empty()
                || !self
                    .action
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad("action", "a group rule needs a security group name"));
            }
        } else if !ACTIONS.contains(&self.action.as_str()) {
            return Err(bad(
                "action",
                format!("unknown action '{}' (ACCEPT, DROP or REJECT)", self.action),
            ));
        }
        if let Some(m) = &self.macro_name {
            if ty == RuleType::Group {
                return Err(bad("macro", "a group rule has no macro"));
            }
            if macros::lookup(m).is_none() {
                return Err(bad("macro", format!("unknown macro '{m}'")));
            }
        }
        if let Some(p) = &self.proto {
            if proto_number(p).is_none() {
                return Err(bad("proto", format!("unknown protocol '{p}'")));
            }
        }
        for (param, v) in [("dport", &self.dport), ("sport", &self.sport)] {
            if let Some(v) = v {
                check_ports(v).map_err(|e| bad(param, e))?;
                let p = self.proto.as_deref().map(str::to_ascii_lowercase);
                if self.macro_name.is_none()
                    && !matches!(
                        p.as_deref(),
                        Some("tcp" | "udp" | "6" | "17" | "sctp" | "udplite")
                    )
                {
                    return Err(bad(param, "a port needs proto tcp, udp, sctp or udplite"));
                }
            }
        }
        for (param, v) in [("source", &self.source), ("dest", &self.dest)] {
            if let Some(v) = v {
                check_addresses(v).map_err(|e| bad(param, e))?;
            }
        }
        let fam = |v: &Option<String>| v.as_deref().and_then(spec_family);
        if let (Some(a), Some(b)) = (fam(&self.source), fam(&self.dest)) {
            if a != b {
                return Err(bad("dest", "source and dest are of different IP families"));
            }
        }
        if let Some(l) = &self.log {
            if !LOG_LEVELS.contains(&l.as_str()) {
                return Err(bad("log", format!("unknown log level '{l}'")));
            }
        }
        if let Some(i) = &self.iface {
            let ok = if host {
                i.len() <= 15
                    && i.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && i.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            } else {
                i.strip_prefix("net")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            };
            if !ok && host {
                return Err(bad("iface", format!("'{i}' is no interface name")));
            }
            if !ok {
                return Err(bad("iface", format!("'{i}' is no guest NIC (netN)")));
            }
        }
        Ok(())
    }

    /// The rule as a `.fw` file line.
    pub fn to_line(&self) -> String {
        let mut s = String::new();
        if !self.enable {
            s.push('|');
        }
        let ty = self
            .rule_type
            .map(RuleType::as_str)
            .unwrap_or("in")
            .to_ascii_uppercase();
        match &self.macro_name {
            Some(m) => {
                let _ = write!(s, "{ty} {m}({})", self.action);
            }
            None => {
                let _ = write!(s, "{ty} {}", self.action);
            }
        }
        for (flag, v) in [
            ("-i", &self.iface),
            ("-source", &self.source),
            ("-dest", &self.dest),
            ("-p", &self.proto),
            ("-dport", &self.dport),
            ("-sport", &self.sport),
            ("-icmp-type", &self.icmp_type),
            ("-log", &self.log),
        ] {
            if let Some(v) = v {
                let _ = write!(s, " {flag} {v}");
            }
        }
        if let Some(c) = &self.comment {
            let _ = write!(s, " # {}", c.replace('\n', " "));
        }
        s
    }

    /// Parse a `.fw` rule line.
    pub fn parse_line(line: &str) -> Result<Rule, String> {
        let (body, comment) = match line.split_once('#') {
            Some((b, c)) => (b, Some(c.trim().to_string()).filter(|c| !c.is_empty())),
            None => (line, None),
        };
        let body = body.trim();
        let (enable, body) = match body.strip_prefix('|') {
            Some(rest) => (false, rest.trim_start()),
            None => (true, body),
        };
        let mut words = body.split_whitespace();
        let ty = words
            .next()
            .and_then(RuleType::parse)
            .ok_or_else(|| format!("bad rule type in '{line}'"))?;
        let act = words
            .next()
            .ok_or_else(|| format!("missing action in '{line}'"))?;
        let (action, macro_name) = match act.split_once('(') {
            Some((m, a)) => (a.trim_end_matches(')').to_string(), Some(m.to_string())),
            None => (act.to_string(), None),
        };
        let mut rule = Rule {
            rule_type: Some(ty),
            action,
            macro_name,
            enable,
            comment,
            ..Default::default()
        };
        while let Some(flag) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| format!("missing value for {flag}"))?
                .to_string();
            let slot = match flag {
                "-i" => &mut rule.iface,
                "-source" => &mut rule.source,
                "-dest" => &mut rule.dest,
                "-p" => &mut rule.proto,
                "-dport" => &mut rule.dport,
                "-sport" => &mut rule.sport,
                "-icmp-type" => &mut rule.icmp_type,
                "-log" => &mut rule.log,
                other => return Err(format!("unknown rule option '{other}'")),
            };
            *slot = Some(value);
        }
        Ok(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_are_checked() {
        let line = "|IN SSH(ACCEPT) -i net0 -source 10.0.0.0/8 -log nolog # admins";
        let r = Rule::parse_line(line).unwrap();
        assert!(!r.enable);
        assert_eq!(r.macro_name.as_deref(), Some("SSH"));
        assert_eq!(r.action, "ACCEPT");
        assert_eq!(r.comment.as_deref(), Some("admins"));
        assert_eq!(r.to_line(), line);
        r.validate().unwrap();

        let r = Rule::parse_line("OUT DROP -p tcp -dport 80:90,443").unwrap();
        r.validate().unwrap();
        let mut bad_macro = r.clone();
        bad_macro.macro_name = Some("NoSuchMacro".into());
        assert_eq!(bad_macro.validate().unwrap_err().param, "macro");
        let mut bad_port = r.clone();
        bad_port.dport = Some("90:80".into());
        assert_eq!(bad_port.validate().unwrap_err().param, "dport");
        let mut no_proto = r.clone();
        no_proto.proto = None;
        assert_eq!(no_proto.validate().unwrap_err().param, "dport");
        let mut bad_src = r.clone();
        bad_src.source = Some("10.0.0.0/33".into());
        assert_eq!(bad_src.validate().unwrap_err().param, "source");
        let mut bad_action = r;
        bad_action.action = "ALLOW".into();
        assert_eq!(bad_action.validate().unwrap_err().param, "action");
    }
}
