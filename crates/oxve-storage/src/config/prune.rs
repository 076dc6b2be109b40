//! The `prune-backups` property string (`keep-last=3,keep-daily=7,...`) and the legacy
//! `maxfiles` option it replaces.

use std::fmt;

/// Backup retention, as in Proxmox's `prune-backups` format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneBackups {
    /// Keep all backups; conflicts with the other options when true.
    pub keep_all: Option<bool>,
    /// Keep the last N backups.
    pub keep_last: Option<u64>,
    /// Keep one backup for each of the last N hours.
    pub keep_hourly: Option<u64>,
    /// Keep one backup for each of the last N days.
    pub keep_daily: Option<u64>,
    /// Keep one backup for each of the last N weeks.
    pub keep_weekly: Option<u64>,
    /// Keep one backup for each of the last N months.
    pub keep_monthly: Option<u64>,
    /// Keep one backup for each of the last N years.
    pub keep_yearly: Option<u64>,
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

impl PruneBackups {
    /// Parse the property string; errors name the offending key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut res = PruneBackups::default();
        for item in text.split(',').filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("missing value for '{item}'"))?;
            if key == "keep-all" {
                if res.keep_all.is_some() {
                    return Err("duplicate key 'keep-all'".into());
                }
                let v = parse_bool(value).ok_or_else(|| {
                    format!("keep-all: type check ('boolean') failed - got '{value}'")
                })?;
                res.keep_all = Some(v);
                continue;
            }
            let slot = res
                .slot(key)
                .ok_or_else(|| format!("invalid key '{key}'"))?;
            if slot.is_some() {
                return Err(format!("duplicate key '{key}'"));
            }
            let n = value
                .parse::<u64>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("{key}: type check ('integer') failed - got '{value}'"))?;
            *slot = Some(n);
        }
        let any_other = res.counts().iter().any(|(_, v)| v.is_some_and(|n| n > 0));
        if res.keep_all == Some(true) && any_other {
            return Err("keep-all cannot be set together with other options.".into());
        }
        Ok(res)
    }

    fn slot(&mut self, key: &str) -> Option<&mut Option<u64>> {
        Some(match key {
            "keep-last" => &mut self.keep_last,
            "keep-hourly" => &mut self.keep_hourly,
            "keep-daily" => &mut self.keep_daily,
            "keep-weekly" => &mut self.keep_weekly,
            "keep-monthly" => &mut self.keep_monthly,
            "keep-yearly" => &mut self.keep_yearly,
            _ => return None,
        })
    }

    fn counts(&self) -> [(&'static str, Option<u64>); 6] {
        [
            ("keep-daily", self.keep_daily),
            ("keep-hourly", self.keep_hourly),
            ("keep-last", self.keep_last),
            ("keep-monthly", self.keep_monthly),
            ("keep-weekly", self.keep_weekly),
            ("keep-yearly", self.keep_yearly),
        ]
    }

    /// `keep-all=1`.
    pub fn keep_all() -> Self {
        PruneBackups {
            keep_all: Some(true),
            ..Default::default()
        }
    }

    /// The retention `maxfiles` stands for: 0 keeps all, N keeps the last N.
    pub fn from_maxfiles(maxfiles: u64) -> Self {
        if maxfiles == 0 {
            PruneBackups::keep_all()
        } else {
            PruneBackups {
                keep_last: Some(maxfiles),
                ..Default::default()
            }
        }
    }

    /// Whether nothing is ever pruned (keep-all, or no positive keep-* option).
    pub fn keeps_all(&self) -> bool {
        self.keep_all == Some(true) || !self.counts().iter().any(|(_, v)| v.is_some_and(|n| n > 0))
    }
}

impl fmt::Display for PruneBackups {
    /// Keys in sorted order, as Proxmox's `print_property_string` writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(all) = self.keep_all {
            parts.push(format!("keep-all={}", u8::from(all)));
        }
        for (key, value) in self.counts() {
            if let Some(v) = value {
                parts.push(format!("{key}={v}"));
            }
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorted() {
        let p = PruneBackups::parse("keep-last=3,keep-daily=7").unwrap();
        assert_eq!(p.keep_last, Some(3));
        assert_eq!(p.to_string(), "keep-daily=7,keep-last=3");
        assert_eq!(
            PruneBackups::parse("keep-all=1").unwrap(),
            PruneBackups::keep_all()
        );
        assert_eq!(PruneBackups::keep_all().to_string(), "keep-all=1");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(PruneBackups::parse("keep-all=1,keep-last=2").is_err());
        assert!(PruneBackups::parse("keep-last=-1").is_err());
        assert!(PruneBackups::parse("keep-last=x").is_err());
        assert!(PruneBackups::parse("keep-forever=1").is_err());
        assert!(PruneBackups::parse("keep-last").is_err());
        assert!(PruneBackups::parse("keep-last=1,keep-last=2").is_err());
    }

    #[test]
    fn converts_maxfiles() {
        assert_eq!(PruneBackups::from_maxfiles(0).to_string(), "keep-all=1");
        assert_eq!(PruneBackups::from_maxfiles(5).to_string(), "keep-last=5");
        assert!(PruneBackups::parse("keep-last=0").unwrap().keeps_all());
    }
}
