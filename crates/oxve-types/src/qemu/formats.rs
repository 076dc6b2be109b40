//! Named string formats of VM config values (`pve-volume-id`, `disk-size`, `mac-addr`, ...),
//! checked the way Proxmox VE checks them, plus the disk size helpers.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::format::{self, Format};

use super::keys;

/// Check a value against a pattern anchored at both ends.
fn matches(re: &'static std::sync::OnceLock<regex::Regex>, src: &str, value: &str) -> bool {
    re.get_or_init(|| regex::Regex::new(&format!("^(?:{src})$")).expect("format regex"))
        .is_match(value)
}

macro_rules! regex_check {
    ($value:expr, $src:expr) => {{
        static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        matches(&RE, $src, $value)
    }};
}

/// `<storage>:<volume name>` (Proxmox `pve-volume-id`).
pub fn check_volume_id(value: &str) -> Result<(), String> {
    if regex_check!(value, r"(?i:[a-z][a-z0-9\-_.]*[a-z0-9]):.+") {
        Ok(())
    } else {
        Err(format!("unable to parse volume ID '{value}'"))
    }
}

/// A volume ID or an absolute path.
pub fn check_volume_id_or_absolute_path(value: &str) -> Result<(), String> {
    if value.starts_with('/') {
        return Ok(());
    }
    check_volume_id(value)
}

/// A drive's backing file: `none`, `cdrom` (the host drive), an absolute path or a volume ID.
pub fn check_volume_id_or_qm_path(value: &str) -> Result<(), String> {
    if value == "none" || value == "cdrom" {
        return Ok(());
    }
    check_volume_id_or_absolute_path(value)
}

/// Parse a disk size (`32G`, `512M`, `1.5T`, `4096`) into bytes, as Proxmox's `parse_size`.
pub fn parse_size(value: &str) -> Option<u64> {
    if !regex_check!(value, r"\d+(\.\d+)?[KMGT]?") {
        return None;
    }
    let (number, unit) = match value.chars().last() {
        Some(c @ ('K' | 'M' | 'G' | 'T')) => (&value[..value.len() - 1], Some(c)),
        _ => (value, None),
    };
    let shift = match unit {
        None => 0,
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        _ => 40,
    };
    match number.split_once('.') {
        None => number.parse::<u64>().ok()?.checked_mul(1u64 << shift),
        Some(_) => {
            let f: f64 = number.parse().ok()?;
            let bytes = f * (1u64 << shift) as f64;
            (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
        }
    }
}

/// Print a size in bytes with the largest unit that divides it exactly (`32G`), as Proxmox's
/// `format_size`; sizes that are not a multiple of 1 KiB print as plain bytes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u32, char); 4] = [(40, 'T'), (30, 'G'), (20, 'M'), (10, 'K')];
    if bytes == 0 {
        return "0".into();
    }
    for (shift, unit) in UNITS {
        if bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// `disk-size`: a number of bytes with an optional K/M/G/T unit.
pub fn check_disk_size(value: &str) -> Result<(), String> {
    parse_size(value)
        .map(|_| ())
        .ok_or_else(|| format!("value '{value}' is not a valid disk size"))
}

/// A unicast MAC address (`mac-addr`): the I/G bit of the first byte must be clear.
pub fn check_mac_addr(value: &str) -> Result<(), String> {
    if regex_check!(value, r"(?i:[a-f0-9][02468ace](?::[a-f0-9]{2}){5})") {
        Ok(())
    } else {
        Err("value does not look like a valid unicast MAC address".into())
    }
}

/// A bridge name (`pve-bridge-id`).
pub fn check_bridge_id(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    ok.then_some(())
        .ok_or_else(|| format!("invalid bridge ID '{value}'"))
}

/// A URL-encoded string (`urlencoded`).
pub fn check_urlencoded(value: &str) -> Result<(), String> {
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-%_.!~*'()".contains(c));
    ok.then_some(())
        .ok_or_else(|| format!("invalid urlencoded string: {value}"))
}

/// A DNS name (`dns-name`): dot-separated labels of letters, digits and inner hyphens.
pub fn check_dns_name(value: &str) -> Result<(), String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if value.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("value does not look like a valid DNS name".into())
    }
}

/// One tag of a `tags` list (`pve-tag`).
pub fn check_tag(value: &str) -> Result<(), String> {
    if regex_check!(value, r"(?i:[a-z0-9_][a-z0-9_\-+.]*)") {
        Ok(())
    } else {
        Err(format!("invalid characters in tag '{value}'"))
    }
}

/// Split a tag list, drop duplicates (case-insensitively, first one wins) and join with `;`,
/// the way Proxmox stores `tags`.
pub fn unique_tags(value: &str) -> String {
    let mut seen = std::collections::BTreeSet::new();
    format::split_list(value)
        .filter(|t| seen.insert(t.to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(";")
}

/// A set of host CPUs, e.g. `0,5,8-11` (`pve-cpuset`).
pub fn check_cpuset(value: &str) -> Result<(), String> {
    const MAX_CPUID: u32 = 8192;
    let err = || "unable to parse cpuset option".to_string();
    for part in value.split(',') {
        let part = part.trim();
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(from) || !digits(to) {
            return Err(err());
        }
        let (from, to): (u32, u32) = (
            from.parse().map_err(|_| err())?,
            to.parse().map_err(|_| err())?,
        );
        if to < from || to >= MAX_CPUID {
            return Err(err());
        }
    }
    Ok(())
}

/// Hot-plug features: `0`, `1` (the default set) or a list of network, disk, cpu, memory, usb,
/// cloudinit.
pub fn check_hotplug_features(value: &str) -> Result<(), String> {
    super::hotplug::HotplugFeatures::parse(value)
        .map(|_| ())
        .map_err(|_| "unable to parse hotplug option".into())
}

/// `<IPv4>/<prefix>`.
pub fn check_ipv4_cidr(value: &str) -> bool {
    value.split_once('/').is_some_and(|(ip, mask)| {
        ip.parse::<Ipv4Addr>().is_ok()
            && mask.bytes().all(|b| b.is_ascii_digit())
            && mask.parse::<u8>().is_ok_and(|m| m <= 32)
    })
}

/// `<IPv6>/<prefix>`.
pub fn check_ipv6_cidr(value: &str) -> bool {
    value.split_once('/').is_some_and(|(ip, mask)| {
        ip.parse::<Ipv6Addr>().is_ok()
            && mask.bytes().all(|b| b.is_ascii_digit())
            && mask.parse::<u8>().is_ok_and(|m| m <= 128)
    })
}

/// An IPv4 interface setting for cloud-init: `dhcp`, `manual` or an address in CIDR form.
pub fn check_ipv4_config(value: &str) -> Result<(), String> {
    if matches!(value, "dhcp" | "manual") || check_ipv4_cidr(value) {
        Ok(())
    } else {
        Err("value does not look like a valid ipv4 network configuration".into())
    }
}

/// An IPv6 interface setting for cloud-init: `dhcp`, `auto`, `manual` or CIDR.
pub fn check_ipv6_config(value: &str) -> Result<(), String> {
    if matches!(value, "dhcp" | "auto" | "manual") || check_ipv6_cidr(value) {
        Ok(())
    } else {
        Err("value does not look like a valid ipv6 network configuration".into())
    }
}

pub fn check_ipv4(value: &str) -> Result<(), String> {
    value
        .parse::<Ipv4Addr>()
        .map(|_| ())
        .map_err(|_| format!("value does not look like a valid IPv4 address: {value}"))
}

pub fn check_ipv6(value: &str) -> Result<(), String> {
    value
        .parse::<Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| format!("value does not look like a valid IPv6 address: {value}"))
}

/// An IPv4 or IPv6 address (one item of an `address-list`).
pub fn check_ip(value: &str) -> Result<(), String> {
    value
        .parse::<std::net::IpAddr>()
        .map(|_| ())
        .map_err(|_| format!("value does not look like a valid IP address: {value}"))
}

/// A config key name as used in `delete`/`revert` lists (`pve-configid`).
pub fn check_config_key(value: &str) -> Result<(), String> {
    if regex_check!(value, r"(?i:[a-z][a-z0-9_\-]+)") {
        Ok(())
    } else {
        Err(format!("invalid configuration ID '{value}'"))
    }
}

/// A snapshot name (`pve-snapshot-name`).
pub fn check_snapshot_name(value: &str) -> Result<(), String> {
    if value.len() <= 40 && check_config_key(value).is_ok() {
        Ok(())
    } else {
        Err(format!("invalid snapshot name '{value}'"))
    }
}

/// `startup`: `[order=]N,up=N,down=N`, each part optional.
pub fn check_startup_order(value: &str) -> Result<(), String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    for part in value.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        let ok = match part.split_once('=') {
            None => digits(part),
            Some(("order" | "up" | "down", n)) => digits(n),
            Some(_) => false,
        };
        if !ok {
            return Err("unable to parse startup options".into());
        }
    }
    Ok(())
}

/// `phys-bits`: `host` or a number of bits from 8 to 64.
pub fn check_phys_bits(value: &str) -> Result<(), String> {
    let ok = value == "host"
        || (value.len() <= 2
            && value.bytes().all(|b| b.is_ascii_digit())
            && value.parse::<u32>().is_ok_and(|n| (8..=64).contains(&n)));
    ok.then_some(())
        .ok_or_else(|| "value must be an integer between 8 and 64 or 'host'".into())
}

/// A device the guest may boot from (`pve-qm-bootdev`): a disk (not efidisk/tpmstate), a NIC,
/// a USB or a PCI device key.
pub fn check_boot_device(value: &str) -> Result<(), String> {
    let ok = match keys::split_indexed(value) {
        Some(("ide" | "sata" | "scsi" | "virtio" | "net" | "usb" | "hostpci", _)) => {
            keys::is_known_key(value)
        }
        _ => false,
    };
    ok.then_some(())
        .ok_or_else(|| format!("invalid boot device '{value}'"))
}

/// A disk to boot from (`pve-qm-bootdisk`, deprecated by `boot: order=`).
pub fn check_boot_disk(value: &str) -> Result<(), String> {
    if keys::is_drive_key(value) {
        Ok(())
    } else {
        Err(format!("invalid boot disk '{value}'"))
    }
}

pub const VOLUME_ID: Format = Format::Named {
    name: "pve-volume-id",
    check: check_volume_id,
};
pub const VOLUME_ID_OR_QM_PATH: Format = Format::Named {
    name: "pve-volume-id-or-qm-path",
    check: check_volume_id_or_qm_path,
};
pub const VOLUME_ID_OR_ABSOLUTE_PATH: Format = Format::Named {
    name: "pve-volume-id-or-absolute-path",
    check: check_volume_id_or_absolute_path,
};
pub const DISK_SIZE: Format = Format::Named {
    name: "disk-size",
    check: check_disk_size,
};
pub const MAC_ADDR: Format = Format::Named {
    name: "mac-addr",
    check: check_mac_addr,
};
pub const BRIDGE_ID: Format = Format::Named {
    name: "pve-bridge-id",
    check: check_bridge_id,
};
pub const URLENCODED: Format = Format::Named {
    name: "urlencoded",
    check: check_urlencoded,
};
pub const DNS_NAME: Format = Format::Named {
    name: "dns-name",
    check: check_dns_name,
};
pub const TAG_LIST: Format = Format::List {
    name: "pve-tag-list",
    check: check_tag,
};
pub const CPUSET: Format = Format::Named {
    name: "pve-cpuset",
    check: check_cpuset,
};
pub const HOTPLUG_FEATURES: Format = Format::Named {
    name: "pve-hotplug-features",
    check: check_hotplug_features,
};
pub const IPV4_CONFIG: Format = Format::Named {
    name: "pve-ipv4-config",
    check: check_ipv4_config,
};
pub const IPV6_CONFIG: Format = Format::Named {
    name: "pve-ipv6-config",
    check: check_ipv6_config,
};
pub const IPV4: Format = Format::Named {
    name: "ipv4",
    check: check_ipv4,
};
pub const IPV6: Format = Format::Named {
    name: "ipv6",
    check: check_ipv6,
};
pub const ADDRESS_LIST: Format = Format::List {
    name: "address-list",
    check: check_ip,
};
pub const CONFIG_KEY_LIST: Format = Format::List {
    name: "pve-configid-list",
    check: check_config_key,
};
pub const SNAPSHOT_NAME: Format = Format::Named {
    name: "pve-snapshot-name",
    check: check_snapshot_name,
};
/// Pool ids are checked in one place: [`crate::format::POOLID`].
pub const POOL_ID: Format = crate::format::POOLID;
pub const STARTUP_ORDER: Format = Format::Named {
    name: "pve-startup-order",
    check: check_startup_order,
};
pub const PHYS_BITS: Format = Format::Named {
    name: "pve-phys-bits",
    check: check_phys_bits,
};
pub const BOOT_DEVICE_LIST: Format = Format::List {
    name: "pve-qm-bootdev-list",
    check: check_boot_device,
};
pub const BOOT_DISK: Format = Format::Named {
    name: "pve-qm-bootdisk",
    check: check_boot_disk,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print_like_proxmox() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(parse_size("4M"), Some(4 << 20));
        assert_eq!(parse_size("1.5K"), Some(1536));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        assert_eq!(parse_size("32g"), None);
        assert_eq!(parse_size("-1G"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(format_size(32 << 30), "32G");
        assert_eq!(format_size(1536), "1536");
        assert_eq!(format_size(3 << 19), "1536K");
        assert_eq!(format_size(1 << 40), "1T");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
    }

    #[test]
    fn named_formats() {
        assert!(check_volume_id("local-lvm:vm-100-disk-0").is_ok());
        assert!(check_volume_id("local:iso/debian.iso").is_ok());
        assert!(check_volume_id("x:y").is_err());
        assert!(check_volume_id("/dev/sda").is_err());
        assert!(check_volume_id_or_qm_path("none").is_ok());
        assert!(check_volume_id_or_qm_path("/dev/sdb").is_ok());
        assert!(check_volume_id_or_qm_path("debian.iso").is_err());
        assert!(check_mac_addr("BC:24:11:2C:34:AE").is_ok());
        assert!(check_mac_addr("01:24:11:2C:34:AE").is_err());
        assert!(check_mac_addr("BC:24:11:2C:34").is_err());
        assert!(check_dns_name("web-01.example.com").is_ok());
        assert!(check_dns_name("-web").is_err());
        assert!(check_dns_name("a_b").is_err());
        assert!(TAG_LIST.check("prod;web,db").is_ok());
        assert!(TAG_LIST.check("pr/od").is_err());
        assert_eq!(unique_tags("b;a,B a"), "b;a");
        assert!(check_cpuset("0,5,8-11").is_ok());
        assert!(check_cpuset("3-1").is_err());
        assert!(check_ipv4_config("10.0.0.5/24").is_ok());
        assert!(check_ipv4_config("dhcp").is_ok());
        assert!(check_ipv4_config("10.0.0.5").is_err());
        assert!(check_ipv6_config("auto").is_ok());
        assert!(check_ipv6_config("fd00::5/64").is_ok());
        assert!(check_startup_order("order=1,up=30,down=60").is_ok());
        assert!(check_startup_order("3").is_ok());
        assert!(check_startup_order("order=x").is_err());
        assert!(check_phys_bits("host").is_ok());
        assert!(check_phys_bits("40").is_ok());
        assert!(check_phys_bits("7").is_err());
        assert!(check_boot_device("scsi0").is_ok());
        assert!(check_boot_device("net31").is_ok());
        assert!(check_boot_device("efidisk0").is_err());
        assert!(check_boot_device("scsi31").is_err());
        assert!(check_urlencoded("abc%20def").is_ok());
        assert!(check_urlencoded("a b").is_err());
    }
}
