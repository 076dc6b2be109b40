//! `vgs` and `lvs` as Proxmox calls them, and their parsed reports.

use std::collections::BTreeMap;

use crate::command::{Cmd, CommandRunner};
use crate::error::StorageError;

/// One volume group from `vgs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VgInfo {
    /// Size in bytes.
    pub size: u64,
    /// Free bytes.
    pub free: u64,
    /// Number of LVs.
    pub lv_count: u64,
}

/// One logical volume from `lvs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvInfo {
    /// Size in bytes.
    pub size: u64,
    /// First `lv_attr` character: `-` plain, `t` thin pool, `V` thin volume, `m/M/r/R`
    /// mirror/RAID, `s` snapshot, ...
    pub lv_type: char,
    /// Fifth `lv_attr` character: `a` when active.
    pub state: char,
    /// The thin pool of a thin volume.
    pub pool_lv: Option<String>,
    /// Comma-separated tags.
    pub tags: Option<String>,
    /// Creation time (seconds since the epoch).
    pub ctime: Option<i64>,
    /// Used bytes (thin pools).
    pub used: Option<u64>,
}

/// LVs by VG, then by name.
pub type LvReport = BTreeMap<String, BTreeMap<String, LvInfo>>;

const REPORT_ARGS: [&str; 7] = [
    "--separator",
    ":",
    "--noheadings",
    "--units",
    "b",
    "--unbuffered",
    "--nosuffix",
];

/// `vgs ... --options vg_name,vg_size,vg_free,lv_count`.
pub fn vgs_cmd() -> Cmd {
    Cmd::new("vgs")
        .args(REPORT_ARGS)
        .args(["--options", "vg_name,vg_size,vg_free,lv_count"])
}

/// Parse `vgs` output.
pub fn parse_vgs(text: &str) -> BTreeMap<String, VgInfo> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some((
                f[0].to_string(),
                VgInfo {
                    size: f[1].trim().parse().ok()?,
                    free: f[2].trim().parse().ok()?,
                    lv_count: f[3].trim().parse().ok()?,
                },
            ))
        })
        .collect()
}

/// `lvs ... --options vg_name,lv_name,lv_size,lv_attr,pool_lv,data_percent,...[ <vg>]`.
pub fn lvs_cmd(vg: Option<&str>) -> Cmd {
    let cmd = Cmd::new("lvs").args(REPORT_ARGS).args([
        "--config",
        "report/time_format=\"%s\"",
        "--options",
        "vg_name,lv_name,lv_size,lv_attr,pool_lv,data_percent,metadata_percent,snap_percent,uuid,tags,metadata_size,time",
    ]);
    match vg {
        Some(vg) => cmd.arg(vg),
        None => cmd,
    }
}

/// Parse `lvs` output.
pub fn parse_lvs(text: &str) -> LvReport {
    let mut res: LvReport = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() < 12 || f[0].is_empty() || f[1].is_empty() {
            continue;
        }
        let Ok(size) = f[2].trim().parse::<u64>() else {
            continue;
        };
        let attr: Vec<char> = f[3].chars().collect();
        let lv_type = attr.first().copied().unwrap_or('-');
        let used = (lv_type == 't').then(|| {
            let pct: f64 = f[5].trim().replace(',', ".").parse().unwrap_or(0.0);
            (pct * size as f64 / 100.0) as u64
        });
        let info = LvInfo {
            size,
            lv_type,
            state: attr.get(4).copied().unwrap_or('-'),
            pool_lv: Some(f[4].trim())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            tags: Some(f[9].trim())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            ctime: f[11].trim().parse().ok(),
            used,
        };
        res.entry(f[0].to_string())
            .or_default()
            .insert(f[1].to_string(), info);
    }
    res
}

/// Run `vgs` and parse it.
pub fn vgs(runner: &dyn CommandRunner) -> Result<BTreeMap<String, VgInfo>, StorageError> {
    // vgs exits non-zero when some VG is unusable but still reports the others.
    let out = runner.run(&vgs_cmd())?;
    if out.status != 0 && out.stdout.trim().is_empty() {
        return crate::command::check_status(&vgs_cmd(), out).map(|_| BTreeMap::new());
    }
    Ok(parse_vgs(&out.stdout))
}

/// Run `lvs` for one VG and parse it.
pub fn lvs(runner: &dyn CommandRunner, vg: &str) -> Result<BTreeMap<String, LvInfo>, StorageError> {
    let cmd = lvs_cmd(Some(vg));
    let out = runner.run_ok(&cmd)?;
    Ok(parse_lvs(&out.stdout).remove(vg).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reports() {
        let vgs = parse_vgs("  pve:107374182400:21474836480:3\n  other:10:0:0\n");
        assert_eq!(vgs["pve"].free, 21474836480);
        assert_eq!(vgs.len(), 2);
        let lvs = parse_lvs(
            "  pve:data:85899345920:twi-aotz--::25.00:1.50:::: 1073741824:1700000000\n\
             \x20 pve:vm-100-disk-0:8589934592:Vwi-a-tz--:data:10.00:::uuid1:pve-vm-100::1700000001\n\
             \x20 pve:root:10737418240:-wi-ao----::::::::1600000000\n",
        );
        let pve = &lvs["pve"];
        assert_eq!(pve["data"].lv_type, 't');
        assert_eq!(pve["data"].used, Some(21474836480));
        assert_eq!(pve["vm-100-disk-0"].pool_lv.as_deref(), Some("data"));
        assert_eq!(pve["vm-100-disk-0"].tags.as_deref(), Some("pve-vm-100"));
        assert_eq!(pve["vm-100-disk-0"].ctime, Some(1700000001));
        assert_eq!(pve["root"].state, 'a');
    }
}
