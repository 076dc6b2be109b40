//! Unique Process IDs (UPIDs) in Proxmox' text format.
//!
//! `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` with pid,
//! pstart and starttime as uppercase hex padded to 8 digits (pstart grows
//! past 8 digits after ~497 days of uptime at 100 Hz). The trailing colon
//! makes a split on `:` yield exactly 9 fields, which clients such as
//! proxmoxer check. Formatting follows pve-common `PVE::UPID::encode`,
//! parsing accepts what `PVE::UPID::decode` accepts, with the worker id
//! percent-escaped (see [`crate::escape`]).
//!
//! A UPID is also a file name (the task log), so parsing rejects anything
//! that could escape the task directory: every field is free of `/`, `:`,
//! white space and control characters, and the whole string is at most 255
//! bytes long.

use std::fmt;
use std::str::FromStr;

use crate::error::TaskError;
use crate::escape::{escape_id, unescape_id};

/// Longest UPID accepted: the file name limit of common Linux file systems.
pub const MAX_UPID_LEN: usize = 255;

/// A parsed, validated UPID. `Display` gives the canonical text form and
/// `FromStr` parses it back; serde uses the text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Upid {
    node: String,
    pid: u32,
    pstart: u64,
    starttime: i64,
    worker_type: String,
    worker_id: String,
    auth_id: String,
}

impl Upid {
    /// Builds a UPID from its parts, validating each one.
    ///
    /// `worker_id` is the raw id (it is escaped when formatted); `auth_id`
    /// is `user@realm` or `user@realm!token`; `starttime` is seconds since
    /// the epoch and must fit in 32 bits as in Proxmox.
    pub fn new(
        node: &str,
        pid: u32,
        pstart: u64,
        starttime: i64,
        worker_type: &str,
        worker_id: &str,
        auth_id: &str,
    ) -> Result<Self, TaskError> {
        check_node(node)?;
        check_field("type", worker_type)?;
        check_field("user", auth_id)?;
        if !(0..=i64::from(u32::MAX)).contains(&starttime) {
            return Err(TaskError::InvalidField {
                field: "starttime",
                value: starttime.to_string(),
                reason: "must be between 0 and 0xFFFFFFFF",
            });
        }
        let upid = Upid {
            node: node.to_string(),
            pid,
            pstart,
            starttime,
            worker_type: worker_type.to_string(),
            worker_id: worker_id.to_string(),
            auth_id: auth_id.to_string(),
        };
        if upid.to_string().len() > MAX_UPID_LEN {
            return Err(TaskError::InvalidField {
                field: "id",
                value: worker_id.to_string(),
                reason: "the UPID would be longer than 255 bytes",
            });
        }
        Ok(upid)
    }

    /// Node the task runs on.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Process id of the daemon that runs the task.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Start time of that process in clock ticks since boot
    /// (field 22 of `/proc/<pid>/stat`).
    pub fn pstart(&self) -> u64 {
        self.pstart
    }

    /// Task start time, seconds since the epoch.
    pub fn starttime(&self) -> i64 {
        self.starttime
    }

    /// Worker type, e.g. `qmstart`, `vzdump`.
    pub fn worker_type(&self) -> &str {
        &self.worker_type
    }

    /// Raw (unescaped) worker id, usually the vmid; may be empty.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The full auth id that started the task (`user@realm[!token]`).
    pub fn auth_id(&self) -> &str {
        &self.auth_id
    }

    /// The user part of the auth id (`user@realm`), as Proxmox' `user` key.
    pub fn user(&self) -> &str {
        self.auth_id
            .split_once('!')
            .map_or(self.auth_id.as_str(), |(user, _)| user)
    }

    /// The API token name when the task was started with a token.
    pub fn tokenid(&self) -> Option<&str> {
        self.auth_id.split_once('!').map(|(_, token)| token)
    }

    /// The same UPID with another start time (used to keep UPIDs unique).
    pub(crate) fn with_starttime(&self, starttime: i64) -> Result<Self, TaskError> {
        Upid::new(
            &self.node,
            self.pid,
            self.pstart,
            starttime,
            &self.worker_type,
            &self.worker_id,
            &self.auth_id,
        )
    }

    /// Name of the log sub-directory: the last hex digit of the start time,
    /// as Proxmox (`/var/log/pve/tasks/<X>/<UPID>`).
    pub fn log_subdir(&self) -> char {
        let digit = (self.starttime & 0xF) as u32;
        char::from_digit(digit, 16).map_or('0', |c| c.to_ascii_uppercase())
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            self.node,
            self.pid,
            self.pstart,
            self.starttime,
            self.worker_type,
            escape_id(&self.worker_id),
            self.auth_id
        )
    }
}

impl FromStr for Upid {
    type Err = TaskError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| {
            let mut shown: String = s.chars().take(MAX_UPID_LEN).collect();
            if shown.len() < s.len() {
                shown.push_str("...");
            }
            TaskError::InvalidUpid {
                upid: shown,
                reason: reason.to_string(),
            }
        };
        if s.len() > MAX_UPID_LEN {
            return Err(invalid("too long"));
        }
        let fields: Vec<&str> = s.split(':').collect();
        let [prefix, node, pid, pstart, starttime, wtype, id, user, tail] = fields[..] else {
            return Err(invalid("expected 9 ':'-separated fields"));
        };
        if prefix != "UPID" || !tail.is_empty() {
            return Err(invalid("must start with 'UPID:' and end with ':'"));
        }
        let pid = parse_hex(pid, 8, 8).ok_or_else(|| invalid("bad pid"))?;
        let pid = u32::try_from(pid).map_err(|_| invalid("bad pid"))?;
        let pstart = parse_hex(pstart, 8, 16).ok_or_else(|| invalid("bad pstart"))?;
        let starttime = parse_hex(starttime, 8, 8).ok_or_else(|| invalid("bad starttime"))?;
        let starttime = i64::try_from(starttime).map_err(|_| invalid("bad starttime"))?;
        let id = unescape_id(id).ok_or_else(|| invalid("bad id"))?;
        Upid::new(node, pid, pstart, starttime, wtype, &id, user).map_err(|e| match e {
            TaskError::InvalidField { field, reason, .. } => {
                invalid(&format!("bad {field}: {reason}"))
            }
            other => other,
        })
    }
}

impl serde::Serialize for Upid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Upid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses `min..=max` hex digits (either case) into a number.
fn parse_hex(text: &str, min: usize, max: usize) -> Option<u64> {
    if !(min..=max).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// Node names as Proxmox accepts them: letters, digits and inner dashes.
fn check_node(node: &str) -> Result<(), TaskError> {
    let bytes = node.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    if ok {
        Ok(())
    } else {
        Err(TaskError::InvalidField {
            field: "node",
            value: node.to_string(),
            reason: "must be letters, digits and inner '-'",
        })
    }
}

/// The worker type and the user: non-empty, with no ':', '/', white space
/// or control characters (Proxmox' `[^:\s/]+`, minus control characters).
fn check_field(field: &'static str, value: &str) -> Result<(), TaskError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c != ':' && c != '/' && !c.is_whitespace() && !c.is_control());
    if ok {
        Ok(())
    } else {
        Err(TaskError::InvalidField {
            field,
            value: value.to_string(),
            reason: "must be non-empty without ':', '/', white space or control characters",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Upid {
        Upid::new(
            "pve1",
            0x1234,
            0x5678,
            0x6543_2100,
            "qmstart",
            "100",
            "root@pam",
        )
        .unwrap()
    }

    #[test]
    fn formats_like_proxmox() {
        let upid = sample();
        let text = upid.to_string();
        assert_eq!(
            text,
            "UPID:pve1:00001234:00005678:65432100:qmstart:100:root@pam:"
        );
        assert_eq!(text.split(':').count(), 9);
        assert_eq!(text.parse::<Upid>().unwrap(), upid);
        assert_eq!(upid.log_subdir(), '0');
    }

    #[test]
    fn parses_real_proxmox_upids() {
        let text = "UPID:pve:000A2F8B:1C2D5A9E1:65F0A1B2:vzdump:101:root@pam!backup:";
        let upid: Upid = text.parse().unwrap();
        assert_eq!(upid.node(), "pve");
        assert_eq!(upid.pid(), 0xA2F8B);
        assert_eq!(upid.pstart(), 0x1_C2D5_A9E1);
        assert_eq!(upid.starttime(), 0x65F0A1B2);
        assert_eq!(upid.worker_type(), "vzdump");
        assert_eq!(upid.worker_id(), "101");
        assert_eq!(upid.user(), "root@pam");
        assert_eq!(upid.tokenid(), Some("backup"));
        assert_eq!(upid.to_string(), text);
        assert_eq!(upid.log_subdir(), '2');

        let lower: Upid = "UPID:n1:0000abcd:0000abcd:0000abcd:srvreload::root@pam:"
            .parse()
            .unwrap();
        assert_eq!(lower.worker_id(), "");
        assert_eq!(
            lower.to_string(),
            "UPID:n1:0000ABCD:0000ABCD:0000ABCD:srvreload::root@pam:"
        );
    }

    #[test]
    fn large_pstart_widens() {
        let upid = Upid::new("n", 1, 0x1_0000_0000, 1, "t", "", "u@pve").unwrap();
        let text = upid.to_string();
        assert!(text.contains(":100000000:"), "{text}");
        assert_eq!(text.parse::<Upid>().unwrap(), upid);
    }

    #[test]
    fn id_with_colon_is_escaped() {
        let upid = Upid::new("n", 1, 2, 3, "imgdel", "local:iso/x y.iso", "root@pam").unwrap();
        let text = upid.to_string();
        assert_eq!(
            text,
            "UPID:n:00000001:00000002:00000003:imgdel:local%3Aiso%2Fx%20y.iso:root@pam:"
        );
        assert_eq!(text.split(':').count(), 9);
        assert_eq!(
            text.parse::<Upid>().unwrap().worker_id(),
            "local:iso/x y.iso"
        );
    }

    #[test]
    fn serde_uses_text_form() {
        let upid = sample();
        let json = serde_json::to_string(&upid).unwrap();
        assert_eq!(json, format!("\"{upid}\""));
        assert_eq!(serde_json::from_str::<Upid>(&json).unwrap(), upid);
        assert!(serde_json::from_str::<Upid>("\"UPID:x\"").is_err());
    }

    #[test]
    fn rejects_garbage_and_path_tricks() {
        let bad = [
            "",
            "UPID",
            "garbage",
            "UPID:pve1:00001234:00005678:65432100:qmstart:100:root@pam",
            "UPID:pve1:00001234:00005678:65432100:qmstart:100:root@pam::",
            "upid:pve1:00001234:00005678:65432100:qmstart:100:root@pam:",
            "XPID:pve1:00001234:00005678:65432100:qmstart:100:root@pam:",
            "UPID::00001234:00005678:65432100:qmstart:100:root@pam:",
            "UPID:-pve:00001234:00005678:65432100:qmstart:100:root@pam:",
            "UPID:pv.e:00001234:00005678:65432100:qmstart:100:root@pam:",
            "UPID:pve1:1234:00005678:65432100:qmstart:100:root@pam:",
            "UPID:pve1:0000123G:00005678:65432100:qmstart:100:root@pam:",
            "UPID:pve1:+0001234:00005678:65432100:qmstart:100:root@pam:",
            "UPID:pve1:00001234:5678:65432100:qmstart:100:root@pam:",
            "UPID:pve1:00001234:00005678:165432100:qmstart:100:root@pam:",
            "UPID:pve1:00001234:00005678:65432100::100:root@pam:",
            "UPID:pve1:00001234:00005678:65432100:qmstart:100::",
            "UPID:pve1:00001234:00005678:65432100:qm/start:100:root@pam:",
            "UPID:pve1:00001234:00005678:65432100:qmstart:../../etc:root@pam:",
            "UPID:pve1:00001234:00005678:65432100:qmstart:100:../../x:",
            "UPID:pve1:00001234:00005678:65432100:qmstart:1 0:root@pam:",
            "UPID:pve1:00001234:00005678:65432100:qmstart:100:root\0@pam:",
            "UPID:pve1:00001234:00005678:65432100:qmstart:%2:root@pam:",
            "UPID:pve1:00001234:00005678:65432100:qm\nstart:100:root@pam:",
        ];
        for text in bad {
            assert!(text.parse::<Upid>().is_err(), "accepted {text:?}");
        }
        let long = format!(
            "UPID:n:00000001:00000001:00000001:t:{}:u@pve:",
            "1".repeat(300)
        );
        assert!(long.parse::<Upid>().is_err());
    }

    #[test]
    fn new_validates_fields() {
        assert!(Upid::new("n", 1, 1, -1, "t", "", "u@pve").is_err());
        assert!(Upid::new("n", 1, 1, 0x1_0000_0000, "t", "", "u@pve").is_err());
        assert!(Upid::new("n", 1, 1, 1, "a:b", "", "u@pve").is_err());
        assert!(Upid::new("n", 1, 1, 1, "t", "", "").is_err());
        assert!(Upid::new("n_1", 1, 1, 1, "t", "", "u@pve").is_err());
        assert!(Upid::new("n", 1, 1, 1, "t", &"x".repeat(250), "u@pve").is_err());
        assert!(Upid::new("n", 1, 1, 1, "t", "any: id/ok", "u@pve").is_ok());
    }
}
