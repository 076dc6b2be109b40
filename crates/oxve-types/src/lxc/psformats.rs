//! The property-string formats of container config values (pve-container's `$netconf_desc`,
//! `$rootfs_desc`, `$mp_desc`, `$features_desc`). Each format is built once and shared.

use std::sync::{Arc, OnceLock};

use crate::property_string::PropertyStringFormat;
use crate::qemu::formats as f;
use crate::schema::Schema;

/// Mount options a mount point may carry (`mountoptions=noatime;nodev`).
const MOUNT_OPTIONS: &str = r"(discard|lazytime|noatime|nodev|noexec|nosuid)(;(discard|lazytime|noatime|nodev|noexec|nosuid))*";

macro_rules! cached {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub fn $name() -> Arc<PropertyStringFormat> {
            static CELL: OnceLock<Arc<PropertyStringFormat>> = OnceLock::new();
            CELL.get_or_init(|| Arc::new($build)).clone()
        }
    };
}

/// A volume, `STORAGE:SIZE_GiB` (on create/update) or an absolute host path (bind mount or
/// device) as `pve-lxc-mp-string` allows.
pub fn check_mp_volume(value: &str) -> Result<(), String> {
    if value.starts_with('/') {
        return check_mp_path(value);
    }
    f::check_volume_id(value)
}

/// A path inside the container (`mp=`): absolute, no `..` component.
pub fn check_mp_path(value: &str) -> Result<(), String> {
    if !value.starts_with('/') {
        return Err(format!("mount point path '{value}' is not absolute"));
    }
    if value.split('/').any(|c| c == "..") {
        return Err(format!("mount point path '{value}' contains '..'"));
    }
    Ok(())
}

/// `nameserver`: IP addresses, IPv6 link-local ones optionally with `%iface`.
pub fn check_nameserver(value: &str) -> Result<(), String> {
    let ip = value.split_once('%').map_or(value, |(ip, _)| ip);
    f::check_ip(ip)
}

/// `timezone`: `host` or a zone name like `Europe/Vienna`.
pub fn check_timezone(value: &str) -> Result<(), String> {
    let ok = value == "host"
        || (!value.is_empty()
            && !value.starts_with('/')
            && value.split('/').all(|p| {
                !p.is_empty()
                    && p != ".."
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
            }));
    ok.then_some(())
        .ok_or_else(|| format!("invalid time zone '{value}'"))
}

pub const MP_VOLUME: crate::format::Format = crate::format::Format::Named {
    name: "pve-lxc-mp-string",
    check: check_mp_volume,
};
pub const MP_PATH: crate::format::Format = crate::format::Format::Named {
    name: "pve-lxc-mp-string",
    check: check_mp_path,
};
pub const NAMESERVER_LIST: crate::format::Format = crate::format::Format::List {
    name: "lxc-ip-with-ll-iface-list",
    check: check_nameserver,
};
pub const DNS_NAME_LIST: crate::format::Format = crate::format::Format::List {
    name: "dns-name-list",
    check: f::check_dns_name,
};
pub const TIMEZONE: crate::format::Format = crate::format::Format::Named {
    name: "pve-ct-timezone",
    check: check_timezone,
};

fn mount_common(fmt: PropertyStringFormat) -> PropertyStringFormat {
    fmt.optional(
        "size",
        Schema::string("Volume size (read only value).").format(f::DISK_SIZE),
    )
    .optional(
        "acl",
        Schema::boolean("Explicitly enable or disable ACL support."),
    )
    .optional(
        "mountoptions",
        Schema::string("Extra mount options for rootfs/mps.").pattern(MOUNT_OPTIONS),
    )
    .optional("ro", Schema::boolean("Read-only mount point."))
    .optional(
        "quota",
        Schema::boolean("Enable user quotas inside the container."),
    )
    .optional(
        "replicate",
        Schema::boolean("Include this volume in storage replica jobs.").default(true),
    )
    .optional(
        "shared",
        Schema::boolean("Mark this non-volume mount point as available on all nodes.")
            .default(false),
    )
}

cached!(
    /// `rootfs`: `volume,size=8G,...`.
    rootfs_format => mount_common(PropertyStringFormat::new().default_key(
        "volume",
        Schema::string("Volume, device or directory to mount into the container.")
            .format(MP_VOLUME),
        false,
    ))
);

cached!(
    /// `mpN`: `volume,mp=/path,backup=1,...`.
    mp_format => mount_common(
        PropertyStringFormat::new()
            .default_key(
                "volume",
                Schema::string("Volume, device or directory to mount into the container.")
                    .format(MP_VOLUME),
                false,
            )
            .required(
                "mp",
                Schema::string("Path to the mount point as seen from inside the container.")
                    .format(MP_PATH),
            ),
    )
    .optional(
        "backup",
        Schema::boolean("Whether to include the mount point in backups."),
    )
    .optional(
        "keepattrs",
        Schema::boolean("Keep the attributes of the bind-mounted directory.").default(false),
    )
);

cached!(
    /// `netN`: `name=eth0,bridge=vmbr0,hwaddr=...,ip=dhcp,...`.
    net_format => PropertyStringFormat::new()
        .required(
            "name",
            Schema::string("Name of the network device as seen from inside the container.")
                .pattern(r"[-_.\w\d]+"),
        )
        .optional("bridge", Schema::string("Bridge to attach the device to.").pattern(r"[-_.\w\d]+"))
        .optional("firewall", Schema::boolean("Use this interface's firewall rules."))
        .optional("gw", Schema::string("Default gateway for IPv4 traffic.").format(f::IPV4))
        .optional("gw6", Schema::string("Default gateway for IPv6 traffic.").format(f::IPV6))
        .optional("host-managed", Schema::boolean("The host configures the interface."))
        .optional(
            "hwaddr",
            Schema::string("A common MAC address with the I/G bit not set.").format(f::MAC_ADDR),
        )
        .optional("ip", Schema::string("IPv4 address in CIDR format, dhcp or manual.").format(f::IPV4_CONFIG))
        .optional("ip6", Schema::string("IPv6 address in CIDR format, auto, dhcp or manual.").format(f::IPV6_CONFIG))
        .optional("link_down", Schema::boolean("Whether this interface should be disconnected."))
        .optional("mtu", Schema::integer("Maximum transfer unit of the interface.").minimum(64).maximum(65535))
        .optional("rate", Schema::number("Rate limit in mbps (megabytes per second).").minimum(0.0))
        .optional("tag", Schema::integer("VLAN tag for this interface.").minimum(1).maximum(4094))
        .optional("trunks", Schema::string("VLAN ids to pass through the interface.").pattern(r"\d+(?:;\d+)*"))
        .optional("type", Schema::string("Network interface type.").enum_values(&["veth"]))
);

cached!(
    /// `features`: `nesting=1,keyctl=1,fuse=1,mount=nfs;cifs`.
    features_format => PropertyStringFormat::new()
        .optional("fuse", Schema::boolean("Allow using 'fuse' file systems.").default(false))
        .optional("keyctl", Schema::boolean("Allow the keyctl() system call (unprivileged only).").default(false))
        .optional("mknod", Schema::boolean("Allow mknod() of some device nodes (experimental).").default(false))
        .optional("mount", Schema::string("Allowed file system types for mount, fstype;fstype;...").pattern(r"[a-zA-Z0-9_; ]+"))
        .optional("nesting", Schema::boolean("Allow nesting (best with unprivileged containers).").default(false))
        .optional("force_rw_sys", Schema::boolean("Mount /sys read-write in unprivileged containers.").default(false))
);

cached!(
    /// `devN`: `/dev/ttyUSB0,mode=0660,uid=0,gid=0`.
    dev_format => PropertyStringFormat::new()
        .default_key(
            "path",
            Schema::string("Device to pass through to the container.").pattern(r"/dev/.+"),
            true,
        )
        .optional("deny-write", Schema::boolean("Deny the container to write to the device.").default(false))
        .optional("gid", Schema::integer("Group ID to be assigned to the device node.").minimum(0))
        .optional("mode", Schema::string("Access mode to be set on the device node.").pattern("0[0-7]{3}"))
        .optional("uid", Schema::integer("User ID to be assigned to the device node.").minimum(0))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_requires_a_name_and_checks_values() {
        let v = net_format()
            .parse("name=eth0,bridge=vmbr0,ip=10.0.0.2/24,gw=10.0.0.1,tag=5,firewall=1")
            .unwrap();
        assert_eq!(v["tag"], 5);
        assert_eq!(v["firewall"], true);
        let e = net_format().parse("bridge=vmbr0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid format - name: property is missing and it is not optional"
        );
        let e = net_format()
            .parse("name=eth0,ip=10.0.0.300/24")
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("ip"));
        let e = net_format().parse("name=eth0,tag=5000").unwrap_err();
        assert!(
            e.to_string()
                .contains("tag: value must have a maximum value of 4094"),
            "{e}"
        );
    }

    #[test]
    fn mount_points() {
        let v = rootfs_format()
            .parse("local:100/vm-100-disk-0.raw,size=8G")
            .unwrap();
        assert_eq!(v["volume"], "local:100/vm-100-disk-0.raw");
        assert!(rootfs_format().parse("local:8").is_ok());
        let e = mp_format().parse("local:4").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("mp"));
        assert!(mp_format().parse("/srv/data,mp=/data,ro=1").is_ok());
        assert!(mp_format().parse("/srv/data,mp=data").is_err());
        assert!(mp_format().parse("/srv/data,mp=/a/../b").is_err());
        assert!(rootfs_format()
            .parse("local:8,mountoptions=noatime;nodev")
            .is_ok());
        assert!(rootfs_format().parse("local:8,mountoptions=exec").is_err());
    }

    #[test]
    fn features_and_misc() {
        let v = features_format()
            .parse("nesting=1,keyctl=1,mount=nfs;cifs")
            .unwrap();
        assert_eq!(v["nesting"], true);
        assert!(features_format().parse("bogus=1").is_err());
        assert!(check_nameserver("fe80::1%eth0").is_ok());
        assert!(check_nameserver("1.2.3").is_err());
        assert!(check_timezone("Europe/Vienna").is_ok());
        assert!(check_timezone("../etc/passwd").is_err());
    }
}
