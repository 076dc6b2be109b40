//! Every VM config key with its schema, declared once: the config file, the create
//! (`POST /nodes/{node}/qemu`) and update (`POST`/`PUT .../config`) parameters and the
//! `GET .../config` return all derive from here.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::format;
use crate::schema::{verify_value, ObjectSchema, ParamErrors, Schema};

use super::drive::{Drive, DriveBus};
use super::formats as f;
use super::net::IpConfig;
use super::psformats::{self as psf, ps};

/// Numbered key families and how many of each a VM may have.
pub const INDEXED: &[(&str, u32)] = &[
    ("ide", 4),
    ("sata", 6),
    ("scsi", 31),
    ("virtio", 16),
    ("net", 32),
    ("ipconfig", 32),
    ("serial", 4),
    ("parallel", 3),
    ("numa", 8),
    ("hostpci", 16),
    ("usb", 14),
    ("virtiofs", 10),
    ("unused", 256),
];

/// Keys the server writes for itself (snapshots, creation info); never API parameters.
pub const INTERNAL_KEYS: &[&str] = &[
    "meta",
    "parent",
    "running-nets-host-mtu",
    "runningcpu",
    "runningmachine",
    "snaptime",
    "vmstate",
];

/// Cloud-init settings (changed live: they only matter when the drive is regenerated).
pub const CLOUDINIT_KEYS: &[&str] = &[
    "cicustom",
    "cipassword",
    "citype",
    "ciupgrade",
    "ciuser",
    "nameserver",
    "searchdomain",
    "sshkeys",
];

/// The non-numbered keys of a VM config (internal ones included).
const PLAIN_KEYS: &[&str] = &[
    "acpi",
    "affinity",
    "agent",
    "allow-ksm",
    "amd-sev",
    "arch",
    "args",
    "audio0",
    "autostart",
    "balloon",
    "bios",
    "boot",
    "bootdisk",
    "cdrom",
    "cicustom",
    "cipassword",
    "citype",
    "ciupgrade",
    "ciuser",
    "cores",
    "cpu",
    "cpulimit",
    "cpuunits",
    "description",
    "efidisk0",
    "freeze",
    "hookscript",
    "hotplug",
    "hugepages",
    "intel-tdx",
    "ivshmem",
    "keephugepages",
    "keyboard",
    "kvm",
    "localtime",
    "lock",
    "machine",
    "memory",
    "meta",
    "migrate_downtime",
    "migrate_speed",
    "name",
    "nameserver",
    "numa",
    "onboot",
    "ostype",
    "parent",
    "protection",
    "reboot",
    "rng0",
    "running-nets-host-mtu",
    "runningcpu",
    "runningmachine",
    "scsihw",
    "searchdomain",
    "shares",
    "smbios1",
    "smp",
    "snaptime",
    "sockets",
    "spice_enhancements",
    "sshkeys",
    "startdate",
    "startup",
    "tablet",
    "tags",
    "tdf",
    "template",
    "tpmstate0",
    "vcpus",
    "vga",
    "vmgenid",
    "vmstate",
    "vmstatestorage",
    "watchdog",
];

pub const OSTYPES: &[&str] = &[
    "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24",
    "l26", "solaris",
];

pub const LOCKS: &[&str] = &[
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspending",
    "suspended",
];

const KEYBOARDS: &[&str] = &[
    "de", "de-ch", "da", "en-gb", "en-us", "es", "fi", "fr", "fr-be", "fr-ca", "fr-ch", "hu", "is",
    "it", "ja", "lt", "mk", "nl", "no", "pl", "pt", "pt-br", "sv", "sl", "tr",
];

/// The family and index of a numbered key (`net3` -> `("net", 3)`), if it is a valid one.
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

/// A drive key: `ide0-3`, `sata0-5`, `scsi0-30`, `virtio0-15`, `efidisk0`, `tpmstate0`.
pub fn is_drive_key(key: &str) -> bool {
    DriveBus::from_key(key).is_some()
}

/// Any key a VM config file may hold.
pub fn is_known_key(key: &str) -> bool {
    file_key_schema(key).is_some()
}

/// Internal keys are written by the server, not settable through the API.
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

fn string(description: &'static str) -> crate::schema::StringSchema {
    Schema::string(description)
}

/// The schema of a plain (non-numbered) key; `api` selects the request variant of drives.
fn plain_schema(key: &str, api: bool) -> Schema {
    match key {
        "acpi" => boolean("Enable ACPI.", Some(true)),
        "affinity" => string("Host CPUs the VM may run on, e.g. 0,5,8-11.")
            .format(f::CPUSET)
            .into(),
        "agent" => string("QEMU guest agent settings.")
            .format(ps("pve-qm-agent", psf::agent_format()))
            .into(),
        "allow-ksm" => boolean("Let KSM merge the guest's memory pages.", Some(true)),
        "amd-sev" => string("AMD Secure Encrypted Virtualization.")
            .format(ps("pve-qemu-sev-fmt", psf::sev_format()))
            .into(),
        "arch" => string("Guest CPU architecture (default: the host's).")
            .enum_values(&["x86_64", "aarch64"])
            .into(),
        "args" => string("Extra arguments for QEMU (experts only).").into(),
        "audio0" => string("Sound device.")
            .format(ps("pve-qm-audio", psf::audio_format()))
            .into(),
        "autostart" => boolean("Restart after a crash (ignored).", Some(false)),
        "balloon" => Schema::integer("Balloon target in MiB; 0 disables the balloon device.")
            .minimum(0)
            .into(),
        "bios" => string("Firmware.")
            .enum_values(&["seabios", "ovmf"])
            .default("seabios")
            .into(),
        "boot" => string("Boot order, order=dev1;dev2.")
            .format(ps("pve-qm-boot", psf::boot_format()))
            .into(),
        "bootdisk" => string("Boot disk (deprecated by boot: order=).")
            .format(f::BOOT_DISK)
            .pattern(r"(ide|sata|scsi|virtio)\d+")
            .into(),
        "cdrom" => string("Alias for ide2 with media=cdrom.")
            .format(ps("pve-qm-ide", psf::drive_format(DriveBus::Ide, false)))
            .into(),
        "cicustom" => string("cloud-init: custom snippet files.")
            .format(ps("pve-qm-cicustom", psf::cicustom_format()))
            .into(),
        "cipassword" => string("cloud-init: password of the user.").into(),
        "citype" => string("cloud-init: data format.")
            .enum_values(&["configdrive2", "nocloud", "opennebula"])
            .into(),
        "ciupgrade" => boolean("cloud-init: upgrade packages on first boot.", Some(true)),
        "ciuser" => string("cloud-init: user to configure.").into(),
        "cores" => Schema::integer("Cores per socket.")
            .minimum(1)
            .default(1)
            .into(),
        "cpu" => string("Emulated CPU model and flags.")
            .format(ps("pve-vm-cpu-conf", psf::cpu_format()))
            .into(),
        "cpulimit" => Schema::number("CPU time limit in CPUs; 0 means none.")
            .minimum(0.0)
            .maximum(128.0)
            .into(),
        "cpuunits" => Schema::integer("CPU weight relative to other VMs.")
            .minimum(1)
            .maximum(262_144)
            .into(),
        "description" => string("Notes shown in the summary; stored as comments.")
            .max_length(8192)
            .into(),
        "efidisk0" => drive_schema(DriveBus::Efidisk, api),
        "freeze" => boolean("Start with the CPUs stopped.", None),
        "hookscript" => string("Script run at lifecycle events.")
            .format(f::VOLUME_ID)
            .into(),
        "hotplug" => string(
            "Hot-plug features: network, disk, cpu, memory, usb, cloudinit; 0 none, 1 default.",
        )
        .format(f::HOTPLUG_FEATURES)
        .default("network,disk,usb")
        .into(),
        "hugepages" => string("Back memory with hugepages of this size in MiB.")
            .enum_values(&["any", "2", "1024"])
            .into(),
        "intel-tdx" => string("Intel Trust Domain Extensions.")
            .format(ps("pve-qemu-tdx-fmt", psf::tdx_format()))
            .into(),
        "ivshmem" => string("Inter-VM shared memory.")
            .format(ps("pve-qm-ivshmem", psf::ivshmem_format()))
            .into(),
        "keephugepages" => boolean("Keep hugepages allocated after the VM stops.", Some(false)),
        "keyboard" => string("VNC keyboard layout.").enum_values(KEYBOARDS).into(),
        "kvm" => boolean("Use KVM hardware virtualization.", Some(true)),
        "localtime" => boolean("Run the real-time clock in local time.", None),
        "lock" => string("Operation holding the VM.")
            .enum_values(LOCKS)
            .into(),
        "machine" | "runningmachine" => string("QEMU machine type and options.")
            .format(ps("pve-qemu-machine", psf::machine_format()))
            .into(),
        "memory" => string("RAM settings.")
            .format(ps("pve-qm-memory", psf::memory_format()))
            .into(),
        "meta" => string("Creation facts (read-only).")
            .format(ps("pve-qm-meta", psf::meta_format()))
            .into(),
        "migrate_downtime" => Schema::number("Longest downtime accepted by migration, seconds.")
            .minimum(0.0)
            .into(),
        "migrate_speed" => Schema::integer("Migration speed limit in MB/s; 0 is unlimited.")
            .minimum(0)
            .default(0)
            .into(),
        "name" => string("Name of the VM.").format(f::DNS_NAME).into(),
        "nameserver" => string("cloud-init: DNS servers.")
            .format(f::ADDRESS_LIST)
            .into(),
        "numa" => boolean("Enable NUMA.", Some(false)),
        "onboot" => boolean("Start the VM when the node boots.", Some(false)),
        "ostype" => string("Guest operating system.")
            .enum_values(OSTYPES)
            .default("other")
            .into(),
        "parent" => string("Current snapshot (internal).")
            .format(f::SNAPSHOT_NAME)
            .max_length(40)
            .into(),
        "protection" => boolean("Forbid removing the VM and its disks.", Some(false)),
        "reboot" => boolean("Allow reboots; 0 makes a reboot stop the VM.", Some(true)),
        "rng0" => string("VirtIO random number generator.")
            .format(ps("pve-qm-rng", psf::rng_format()))
            .into(),
        "running-nets-host-mtu" => string("Host MTU of virtio NICs at snapshot time (internal).")
            .pattern(r"net\d+=\d+(,net\d+=\d+)*")
            .into(),
        "runningcpu" => string("QEMU -cpu argument at snapshot time (internal).")
            .pattern(r"(?:[+-]?[\w\-._=]+,?)+")
            .into(),
        "scsihw" => string("SCSI controller model.")
            .enum_values(&[
                "lsi",
                "lsi53c810",
                "virtio-scsi-pci",
                "virtio-scsi-single",
                "megasas",
                "pvscsi",
            ])
            .default("lsi")
            .into(),
        "searchdomain" => string("cloud-init: DNS search domains.").into(),
        "shares" => Schema::integer("Memory shares for auto-ballooning; 0 disables it.")
            .minimum(0)
            .maximum(50_000)
            .default(1000)
            .into(),
        "smbios1" => string("SMBIOS type 1 fields.")
            .format(ps("pve-qm-smbios1", psf::smbios1_format()))
            .max_length(512)
            .into(),
        "smp" => Schema::integer("Number of CPUs (use sockets instead).")
            .minimum(1)
            .default(1)
            .into(),
        "snaptime" => Schema::integer("Snapshot time, UNIX epoch (internal).")
            .minimum(0)
            .into(),
        "sockets" => Schema::integer("CPU sockets.").minimum(1).default(1).into(),
        "spice_enhancements" => string("SPICE extras.")
            .format(ps(
                "pve-qm-spice-enhancements",
                psf::spice_enhancements_format(),
            ))
            .into(),
        "sshkeys" => string("cloud-init: SSH public keys, URL-encoded.")
            .format(f::URLENCODED)
            .into(),
        "startdate" => string("Initial RTC date: now or YYYY-MM-DD[THH:MM:SS].")
            .pattern(r"(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)")
            .default("now")
            .into(),
        "startup" => string("Start order and delays: order=N,up=N,down=N.")
            .format(ps("pve-startup-order", psf::startup_format()))
            .into(),
        "tablet" => boolean("Add a USB tablet for absolute pointing.", Some(true)),
        "tags" => string("Tags, separated by ';'.").format(f::TAG_LIST).into(),
        "tdf" => boolean("Time drift fix.", Some(false)),
        "template" => boolean("The VM is a template.", Some(false)),
        "tpmstate0" => drive_schema(DriveBus::TpmState, api),
        "vcpus" => Schema::integer("Number of hot-plugged vCPUs.")
            .minimum(1)
            .into(),
        "vga" => string("Display adapter.")
            .format(ps("pve-qm-vga", psf::vga_format()))
            .into(),
        "vmgenid" => string("VM generation id; 1 generates one, 0 disables it.")
            .pattern("(?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01])")
            .into(),
        "vmstate" => string("Volume holding saved RAM (internal).")
            .format(f::VOLUME_ID)
            .into(),
        "vmstatestorage" => string("Storage for saved RAM.")
            .format(format::STORAGE_ID)
            .into(),
        "watchdog" => string("Emulated watchdog.")
            .format(ps("pve-qm-watchdog", psf::watchdog_format()))
            .into(),
        other => unreachable!("no schema for config key {other}"),
    }
}

fn drive_schema(bus: DriveBus, api: bool) -> Schema {
    let (name, description) = match bus {
        DriveBus::Ide => ("pve-qm-ide", "IDE disk or CD-ROM."),
        DriveBus::Sata => ("pve-qm-sata", "SATA disk or CD-ROM."),
        DriveBus::Scsi => ("pve-qm-scsi", "SCSI disk or CD-ROM."),
        DriveBus::Virtio => ("pve-qm-virtio", "VirtIO block disk."),
        DriveBus::Efidisk => ("pve-qm-efidisk", "Disk for the EFI variables."),
        DriveBus::TpmState => ("pve-qm-tpmstate", "Disk for the TPM state."),
    };
    string(description)
        .format(ps(name, psf::drive_format(bus, api)))
        .into()
}

/// The schema of every key of a numbered family.
fn family_schema(prefix: &str, api: bool) -> Schema {
    match prefix {
        "ide" => drive_schema(DriveBus::Ide, api),
        "sata" => drive_schema(DriveBus::Sata, api),
        "scsi" => drive_schema(DriveBus::Scsi, api),
        "virtio" => drive_schema(DriveBus::Virtio, api),
        "net" => string("Network device.")
            .format(ps("pve-qm-net", psf::net_format()))
            .into(),
        "ipconfig" => string("cloud-init: addresses of the matching NIC.")
            .format(ps("pve-qm-ipconfig", psf::ipconfig_format()))
            .into(),
        "serial" => string("Serial port: socket or a host device /dev/...")
            .pattern("(/dev/.+|socket)")
            .into(),
        "parallel" => string("Host parallel port.")
            .pattern(r"/dev/parport\d+|/dev/usb/lp\d+")
            .into(),
        "numa" => string("NUMA node.")
            .format(ps("pve-qm-numanode", psf::numa_format()))
            .into(),
        "hostpci" => string("Host PCI device pass-through.")
            .format(ps("pve-qm-hostpci", psf::hostpci_format()))
            .into(),
        "usb" => string("USB device.")
            .format(ps("pve-qm-usb", psf::usb_format()))
            .into(),
        "virtiofs" => string("Shared host directory.")
            .format(ps("pve-qm-virtiofs", psf::virtiofs_format()))
            .into(),
        "unused" => string("Volume detached from the VM (internal).")
            .format(ps("pve-qm-unused", psf::unused_format()))
            .into(),
        other => unreachable!("no schema for key family {other}"),
    }
}

/// All numbered key names, leaked once so schemas can hold them as `&'static str`.
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

/// Add every config key to `schema`; `api` leaves out internal keys and uses the request
/// variant of drives (with `import-from`).
fn add_config_keys(mut schema: ObjectSchema, api: bool) -> ObjectSchema {
    for key in PLAIN_KEYS {
        if api && is_internal_key(key) {
            continue;
        }
        schema = schema.optional(key, plain_schema(key, api));
    }
    let mut family: Option<(&str, Schema)> = None;
    for (prefix, name) in indexed_names() {
        let s = match &family {
            Some((p, s)) if p == prefix => s.clone(),
            _ => {
                let s = family_schema(prefix, api);
                family = Some((prefix, s.clone()));
                s
            }
        };
        schema = schema.optional(name, s);
    }
    schema
}

/// The keys a VM config file may hold, with their schemas.
pub fn config_file_schema() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| add_config_keys(Schema::object("A VM configuration."), false))
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

/// The config keys as API parameters (no internal keys; drives accept `STORAGE:SIZE` and
/// `import-from`). Reused by create and update.
pub fn config_properties() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| add_config_keys(Schema::object("VM configuration parameters."), true))
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

/// Parameters of `POST /nodes/{node}/qemu` (create or restore).
pub fn create_schema() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| {
        let base = Schema::object("Create or restore a virtual machine.")
            .required(
                "node",
                string("The cluster node name.").format(format::NODE),
            )
            .required("vmid", vmid_schema())
            .optional(
                "archive",
                string("Backup archive to restore from.").max_length(255),
            )
            .optional(
                "storage",
                string("Default storage for new disks.").format(format::STORAGE_ID),
            )
            .optional(
                "pool",
                string("Add the VM to this pool.").format(f::POOL_ID),
            )
            .optional("start", boolean("Start the VM once created.", Some(false)))
            .optional(
                "unique",
                boolean("Assign new MAC addresses when restoring.", None),
            )
            .optional(
                "force",
                boolean("Overwrite an existing VM when restoring.", None),
            )
            .optional(
                "bwlimit",
                Schema::integer("I/O bandwidth limit for the restore in KiB/s.").minimum(0),
            )
            .optional(
                "live-restore",
                boolean("Start the VM while restoring in the background.", None),
            )
            .optional(
                "ha-managed",
                boolean("Add the VM as an HA resource.", Some(false)),
            )
            .optional(
                "import-working-storage",
                string("Storage used to extract images during imports.").format(format::STORAGE_ID),
            );
        with_properties(base, config_properties())
    })
}

/// Parameters of `PUT .../config` (`asynchronous == false`) or `POST .../config`.
pub fn update_schema(asynchronous: bool) -> &'static ObjectSchema {
    static SYNC: OnceLock<ObjectSchema> = OnceLock::new();
    static ASYNC: OnceLock<ObjectSchema> = OnceLock::new();
    let build = |asynchronous: bool| {
        let mut base = Schema::object("Set virtual machine options.")
            .required(
                "node",
                string("The cluster node name.").format(format::NODE),
            )
            .required("vmid", vmid_schema())
            .optional("skiplock", boolean("Ignore locks (root only).", None))
            .optional(
                "delete",
                string("Settings to remove.").format(f::CONFIG_KEY_LIST),
            )
            .optional(
                "revert",
                string("Pending changes to drop.").format(f::CONFIG_KEY_LIST),
            )
            .optional(
                "force",
                boolean(
                    "Free deleted disks instead of keeping them as unused.",
                    None,
                ),
            )
            .optional(
                "digest",
                string("Refuse the change if the config's SHA1 digest differs.").max_length(40),
            );
        if asynchronous {
            base = base
                .optional(
                    "background_delay",
                    Schema::integer(
                        "Seconds to wait for the task; null is returned if it ends in time.",
                    )
                    .minimum(1)
                    .maximum(30),
                )
                .optional(
                    "import-working-storage",
                    string("Storage used to extract images during imports.")
                        .format(format::STORAGE_ID),
                );
        }
        with_properties(base, config_properties())
    };
    if asynchronous {
        ASYNC.get_or_init(|| build(true))
    } else {
        SYNC.get_or_init(|| build(false))
    }
}

/// What `GET .../config` returns: every file key plus `digest`.
pub fn config_return_schema() -> &'static ObjectSchema {
    static S: OnceLock<ObjectSchema> = OnceLock::new();
    S.get_or_init(|| {
        let base = Schema::object("The VM configuration.")
            .required("digest", string("SHA1 digest of the config file."));
        with_properties(base, config_file_schema())
    })
}

/// Check a raw value of `key` completely: its schema and the rules that span several
/// sub-keys (drive throttles, gateways, USB/PCI sources, ...). `api` selects the request
/// variant (drives may carry `import-from`). Returns the value as it is stored: booleans
/// as `1`/`0`, integers without leading zeros.
pub fn check_value(key: &str, value: &str, api: bool) -> Result<String, String> {
    let schema = if api {
        config_properties().property(key).map(|p| &p.schema)
    } else {
        file_key_schema(key)
    }
    .ok_or_else(|| format!("unknown setting '{key}'"))?;
    if value.contains(['\n', '\r']) {
        return Err("property contains a line feed".into());
    }
    let raw = match schema {
        // config files accept the same spellings as property strings
        Schema::Boolean(_) => match value.to_ascii_lowercase().as_str() {
            "1" | "on" | "yes" | "true" => "1".to_string(),
            "0" | "off" | "no" | "false" => "0".to_string(),
            _ => value.to_string(),
        },
        _ => value.to_string(),
    };
    let checked = verify_value(schema, Value::String(raw))?;
    check_combinations(key, value, api)?;
    Ok(match checked {
        Value::Bool(b) => u8::from(b).to_string(),
        Value::Number(n) if n.is_i64() => n.to_string(),
        _ => value.to_string(),
    })
}

/// Rules spanning several sub-keys of one value.
fn check_combinations(key: &str, value: &str, api: bool) -> Result<(), String> {
    let family = split_indexed(key).map(|(p, _)| p).unwrap_or(key);
    let err = |e: crate::property_string::PsError| e.to_string();
    match family {
        _ if is_drive_key(key) => {
            if api {
                Drive::parse_with_alloc(key, value).map(|_| ()).map_err(err)
            } else {
                Drive::parse(key, value).map(|_| ()).map_err(err)
            }
        }
        "cdrom" => Drive::parse("ide2", value).map(|_| ()).map_err(err),
        "ipconfig" => IpConfig::parse(value).map(|_| ()).map_err(err),
        "usb" => {
            let v = psf::usb_format().parse(value).map_err(err)?;
            if v.contains_key("host") || v.contains_key("mapping") {
                Ok(())
            } else {
                Err("either 'host' or 'mapping' must be set".into())
            }
        }
        "hostpci" => {
            let v = psf::hostpci_format().parse(value).map_err(err)?;
            match (v.contains_key("host"), v.contains_key("mapping")) {
                (true, true) => Err("Cannot set both 'host' and 'mapping'.".into()),
                (false, false) => Err("either 'host' or 'mapping' must be set".into()),
                _ => Ok(()),
            }
        }
        "vga" => {
            let v = psf::vga_format().parse(value).map_err(err)?;
            let ty = v.get("type").and_then(Value::as_str);
            let compatible = ty.is_none_or(|t| {
                ["std", "cirrus", "vmware", "virtio", "qxl"]
                    .iter()
                    .any(|p| t.starts_with(p))
            });
            if v.contains_key("clipboard") && !compatible {
                return Err(format!(
                    "vga type {} is not compatible with VNC clipboard",
                    ty.unwrap_or_default()
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Check request parameters that already passed [`verify_object`](crate::schema::verify_object)
/// against [`create_schema`] or [`update_schema`] for the rules the schema cannot express.
/// Errors are keyed by parameter, like schema errors. `create` selects the create rules.
pub fn check_params(params: &Map<String, Value>, create: bool) -> Result<(), ParamErrors> {
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
        if let Err(e) = check_combinations(key, &text, true) {
            errors.insert(key.clone(), e);
        }
    }
    // `force` goes with `archive` on create and with `delete` on update
    let needed = if create { "archive" } else { "delete" };
    if params.contains_key("force") && !params.contains_key(needed) {
        errors.insert(
            needed.into(),
            "missing property - 'force' requires this property".into(),
        );
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
            "scsi0",
            "scsi30",
            "virtio15",
            "sata5",
            "ide3",
            "net31",
            "serial3",
            "unused255",
            "numa7",
            "hostpci15",
            "usb13",
            "ipconfig31",
            "parallel2",
            "virtiofs9",
            "efidisk0",
            "tpmstate0",
            "rng0",
            "audio0",
            "parent",
            "snaptime",
            "vmstate",
            "meta",
        ] {
            assert!(s.property(key).is_some(), "{key}");
        }
        for key in [
            "scsi31",
            "virtio16",
            "ide4",
            "net32",
            "serial4",
            "unused256",
            "net01",
            "digest",
            "delete",
        ] {
            assert!(s.property(key).is_none(), "{key}");
        }
        assert!(config_properties().property("parent").is_none());
        assert!(config_properties().property("scsi0").is_some());
        assert_eq!(split_indexed("net7"), Some(("net", 7)));
        assert_eq!(split_indexed("net07"), None);
        assert!(is_drive_key("efidisk0") && !is_drive_key("unused0"));
    }

    #[test]
    fn create_errors_name_the_key() {
        let raw = json!({
            "node": "pve1", "vmid": "100",
            "scsi0": "local-lvm:8,cache=fast",
            "net0": "virtio,tag=5000",
            "memory": "8",
            "cores": "0",
            "ostype": "dos",
            "bogus": "1",
        });
        let errs = verify_object(create_schema(), raw.as_object().unwrap().clone()).unwrap_err();
        assert!(errs["scsi0"].contains("cache"), "{}", errs["scsi0"]);
        assert!(errs["net0"].contains("tag: value must have a maximum value of 4094"));
        assert!(errs["memory"].contains("current"));
        assert_eq!(errs["cores"], "value must have a minimum value of 1");
        assert!(errs["ostype"].contains("enumeration"));
        assert!(errs["bogus"].starts_with("property is not defined"));
        let ok = json!({
            "node": "pve1", "vmid": 100,
            "scsi0": "local-lvm:32,iothread=1,import-from=local:import/x.qcow2",
            "ide2": "local:iso/debian.iso,media=cdrom",
            "net0": "virtio,bridge=vmbr0,firewall=1",
            "cpu": "x86-64-v2-AES", "memory": "2048", "boot": "order=scsi0;ide2;net0",
        });
        let params = verify_object(create_schema(), ok.as_object().unwrap().clone()).unwrap();
        check_params(&params, true).unwrap();
    }

    #[test]
    fn update_schema_and_combinations() {
        let raw = json!({"node": "n", "vmid": 100, "delete": "net1,scsi2", "revert": "cores",
                         "digest": "0123", "background_delay": 5});
        assert!(verify_object(update_schema(true), raw.as_object().unwrap().clone()).is_ok());
        let errs =
            verify_object(update_schema(false), raw.as_object().unwrap().clone()).unwrap_err();
        assert!(errs.contains_key("background_delay"));
        let bad = json!({"scsi1": "local:100/x.raw,bps=1,mbps=2", "usb0": "usb3=1",
                         "hostpci0": "host=01:00.0,mapping=gpu", "ipconfig0": "gw=10.0.0.1",
                         "vga": "serial0,clipboard=vnc"});
        let errs = check_params(bad.as_object().unwrap(), false).unwrap_err();
        assert_eq!(errs.len(), 5, "{errs:?}");
    }

    #[test]
    fn check_value_normalizes() {
        assert_eq!(check_value("onboot", "yes", false).unwrap(), "1");
        assert_eq!(check_value("cores", "04", false).unwrap(), "4");
        assert_eq!(check_value("cpulimit", "0.5", false).unwrap(), "0.5");
        assert!(check_value("cores", "-1", false).is_err());
        assert!(check_value("nope", "1", false)
            .unwrap_err()
            .contains("unknown setting 'nope'"));
        assert!(check_value("name", "a\nb", false).is_err());
        assert!(check_value("scsi0", "local:0,import-from=local:x", false).is_err());
        assert!(check_value("scsi0", "local:0,import-from=local:x", true).is_ok());
    }
}
