//! `jobs.cfg` in the config store (as in pmxcfs): backup jobs are its `vzdump` sections;
//! sections of other job types are kept as they are. Changes are compare-and-swap on the
//! document's digest, retried when another writer got there first.

use std::collections::BTreeMap;

use oxve_router::ApiError;
use oxve_store::{ConfigStore, Expect, StoreError};
use oxve_types::section_config::{parse_section_config, write_section_config, ConfigSection};

pub(crate) const JOBS_CFG: &str = "jobs.cfg";
pub(crate) const JOB_TYPE: &str = "vzdump";

/// One backup job: its id and stored properties (text values; lists hold several).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BackupJob {
    pub id: String,
    pub props: BTreeMap<String, Vec<String>>,
}

impl BackupJob {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| v == "1")
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.props.insert(key.to_string(), vec![value.into()]);
    }

    fn from_section(s: &ConfigSection) -> Self {
        let mut props: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &s.properties {
            props
                .entry(k.clone())
                .or_default()
                .push(v.clone().unwrap_or_default());
        }
        BackupJob {
            id: s.id.clone(),
            props,
        }
    }

    fn to_section(&self) -> ConfigSection {
        let mut s = ConfigSection::new(JOB_TYPE, &self.id);
        for (k, values) in &self.props {
            for v in values {
                s.properties.push((k.clone(), Some(v.clone())));
            }
        }
        s
    }
}

fn internal(e: impl ToString) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Every backup job, in file order.
pub(crate) async fn read_jobs(store: &dyn ConfigStore) -> Result<Vec<BackupJob>, ApiError> {
    let text = store
        .get(JOBS_CFG)
        .await
        .map_err(internal)?
        .map(|e| e.text)
        .unwrap_or_default();
    let sections = parse_section_config(&text).map_err(internal)?;
    Ok(sections
        .iter()
        .filter(|s| s.section_type == JOB_TYPE)
        .map(BackupJob::from_section)
        .collect())
}

/// Change the backup jobs with `change` (which may refuse with an error) and store them.
pub(crate) async fn update_jobs<F, T>(store: &dyn ConfigStore, change: F) -> Result<T, ApiError>
where
    F: Fn(&mut Vec<BackupJob>) -> Result<T, ApiError>,
{
    for _ in 0..16 {
        let current = store.get(JOBS_CFG).await.map_err(internal)?;
        let (text, expect) = match &current {
            Some(e) => (e.text.clone(), Expect::Digest(e.digest.clone())),
            None => (String::new(), Expect::Absent),
        };
        let sections = parse_section_config(&text).map_err(internal)?;
        let mut jobs: Vec<BackupJob> = sections
            .iter()
            .filter(|s| s.section_type == JOB_TYPE)
            .map(BackupJob::from_section)
            .collect();
        let result = change(&mut jobs)?;
        // Other job types first, as they were; then the backup jobs.
        let mut out: Vec<ConfigSection> = sections
            .into_iter()
            .filter(|s| s.section_type != JOB_TYPE)
            .collect();
        out.extend(jobs.iter().map(BackupJob::to_section));
        let new_text =
            write_section_config(&out).map_err(|e| ApiError::bad_request(e.to_string()))?;
        match store.put(JOBS_CFG, &new_text, expect).await {
            Ok(_) => return Ok(result),
            Err(StoreError::DigestMismatch | StoreError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(internal(e)),
        }
    }
    Err(ApiError::internal(
        "jobs.cfg is changing too fast, try again",
    ))
}

/// `vmid` taken out of every backup job (a destroy with `purge`, as Proxmox's
/// `remove_vmid_from_backup_jobs`): out of a job's `vmid` list, and a job left with none is
/// removed; out of an `exclude` list, which is dropped when empty. Returns the jobs removed.
pub(crate) async fn remove_vmid_from_jobs(
    store: &dyn ConfigStore,
    vmid: u32,
) -> Result<Vec<String>, ApiError> {
    update_jobs(store, |jobs| {
        let mut removed = Vec::new();
        jobs.retain_mut(|job| match without_vmid(job, vmid) {
            Some(updated) => {
                *job = updated;
                true
            }
            None => {
                removed.push(job.id.clone());
                false
            }
        });
        Ok(removed)
    })
    .await
}

/// `job` without `vmid`; `None` when it named only that guest.
fn without_vmid(job: &BackupJob, vmid: u32) -> Option<BackupJob> {
    let drop_it = |list: &str| -> String {
        list.split([',', ';', ' '])
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.parse() != Ok(vmid))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut job = job.clone();
    if let Some(list) = job.get("vmid").map(str::to_string) {
        let rest = drop_it(&list);
        if rest.is_empty() {
            return None;
        }
        job.set("vmid", rest);
    } else if let Some(list) = job.get("exclude").map(str::to_string) {
        match drop_it(&list) {
            rest if rest.is_empty() => {
                job.props.remove("exclude");
            }
            rest => job.set("exclude", rest),
        }
    }
    Some(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(pairs: &[(&str, &str)]) -> BackupJob {
        let mut j = BackupJob {
            id: "backup-1".into(),
            ..Default::default()
        };
        for (k, v) in pairs {
            j.set(k, *v);
        }
        j
    }

    #[test]
    fn a_destroyed_guest_leaves_the_jobs_that_name_it() {
        let j = without_vmid(&job(&[("vmid", "100,101,1000")]), 100).unwrap();
        assert_eq!(j.get("vmid"), Some("101,1000"));
        assert!(without_vmid(&job(&[("vmid", "100")]), 100).is_none());
        let j = without_vmid(&job(&[("all", "1"), ("exclude", "100")]), 100).unwrap();
        assert_eq!(j.get("exclude"), None);
        assert_eq!(j.get("all"), Some("1"));
        let j = without_vmid(&job(&[("all", "1"), ("exclude", "5,100")]), 100).unwrap();
        assert_eq!(j.get("exclude"), Some("5"));
        let j = without_vmid(&job(&[("pool", "p")]), 100).unwrap();
        assert_eq!(j.get("pool"), Some("p"));
    }
}
