//! A `.fw` file as Proxmox writes it: `[OPTIONS]` with `key: value` lines and `[RULES]` with
//! one rule per line. Sections oxve does not use yet (`[IPSET ...]`, `[ALIASES]`, ...) are kept.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::rule::Rule;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FwConfig {
    pub options: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
    /// Security groups (`[group NAME] # comment`, datacenter file only).
    pub groups: Vec<SecurityGroup>,
    /// `[ALIASES]`: names for addresses or networks.
    pub aliases: Vec<Alias>,
    /// `[IPSET NAME] # comment`: named address lists.
    pub ipsets: Vec<IpSet>,
    /// Other sections, verbatim, with their header line.
    pub other: Vec<String>,
}

/// A name for an address or network, usable in rules' source and dest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub cidr: String,
    pub comment: Option<String>,
}

/// A named address list; rules use it as `+name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet {
    pub name: String,
    pub comment: Option<String>,
    pub entries: Vec<IpSetEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSetEntry {
    pub cidr: String,
    /// `!cidr`: excluded even where another entry matches.
    pub nomatch: bool,
    pub comment: Option<String>,
}

fn split_comment(line: &str) -> (&str, Option<String>) {
    match line.split_once('#') {
        Some((a, c)) => (
            a.trim(),
            Some(c.trim().to_string()).filter(|c| !c.is_empty()),
        ),
        None => (line.trim(), None),
    }
}

/// A named list of rules that guest rules of type `group` pull in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityGroup {
    pub name: String,
    pub comment: Option<String>,
    pub rules: Vec<Rule>,
}

/// Proxmox's security group names: a letter, then letters, digits, `-`, `_`; 2-18 long.
pub fn check_group_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 2
        && name.len() <= 18
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid security group name '{name}'"))
    }
}

impl FwConfig {
    pub fn parse(text: &str) -> Result<FwConfig, String> {
        let mut cfg = FwConfig::default();
        let mut section = String::new();
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                section = t.to_ascii_uppercase();
                if let Some(rest) = t
                    .strip_prefix("[group ")
                    .or_else(|| t.strip_prefix("[GROUP "))
                {
                    let (name, comment) = match rest.split_once(']') {
                        Some((n, c)) => (n.trim(), c.trim().trim_start_matches('#').trim()),
                        None => (rest.trim(), ""),
                    };
                    cfg.groups.push(SecurityGroup {
                        name: name.to_string(),
                        comment: Some(comment.to_string()).filter(|c| !c.is_empty()),
                        rules: Vec::new(),
                    });
                    section = "[GROUP]".into();
                } else if let Some(rest) = t
                    .strip_prefix("[IPSET ")
                    .or_else(|| t.strip_prefix("[ipset "))
                {
                    let (name, comment) = match rest.split_once(']') {
                        Some((n, c)) => (n.trim(), c.trim().trim_start_matches('#').trim()),
                        None => (rest.trim(), ""),
                    };
                    cfg.ipsets.push(IpSet {
                        name: name.to_string(),
                        comment: Some(comment.to_string()).filter(|c| !c.is_empty()),
                        entries: Vec::new(),
                    });
                    section = "[IPSET]".into();
                } else if section != "[OPTIONS]" && section != "[RULES]" && section != "[ALIASES]" {
                    cfg.other.push(t.to_string());
                }
                continue;
            }
            if t.is_empty() || (t.starts_with('#') && section == "[OPTIONS]") {
                continue;
            }
            match section.as_str() {
                "[OPTIONS]" => {
                    let (k, v) = t
                        .split_once(':')
                        .ok_or_else(|| format!("bad option line '{t}'"))?;
                    cfg.options
                        .insert(k.trim().to_string(), v.trim().to_string());
                }
                "[RULES]" => {
                    if t.starts_with('#') {
                        continue;
                    }
                    cfg.rules.push(Rule::parse_line(t)?);
                }
                "[ALIASES]" => {
                    if t.starts_with('#') {
                        continue;
                    }
                    let (body, comment) = split_comment(t);
                    let (name, cidr) = body
                        .split_once(char::is_whitespace)
                        .ok_or_else(|| format!("bad alias line '{t}'"))?;
                    cfg.aliases.push(Alias {
                        name: name.to_string(),
                        cidr: cidr.trim().to_string(),
                        comment,
                    });
                }
                "[IPSET]" => {
                    if t.starts_with('#') {
                        continue;
                    }
                    let (body, comment) = split_comment(t);
                    let (nomatch, cidr) = match body.strip_prefix('!') {
                        Some(c) => (true, c.trim()),
                        None => (false, body),
                    };
                    if let Some(set) = cfg.ipsets.last_mut() {
                        set.entries.push(IpSetEntry {
                            cidr: cidr.to_string(),
                            nomatch,
                            comment,
                        });
                    }
                }
                "[GROUP]" => {
                    if t.starts_with('#') {
                        continue;
                    }
                    if let Some(g) = cfg.groups.last_mut() {
                        g.rules.push(Rule::parse_line(t)?);
                    }
                }
                _ => {
                    if let Some(last) = cfg.other.last_mut() {
                        last.push('\n');
                        last.push_str(t);
                    }
                }
            }
        }
        Ok(cfg)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if !self.options.is_empty() {
            s.push_str("[OPTIONS]\n\n");
            for (k, v) in &self.options {
                let _ = writeln!(s, "{k}: {v}");
            }
            s.push('\n');
        }
        if !self.rules.is_empty() {
            s.push_str("[RULES]\n\n");
            for r in &self.rules {
                let _ = writeln!(s, "{}", r.to_line());
            }
            s.push('\n');
        }
        if !self.aliases.is_empty() {
            s.push_str("[ALIASES]\n\n");
            for a in &self.aliases {
                let _ = write!(s, "{} {}", a.name, a.cidr);
                if let Some(c) = &a.comment {
                    let _ = write!(s, " # {c}");
                }
                s.push('\n');
            }
            s.push('\n');
        }
        for set in &self.ipsets {
            let _ = write!(s, "[IPSET {}]", set.name);
            if let Some(c) = &set.comment {
                let _ = write!(s, " # {c}");
            }
            s.push_str("\n\n");
            for e in &set.entries {
                let _ = write!(s, "{}{}", if e.nomatch { "!" } else { "" }, e.cidr);
                if let Some(c) = &e.comment {
                    let _ = write!(s, " # {c}");
                }
                s.push('\n');
            }
            s.push('\n');
        }
        for g in &self.groups {
            match &g.comment {
                Some(c) => {
                    let _ = writeln!(s, "[group {}] # {c}\n", g.name);
                }
                None => {
                    let _ = writeln!(s, "[group {}]\n", g.name);
                }
            }
            for r in &g.rules {
                let _ = writeln!(s, "{}", r.to_line());
            }
            s.push('\n');
        }
        for o in &self.other {
            let _ = writeln!(s, "{o}\n");
        }
        s
    }

    pub fn alias(&self, name: &str) -> Option<&Alias> {
        self.aliases
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn ipset(&self, name: &str) -> Option<&IpSet> {
        self.ipsets.iter().find(|s| s.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&SecurityGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn flag(&self, key: &str) -> bool {
        self.options
            .get(key)
            .is_some_and(|v| crate::interfaces::is_true(v))
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fw_files_round_trip() {
        let text = "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n[RULES]\n\nIN HTTP(ACCEPT) -i net0\n|OUT DROP -p tcp -dport 25 # no mail\n\n[group web] # web servers\n\nIN ACCEPT -p tcp -dport 443\n\n[IPSET management]\n\n10.0.0.0/8\n\n";
        let cfg = FwConfig::parse(text).unwrap();
        assert!(cfg.flag("enable"));
        assert_eq!(cfg.rules.len(), 2);
        assert_eq!(FwConfig::parse(&cfg.render()).unwrap(), cfg);
        let set = cfg.ipset("management").unwrap();
        assert_eq!(set.entries[0].cidr, "10.0.0.0/8");
        assert!(cfg.render().contains("[IPSET management]\n\n10.0.0.0/8\n"));
        let more = "[ALIASES]\n\nrouter 10.0.0.1 # the gateway\n\n[IPSET admins] # admin nets\n\n10.1.0.0/16\n!10.1.2.0/24 # not these\n";
        let cfg2 = FwConfig::parse(more).unwrap();
        assert_eq!(cfg2.alias("ROUTER").unwrap().cidr, "10.0.0.1");
        assert!(cfg2.ipset("admins").unwrap().entries[1].nomatch);
        assert_eq!(FwConfig::parse(&cfg2.render()).unwrap(), cfg2);
        let web = cfg.group("web").unwrap();
        assert_eq!(web.comment.as_deref(), Some("web servers"));
        assert_eq!(web.rules.len(), 1);
        assert!(check_group_name("web-1").is_ok());
        assert!(check_group_name("1web").is_err());
    }
}
