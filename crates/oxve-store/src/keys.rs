//! Key layout of the store, mirroring pmxcfs: which keys are well formed, and the mapping
//! between a guest and its config document `nodes/<node>/{qemu-server,lxc}/<vmid>.conf`.

use std::fmt;

use crate::StoreError;

/// Lowest VMID a guest may have.
pub const VMID_MIN: u32 = 100;
/// Highest VMID a guest may have.
pub const VMID_MAX: u32 = 999_999_999;

/// Directory under `nodes/<node>/` that holds all guest configs.
const NODES_DIR: &str = "nodes";
const CONF_SUFFIX: &str = ".conf";

/// The two kinds of guest; they share one VMID space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GuestKind {
    /// A KVM/QEMU virtual machine.
    Qemu,
    /// An LXC container.
    Lxc,
}

impl GuestKind {
    /// Both kinds.
    pub const ALL: [GuestKind; 2] = [GuestKind::Qemu, GuestKind::Lxc];

    /// Directory name of this kind's configs under `nodes/<node>/`, as in pmxcfs.
    pub fn dir_name(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu-server",
            GuestKind::Lxc => "lxc",
        }
    }

    /// Type string used by the API (`/cluster/resources` `type`, `qemu/100` ids).
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }

    /// The kind for an API type string (`qemu` or `lxc`).
    pub fn from_type_str(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind stored in a config directory (`qemu-server` or `lxc`).
    pub fn from_dir_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.dir_name() == s)
    }
}

impl fmt::Display for GuestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a guest lives: its node, kind and VMID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuestRef {
    /// Node that owns the guest.
    pub node: String,
    /// VM or container.
    pub kind: GuestKind,
    /// Cluster-wide unique id.
    pub vmid: u32,
}

impl GuestRef {
    /// A reference to guest `vmid` of `kind` on `node`.
    pub fn new(node: impl Into<String>, kind: GuestKind, vmid: u32) -> Self {
        GuestRef {
            node: node.into(),
            kind,
            vmid,
        }
    }

    /// The store key of this guest's config; see [`guest_config_key`].
    pub fn config_key(&self) -> String {
        guest_config_key(self)
    }
}

/// The store key of a guest's config: `nodes/<node>/qemu-server/<vmid>.conf` or
/// `nodes/<node>/lxc/<vmid>.conf`, the pmxcfs layout.
pub fn guest_config_key(guest: &GuestRef) -> String {
    format!(
        "{NODES_DIR}/{}/{}/{}{CONF_SUFFIX}",
        guest.node,
        guest.kind.dir_name(),
        guest.vmid
    )
}

/// The guest whose config is stored at `key`, or `None` if `key` is not a guest config key.
pub fn parse_guest_config_key(key: &str) -> Option<GuestRef> {
    let mut parts = key.split('/');
    let (nodes, node, dir, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || nodes != NODES_DIR || node.is_empty() {
        return None;
    }
    let kind = GuestKind::from_dir_name(dir)?;
    let vmid = parse_vmid(file.strip_suffix(CONF_SUFFIX)?)?;
    Some(GuestRef::new(node, kind, vmid))
}

/// A VMID in canonical decimal form (no sign, no leading zero) and in range.
fn parse_vmid(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|v| check_vmid(*v).is_ok())
}

/// Refuse VMIDs outside [`VMID_MIN`]..=[`VMID_MAX`].
pub fn check_vmid(vmid: u32) -> Result<(), StoreError> {
    if (VMID_MIN..=VMID_MAX).contains(&vmid) {
        Ok(())
    } else {
        Err(StoreError::InvalidVmid {
            vmid,
            min: VMID_MIN,
            max: VMID_MAX,
        })
    }
}

/// Check that `key` is a well-formed relative path of non-empty segments, and say whether it
/// is a guest config key. Keys inside a guest config directory must be `<vmid>.conf`, so the
/// guests index cannot miss a config.
pub fn validate_key(key: &str) -> Result<Option<GuestRef>, StoreError> {
    let reason = if key.is_empty() {
        Some("empty key")
    } else if key.starts_with('/') {
        Some("absolute path")
    } else if key.chars().any(char::is_control) {
        Some("contains a control character")
    } else if key.contains('\\') {
        Some("contains a backslash")
    } else if key.split('/').any(str::is_empty) {
        Some("empty path segment")
    } else if key.split('/').any(|s| s == "." || s == "..") {
        Some("'.' or '..' path segment")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(StoreError::invalid_key(key, reason));
    }

    let mut parts = key.split('/');
    let in_guest_dir = parts.next() == Some(NODES_DIR)
        && parts.next().is_some()
        && parts.next().and_then(GuestKind::from_dir_name).is_some();
    if !in_guest_dir {
        return Ok(None);
    }
    match parse_guest_config_key(key) {
        Some(guest) => Ok(Some(guest)),
        None => Err(StoreError::invalid_key(
            key,
            "guest config keys must be nodes/<node>/<qemu-server|lxc>/<vmid>.conf",
        )),
    }
}

/// The key of `guest`, checked to be valid and to map back to the same guest (a node name
/// containing `/` would not).
pub(crate) fn checked_guest_key(guest: &GuestRef) -> Result<String, StoreError> {
    check_vmid(guest.vmid)?;
    let key = guest_config_key(guest);
    match validate_key(&key)? {
        Some(parsed) if parsed == *guest => Ok(key),
        _ => Err(StoreError::invalid_key(&key, "invalid node name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_keys_round_trip() {
        for kind in GuestKind::ALL {
            for vmid in [VMID_MIN, 4242, VMID_MAX] {
                let g = GuestRef::new("pve1", kind, vmid);
                let key = guest_config_key(&g);
                assert_eq!(parse_guest_config_key(&key), Some(g.clone()));
                assert_eq!(validate_key(&key).unwrap(), Some(g.clone()));
                assert_eq!(checked_guest_key(&g).unwrap(), key);
            }
        }
        assert_eq!(
            guest_config_key(&GuestRef::new("n1", GuestKind::Qemu, 100)),
            "nodes/n1/qemu-server/100.conf"
        );
        assert_eq!(
            guest_config_key(&GuestRef::new("n1", GuestKind::Lxc, 101)),
            "nodes/n1/lxc/101.conf"
        );
    }

    #[test]
    fn kind_strings() {
        assert_eq!(GuestKind::from_type_str("qemu"), Some(GuestKind::Qemu));
        assert_eq!(GuestKind::from_type_str("lxc"), Some(GuestKind::Lxc));
        assert_eq!(GuestKind::from_type_str("qemu-server"), None);
        assert_eq!(
            GuestKind::from_dir_name("qemu-server"),
            Some(GuestKind::Qemu)
        );
        assert_eq!(GuestKind::Lxc.to_string(), "lxc");
    }

    #[test]
    fn non_guest_keys() {
        for key in [
            "user.cfg",
            "storage.cfg",
            "priv/shadow.cfg",
            "nodes/n1/host.fw",
            "nodes/n1/qemu-server.txt",
        ] {
            assert_eq!(validate_key(key).unwrap(), None, "{key}");
            assert_eq!(parse_guest_config_key(key), None, "{key}");
        }
    }

    #[test]
    fn rejects_bad_keys() {
        for key in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "./a",
            "a//b",
            "a/",
            "a\0b",
            "a\nb",
            "a\\b",
            "nodes/n1/qemu-server/99.conf",
            "nodes/n1/qemu-server/0100.conf",
            "nodes/n1/qemu-server/1000000000.conf",
            "nodes/n1/qemu-server/+100.conf",
            "nodes/n1/qemu-server/100.txt",
            "nodes/n1/lxc/100.conf/x",
            "nodes/n1/lxc",
        ] {
            let err = validate_key(key).unwrap_err();
            assert!(matches!(err, StoreError::InvalidKey { .. }), "{key}: {err}");
        }
    }

    #[test]
    fn checked_guest_key_rejects_bad_node_or_vmid() {
        let bad_node = GuestRef::new("a/b", GuestKind::Qemu, 100);
        assert!(checked_guest_key(&bad_node).is_err());
        let empty_node = GuestRef::new("", GuestKind::Qemu, 100);
        assert!(checked_guest_key(&empty_node).is_err());
        let low = GuestRef::new("n", GuestKind::Lxc, 99);
        assert!(matches!(
            checked_guest_key(&low),
            Err(StoreError::InvalidVmid { vmid: 99, .. })
        ));
    }
}
