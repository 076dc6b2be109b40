//! The properties of a backup job (Proxmox's vzdump job properties: what `vzdump` takes, plus
//! `schedule`, `enabled`, `comment`, `repeat-missed` and the deprecated `starttime`/`dow`),
//! declared once: the parameter schema of create and update, the typed values of a stored job,
//! and which of them are passed on to vzdump when the job runs.

use oxve_types::format;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{json, Map, Value};

/// How a property is stored as text and shown as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    Str,
    /// `exclude-path`: a list, one stored line per item.
    List,
    /// A property string shown as an object (`prune-backups`, `fleecing`, `performance`);
    /// the key for a bare value first.
    PropertyString(Option<&'static str>),
}

/// Job properties that are not vzdump options.
pub(crate) const JOB_ONLY: &[&str] = &[
    "id",
    "schedule",
    "enabled",
    "comment",
    "repeat-missed",
    "starttime",
    "dow",
    "type",
];

/// Options only `root@pam` may set (they name host paths or commands).
pub(crate) const ROOT_ONLY: &[&str] = &["tmpdir", "dumpdir", "script"];

/// Every job property but `id`, with its kind and schema.
pub(crate) fn properties() -> Vec<(&'static str, Kind, Schema)> {
    use Kind::*;
    let s = Schema::string;
    let b = Schema::boolean;
    let i = Schema::integer;
    vec![
        ("all", Bool, b("Backup all known guest systems on this host.").default(false).into()),
        ("bwlimit", Int, i("Limit I/O bandwidth (in KiB/s).").minimum(0).into()),
        ("comment", Str, s("Description for the Job.").max_length(512).into()),
        ("compress", Str, s("Compress dump file.").enum_values(&["0", "1", "gzip", "lzo", "zstd"]).into()),
        ("dow", Str, s("Deprecated: Use 'schedule' instead. Day of week selection.").pattern(DOW_LIST).into()),
        ("dumpdir", Str, s("Store resulting files to specified directory.").into()),
        ("enabled", Bool, b("Enable or disable the job.").default(true).into()),
        ("exclude", Str, s("Exclude specified guest systems (assumes --all)").format(format::VMID_LIST).into()),
        ("exclude-path", List, Schema::array("Exclude certain files/directories (shell globs).", s("A path glob.")).into()),
        ("fleecing", PropertyString(Some("enabled")), s("Options for backup fleecing (VM only).").pattern(FLEECING).into()),
        ("ionice", Int, i("Set IO priority when using the BFQ scheduler.").minimum(0).maximum(8).into()),
        ("lockwait", Int, i("Maximal time to wait for the global lock (minutes).").minimum(0).into()),
        ("mailnotification", Str, s("Deprecated: use notification targets/matchers instead.").enum_values(&["always", "failure"]).into()),
        ("mailto", Str, s("Deprecated: Use notification targets/matchers instead. Comma-separated list of email addresses or users.").pattern(MAILTO).into()),
        ("maxfiles", Int, i("Deprecated: use 'prune-backups' instead. Maximal number of backup files per guest system.").minimum(1).into()),
        ("mode", Str, s("Backup mode.").enum_values(&["snapshot", "suspend", "stop"]).into()),
        ("node", Str, s("Only run if executed on this node.").format(format::NODE).into()),
        ("notes-template", Str, s("Template string for generating notes for the backup(s).").max_length(1024).into()),
        ("notification-mode", Str, s("Determine which notification system to use.").enum_values(&["auto", "legacy-sendmail", "notification-system"]).into()),
        ("pbs-change-detection-mode", Str, s("PBS mode used to detect file changes.").enum_values(&["legacy", "data", "metadata"]).into()),
        ("performance", PropertyString(None), s("Other performance-related settings.").pattern(PERFORMANCE).into()),
        ("pigz", Int, i("Use pigz instead of gzip when N>0.").into()),
        ("pool", Str, s("Backup all known guest systems included in the specified pool.").into()),
        ("protected", Bool, b("If true, mark backup(s) as protected.").into()),
        ("prune-backups", PropertyString(None), s("Use these retention options instead of those from the storage configuration.").into()),
        ("quiet", Bool, b("Be quiet.").into()),
        ("remove", Bool, b("Prune older backups according to 'prune-backups'.").into()),
        ("repeat-missed", Bool, b("If true, the job will be run as soon as possible if it was missed while the scheduler was not running.").default(false).into()),
        ("schedule", Str, s("Backup schedule. The format is a subset of `systemd` calendar events.").format(format::CALENDAR_EVENT).max_length(128).into()),
        ("script", Str, s("Use specified hook script.").into()),
        ("starttime", Str, s("Job Start time.").pattern("\\d{1,2}:\\d{1,2}").into()),
        ("stdexcludes", Bool, b("Exclude temporary files and logs.").into()),
        ("stop", Bool, b("Stop running backup jobs on this host.").into()),
        ("stopwait", Int, i("Maximal time to wait until a guest system is stopped (minutes).").minimum(0).into()),
        ("storage", Str, s("Store resulting file to this storage.").format(format::STORAGE_ID).into()),
        ("tmpdir", Str, s("Store temporary files to specified directory.").into()),
        ("vmid", Str, s("The ID of the guest system you want to backup.").format(format::VMID_LIST).into()),
        ("zstd", Int, i("Zstd threads. N=0 uses half of the available cores.").into()),
    ]
}

const DOW_LIST: &str = "(?:mon|tue|wed|thu|fri|sat|sun)(?:,(?:mon|tue|wed|thu|fri|sat|sun))*";
const FLEECING: &str = "(?:(?:enabled=)?[01]|storage=[A-Za-z][A-Za-z0-9\\-_.]*)(?:,(?:(?:enabled=)?[01]|storage=[A-Za-z][A-Za-z0-9\\-_.]*))*";
const PERFORMANCE: &str =
    "(?:max-workers|pbs-entries-max)=\\d+(?:,(?:max-workers|pbs-entries-max)=\\d+)*";
const MAILTO: &str = "[^\\s,;]+(?:[,;\\s]+[^\\s,;]+)*";

pub(crate) fn kind_of(name: &str) -> Option<Kind> {
    properties()
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, k, _)| k)
}

/// The weekdays of a deprecated `dow` list, for converting `starttime`+`dow` to a schedule.
pub(crate) fn dow_is_all(dow: &str) -> bool {
    let days: std::collections::BTreeSet<&str> = dow.split(',').collect();
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .all(|d| days.contains(d))
}

/// Parameters of create (`id` optional) and update (`id` from the path, plus `delete`).
pub(crate) fn create_schema() -> ObjectSchema {
    let mut schema = Schema::object("").optional(
        "id",
        Schema::string("Job ID (will be autogenerated).")
            .format(format::CONFIG_ID)
            .max_length(50),
    );
    for (name, _, prop) in properties() {
        schema = schema.optional(name, prop);
    }
    schema
}

pub(crate) fn update_schema() -> ObjectSchema {
    let mut schema = Schema::object("").required("id", id_param()).optional(
        "delete",
        Schema::string("A list of settings you want to delete.")
            .pattern("[A-Za-z0-9_\\-]+(?:[,;\\s]+[A-Za-z0-9_\\-]+)*"),
    );
    for (name, _, prop) in properties() {
        schema = schema.optional(name, prop);
    }
    schema
}

pub(crate) fn id_param() -> oxve_types::schema::StringSchema {
    Schema::string("The job ID.").max_length(50).pattern("\\S+")
}

/// A validated parameter as the text stored in jobs.cfg (booleans `0`/`1`); lists give one
/// text per item.
pub(crate) fn to_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Bool(b) => vec![u8::from(*b).to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(to_texts).collect(),
        _ => Vec::new(),
    }
}

/// `key=value,...` as a JSON object; numbers become numbers; a bare value goes to `default_key`.
fn property_string_json(text: &str, default_key: Option<&str>) -> Value {
    let mut map = Map::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (key, value) = match (item.split_once('='), default_key) {
            (Some((k, v)), _) => (k, v),
            (None, Some(k)) => (k, item),
            (None, None) => continue,
        };
        let v = value
            .parse::<i64>()
            .map_or_else(|_| json!(value), |n| json!(n));
        map.insert(key.to_string(), v);
    }
    Value::Object(map)
}

/// Stored texts of one property as the JSON Proxmox returns.
pub(crate) fn to_json(name: &str, texts: &[String]) -> Value {
    let first = texts.first().map(String::as_str).unwrap_or_default();
    match kind_of(name) {
        Some(Kind::Bool) | Some(Kind::Int) => first
            .parse::<i64>()
            .map_or_else(|_| json!(first), |n| json!(n)),
        Some(Kind::List) => json!(texts),
        Some(Kind::PropertyString(default_key)) => property_string_json(first, default_key),
        _ => json!(first),
    }
}

/// Stored texts of one property as the typed value vzdump's parameters take (property
/// strings stay strings).
pub(crate) fn to_param(name: &str, texts: &[String]) -> Value {
    let first = texts.first().map(String::as_str).unwrap_or_default();
    match kind_of(name) {
        Some(Kind::Bool) => json!(first == "1"),
        Some(Kind::Int) => first
            .parse::<i64>()
            .map_or_else(|_| json!(first), |n| json!(n)),
        Some(Kind::List) => json!(texts),
        _ => json!(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_values() {
        assert_eq!(to_texts(&json!(true)), ["1"]);
        assert_eq!(to_texts(&json!(["/a", "/b c"])), ["/a", "/b c"]);
        assert_eq!(to_json("all", &["1".into()]), json!(1));
        assert_eq!(to_json("mode", &["stop".into()]), json!("stop"));
        assert_eq!(
            to_json("prune-backups", &["keep-daily=7,keep-last=3".into()]),
            json!({"keep-daily": 7, "keep-last": 3})
        );
        assert_eq!(
            to_json("fleecing", &["1,storage=local".into()]),
            json!({"enabled": 1, "storage": "local"})
        );
        assert_eq!(to_param("remove", &["0".into()]), json!(false));
        assert_eq!(
            to_param("prune-backups", &["keep-last=1".into()]),
            json!("keep-last=1")
        );
        assert!(dow_is_all("sun,mon,tue,wed,thu,fri,sat"));
        assert!(!dow_is_all("mon,tue"));
    }

    #[test]
    fn every_job_only_property_but_type_and_id_is_declared() {
        for name in JOB_ONLY.iter().filter(|n| !matches!(**n, "type" | "id")) {
            assert!(kind_of(name).is_some(), "{name}");
        }
    }
}
