//! A `.fw` file as Proxmox writes it: `[OPTIONS]` with `key: value` lines and `[RULES]` with
//! one rule per line. Sections oxve does not use yet (`[IPSET ...]`, `[ALIASES]`, ...) are kept.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::rule::Rule;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FwConfig {
    pub options: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
    /// Other sections, verbatim, with their header line.
    pub other: Vec<String>,
}

impl FwConfig {
    pub fn parse(text: &str) -> Result<FwConfig, String> {
        let mut cfg = FwConfig::default();
        let mut section = String::new();
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                section = t.to_ascii_uppercase();
                if section != "[OPTIONS]" && section != "[RULES]" {
                    cfg.other.push(t.to_string());
                }
                continue;
            }
            if t.is_empty() || (t.starts_with('#') && section != "[RULES]") {
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
        for o in &self.other {
            let _ = writeln!(s, "{o}\n");
        }
        s
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
        let text = "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n[RULES]\n\nIN HTTP(ACCEPT) -i net0\n|OUT DROP -p tcp -dport 25 # no mail\n\n[IPSET management]\n\n10.0.0.0/8\n\n";
        let cfg = FwConfig::parse(text).unwrap();
        assert!(cfg.flag("enable"));
        assert_eq!(cfg.rules.len(), 2);
        assert_eq!(FwConfig::parse(&cfg.render()).unwrap(), cfg);
        assert!(cfg.render().contains("[IPSET management]\n10.0.0.0/8"));
    }
}
