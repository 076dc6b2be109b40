//! The text format of guest configs (`qemu-server/<vmid>.conf`, `lxc/<vmid>.conf`), as
//! Proxmox VE reads and writes it.
//!
//! ```text
//! #description, percent-encoded, one comment line per line
//! cores: 2
//! memory: 2048
//!
//! [PENDING]            <- `[pve:pending]` in container configs
//! cores: 4
//! delete: !net1,serial0
//!
//! [special:cloudinit]  <- VMs only
//! ipconfig0: ip=dhcp
//!
//! [snap1]
//! cores: 2
//! snaptime: 1700000000
//! ```
//!
//! This module only handles the structure: sections, `key: value` lines and the description.
//! Values stay strings; what each key means is checked elsewhere. Keys are written sorted,
//! as Proxmox does, so `parse(to_text(x)) == x` for every config `to_text` accepts.
//! Descriptions lose trailing whitespace on parse, as in Proxmox, so the round trip holds
//! for descriptions without it.

use std::collections::{BTreeMap, BTreeSet};

/// Which guest type a config belongs to; the two differ in small details of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigFlavor {
    /// `qemu-server/<vmid>.conf`: `[PENDING]`, `[special:<name>]` sections.
    Qemu,
    /// `lxc/<vmid>.conf`: `[pve:pending]`, raw `lxc.*` keys, no special sections.
    Lxc,
}

impl ConfigFlavor {
    fn pending_header(self) -> &'static str {
        match self {
            ConfigFlavor::Qemu => "PENDING",
            ConfigFlavor::Lxc => "pve:pending",
        }
    }
}

/// One section of a config: its description and its `key: value` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The comment lines at the top of the section, decoded; `None` when there are none.
    pub description: Option<String>,
    /// `key: value` lines; keys are unique and written in sorted order.
    pub values: BTreeMap<String, String>,
    /// Raw `lxc.*` keys of container configs, in file order (keys may repeat).
    pub lxc: Vec<(String, String)>,
}

/// A whole guest config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestConfigText {
    /// The current configuration.
    pub main: Section,
    /// Changes not applied yet, plus a `delete` list; empty when there are none.
    pub pending: Section,
    /// `[special:<name>]` sections (VMs only), by name.
    pub special: BTreeMap<String, Section>,
    /// Snapshots by name, each a full config plus `snaptime`, `parent`, `vmstate`, ...
    pub snapshots: BTreeMap<String, Section>,
}

/// A config text that cannot be parsed or a config that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigTextError {
    /// A line that is none of: blank, comment, section header, `key: value`.
    #[error("line {line}: unable to parse config line '{text}': {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The offending line, control characters escaped.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A section header that appears twice.
    #[error("line {line}: duplicate section [{name}]")]
    DuplicateSection {
        /// 1-based line number of the second header.
        line: usize,
        /// The section's name.
        name: String,
    },
    /// A section name that cannot be written (or would read back as another section).
    #[error("invalid section name '{name}'")]
    InvalidSectionName {
        /// The rejected name.
        name: String,
    },
    /// A key that cannot be written in this section.
    #[error("section {section}: invalid key '{key}'")]
    InvalidKey {
        /// Where the key is.
        section: String,
        /// The rejected key.
        key: String,
    },
    /// A value that cannot be written as one `key: value` line.
    #[error("section {section}: value of '{key}' cannot be written: {reason}")]
    InvalidValue {
        /// Where the value is.
        section: String,
        /// Its key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The key holding the pending section's delete list.
const DELETE_KEY: &str = "delete";
const DESCRIPTION_KEY: &str = "description";

impl Section {
    /// True if the section holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.description.is_none() && self.values.is_empty() && self.lxc.is_empty()
    }

    /// The pending `delete` list: key -> force flag (`!key` in the text).
    pub fn pending_deletes(&self) -> BTreeMap<String, bool> {
        let Some(list) = self.values.get(DELETE_KEY) else {
            return BTreeMap::new();
        };
        list.split(|c: char| c == ',' || c == ';' || is_space(c))
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix('!') {
                Some(key) => (key.to_owned(), true),
                None => (s.to_owned(), false),
            })
            .collect()
    }

    /// Replace the pending `delete` list (written sorted, `!` marking force); an empty list
    /// removes the key.
    pub fn set_pending_deletes(&mut self, deletes: &BTreeMap<String, bool>) {
        if deletes.is_empty() {
            self.values.remove(DELETE_KEY);
            return;
        }
        let list: Vec<String> = deletes
            .iter()
            .map(|(k, force)| if *force { format!("!{k}") } else { k.clone() })
            .collect();
        self.values.insert(DELETE_KEY.to_owned(), list.join(","));
    }
}

/// Which section the parser is filling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SectionId {
    Main,
    Pending,
    Special(String),
    Snapshot(String),
}

impl GuestConfigText {
    /// Parse a config text of the given flavor.
    pub fn parse(flavor: ConfigFlavor, text: &str) -> Result<Self, ConfigTextError> {
        let mut conf = GuestConfigText::default();
        let mut current = SectionId::Main;
        let mut seen = BTreeSet::new();
        let mut descr: Option<String> = None;

        for (idx, raw) in text.split('\n').enumerate() {
            let line_no = idx + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let malformed = |reason| ConfigTextError::Malformed {
                line: line_no,
                text: line.escape_debug().to_string(),
                reason,
            };
            if line.chars().all(is_space) {
                continue;
            }
            if line.starts_with('[') {
                let id =
                    section_header(flavor, line).ok_or_else(|| malformed("unknown section"))?;
                if !seen.insert(id.clone()) {
                    return Err(ConfigTextError::DuplicateSection {
                        line: line_no,
                        name: section_label(flavor, &id),
                    });
                }
                conf.section_mut(&current).description = finish_description(descr.take());
                current = id;
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let d = descr.get_or_insert_with(String::new);
                d.push_str(&decode_text(comment));
                d.push('\n');
                continue;
            }
            if flavor == ConfigFlavor::Lxc && line.starts_with("lxc.") {
                let (key, value) =
                    split_lxc_line(line).ok_or_else(|| malformed("bad lxc.* line"))?;
                conf.section_mut(&current)
                    .lxc
                    .push((key.into(), value.into()));
                continue;
            }
            let (key, value) =
                split_key_line(line).ok_or_else(|| malformed("expected 'key: value'"))?;
            if value.is_empty() {
                return Err(malformed("empty value"));
            }
            if key == DESCRIPTION_KEY {
                // Appended without a line break, as Proxmox does.
                descr
                    .get_or_insert_with(String::new)
                    .push_str(&decode_text(value));
            } else if key == DELETE_KEY && current != SectionId::Pending {
                return Err(malformed("'delete' is only allowed in the pending section"));
            } else {
                // A repeated key: the last one wins, as in Proxmox.
                conf.section_mut(&current)
                    .values
                    .insert(key.into(), value.into());
            }
        }
        conf.section_mut(&current).description = finish_description(descr);
        Ok(conf)
    }

    /// Write the config in Proxmox's layout: main section, pending, special sections and
    /// snapshots (each sorted by name), keys sorted within each section.
    pub fn to_text(&self, flavor: ConfigFlavor) -> Result<String, ConfigTextError> {
        let mut out = String::new();
        write_section(&mut out, flavor, &SectionId::Main, &self.main)?;
        if !self.pending.is_empty() {
            out.push_str(&format!("\n[{}]\n", flavor.pending_header()));
            write_section(&mut out, flavor, &SectionId::Pending, &self.pending)?;
        }
        for (name, section) in &self.special {
            if flavor != ConfigFlavor::Qemu || !is_special_name(name) {
                return Err(ConfigTextError::InvalidSectionName {
                    name: format!("special:{name}"),
                });
            }
            out.push_str(&format!("\n[special:{name}]\n"));
            write_section(&mut out, flavor, &SectionId::Special(name.clone()), section)?;
        }
        for (name, section) in &self.snapshots {
            if !is_snapshot_name(name)
                || (flavor == ConfigFlavor::Qemu && name.eq_ignore_ascii_case("pending"))
            {
                return Err(ConfigTextError::InvalidSectionName { name: name.clone() });
            }
            out.push_str(&format!("\n[{name}]\n"));
            write_section(
                &mut out,
                flavor,
                &SectionId::Snapshot(name.clone()),
                section,
            )?;
        }
        Ok(out)
    }

    fn section_mut(&mut self, id: &SectionId) -> &mut Section {
        match id {
            SectionId::Main => &mut self.main,
            SectionId::Pending => &mut self.pending,
            SectionId::Special(name) => self.special.entry(name.clone()).or_default(),
            SectionId::Snapshot(name) => self.snapshots.entry(name.clone()).or_default(),
        }
    }
}

fn section_label(flavor: ConfigFlavor, id: &SectionId) -> String {
    match id {
        SectionId::Main => "main".into(),
        SectionId::Pending => flavor.pending_header().into(),
        SectionId::Special(name) => format!("special:{name}"),
        SectionId::Snapshot(name) => name.clone(),
    }
}

/// The section a `[...]` header line opens, if it is a known kind of header.
fn section_header(flavor: ConfigFlavor, line: &str) -> Option<SectionId> {
    let inner = line
        .trim_end_matches(is_space)
        .strip_prefix('[')?
        .strip_suffix(']')?;
    if inner.eq_ignore_ascii_case(flavor.pending_header()) {
        return Some(SectionId::Pending);
    }
    if flavor == ConfigFlavor::Qemu {
        if let Some(name) = inner.strip_prefix("special:") {
            return is_special_name(name).then(|| SectionId::Special(name.into()));
        }
    }
    is_snapshot_name(inner).then(|| SectionId::Snapshot(inner.into()))
}

/// Snapshot names as Proxmox accepts them: a letter, then at least one of `[a-z0-9_-]`
/// (either case).
fn is_snapshot_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_special_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Config keys: a lowercase letter, then `[a-z_-]`, then optional digits (`net0`, `ide2`,
/// `cpu-units`).
fn is_key(key: &str) -> bool {
    let stem = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let mut chars = stem.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
}

/// Raw container keys: `lxc.` followed by `[a-z0-9_.-]`.
fn is_lxc_key(key: &str) -> bool {
    key.strip_prefix("lxc.").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
    })
}

/// Whitespace as Perl's `\s` sees it in ASCII.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// `key: value` with the value trimmed.
fn split_key_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    is_key(key).then(|| (key, value.trim_matches(is_space)))
}

/// `lxc.some.key: value` or `lxc.some.key = value` (the value may be empty).
fn split_lxc_line(line: &str) -> Option<(&str, &str)> {
    let end = line
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)))
        .unwrap_or(line.len());
    let (key, rest) = line.split_at(end);
    if !is_lxc_key(key) {
        return None;
    }
    let value = match rest.strip_prefix(':') {
        Some(v) => v,
        None => rest.trim_start_matches(is_space).strip_prefix('=')?,
    };
    Some((key, value.trim_matches(is_space)))
}

/// The accumulated description of a section, without trailing whitespace.
fn finish_description(descr: Option<String>) -> Option<String> {
    descr.map(|d| d.trim_end_matches(is_space).to_owned())
}

fn write_section(
    out: &mut String,
    flavor: ConfigFlavor,
    id: &SectionId,
    section: &Section,
) -> Result<(), ConfigTextError> {
    let label = || section_label(flavor, id);
    if let Some(descr) = &section.description {
        let descr = descr.trim_end_matches(is_space);
        if descr.is_empty() {
            // A bare `#` keeps an explicitly empty description, as Proxmox does in pending.
            out.push_str("#\n");
        } else {
            for line in descr.split('\n') {
                out.push('#');
                out.push_str(&encode_text(line));
                out.push('\n');
            }
        }
    }
    for (key, value) in &section.values {
        let bad_key = !is_key(key)
            || key == DESCRIPTION_KEY
            || (key == DELETE_KEY && *id != SectionId::Pending);
        if bad_key {
            return Err(ConfigTextError::InvalidKey {
                section: label(),
                key: key.clone(),
            });
        }
        check_value(value, false).map_err(|reason| ConfigTextError::InvalidValue {
            section: label(),
            key: key.clone(),
            reason,
        })?;
        out.push_str(&format!("{key}: {value}\n"));
    }
    if !section.lxc.is_empty() && flavor != ConfigFlavor::Lxc {
        return Err(ConfigTextError::InvalidKey {
            section: label(),
            key: section.lxc[0].0.clone(),
        });
    }
    for (key, value) in &section.lxc {
        if !is_lxc_key(key) {
            return Err(ConfigTextError::InvalidKey {
                section: label(),
                key: key.clone(),
            });
        }
        check_value(value, true).map_err(|reason| ConfigTextError::InvalidValue {
            section: label(),
            key: key.clone(),
            reason,
        })?;
        out.push_str(&format!("{key}: {value}\n"));
    }
    Ok(())
}

/// A value must survive being written as one line and read back unchanged.
fn check_value(value: &str, may_be_empty: bool) -> Result<(), &'static str> {
    if value.contains(['\n', '\r']) {
        Err("contains a line break")
    } else if value.is_empty() && !may_be_empty {
        Err("empty")
    } else if value.starts_with(is_space) || value.ends_with(is_space) {
        Err("leading or trailing whitespace")
    } else {
        Ok(())
    }
}

/// Percent-encode one description line as Proxmox does: UTF-8 bytes outside printable
/// ASCII, and `:`, become `%XX`. `%` is also encoded where it would otherwise read back as
/// an escape, which Proxmox decodes the same way.
fn encode_text(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let looks_escaped = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if (0x20..=0x7e).contains(&b) && b != b':' && !looks_escaped {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undo [`encode_text`]: `%XX` becomes the byte, other `%` stay; invalid UTF-8 is replaced.
fn decode_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| bytes[i] == b'%' && h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VM with a description, pending changes, a cloud-init section and two snapshots,
    /// written the way Proxmox writes it.
    const VM: &str = "\
#Web server%3A production
#
#owner%3A M%C3%BCller, 100% sure
boot: order=scsi0;ide2;net0
cores: 2
ide2: local:iso/debian-12.iso,media=cdrom
lock: backup
memory: 2048
name: web01
net0: virtio=BC:24:11:2E:7A:01,bridge=vmbr0,firewall=1
ostype: l26
parent: after-upgrade
scsi0: local:100/vm-100-disk-0.qcow2,size=32G
scsihw: virtio-scsi-single
smbios1: uuid=6f1c1c2e-3e0b-4b1e-9d55-0e6c6a3e7f10

[PENDING]
#new description
cores: 4
delete: !net1,serial0
memory: 4096

[special:cloudinit]
ipconfig0: ip=dhcp
name: web01

[after-upgrade]
#state after apt upgrade
boot: order=scsi0;ide2;net0
cores: 2
memory: 2048
parent: before-upgrade
scsi0: local:100/vm-100-disk-0.qcow2,size=32G
snaptime: 1700000500
vmstate: local:100/vm-100-state-after-upgrade.raw

[before-upgrade]
cores: 2
memory: 1024
scsi0: local:100/vm-100-disk-0.qcow2,size=32G
snapstate: prepare
snaptime: 1700000000
";

    fn parse_vm(text: &str) -> GuestConfigText {
        GuestConfigText::parse(ConfigFlavor::Qemu, text).unwrap()
    }

    fn round_trip(flavor: ConfigFlavor, conf: &GuestConfigText) {
        let text = conf.to_text(flavor).unwrap();
        assert_eq!(
            &GuestConfigText::parse(flavor, &text).unwrap(),
            conf,
            "{text}"
        );
    }

    #[test]
    fn parses_realistic_vm_config() {
        let conf = parse_vm(VM);
        assert_eq!(
            conf.main.description.as_deref(),
            Some("Web server: production\n\nowner: Müller, 100% sure")
        );
        assert_eq!(conf.main.values["cores"], "2");
        assert_eq!(conf.main.values["boot"], "order=scsi0;ide2;net0");
        assert_eq!(conf.main.values["parent"], "after-upgrade");
        assert_eq!(conf.main.values.len(), 12);

        assert_eq!(conf.pending.description.as_deref(), Some("new description"));
        assert_eq!(conf.pending.values["memory"], "4096");
        assert_eq!(
            conf.pending.pending_deletes(),
            BTreeMap::from([("net1".to_owned(), true), ("serial0".to_owned(), false)])
        );

        assert_eq!(conf.special.len(), 1);
        assert_eq!(conf.special["cloudinit"].values["ipconfig0"], "ip=dhcp");

        let names: Vec<_> = conf.snapshots.keys().map(String::as_str).collect();
        assert_eq!(names, ["after-upgrade", "before-upgrade"]);
        let snap = &conf.snapshots["after-upgrade"];
        assert_eq!(snap.description.as_deref(), Some("state after apt upgrade"));
        assert_eq!(snap.values["parent"], "before-upgrade");
        assert_eq!(snap.values["snaptime"], "1700000500");
        assert!(snap.values["vmstate"].ends_with("state-after-upgrade.raw"));
        assert_eq!(
            conf.snapshots["before-upgrade"].values["snapstate"],
            "prepare"
        );
    }

    #[test]
    fn writes_like_proxmox() {
        let conf = parse_vm(VM);
        // Snapshots are sorted by name, so `after-upgrade` comes first as in VM.
        assert_eq!(conf.to_text(ConfigFlavor::Qemu).unwrap(), VM);
        round_trip(ConfigFlavor::Qemu, &conf);
    }

    #[test]
    fn keys_are_written_sorted() {
        let conf = parse_vm("name: x\ncores: 1\nagent: 1\n\n\n[snap]\nmemory: 1\nboot: c\n");
        assert_eq!(
            conf.to_text(ConfigFlavor::Qemu).unwrap(),
            "agent: 1\ncores: 1\nname: x\n\n[snap]\nboot: c\nmemory: 1\n"
        );
    }

    #[test]
    fn tolerates_whitespace_and_crlf() {
        let conf = parse_vm("  \ncores:   2  \r\n\t\nname:web\n[PENDING]  \n#  indented  \n");
        assert_eq!(conf.main.values["cores"], "2");
        assert_eq!(conf.main.values["name"], "web");
        assert_eq!(conf.pending.description.as_deref(), Some("  indented"));
    }

    #[test]
    fn description_forms() {
        // `description:` lines are decoded and appended without a line break.
        let conf = parse_vm("description: a%3Ab\ncores: 1\n");
        assert_eq!(conf.main.description.as_deref(), Some("a:b"));
        // A bare `#` is an empty description; in pending it means "clear it".
        let conf = parse_vm("cores: 1\n[PENDING]\n#\n");
        assert_eq!(conf.pending.description.as_deref(), Some(""));
        round_trip(ConfigFlavor::Qemu, &conf);
        // Comments anywhere in a section belong to its description.
        let conf = parse_vm("cores: 1\n#late\n[snap]\n#s\n");
        assert_eq!(conf.main.description.as_deref(), Some("late"));
        assert_eq!(conf.snapshots["snap"].description.as_deref(), Some("s"));
        // Lone `%` and invalid escapes stay as they are.
        let conf = parse_vm("#50% off %zz %4\n");
        assert_eq!(conf.main.description.as_deref(), Some("50% off %zz %4"));
    }

    #[test]
    fn descriptions_round_trip() {
        for d in [
            "plain",
            "colon: here",
            "100% and %41 literally",
            "Grüße 🚀",
            "tab\there",
            "\nleading blank line",
            "a\n\n\nb",
            "cr\r\nlf",
            "del\x7f nul\0",
            "#hash at start",
            "[not a section]",
            "",
        ] {
            let mut conf = GuestConfigText::default();
            conf.main.description = Some(d.to_owned());
            conf.main.values.insert("cores".into(), "1".into());
            conf.snapshots.insert("s1".into(), conf.main.clone());
            round_trip(ConfigFlavor::Qemu, &conf);
            round_trip(ConfigFlavor::Lxc, &conf);
        }
        // Trailing whitespace is dropped, as Proxmox does.
        let mut conf = GuestConfigText::default();
        conf.main.description = Some("x  \n\n".into());
        let text = conf.to_text(ConfigFlavor::Qemu).unwrap();
        assert_eq!(text, "#x\n");
    }

    #[test]
    fn container_config() {
        let text = "\
#my container
arch: amd64
hostname: ct1
memory: 512
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth
rootfs: local:101/vm-101-disk-0.raw,size=8G
lxc.cgroup.devices.allow: c 10:200 rwm
lxc.mount.entry = /dev/net dev/net none bind,create=dir
lxc.cgroup.devices.allow: c 1:3 rwm
lxc.apparmor.raw:

[pve:pending]
delete: swap
memory: 1024

[base]
hostname: ct1
memory: 512
snaptime: 1700000000
";
        let conf = GuestConfigText::parse(ConfigFlavor::Lxc, text).unwrap();
        assert_eq!(conf.main.values["hostname"], "ct1");
        assert_eq!(
            conf.main.lxc,
            [
                ("lxc.cgroup.devices.allow".into(), "c 10:200 rwm".into()),
                (
                    "lxc.mount.entry".into(),
                    "/dev/net dev/net none bind,create=dir".into()
                ),
                ("lxc.cgroup.devices.allow".into(), "c 1:3 rwm".into()),
                ("lxc.apparmor.raw".into(), String::new()),
            ]
        );
        assert_eq!(conf.pending.values["delete"], "swap");
        assert_eq!(conf.snapshots["base"].values["snaptime"], "1700000000");
        let written = conf.to_text(ConfigFlavor::Lxc).unwrap();
        assert!(written.contains("\n[pve:pending]\n"));
        assert!(written.contains("lxc.mount.entry: /dev/net"));
        round_trip(ConfigFlavor::Lxc, &conf);

        // Container headers and keys mean nothing to a VM config, and the reverse.
        assert!(GuestConfigText::parse(ConfigFlavor::Qemu, text).is_err());
        assert!(GuestConfigText::parse(ConfigFlavor::Lxc, "[special:cloudinit]\n").is_err());
        assert!(conf.to_text(ConfigFlavor::Qemu).is_err());
    }

    #[test]
    fn pending_deletes_helpers() {
        let mut s = Section::default();
        assert!(s.pending_deletes().is_empty());
        s.values
            .insert("delete".into(), "net0; !scsi1 ,, serial0 net0".into());
        let d = s.pending_deletes();
        assert_eq!(
            d,
            BTreeMap::from([
                ("net0".to_owned(), false),
                ("scsi1".to_owned(), true),
                ("serial0".to_owned(), false)
            ])
        );
        s.set_pending_deletes(&d);
        assert_eq!(s.values["delete"], "net0,!scsi1,serial0");
        s.set_pending_deletes(&BTreeMap::new());
        assert!(s.is_empty());
    }

    #[test]
    fn empty_sections() {
        let conf = parse_vm("");
        assert_eq!(conf, GuestConfigText::default());
        assert_eq!(conf.to_text(ConfigFlavor::Qemu).unwrap(), "");
        // An empty [PENDING] is the same as none; empty snapshots are kept.
        let conf = parse_vm("cores: 1\n[PENDING]\n[snap]\n");
        assert!(conf.pending.is_empty());
        assert!(conf.snapshots["snap"].is_empty());
        assert_eq!(
            conf.to_text(ConfigFlavor::Qemu).unwrap(),
            "cores: 1\n\n[snap]\n"
        );
        round_trip(ConfigFlavor::Qemu, &conf);
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases = [
            ("cores: 1\nthis is junk\n", 2, "expected 'key: value'"),
            ("Cores: 1\n", 1, "expected 'key: value'"),
            ("cores:\n", 1, "empty value"),
            ("cores: 1\n\ndelete: net0\n", 3, "'delete' is only allowed"),
            ("[snap]\ndelete: net0\n", 2, "'delete' is only allowed"),
            ("[x]\n", 1, "unknown section"),
            ("[bad name]\n", 1, "unknown section"),
            ("[special:Bad]\n", 1, "unknown section"),
            ("[pve:pending]\n", 1, "unknown section"),
            ("  cores: 1\n", 1, "expected 'key: value'"),
            ("lxc.foo: 1\n", 1, "expected 'key: value'"),
        ];
        for (text, line, reason) in cases {
            match GuestConfigText::parse(ConfigFlavor::Qemu, text) {
                Err(e @ ConfigTextError::Malformed { line: l, .. }) => {
                    assert_eq!(l, line, "{text:?}: {e}");
                    assert!(e.to_string().contains(reason), "{text:?}: {e}");
                    assert!(e.to_string().starts_with(&format!("line {line}: ")));
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let e = GuestConfigText::parse(
            ConfigFlavor::Qemu,
            "cores: 1\n[s1]\n[PENDING]\n[S1]\n[s1]\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            ConfigTextError::DuplicateSection {
                line: 5,
                name: "s1".into()
            }
        );
        let e = GuestConfigText::parse(ConfigFlavor::Qemu, "[pending]\n[PENDING]\n").unwrap_err();
        assert!(matches!(
            e,
            ConfigTextError::DuplicateSection { line: 2, .. }
        ));
    }

    #[test]
    fn unwritable_configs_are_refused() {
        let with = |f: &dyn Fn(&mut GuestConfigText)| {
            let mut conf = GuestConfigText::default();
            f(&mut conf);
            conf.to_text(ConfigFlavor::Qemu)
        };
        let value = |k: &str, v: &str| {
            let (k, v) = (k.to_owned(), v.to_owned());
            move |c: &mut GuestConfigText| {
                c.main.values.insert(k.clone(), v.clone());
            }
        };
        assert!(with(&value("name", "a\nlock: backup")).is_err());
        assert!(with(&value("name", "a\r")).is_err());
        assert!(with(&value("name", "")).is_err());
        assert!(with(&value("name", " padded")).is_err());
        assert!(with(&value("Name", "x")).is_err());
        assert!(with(&value("na me", "x")).is_err());
        assert!(with(&value("net0x", "x")).is_err());
        assert!(with(&value("description", "x")).is_err());
        assert!(with(&value("delete", "net0")).is_err());
        assert!(with(&|c| {
            c.pending.values.insert("delete".into(), "net0".into());
        })
        .is_ok());
        for bad in [
            "pending",
            "PENDING",
            "a",
            "1snap",
            "snap shot",
            "special:x",
            "",
        ] {
            assert!(
                with(&|c| {
                    c.snapshots.insert(bad.into(), Section::default());
                })
                .is_err(),
                "{bad:?}"
            );
        }
        assert!(with(&|c| {
            c.special.insert("Bad".into(), Section::default());
        })
        .is_err());
        assert!(with(&|c| {
            c.main.lxc.push(("lxc.x".into(), "y".into()));
        })
        .is_err());
    }

    #[test]
    fn percent_encoding_matches_proxmox() {
        assert_eq!(encode_text("a:b"), "a%3Ab");
        assert_eq!(encode_text("ü"), "%C3%BC");
        assert_eq!(encode_text("tab\t"), "tab%09");
        assert_eq!(encode_text("100% sure"), "100% sure");
        assert_eq!(encode_text("%41"), "%2541");
        assert_eq!(decode_text("%2541"), "%41");
        assert_eq!(decode_text("%c3%bc"), "ü");
        assert_eq!(decode_text("%FF"), "\u{FFFD}");
    }
}
