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
    /// Other sections, verbatim, with their header line.
    pub other: Vec<String>,
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
                } else if section != "[OPTIONS]" && section != "[RULES]" {
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
        assert!(cfg.render().contains("[IPSET management]\n10.0.0.0/8"));
        let web = cfg.group("web").unwrap();
        assert_eq!(web.comment.as_deref(), Some("web servers"));
        assert_eq!(web.rules.len(), 1);
        assert!(check_group_name("web-1").is_ok());
        assert!(check_group_name("1web").is_err());
    }
}
