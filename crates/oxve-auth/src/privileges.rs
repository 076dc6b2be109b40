//! The privileges of Proxmox VE 9 and a compact set type for them.
//!
//! The list is the one `GET /access/roles/{roleid}` documents for Proxmox VE 9.1 (47
//! privileges; `VM.Monitor` was dropped in 9.0 in favour of `VM.GuestAgent.*`).

use std::fmt;

/// Every privilege, sorted by name (byte order, as Proxmox sorts them). A privilege's bit in
/// [`PrivSet`] is its index here.
pub const PRIVILEGES: [&str; 47] = [
    "Datastore.Allocate",
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "Group.Allocate",
    "Mapping.Audit",
    "Mapping.Modify",
    "Mapping.Use",
    "Permissions.Modify",
    "Pool.Allocate",
    "Pool.Audit",
    "Realm.Allocate",
    "Realm.AllocateUser",
    "SDN.Allocate",
    "SDN.Audit",
    "SDN.Use",
    "Sys.AccessNetwork",
    "Sys.Audit",
    "Sys.Console",
    "Sys.Incoming",
    "Sys.Modify",
    "Sys.PowerMgmt",
    "Sys.Syslog",
    "User.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Backup",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];

/// The bit index of privilege `name`, if it is one.
pub fn priv_index(name: &str) -> Option<usize> {
    PRIVILEGES.binary_search(&name).ok()
}

/// Whether `name` is a known privilege.
pub fn is_valid_privilege(name: &str) -> bool {
    priv_index(name).is_some()
}

/// A set of privileges (one bit per entry of [`PRIVILEGES`]).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PrivSet(u64);

impl PrivSet {
    /// No privileges.
    pub const EMPTY: PrivSet = PrivSet(0);

    /// Every privilege.
    pub fn all() -> Self {
        PrivSet((1u64 << PRIVILEGES.len()) - 1)
    }

    /// The set of the given names; the first unknown name is the error.
    pub fn from_names<'a, I>(names: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut set = PrivSet::EMPTY;
        for name in names {
            let i = priv_index(name).ok_or_else(|| name.to_string())?;
            set.0 |= 1 << i;
        }
        Ok(set)
    }

    /// Build from names known to be valid (built-in tables).
    pub(crate) fn of(names: &[&str]) -> Self {
        Self::from_names(names.iter().copied())
            .unwrap_or_else(|bad| panic!("unknown built-in privilege {bad}"))
    }

    /// Whether `name` is in the set (unknown names never are).
    pub fn contains(&self, name: &str) -> bool {
        priv_index(name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Add privilege `name`; `false` if it is not a known privilege.
    pub fn insert(&mut self, name: &str) -> bool {
        match priv_index(name) {
            Some(i) => {
                self.0 |= 1 << i;
                true
            }
            None => false,
        }
    }

    /// Privileges in either set.
    pub fn union(self, other: PrivSet) -> PrivSet {
        PrivSet(self.0 | other.0)
    }

    /// Privileges in both sets.
    pub fn intersection(self, other: PrivSet) -> PrivSet {
        PrivSet(self.0 & other.0)
    }

    /// Privileges in `self` but not in `other`.
    pub fn difference(self, other: PrivSet) -> PrivSet {
        PrivSet(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Number of privileges in the set.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// The names in the set, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        let bits = self.0;
        PRIVILEGES
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, name)| *name)
    }

    /// The names, sorted, as owned strings.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl fmt::Display for PrivSet {
    /// Comma-separated sorted names, as `GET /access/roles` shows `privs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for PrivSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivSet[{self}]")
    }
}

impl FromIterator<&'static str> for PrivSet {
    /// Collect known names; unknown ones are skipped.
    fn from_iter<I: IntoIterator<Item = &'static str>>(iter: I) -> Self {
        let mut set = PrivSet::EMPTY;
        for name in iter {
            set.insert(name);
        }
        set
    }
}

/// Effective privileges on one path with Proxmox's informational propagate flag per privilege
/// (the value `GET /access/permissions` reports: 1 if any role granting it propagates).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct EffectivePrivs {
    /// The privileges held.
    pub privs: PrivSet,
    /// The subset of `privs` granted by a propagating ACL entry.
    pub propagate: PrivSet,
}

impl EffectivePrivs {
    /// Everything, propagating (root@pam).
    pub fn all() -> Self {
        EffectivePrivs {
            privs: PrivSet::all(),
            propagate: PrivSet::all(),
        }
    }

    /// The `{priv: 0|1}` map of `GET /access/permissions`.
    pub fn to_map(&self) -> std::collections::BTreeMap<String, u8> {
        self.privs
            .iter()
            .map(|p| (p.to_string(), u8::from(self.propagate.contains(p))))
            .collect()
    }
}

/// Split a Proxmox list parameter (`split_list`): NUL-separated if it holds NUL, otherwise
/// separated by commas, semicolons or white space.
pub fn split_list(text: &str) -> Vec<&str> {
    if text.contains('\0') {
        return text.split('\0').filter(|s| !s.is_empty()).collect();
    }
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_and_unique() {
        let mut sorted = PRIVILEGES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, PRIVILEGES.to_vec());
        assert!(!is_valid_privilege("VM.Monitor"));
        assert!(is_valid_privilege("VM.GuestAgent.Unrestricted"));
    }

    #[test]
    fn set_operations() {
        let a = PrivSet::of(&["VM.Audit", "Sys.Audit"]);
        let b = PrivSet::of(&["VM.Audit", "VM.Console"]);
        assert_eq!(a.intersection(b), PrivSet::of(&["VM.Audit"]));
        assert_eq!(a.union(b).len(), 3);
        assert_eq!(a.difference(b), PrivSet::of(&["Sys.Audit"]));
        assert_eq!(a.to_string(), "Sys.Audit,VM.Audit");
        assert!(a.contains("VM.Audit") && !a.contains("VM.Console") && !a.contains("x"));
        assert_eq!(PrivSet::all().len(), 47);
        assert_eq!(
            PrivSet::from_names(["VM.Audit", "VM.Bogus"]).unwrap_err(),
            "VM.Bogus"
        );
    }

    #[test]
    fn split_lists() {
        assert_eq!(split_list("a,b;c d\te"), ["a", "b", "c", "d", "e"]);
        assert_eq!(split_list(" a,,b "), ["a", "b"]);
        assert_eq!(split_list("a b\0c"), ["a b", "c"]);
        assert!(split_list("").is_empty());
    }
}
