//! Every container config key with its schema, declared once: the config file, the create
//! (`POST /nodes/{node}/lxc`) and update (`PUT .../config`) parameters and the
//! `GET .../config` return derive from here (pve-container's `$confdesc`).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::format;
use crate::qemu::formats as f;
use crate::qemu::psformats::{ps, startup_format, unused_format};
use crate::schema::{verify_value, ObjectSchema, ParamErrors, Schema, StringSchema};

use super::psformats as psf;

/// Numbered key families and how many of each a container may have.
pub const INDEXED: &[(&str, u32)] = &[("mp", 256), ("net", 32), ("unused", 256), ("dev", 256)];

/// Keys the server writes for itself (snapshots); never API parameters.
pub const INTERNAL_KEYS: &[&str] = &["parent", "snaptime"];

const PLAIN_KEYS: &[&str] = &[
    "arch",
    "cmode",
    "console",
    "cores",
    "cpulimit",
    "cpuunits",
    "debug",
    "description",
    "entrypoint",
    "env",
    "features",
    "hookscript",
    "hostname",
    "lock",
    "memory",
    "nameserver",
    "onboot",
    "ostype",
    "parent",
    "protection",
    "rootfs",
    "searchdomain",
    "snaptime",
    "startup",
    "swap",
    "tags",
    "template",
    "timezone",
    "tty",
    "unprivileged",
];

pub const OSTYPES: &[&str] = &[
    "debian",
    "devuan",
    "ubuntu",
    "centos",
    "fedora",
    "opensuse",
    "archlinux",
    "alpine",
    "gentoo",
    "nixos",
    "unmanaged",
];

pub const ARCHES: &[&str] = &["amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"];

pub const LOCKS: &[&str] = &[
    "backup",
    "create",
    "destroyed",
    "disk",
    "fstrim",
    "migrate",
    "mounted",
    "rollback",
    "snapshot",
    "snapshot-delete",
];

/// The family and index of a numbered key (`mp3` -> `("mp", 3)`), if it is a valid one.
pub fn split_indexed(key: &str) -> Option<(&str, u32)> {
    let digits = key.trim_start_matches(|c: char| !c.is_ascii_digit());
    let prefix = &key[..key.len() - digits.len()];
    let (_, count) = INDEXED.iter().find(|(p, _)| *p == prefix)?;
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    let index: u32 = digits.parse().ok().filter(|_| ok)?;
    (index < *count).then_some((prefix, index))
}

/// `rootfs` or `mpN`: a key whose value is a mount point.
pub fn is_mount_key(key: &str) -> bool {
    key == "rootfs" || matches!(split_indexed(key), Some(("mp", _)))
}

/// Any key a container config file may hold (raw `lxc.*` keys are kept apart).
pub fn is_known_key(key: &str) -> bool {
    file_key_schema(key).is_some()
}

pub fn is_internal_key(key: &str) -> bool {
    INTERNAL_KEYS.contains(&key)
}

fn boolean(description: &'static str, default: Option<bool>) -> Schema {
    let s = Schema::boolean(description);
    match default {
        Some(d) => s.default(d).into(),
        None => s.into(),
    }
}

fn string(description: &'static str) -> StringSchema {
    Schema::string(description)
}

fn plain_schema(key: &str) -> Schema {
    match key {
        "arch" => string("OS architecture type.")
            .enum_values(ARCHES)
            .default("amd64")
            .into(),
        "cmode" => string("Console mode: tty, console (/dev/console) or shell.")
            .enum_values(&["shell", "console", "tty"])
            .default("tty")
            .into(),
        "console" => boolean(
            "Attach a console device (/dev/console) to the container.",
            Some(true),
        ),
        "cores" => Schema::integer("The number of cores assigned to the container.")
            .minimum(1)
            .maximum(8192)
            .into(),
        "cpulimit" => Schema::number("Limit of CPU usage; 0 means no limit.")
            .minimum(0.0)
            .maximum(8192.0)
            .into(),
        "cpuunits" => Schema::integer("CPU weight relative to other containers.")
            .minimum(0)
            .maximum(500_000)
            .into(),
        "debug" => boolean("Log more verbosely (lxc debug log level).", Some(false)),
        "description" => string("Description for the container, shown in the summary.")
            .max_length(8192)
            .into(),
        "entrypoint" => string("Command run as init, absolute path.")
            .pattern(r"[^\x00-\x08\x10-\x1F\x7F]+")
            .default("/sbin/init")
            .into(),
        "env" => string("Environment variables for the init, NUL-separated VAR=value.")
            .pattern(r"(?:\w+=[^\x00-\x08\x10-\x1F\x7F]*)(?:\x00\w+=[^\x00-\x08\x10-\x1F\x7F]*)*")
            .into(),
        "features" => string("Allow the container to access advanced features.")
            .format(ps("pve-ct-features", psf::features_format()))
            .into(),
        "hookscript" => string("Script run at lifecycle events.")
            .format(f::VOLUME_ID)
            .into(),
        "hostname" => string("Set a host name for the container.")
            .format(f::DNS_NAME)
            .max_length(255)
            .into(),
        "lock" => string("Lock/unlock the container.")
            .enum_values(LOCKS)
            .into(),
        "memory" => Schema::integer("Amount of RAM for the container in MB.")
            .minimum(16)
            .default(512)
            .into(),
        "nameserver" => string("DNS server IP addresses for the container.")
            .format(psf::NAMESERVER_LIST)
            .into(),
        "onboot" => boolean("Start the container when the node boots.", Some(false)),
        "ostype" => string("OS type: selects the setup inside the container.")
            .enum_values(OSTYPES)
            .into(),
        "parent" => string("Parent snapshot name (internal).")
            .format(f::SNAPSHOT_NAME)
            .max_length(40)
            .into(),
        "protection" => boolean(
            "Protect the container from removal and its disks from being changed.",
            Some(false),
        ),
        "rootfs" => string("Use volume as container root.")
            .format(ps("pve-ct-rootfs", psf::rootfs_format()))
            .into(),
        "searchdomain" => string("DNS search domains for the container.")
            .format(psf::DNS_NAME_LIST)
            .into(),
        "snaptime" => Schema::integer("Snapshot time, UNIX epoch (internal).")
            .minimum(0)
            .into(),
        "startup" => string("Startup and shutdown behavior: order=N,up=N,down=N.")
            .format(ps("pve-startup-order", startup_format()))
            .into(),
        "swap" => Schema::integer("Amount of SWAP for the container in MB.")
            .minimum(0)
            .default(512)
            .into(),
        "tags" => string("Tags of the container, separated by ';'.")
            .format(f::TAG_LIST)
            .into(),
        "template" => boolean("Enable/disable template.", Some(false)),
        "timezone" => string("Time zone to use in the container ('host' or a zone name).")
            .format(psf::TIMEZONE)
            .into(),
        "tty" => Schema::integer("Number of ttys available to the container.")
            .minimum(0)
            .maximum(6)
            .default(2)
            .into(),
        "unprivileged" => boolean(
            "Makes the container run as unprivileged user (do not set manually).",
            Some(false),
        ),
        other => unreachable!("no schema for config key {other}"),
    }
}

fn family_schema(prefix: &str) -> Schema {
    match prefix {
        "mp" => string("Use volume as container mount point.")
            .format(ps("pve-ct-mountpoint", psf::mp_format()))
            .into(),
        "net" => string("Specifies network interfaces for the container.")
            .format(ps("pve-lxc-network", psf::net_format()))
            .into(),
        "unused" => string("Reference to an unused volume (internal).")
            .format(ps("pve-lxc-unused", unused_format()))
            .into(),
        "dev" => string("Device to pass through to the container.")
            .format(ps("pve-lxc-dev", psf::dev_format()))
            .into(),
        other => unreachable!("no schema for key family {other}"),
    }
}

fn indexed_names() -> &'static [(&'static str, &'static str)] {
    static NAMES: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        INDEXED
            .iter()
            .flat_map(|(prefix, count)| {
                (0..*count).map(move |i| {
                    let name: &'static str = Box::leak(format!("{prefix}{i}").into_boxed_str());
                    (*prefix, name)
                })
            })
            .collect()
    })
}

fn add_config_keys(mut schema: ObjectSchema, api: bool) -> ObjectSchema {
    for key in PLAIN_KEYS {
        if api && is_internal_key(key) {
            continue;
        }
        schema = schema.optional(key, plain_schema(key));
    }
    let mut family: Option<(&str, Schema)> = None;
    for (prefix, name) in indexed_names() {
        let s = match &family {
            Some((p, s)) if p == prefix => s.clone(),
            _ => {
                let s = family_schema(prefix);
                family = Some((prefix, s.clone()));
                s
            }
        };
        schema = schema.optional(name, s);
    }
    schema
}

/// The keys a container config file may hold, with their schemas.
pub fn config_file_schema() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| add_config_keys(Schema::object("A container configuration."), false))
}

fn file_index() -> &'static HashMap<&'static str, usize> {
    static I: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    I.get_or_init(|| {
        config_file_schema()
            .properties
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name, i))
            .collect()
    })
}

/// The schema of one config file key.
pub fn file_key_schema(key: &str) -> Option<&'static Schema> {
    file_index()
        .get(key)
        .map(|i| &config_file_schema().properties[*i].schema)
}

/// The config keys as API parameters (no internal keys).
pub fn config_properties() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| add_config_keys(Schema::object("Container configuration parameters."), true))
}

fn vmid_schema() -> Schema {
    Schema::integer("The (unique) ID of the VM.")
        .minimum(100)
        .maximum(999_999_999)
        .into()
}

fn with_properties(mut schema: ObjectSchema, from: &ObjectSchema) -> ObjectSchema {
    schema.properties.extend(from.properties.iter().cloned());
    schema
}

/// Parameters of `POST /nodes/{node}/lxc`.
pub fn create_schema() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| {
        let base = Schema::object("Create or restore a container.")
            .required(
                "node",
                string("The cluster node name.").format(format::NODE),
            )
            .required("vmid", vmid_schema())
            .required(
                "ostemplate",
                string("The OS template or backup file.").max_length(255),
            )
            .optional(
                "password",
                string("Sets root password inside container.").min_length(5),
            )
            .optional(
                "ssh-public-keys",
                string("Setup public SSH keys (one key per line, OpenSSH format)."),
            )
            .optional(
                "storage",
                string("Default Storage.")
                    .format(format::STORAGE_ID)
                    .default("local"),
            )
            .optional(
                "pool",
                string("Add the VM to the specified pool.").format(f::POOL_ID),
            )
            .optional(
                "start",
                boolean(
                    "Start the CT after its creation finished successfully.",
                    Some(false),
                ),
            )
            .optional("restore", boolean("Mark this as restore task.", None))
            .optional(
                "force",
                boolean("Allow to overwrite existing container.", None),
            )
            .optional(
                "unique",
                boolean("Assign a unique random ethernet address.", None),
            )
            .optional(
                "ignore-unpack-errors",
                boolean("Ignore errors when extracting the template.", None),
            )
            .optional(
                "bwlimit",
                Schema::number("Override I/O bandwidth limit (in KiB/s).").minimum(0.0),
            )
            .optional(
                "ha-managed",
                boolean("Add the CT as a HA resource.", Some(false)),
            );
        with_properties(base, config_properties())
    })
}

/// Parameters of `PUT .../lxc/{vmid}/config`.
pub fn update_schema() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| {
        let base = Schema::object("Set container options.")
            .required(
                "node",
                string("The cluster node name.").format(format::NODE),
            )
            .required("vmid", vmid_schema())
            .optional(
                "delete",
                string("A list of settings you want to delete.").format(f::CONFIG_KEY_LIST),
            )
            .optional(
                "revert",
                string("Revert a pending change.").format(f::CONFIG_KEY_LIST),
            )
            .optional(
                "digest",
                string(
                    "Prevent changes if current configuration file has a different SHA1 digest.",
                )
                .max_length(40),
            )
            .optional(
                "lxc",
                string("Raw LXC keys, one 'lxc.key: value' per line, replacing all raw keys (oxve extension; root@pam only)."),
            );
        with_properties(base, config_properties())
    })
}

/// Check a raw value of `key`: its schema and the rules spanning sub-keys. Returns the value
/// as it is stored: booleans as `1`/`0`, integers without leading zeros.
pub fn check_value(key: &str, value: &str) -> Result<String, String> {
    let schema = file_key_schema(key).ok_or_else(|| format!("unknown setting '{key}'"))?;
    if value.contains(['\n', '\r']) {
        return Err("property contains a line feed".into());
    }
    let raw = match schema {
        Schema::Boolean(_) => match value.to_ascii_lowercase().as_str() {
            "1" | "on" | "yes" | "true" => "1".to_string(),
            "0" | "off" | "no" | "false" => "0".to_string(),
            _ => value.to_string(),
        },
        _ => value.to_string(),
    };
    let checked = verify_value(schema, Value::String(raw))?;
    check_combinations(key, value)?;
    Ok(match checked {
        Value::Bool(b) => u8::from(b).to_string(),
        Value::Number(n) if n.is_i64() => n.to_string(),
        _ if key == "tags" => f::unique_tags(value),
        _ => value.to_string(),
    })
}

/// Rules spanning several sub-keys of one value.
fn check_combinations(key: &str, value: &str) -> Result<(), String> {
    match split_indexed(key).map_or(key, |(p, _)| p) {
        "net" => {
            let v = psf::net_format().parse(value).map_err(|e| e.to_string())?;
            let ip = v.get("ip").and_then(Value::as_str);
            if v.contains_key("gw") && !ip.is_some_and(|ip| ip.contains('/')) {
                // a gateway outside any configured subnet is allowed (Proxmox adds a route),
                // but one without a static address makes no sense
                return Err("gateway 'gw' requires a static IPv4 address 'ip'".into());
            }
            Ok(())
        }
        "rootfs" | "mp" => {
            let fmt = if key == "rootfs" {
                psf::rootfs_format()
            } else {
                psf::mp_format()
            };
            let v = fmt.parse(value).map_err(|e| e.to_string())?;
            let volume = v.get("volume").and_then(Value::as_str).unwrap_or_default();
            if volume.starts_with('/') && v.contains_key("quota") {
                return Err("quotas are only available for volumes, not bind mounts".into());
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Parse raw LXC keys given as text: one `lxc.key: value` (or `lxc.key = value`) per line.
pub fn parse_raw_lxc(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) = line
            .split_once(':')
            .or_else(|| line.split_once('='))
            .ok_or_else(|| format!("expected 'lxc.key: value', got '{line}'"))?;
        let key = key.trim();
        let valid = key.strip_prefix("lxc.").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        });
        if !valid {
            return Err(format!("invalid raw LXC key '{key}'"));
        }
        out.push((key.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

/// Check validated request parameters for the rules a schema cannot express; errors are
/// keyed by parameter.
pub fn check_params(params: &Map<String, Value>) -> Result<(), ParamErrors> {
    let mut errors = ParamErrors::new();
    for (key, value) in params {
        if config_properties().property(key).is_none() {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => u8::from(*b).to_string(),
            other => other.to_string(),
        };
        if let Err(e) = check_combinations(key, &text) {
            errors.insert(key.clone(), e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::verify_object;
    use serde_json::json;

    #[test]
    fn key_table() {
        let s = config_file_schema();
        for key in [
            "mp0",
            "mp255",
            "net31",
            "unused255",
            "dev0",
            "rootfs",
            "hostname",
            "parent",
        ] {
            assert!(s.property(key).is_some(), "{key}");
        }
        for key in ["mp256", "net32", "net01", "scsi0", "name", "digest"] {
            assert!(s.property(key).is_none(), "{key}");
        }
        assert!(config_properties().property("parent").is_none());
        assert_eq!(split_indexed("mp7"), Some(("mp", 7)));
        assert!(is_mount_key("rootfs") && is_mount_key("mp3") && !is_mount_key("net0"));
    }

    #[test]
    fn create_errors_name_the_parameter() {
        let raw = json!({
            "node": "pve1", "vmid": "100", "ostemplate": "local:vztmpl/x.tar.zst",
            "hostname": "not_a_host", "memory": "8", "cores": "0", "ostype": "dos",
            "net0": "name=eth0,tag=5000", "password": "abc", "bogus": "1",
        });
        let errs = verify_object(create_schema(), raw.as_object().unwrap().clone()).unwrap_err();
        assert_eq!(
            errs["hostname"],
            "value does not look like a valid DNS name"
        );
        assert_eq!(errs["memory"], "value must have a minimum value of 16");
        assert_eq!(errs["cores"], "value must have a minimum value of 1");
        assert!(errs["ostype"].contains("enumeration"));
        assert!(errs["net0"].contains("tag: value must have a maximum value of 4094"));
        assert_eq!(errs["password"], "value must be at least 5 characters long");
        assert!(errs["bogus"].starts_with("property is not defined"));
        let missing = verify_object(
            create_schema(),
            json!({"node": "n", "vmid": 100})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap_err();
        assert_eq!(
            missing["ostemplate"],
            "property is missing and it is not optional"
        );
        let ok = json!({
            "node": "pve1", "vmid": 100, "ostemplate": "local:vztmpl/x.tar.zst",
            "hostname": "ct1", "rootfs": "local:4", "net0": "name=eth0,bridge=vmbr0,ip=dhcp",
            "features": "nesting=1", "unprivileged": "1", "mp0": "local:1,mp=/data",
        });
        let params = verify_object(create_schema(), ok.as_object().unwrap().clone()).unwrap();
        check_params(&params).unwrap();
    }

    #[test]
    fn combinations() {
        let bad = json!({"net0": "name=eth0,gw=10.0.0.1", "mp0": "/srv,mp=/srv,quota=1"});
        let errs = check_params(bad.as_object().unwrap()).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn raw_lxc_text() {
        let v =
            parse_raw_lxc("lxc.idmap: u 0 100000 65536\nlxc.cgroup.pids.max = 100\n\n").unwrap();
        assert_eq!(v[1], ("lxc.cgroup.pids.max".to_string(), "100".to_string()));
        assert!(parse_raw_lxc("memory: 5").is_err());
        assert!(parse_raw_lxc("lxc.Bad: 1").is_err());
        assert!(parse_raw_lxc("nothing").is_err());
    }

    #[test]
    fn check_value_normalizes() {
        assert_eq!(check_value("onboot", "yes").unwrap(), "1");
        assert_eq!(check_value("cores", "04").unwrap(), "4");
        assert_eq!(check_value("tags", "a,b;a").unwrap(), "a;b");
        assert!(check_value("memory", "1").is_err());
        assert!(check_value("nope", "1")
            .unwrap_err()
            .contains("unknown setting 'nope'"));
        assert!(check_value("hostname", "a\nb").is_err());
    }
}
