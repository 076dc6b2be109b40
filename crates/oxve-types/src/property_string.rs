//! Property strings: Proxmox's `key=value,key=value` values (`net0`, `scsi0`, `cpu`, ...),
//! parsed and printed with the same rules as pve-common's JSONSchema: a bare value fills the
//! default key, a key may be an alias of another (`volume` for `file`), and a "key alias" turns
//! the key itself into a value (`virtio=MAC` means `model=virtio,macaddr=MAC`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::schema::{verify_value, Schema};

/// How one key of a property string is defined.
#[derive(Clone, Debug)]
pub enum PsKind {
    /// A real value; `default_key` marks the key a bare value fills.
    Value {
        schema: Schema,
        optional: bool,
        default_key: bool,
    },
    /// Another name for `target` (e.g. `volume` → `file`).
    Alias { target: &'static str },
    /// Writing `name=X` sets `key` to `name` and `value_to` to `X` (e.g. the NIC models).
    KeyAlias {
        key: &'static str,
        value_to: &'static str,
    },
}

/// One key of a property string format.
#[derive(Clone, Debug)]
pub struct PsProperty {
    pub name: &'static str,
    pub kind: PsKind,
}

/// The format of a property string: its keys.
#[derive(Clone, Debug, Default)]
pub struct PropertyStringFormat {
    pub properties: Vec<PsProperty>,
}

/// Why a property string was rejected; names the key when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsError {
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for PsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "invalid format - {key}: {}", self.message),
            None => write!(f, "invalid format - {}", self.message),
        }
    }
}

impl std::error::Error for PsError {}

fn err(key: Option<&str>, message: impl Into<String>) -> PsError {
    PsError {
        key: key.map(str::to_string),
        message: message.into(),
    }
}

/// Parsed values by their canonical key.
pub type PsValues = BTreeMap<String, Value>;

/// Longest accepted property string; config values are short, this bounds parser work.
pub const MAX_PROPERTY_STRING: usize = 64 * 1024;

impl PropertyStringFormat {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &'static str, kind: PsKind) -> Self {
        self.properties.push(PsProperty { name, kind });
        self
    }

    /// A required key.
    pub fn required(self, name: &'static str, schema: impl Into<Schema>) -> Self {
        let kind = PsKind::Value {
            schema: schema.into(),
            optional: false,
            default_key: false,
        };
        self.push(name, kind)
    }

    /// An optional key.
    pub fn optional(self, name: &'static str, schema: impl Into<Schema>) -> Self {
        let kind = PsKind::Value {
            schema: schema.into(),
            optional: true,
            default_key: false,
        };
        self.push(name, kind)
    }

    /// The key a bare value (without `=`) fills.
    pub fn default_key(
        self,
        name: &'static str,
        schema: impl Into<Schema>,
        optional: bool,
    ) -> Self {
        let kind = PsKind::Value {
            schema: schema.into(),
            optional,
            default_key: true,
        };
        self.push(name, kind)
    }

    pub fn alias(self, name: &'static str, target: &'static str) -> Self {
        self.push(name, PsKind::Alias { target })
    }

    pub fn key_alias(self, name: &'static str, key: &'static str, value_to: &'static str) -> Self {
        self.push(name, PsKind::KeyAlias { key, value_to })
    }

    fn property(&self, name: &str) -> Option<&PsProperty> {
        self.properties.iter().find(|p| p.name == name)
    }

    fn default_key_name(&self) -> Option<&'static str> {
        self.properties.iter().find_map(|p| match p.kind {
            PsKind::Value {
                default_key: true, ..
            } => Some(p.name),
            _ => None,
        })
    }

    /// Parse `text`, checking every value against its schema (booleans become true/false,
    /// numbers numbers).
    pub fn parse(&self, text: &str) -> Result<PsValues, PsError> {
        if text.len() > MAX_PROPERTY_STRING {
            return Err(err(None, "property string too long"));
        }
        let mut raw: BTreeMap<String, String> = BTreeMap::new();
        let mut insert = |key: &str, value: &str| -> Result<(), PsError> {
            if raw.insert(key.to_string(), value.to_string()).is_some() {
                return Err(err(
                    Some(key),
                    format!("duplicate key in comma-separated list property: {key}"),
                ));
            }
            Ok(())
        };
        for part in text.split(',') {
            if part.trim().is_empty() {
                continue;
            }
            match part.split_once('=').filter(|(k, _)| is_key(k)) {
                Some((key, value)) => match self.property(key).map(|p| &p.kind) {
                    Some(PsKind::Value { .. }) => insert(key, value)?,
                    Some(PsKind::Alias { target }) => insert(target, value)?,
                    Some(PsKind::KeyAlias { key: k, value_to }) => {
                        insert(k, key)?;
                        insert(value_to, value)?;
                    }
                    None => return Err(err(Some(key), "unknown key")),
                },
                None => match self.default_key_name() {
                    Some(default) => insert(default, part)?,
                    None => {
                        return Err(err(
                            None,
                            "value without key, but schema does not define a default key",
                        ))
                    }
                },
            }
        }
        let mut out = PsValues::new();
        for prop in &self.properties {
            let PsKind::Value {
                schema, optional, ..
            } = &prop.kind
            else {
                continue;
            };
            match raw.remove(prop.name) {
                Some(value) => {
                    let value = normalize_boolean(schema, value);
                    let checked = verify_value(schema, Value::String(value))
                        .map_err(|m| err(Some(prop.name), m))?;
                    out.insert(prop.name.to_string(), checked);
                }
                None if !optional => {
                    return Err(err(
                        Some(prop.name),
                        "property is missing and it is not optional",
                    ))
                }
                None => {}
            }
        }
        if let Some(key) = raw.keys().next() {
            // A key-alias target named a key that is not a real value property.
            return Err(err(Some(key), "unknown key"));
        }
        Ok(out)
    }

    /// Print values in Proxmox's order: a key alias pair first (`virtio=MAC`), then the
    /// default key's bare value, then required keys, then the rest, each group sorted.
    pub fn print(&self, values: &PsValues) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        let key_alias = self.properties.iter().find_map(|p| match p.kind {
            PsKind::KeyAlias { key, value_to }
                if values.get(key).and_then(Value::as_str) == Some(p.name) =>
            {
                Some((key, value_to, p.name))
            }
            _ => None,
        });
        if let Some((key, value_to, name)) = key_alias {
            if let Some(v) = values.get(value_to) {
                parts.push(format!("{name}={}", print_value(v)));
                used.extend([key, value_to]);
            }
        }
        if let Some(default) = self.default_key_name() {
            if !used.contains(&default) {
                if let Some(v) = values.get(default) {
                    parts.push(print_value(v));
                    used.push(default);
                }
            }
        }
        let mut required = Vec::new();
        let mut optional = Vec::new();
        for prop in &self.properties {
            if let PsKind::Value { optional: opt, .. } = prop.kind {
                if used.contains(&prop.name) {
                    continue;
                }
                if let Some(v) = values.get(prop.name) {
                    let item = format!("{}={}", prop.name, print_value(v));
                    if opt {
                        optional.push((prop.name, item));
                    } else {
                        required.push((prop.name, item));
                    }
                }
            }
        }
        required.sort();
        optional.sort();
        parts.extend(required.into_iter().map(|(_, s)| s));
        parts.extend(optional.into_iter().map(|(_, s)| s));
        parts.join(",")
    }
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Property-string booleans also accept on/off, yes/no, true/false (any case).
fn normalize_boolean(schema: &Schema, value: String) -> String {
    if !matches!(schema, Schema::Boolean(_)) {
        return value;
    }
    match value.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => "1".into(),
        "0" | "off" | "no" | "false" => "0".into(),
        _ => value,
    }
}

fn print_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn net() -> PropertyStringFormat {
        PropertyStringFormat::new()
            .default_key(
                "model",
                Schema::string("NIC model").enum_values(&["virtio", "e1000", "rtl8139", "vmxnet3"]),
                false,
            )
            .optional(
                "macaddr",
                Schema::string("MAC").pattern("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}"),
            )
            .optional("bridge", Schema::string("bridge"))
            .optional("firewall", Schema::boolean("firewall"))
            .optional("tag", Schema::integer("VLAN").minimum(1).maximum(4094))
            .key_alias("virtio", "model", "macaddr")
            .key_alias("e1000", "model", "macaddr")
    }

    fn disk() -> PropertyStringFormat {
        PropertyStringFormat::new()
            .default_key("file", Schema::string("volume"), false)
            .alias("volume", "file")
            .optional("size", Schema::string("size"))
            .optional(
                "cache",
                Schema::string("cache").enum_values(&["none", "writeback"]),
            )
            .optional("iothread", Schema::boolean("iothread"))
    }

    #[test]
    fn key_alias_and_default_key() {
        let v = net()
            .parse("virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=on")
            .unwrap();
        assert_eq!(v["model"], json!("virtio"));
        assert_eq!(v["macaddr"], json!("BC:24:11:00:00:01"));
        assert_eq!(v["firewall"], json!(true));
        assert_eq!(
            net().print(&v),
            "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"
        );
        // the explicit form (bpg's Terraform provider sends it) means the same
        let explicit = net()
            .parse("model=virtio,bridge=vmbr0,macaddr=BC:24:11:00:00:01,firewall=1")
            .unwrap();
        assert_eq!(explicit, v);
        let bare = net().parse("e1000,bridge=vmbr1").unwrap();
        assert_eq!(bare["model"], json!("e1000"));
        assert_eq!(net().print(&bare), "e1000,bridge=vmbr1");
    }

    #[test]
    fn aliases_sizes_and_order() {
        let v = disk()
            .parse("volume=local:100/vm-100-disk-0.qcow2,iothread=1,size=32G,cache=none")
            .unwrap();
        assert_eq!(v["file"], json!("local:100/vm-100-disk-0.qcow2"));
        assert_eq!(
            disk().print(&v),
            "local:100/vm-100-disk-0.qcow2,cache=none,iothread=1,size=32G"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = net().parse("virtio=xx").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("macaddr"));
        let e = net().parse("virtio,bogus=1").unwrap_err();
        assert_eq!(e.to_string(), "invalid format - bogus: unknown key");
        let e = net().parse("virtio,tag=5000").unwrap_err();
        assert!(e
            .to_string()
            .contains("tag: value must have a maximum value of 4094"));
        let e = net().parse("virtio,virtio").unwrap_err();
        assert!(e.message.contains("duplicate key"));
        let e = net().parse("bridge=vmbr0").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("model"));
        let e = disk().parse("local:x,volume=local:y").unwrap_err();
        assert!(e.message.contains("duplicate key"));
        assert!(PropertyStringFormat::new()
            .optional("a", Schema::string("a"))
            .parse("bare")
            .is_err());
    }

    /// A cheap stand-in for the fuzz target in unit tests: random inputs never panic, and
    /// whatever parses prints to something that parses to the same values.
    #[test]
    fn random_inputs_never_panic_and_round_trip() {
        let alphabet: Vec<char> = "virtoe10=,:ABCDEF0123456789bridgmactaghfwl_ -xyz"
            .chars()
            .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (seed % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            for fmt in [net(), disk()] {
                if let Ok(v) = fmt.parse(&s) {
                    let printed = fmt.print(&v);
                    assert_eq!(fmt.parse(&printed).as_ref(), Ok(&v), "{s:?} -> {printed:?}");
                }
            }
        }
    }
}
