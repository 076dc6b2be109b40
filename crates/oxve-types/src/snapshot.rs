//! Snapshot trees, the same for every guest type: names as Proxmox validates them, the list
//! `GET .../snapshot` returns (with the `current` entry), and what deleting one does to the
//! tree (its children move up to its parent).

use serde_json::{json, Value};

/// What the tree needs to know of one snapshot section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub name: String,
    pub parent: Option<String>,
    pub snaptime: Option<i64>,
    pub description: Option<String>,
    /// The snapshot holds the guest's RAM.
    pub vmstate: bool,
}

/// Checks a new snapshot name (`pve-configid`: a letter, then letters, digits, `-`, `_`; 2 to
/// 40 characters; not `current`).
pub fn check_snapshot_name(name: &str) -> Result<(), String> {
    if name == "current" {
        return Err("snapshot name 'current' is reserved".into());
    }
    if name.len() < 2 || name.len() > 40 {
        return Err("snapshot names are 2 to 40 characters long".into());
    }
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("invalid configuration ID '{name}'"));
    }
    Ok(())
}

/// `GET .../snapshot`: every snapshot plus `current` (the guest now, child of `current_parent`).
pub fn snapshot_list(
    snapshots: &[SnapshotMeta],
    current_parent: Option<&str>,
    running: bool,
    digest: &str,
) -> Vec<Value> {
    let mut list: Vec<Value> = snapshots
        .iter()
        .map(|s| {
            let mut item = json!({
                "name": s.name,
                "description": s.description.clone().unwrap_or_default(),
            });
            if let Some(p) = &s.parent {
                item["parent"] = json!(p);
            }
            if let Some(t) = s.snaptime {
                item["snaptime"] = json!(t);
            }
            if s.vmstate {
                item["vmstate"] = json!(1);
            }
            item
        })
        .collect();
    let mut current = json!({
        "name": "current",
        "description": "You are here!",
        "digest": digest,
        "running": u8::from(running),
    });
    if let Some(p) = current_parent {
        current["parent"] = json!(p);
    }
    list.push(current);
    list
}

/// The snapshots whose parent is `name`.
pub fn children<'a>(snapshots: &'a [SnapshotMeta], name: &str) -> Vec<&'a str> {
    snapshots
        .iter()
        .filter(|s| s.parent.as_deref() == Some(name))
        .map(|s| s.name.as_str())
        .collect()
}

/// New parents after deleting `name`: each child of `name` (and the current state, when it
/// was based on `name`) is re-parented to `name`'s parent. Returns `(snapshot, new parent)`
/// pairs, `None` for `current`.
pub fn reparent_after_delete(
    snapshots: &[SnapshotMeta],
    current_parent: Option<&str>,
    name: &str,
) -> Vec<(Option<String>, Option<String>)> {
    let up = snapshots
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.parent.clone());
    let mut out: Vec<(Option<String>, Option<String>)> = children(snapshots, name)
        .into_iter()
        .map(|c| (Some(c.to_string()), up.clone()))
        .collect();
    if current_parent == Some(name) {
        out.push((None, up));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, parent: Option<&str>) -> SnapshotMeta {
        SnapshotMeta {
            name: name.into(),
            parent: parent.map(str::to_string),
            snaptime: Some(1),
            description: None,
            vmstate: false,
        }
    }

    #[test]
    fn names() {
        assert!(check_snapshot_name("before-upgrade_2").is_ok());
        assert!(check_snapshot_name("current").is_err());
        assert!(check_snapshot_name("1abc").is_err());
        assert!(check_snapshot_name("a b").is_err());
        assert!(check_snapshot_name("").is_err());
        assert!(check_snapshot_name("a").is_err());
        assert!(check_snapshot_name(&"a".repeat(41)).is_err());
    }

    #[test]
    fn tree_and_deleting_in_the_middle() {
        // a <- b <- c, a <- d (branch), current based on c
        let snaps = vec![
            meta("a", None),
            meta("b", Some("a")),
            meta("c", Some("b")),
            meta("d", Some("a")),
        ];
        let list = snapshot_list(&snaps, Some("c"), true, "abc");
        assert_eq!(list.len(), 5);
        assert_eq!(list[4]["name"], "current");
        assert_eq!(list[4]["parent"], "c");
        assert_eq!(list[4]["running"], 1);
        assert!(list[0].get("parent").is_none());
        assert_eq!(children(&snaps, "a"), ["b", "d"]);
        // deleting b: c moves up to a
        assert_eq!(
            reparent_after_delete(&snaps, Some("c"), "b"),
            [(Some("c".to_string()), Some("a".to_string()))]
        );
        // deleting c: current moves up to b
        assert_eq!(
            reparent_after_delete(&snaps, Some("c"), "c"),
            [(None, Some("b".to_string()))]
        );
        // deleting the root: its children become roots
        assert_eq!(
            reparent_after_delete(&snaps, Some("c"), "a"),
            [(Some("b".to_string()), None), (Some("d".to_string()), None)]
        );
    }
}
