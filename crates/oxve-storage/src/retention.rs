//! Backup retention as Proxmox computes it (`PVE::Storage::prune_mark_backup_group` and the
//! storage plugins' `prune_backups`): backups are grouped by guest type and VMID; within a
//! group, newest first, `keep-last`, then `keep-hourly`, `-daily`, `-weekly`, `-monthly` and
//! `-yearly` each keep the newest backup of up to N time buckets (local time) not yet covered
//! by a kept backup; everything not kept is removed. Protected backups are never removed and
//! do not count; backups without the standard name are never touched (`renamed`).

use std::collections::HashSet;
use std::fmt;

use oxve_types::calendar::Zone;

use crate::config::PruneBackups;

/// What pruning does with one backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneMark {
    Keep,
    Remove,
    /// Protected: kept whatever the options say.
    Protected,
    /// Not in the standard naming scheme: kept, not considered.
    Renamed,
}

impl PruneMark {
    pub fn as_str(self) -> &'static str {
        match self {
            PruneMark::Keep => "keep",
            PruneMark::Remove => "remove",
            PruneMark::Protected => "protected",
            PruneMark::Renamed => "renamed",
        }
    }
}

impl fmt::Display for PruneMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One backup as pruning sees it (a row of `GET .../prunebackups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneEntry {
    pub volid: String,
    /// Backup time: from the archive name for standard names, else the file's ctime.
    pub ctime: i64,
    /// `qemu`, `lxc`, `openvz` or `unknown`.
    pub guest_type: String,
    pub vmid: Option<u32>,
    /// Whether the name follows `vzdump-<type>-<vmid>-<YYYY_MM_DD-HH_MM_SS>.<ext>`.
    pub standard_name: bool,
    pub protected: bool,
    /// Set by [`mark_backups`].
    pub mark: Option<PruneMark>,
}

/// The bucket a backup time falls in, for one keep option.
fn bucket(option: usize, ctime: i64, zone: &dyn Zone) -> (i64, i64, i64, i64) {
    let t = zone.to_tm(ctime);
    let (y, m, d, h) = (t.year as i64, t.month as i64, t.day as i64, t.hour as i64);
    match option {
        0 => (ctime, 0, 0, 0),
        1 => (y, m, d, h),
        2 => (y, m, d, -1),
        3 => {
            let (week, year) = t.iso_week();
            (year as i64, week as i64, -1, -1)
        }
        4 => (y, m, -1, -1),
        _ => (y, -1, -1, -1),
    }
}

/// Keep the newest backup of up to `count` buckets not yet covered by a kept backup; later
/// backups of a bucket just taken are removed.
fn mark_pass(sorted: &mut [&mut PruneEntry], count: u64, option: usize, zone: &dyn Zone) {
    if count == 0 {
        return;
    }
    let covered: HashSet<_> = sorted
        .iter()
        .filter(|e| e.mark == Some(PruneMark::Keep))
        .map(|e| bucket(option, e.ctime, zone))
        .collect();
    let mut taken = HashSet::new();
    for entry in sorted.iter_mut() {
        let id = bucket(option, entry.ctime, zone);
        if entry.mark.is_some() || covered.contains(&id) {
            continue;
        }
        if taken.contains(&id) {
            entry.mark = Some(PruneMark::Remove);
        } else {
            if taken.len() as u64 >= count {
                break;
            }
            taken.insert(id);
            entry.mark = Some(PruneMark::Keep);
        }
    }
}

/// Mark the backups of one group (same guest type and VMID). Entries marked already
/// (protected) keep their mark.
pub fn mark_group(group: &mut [&mut PruneEntry], keep: &PruneBackups, zone: &dyn Zone) {
    if keep.keeps_all() {
        for entry in group.iter_mut() {
            if matches!(entry.mark, None | Some(PruneMark::Remove)) {
                entry.mark = Some(PruneMark::Keep);
            }
        }
        return;
    }
    // Newest first; a stable sort keeps the listing order among equal times, as Perl's.
    group.sort_by_key(|e| std::cmp::Reverse(e.ctime));
    let passes = [
        keep.keep_last,
        keep.keep_hourly,
        keep.keep_daily,
        keep.keep_weekly,
        keep.keep_monthly,
        keep.keep_yearly,
    ];
    for (option, count) in passes.into_iter().enumerate() {
        mark_pass(group, count.unwrap_or(0), option, zone);
    }
    for entry in group.iter_mut() {
        entry.mark.get_or_insert(PruneMark::Remove);
    }
}

/// Mark every backup of a storage listing: protected ones `protected`, non-standard names
/// `renamed`, and each guest's group by `keep`. The order of `entries` is kept.
pub fn mark_backups(entries: &mut [PruneEntry], keep: &PruneBackups, zone: &dyn Zone) {
    let mut groups: Vec<((String, u32), Vec<&mut PruneEntry>)> = Vec::new();
    for entry in entries.iter_mut() {
        entry.mark = None;
        if !entry.standard_name {
            entry.mark = Some(PruneMark::Renamed);
        }
        if entry.protected {
            entry.mark = Some(PruneMark::Protected);
        }
        let Some(vmid) = entry.vmid.filter(|_| entry.standard_name) else {
            continue;
        };
        let key = (entry.guest_type.clone(), vmid);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(entry),
            None => groups.push((key, vec![entry])),
        }
    }
    for (_, mut group) in groups {
        mark_group(&mut group, keep, zone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxve_types::calendar::{days_from_civil, FixedOffset};

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    fn entry(ctime: i64) -> PruneEntry {
        PruneEntry {
            volid: format!("local:backup/{ctime}"),
            ctime,
            guest_type: "qemu".into(),
            vmid: Some(100),
            standard_name: true,
            protected: false,
            mark: None,
        }
    }

    /// Marks of backups at `times` under `keep`, in the order given.
    fn marks(times: &[i64], keep: &str, protected: &[usize]) -> Vec<&'static str> {
        let mut list: Vec<PruneEntry> = times.iter().map(|t| entry(*t)).collect();
        for i in protected {
            list[*i].protected = true;
        }
        let keep = PruneBackups::parse(keep).unwrap();
        mark_backups(&mut list, &keep, &FixedOffset::UTC);
        list.iter().map(|e| e.mark.unwrap().as_str()).collect()
    }

    #[test]
    fn keep_last_keeps_the_newest() {
        let times = [
            at(2024, 1, 1, 0, 0),
            at(2024, 1, 3, 0, 0),
            at(2024, 1, 2, 0, 0),
        ];
        assert_eq!(
            marks(&times, "keep-last=2", &[]),
            ["remove", "keep", "keep"]
        );
        assert_eq!(marks(&times, "keep-last=5", &[]), ["keep", "keep", "keep"]);
        // Protected backups are kept and do not count.
        assert_eq!(
            marks(&times, "keep-last=1", &[2]),
            ["remove", "keep", "protected"]
        );
    }

    #[test]
    fn keep_all_and_no_options_keep_everything() {
        let times = [at(2024, 1, 1, 0, 0), at(2024, 1, 2, 0, 0)];
        assert_eq!(marks(&times, "keep-all=1", &[]), ["keep", "keep"]);
        assert_eq!(marks(&times, "keep-last=0", &[0]), ["protected", "keep"]);
        assert_eq!(marks(&times, "", &[]), ["keep", "keep"]);
    }

    /// The example of the Proxmox documentation (pvesm "Prune Simulator" style): hourly and
    /// daily buckets, newest backup of each kept.
    #[test]
    fn daily_keeps_the_newest_of_each_day() {
        let times = [
            at(2024, 3, 1, 10, 0),
            at(2024, 3, 1, 22, 0), // newest of 1 March
            at(2024, 3, 2, 9, 0),
            at(2024, 3, 2, 21, 0), // newest of 2 March
            at(2024, 3, 3, 3, 0),  // newest of 3 March
        ];
        assert_eq!(
            marks(&times, "keep-daily=2", &[]),
            ["remove", "remove", "remove", "keep", "keep"]
        );
        // keep-last takes the newest two; daily then covers two more days (1 and 2 March are
        // left, 3 March is covered already by a kept backup).
        assert_eq!(
            marks(&times, "keep-last=2,keep-daily=2", &[]),
            ["remove", "keep", "remove", "keep", "keep"]
        );
        assert_eq!(
            marks(&times, "keep-hourly=3", &[]),
            ["remove", "remove", "keep", "keep", "keep"]
        );
    }

    #[test]
    fn weekly_monthly_yearly_buckets() {
        let times = [
            at(2022, 12, 31, 12, 0), // Saturday, ISO week 52 of 2022
            at(2023, 1, 1, 12, 0),   // Sunday, still ISO week 52 of 2022
            at(2023, 1, 2, 12, 0),   // Monday, ISO week 1 of 2023
            at(2023, 1, 31, 12, 0),
            at(2023, 2, 1, 12, 0),
            at(2024, 1, 1, 12, 0),
        ];
        assert_eq!(
            marks(&times, "keep-weekly=3", &[]),
            ["remove", "remove", "keep", "remove", "keep", "keep"]
        );
        assert_eq!(
            marks(&times, "keep-monthly=3", &[]),
            ["remove", "remove", "remove", "keep", "keep", "keep"]
        );
        assert_eq!(
            marks(&times, "keep-yearly=5", &[]),
            ["keep", "remove", "remove", "remove", "keep", "keep"]
        );
        // Options combine: last=1 takes 2024; weekly=2 then ISO weeks 5/2023 and 1/2023.
        assert_eq!(
            marks(&times, "keep-last=1,keep-weekly=2", &[]),
            ["remove", "remove", "keep", "remove", "keep", "keep"]
        );
    }

    #[test]
    fn buckets_follow_the_zone() {
        // 23:30 and 00:30 UTC are one day at UTC+2 (01:30 and 02:30 on the same day).
        let mut list = vec![entry(at(2024, 3, 1, 23, 30)), entry(at(2024, 3, 2, 0, 30))];
        let keep = PruneBackups::parse("keep-daily=5").unwrap();
        mark_backups(&mut list, &keep, &FixedOffset::hours(2));
        assert_eq!(list[0].mark, Some(PruneMark::Remove));
        mark_backups(&mut list, &keep, &FixedOffset::UTC);
        assert_eq!(list[0].mark, Some(PruneMark::Keep));
    }

    #[test]
    fn groups_by_guest_and_skips_renamed() {
        let mut list = vec![
            entry(at(2024, 1, 1, 0, 0)),
            entry(at(2024, 1, 2, 0, 0)),
            PruneEntry {
                vmid: Some(101),
                ..entry(at(2024, 1, 1, 0, 0))
            },
            PruneEntry {
                guest_type: "lxc".into(),
                ..entry(at(2024, 1, 1, 0, 0))
            },
            PruneEntry {
                standard_name: false,
                ..entry(at(2023, 1, 1, 0, 0))
            },
        ];
        let keep = PruneBackups::parse("keep-last=1").unwrap();
        mark_backups(&mut list, &keep, &FixedOffset::UTC);
        let got: Vec<_> = list.iter().map(|e| e.mark.unwrap().as_str()).collect();
        assert_eq!(got, ["remove", "keep", "keep", "keep", "renamed"]);
    }
}
