//! Parameter schemas and formats of /nodes/{node}/network, as Proxmox declares them.

use oxve_net::cidr;
use oxve_types::format::{self, Format};
use oxve_types::schema::{ObjectSchema, Schema, StringSchema};

fn check_iface(value: &str) -> Result<(), String> {
    // Proxmox's pve-iface: a letter, 1-20 word characters, optionally `.N` or `:N`.
    let bad =
        || format!("invalid format - value '{value}' does not look like a valid interface name");
    let (base, suffix) = match value.find(['.', ':']) {
        Some(i) => (&value[..i], Some(&value[i + 1..])),
        None => (value, None),
    };
    let mut chars = base.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let rest = chars.as_str();
    if rest.is_empty()
        || rest.len() > 20
        || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(bad());
    }
    if let Some(s) = suffix {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_vlan_range(value: &str) -> Result<(), String> {
    let id = |v: &str| v.parse::<u16>().ok().filter(|n| (1..=4094).contains(n));
    let ok = match value.split_once('-') {
        Some((a, b)) => matches!((id(a), id(b)), (Some(a), Some(b)) if a <= b),
        None => id(value).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid format - '{value}' is not a VLAN id or range"
        ))
    }
}

pub const IFACE: Format = Format::Named {
    name: "pve-iface",
    check: check_iface,
};
pub const IFACE_LIST: Format = Format::List {
    name: "pve-iface-list",
    check: check_iface,
};
const CIDR_V4: Format = Format::Named {
    name: "CIDRv4",
    check: cidr::check_cidr_v4,
};
const CIDR_V6: Format = Format::Named {
    name: "CIDRv6",
    check: cidr::check_cidr_v6,
};
const IPV4: Format = Format::Named {
    name: "ipv4",
    check: cidr::check_ipv4,
};
const IPV6: Format = Format::Named {
    name: "ipv6",
    check: cidr::check_ipv6,
};
const IPV4_MASK: Format = Format::Named {
    name: "ipv4mask",
    check: cidr::check_ipv4_mask,
};
const VLAN_RANGE_LIST: Format = Format::List {
    name: "pve-vlan-id-or-range-list",
    check: check_vlan_range,
};
const CONFIG_ID_LIST: Format = Format::List {
    name: "pve-configid-list",
    check: format::check_config_id,
};

pub fn iface_param() -> StringSchema {
    Schema::string("Network interface name.")
        .format(IFACE)
        .min_length(2)
        .max_length(20)
}

pub const TYPES: &[&str] = &[
    "bridge",
    "bond",
    "eth",
    "alias",
    "vlan",
    "fabric",
    "OVSBridge",
    "OVSBond",
    "OVSPort",
    "OVSIntPort",
    "vnet",
    "unknown",
];

pub const LIST_TYPES: &[&str] = &[
    "bridge",
    "bond",
    "eth",
    "alias",
    "vlan",
    "fabric",
    "OVSBridge",
    "OVSBond",
    "OVSPort",
    "OVSIntPort",
    "vnet",
    "any_bridge",
    "any_local_bridge",
    "include_sdn",
];

const BOND_MODES: &[&str] = &[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
    "balance-slb",
    "lacp-balance-slb",
    "lacp-balance-tcp",
];

/// The settings of an interface a client may set (create and update).
pub fn options(schema: ObjectSchema) -> ObjectSchema {
    let text = |d| Schema::string(d).max_length(8192);
    schema
        .required(
            "type",
            Schema::string("Network interface type").enum_values(TYPES),
        )
        .optional("comments", text("Comments"))
        .optional("comments6", text("Comments"))
        .optional(
            "autostart",
            Schema::boolean("Automatically start interface on boot."),
        )
        .optional(
            "bridge_vlan_aware",
            Schema::boolean("Enable bridge vlan support."),
        )
        .optional(
            "bridge_ports",
            Schema::string("Specify the interfaces you want to add to your bridge.")
                .format(IFACE_LIST),
        )
        .optional(
            "bridge_vids",
            Schema::string("Specify the allowed VLANs. Only used if the bridge is VLAN aware.")
                .format(VLAN_RANGE_LIST),
        )
        .optional(
            "slaves",
            Schema::string("Specify the interfaces used by the bonding device.").format(IFACE_LIST),
        )
        .optional(
            "bond_mode",
            Schema::string("Bonding mode.").enum_values(BOND_MODES),
        )
        .optional(
            "bond_xmit_hash_policy",
            Schema::string("Transmit hash policy of balance-xor and 802.3ad bonds.")
                .enum_values(&["layer2", "layer2+3", "layer3+4"]),
        )
        .optional(
            "bond-primary",
            Schema::string("Specify the primary interface for active-backup bond.").format(IFACE),
        )
        .optional(
            "gateway",
            Schema::string("Default gateway address.").format(IPV4),
        )
        .optional("netmask", Schema::string("Network mask.").format(IPV4_MASK))
        .optional("address", Schema::string("IP address.").format(IPV4))
        .optional("cidr", Schema::string("IPv4 CIDR.").format(CIDR_V4))
        .optional(
            "gateway6",
            Schema::string("Default ipv6 gateway address.").format(IPV6),
        )
        .optional(
            "netmask6",
            Schema::integer("Network mask.").minimum(0).maximum(128),
        )
        .optional("address6", Schema::string("IP address.").format(IPV6))
        .optional("cidr6", Schema::string("IPv6 CIDR.").format(CIDR_V6))
        .optional("mtu", Schema::integer("MTU.").minimum(1280).maximum(65520))
        .optional(
            "vlan-id",
            Schema::integer("vlan-id for a custom named vlan interface.")
                .minimum(1)
                .maximum(4094),
        )
        .optional(
            "vlan-raw-device",
            Schema::string("Specify the raw interface for the vlan interface.").format(IFACE),
        )
        .optional(
            "ovs_bonds",
            Schema::string("Specify the interfaces used by the bonding device.").format(IFACE_LIST),
        )
        .optional(
            "ovs_bridge",
            Schema::string("The OVS bridge of an OVS port.").format(IFACE),
        )
        .optional(
            "ovs_options",
            Schema::string("OVS interface options.").max_length(1024),
        )
        .optional(
            "ovs_ports",
            Schema::string("Specify the interfaces you want to add to your bridge.")
                .format(IFACE_LIST),
        )
        .optional(
            "ovs_tag",
            Schema::integer("OVS VLAN tag.").minimum(1).maximum(4094),
        )
        .optional(
            "nat",
            Schema::boolean(
                "oxve extension: masquerade the bridge's IPv4 subnet and serve DHCP/DNS on it.",
            ),
        )
}

pub fn delete_param() -> StringSchema {
    Schema::string("A list of settings you want to delete.").format(CONFIG_ID_LIST)
}
