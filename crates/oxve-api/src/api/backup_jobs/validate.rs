//! Checks of a backup job as Proxmox makes them (`PVE::VZDump::verify_vzdump_parameters`,
//! the schema's `requires`, and the schedule conversion of the deprecated `starttime`/`dow`).

use std::collections::BTreeMap;

use oxve_router::ApiError;
use oxve_storage::config::PruneBackups;

use super::schema::dow_is_all;
use super::store::BackupJob;

/// The `schedule` the deprecated `starttime` (and `dow`) stand for.
pub(crate) fn schedule_from_starttime(starttime: &str, dow: Option<&str>) -> String {
    match dow {
        Some(dow) if !dow_is_all(dow) => format!("{dow} {starttime}"),
        _ => starttime.to_string(),
    }
}

/// Replace `starttime`/`dow` by the `schedule` they mean.
pub(crate) fn convert_starttime(job: &mut BackupJob) {
    if let Some(start) = job.get("starttime").map(str::to_string) {
        let dow = job.get("dow").map(str::to_string);
        job.set("schedule", schedule_from_starttime(&start, dow.as_deref()));
    }
    job.props.remove("starttime");
    job.props.remove("dow");
}

/// What is wrong with a complete job, per parameter (HTTP 400), as Proxmox words it.
pub(crate) fn verify_job(job: &BackupJob) -> Result<(), ApiError> {
    let mut errors = BTreeMap::new();
    let has = |k: &str| job.get(k).is_some_and(|v| !v.is_empty() && v != "0");
    let conflict = "option conflicts with option 'vmid'";
    for key in ["all", "exclude", "pool"] {
        if has(key) && has("vmid") {
            errors.insert(key.to_string(), conflict.to_string());
        }
    }
    if job.get("prune-backups").is_some() && job.get("maxfiles").is_some() {
        errors.insert(
            "prune-backups".into(),
            "option conflicts with option 'maxfiles'".into(),
        );
    } else if let Some(text) = job.get("prune-backups") {
        if let Err(e) = PruneBackups::parse(text) {
            errors.insert("prune-backups".into(), e);
        }
    }
    if has("storage") && has("dumpdir") {
        errors.insert(
            "dumpdir".into(),
            "option conflicts with option 'storage'".into(),
        );
    }
    if !["all", "stop", "pool", "vmid"].into_iter().any(has) {
        errors
            .entry("vmid".into())
            .or_insert_with(|| "property is missing".into());
    }
    for key in ["notes-template", "protected"] {
        if job.get(key).is_some() && job.get("storage").is_none() {
            errors.insert(
                "storage".into(),
                format!("missing property - '{key}' requires this property"),
            );
        }
    }
    if job.get("schedule").is_none() {
        errors.insert(
            "schedule".into(),
            "neither 'schedule' nor 'starttime' given".into(),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::params(errors))
    }
}

/// After a change: `exclude` implies `all` (unless a pool selects), and the last given
/// selection wins (`vmid`, else `all`, else `pool`), as Proxmox's update does.
pub(crate) fn normalize_selection(job: &mut BackupJob, given: &[&str]) {
    if job.get("exclude").is_some() && job.get("pool").is_none() {
        job.set("all", "1");
    }
    if given.contains(&"vmid") {
        for k in ["all", "exclude", "pool"] {
            job.props.remove(k);
        }
    } else if given.contains(&"all") && job.flag("all") == Some(true) {
        job.props.remove("vmid");
        job.props.remove("pool");
    } else if given.contains(&"pool") {
        for k in ["vmid", "all", "exclude"] {
            job.props.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(props: &[(&str, &str)]) -> BackupJob {
        let mut j = BackupJob {
            id: "j".into(),
            ..Default::default()
        };
        for (k, v) in props {
            j.set(k, *v);
        }
        j
    }

    fn errors(j: &BackupJob) -> Vec<String> {
        verify_job(j)
            .err()
            .and_then(|e| e.errors)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    }

    #[test]
    fn checks_as_proxmox() {
        assert!(errors(&job(&[("vmid", "100"), ("schedule", "daily")])).is_empty());
        assert!(errors(&job(&[("all", "1"), ("schedule", "daily")])).is_empty());
        assert_eq!(errors(&job(&[("schedule", "daily")])), ["vmid"]);
        assert_eq!(errors(&job(&[("vmid", "100")])), ["schedule"]);
        assert_eq!(
            errors(&job(&[
                ("vmid", "100"),
                ("all", "1"),
                ("schedule", "daily")
            ])),
            ["all"]
        );
        assert_eq!(
            errors(&job(&[
                ("all", "1"),
                ("storage", "a"),
                ("dumpdir", "/x"),
                ("schedule", "daily")
            ])),
            ["dumpdir"]
        );
        assert_eq!(
            errors(&job(&[
                ("all", "1"),
                ("prune-backups", "keep-x=1"),
                ("schedule", "daily")
            ])),
            ["prune-backups"]
        );
        assert_eq!(
            errors(&job(&[
                ("all", "1"),
                ("protected", "1"),
                ("schedule", "daily")
            ])),
            ["storage"]
        );
    }

    #[test]
    fn converts_starttime() {
        let mut j = job(&[("starttime", "02:30"), ("dow", "mon,tue")]);
        convert_starttime(&mut j);
        assert_eq!(j.get("schedule"), Some("mon,tue 02:30"));
        assert!(j.get("starttime").is_none() && j.get("dow").is_none());
        let mut j = job(&[
            ("starttime", "2:30"),
            ("dow", "mon,tue,wed,thu,fri,sat,sun"),
        ]);
        convert_starttime(&mut j);
        assert_eq!(j.get("schedule"), Some("2:30"));
    }

    #[test]
    fn selection_follows_the_update() {
        let mut j = job(&[("all", "1"), ("exclude", "101")]);
        j.set("vmid", "100");
        normalize_selection(&mut j, &["vmid"]);
        assert_eq!(
            (j.get("all"), j.get("exclude"), j.get("vmid")),
            (None, None, Some("100"))
        );
        let mut j = job(&[("vmid", "100")]);
        j.set("all", "1");
        normalize_selection(&mut j, &["all"]);
        assert_eq!((j.get("all"), j.get("vmid")), (Some("1"), None));
        let mut j = job(&[("exclude", "100")]);
        normalize_selection(&mut j, &["exclude"]);
        assert_eq!(j.get("all"), Some("1"));
    }
}
