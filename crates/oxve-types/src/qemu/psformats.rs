//! The property-string formats of VM config values: which sub-keys each value has, their types,
//! enums and ranges (Proxmox VE qemu-server's `$drivedesc_base`, `$net_fmt`, `$cpu_fmt`, ...).
//! Each format is built once and shared.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::format::{self, Format};
use crate::property_string::PropertyStringFormat;
use crate::schema::Schema;

use super::cpu;
use super::drive::DriveBus;
use super::formats as f;

/// A property-string format wrapped as a string [`Format`].
pub fn ps(name: &'static str, format: Arc<PropertyStringFormat>) -> Format {
    Format::PropertyString { name, format }
}

macro_rules! cached {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub fn $name() -> Arc<PropertyStringFormat> {
            static CELL: OnceLock<Arc<PropertyStringFormat>> = OnceLock::new();
            CELL.get_or_init(|| Arc::new($build)).clone()
        }
    };
}

/// The NIC models QEMU can emulate for `netN`.
pub const NIC_MODELS: &[&str] = &[
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "virtio",
    "vmxnet3",
];

const IMAGE_FORMATS: &[&str] = &["raw", "qcow", "qed", "qcow2", "vmdk", "cloop"];
const NUMBER_SETS: &str = r"\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*";
const BASE64: &str = r"[A-Za-z0-9+/]+={0,2}";
const PCI_IDS: &str = r"(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?(?:;(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?)*";
const HEX_ID: &str = r"0x[0-9a-fA-F]{4}";

fn int(description: &'static str) -> crate::schema::IntegerSchema {
    Schema::integer(description)
}

/// The keys every drive has, whatever its bus.
fn drive_common(alloc: bool) -> PropertyStringFormat {
    let mut fmt = PropertyStringFormat::new()
        .default_key(
            "file",
            Schema::string("Volume, path, 'none' or 'cdrom' backing the drive.")
                .format(f::VOLUME_ID_OR_QM_PATH),
            false,
        )
        .alias("volume", "file")
        .optional(
            "media",
            Schema::string("Whether the drive is a disk or a CD-ROM.")
                .enum_values(&["cdrom", "disk"])
                .default("disk"),
        )
        .optional(
            "snapshot",
            Schema::boolean("Discard writes when the VM stops (QEMU snapshot mode)."),
        )
        .optional(
            "cache",
            Schema::string("Host cache mode.").enum_values(&[
                "none",
                "writethrough",
                "writeback",
                "unsafe",
                "directsync",
            ]),
        )
        .optional(
            "format",
            Schema::string("Image format of the backing volume.").enum_values(IMAGE_FORMATS),
        )
        .optional(
            "size",
            Schema::string("Size of the volume (informational).").format(f::DISK_SIZE),
        )
        .optional("backup", Schema::boolean("Include the drive in backups."))
        .optional(
            "replicate",
            Schema::boolean("Include the drive in replication.").default(true),
        )
        .optional(
            "rerror",
            Schema::string("What to do on read errors.").enum_values(&["ignore", "report", "stop"]),
        )
        .optional(
            "werror",
            Schema::string("What to do on write errors.")
                .enum_values(&["enospc", "ignore", "report", "stop"]),
        )
        .optional(
            "aio",
            Schema::string("Asynchronous I/O backend.")
                .enum_values(&["native", "threads", "io_uring"]),
        )
        .optional(
            "discard",
            Schema::string("Pass discard/trim requests to the storage.")
                .enum_values(&["ignore", "on"]),
        )
        .optional(
            "detect_zeroes",
            Schema::boolean("Detect writes of zeroes and optimize them."),
        )
        .optional(
            "serial",
            Schema::string("Serial number reported to the guest, URL-encoded.")
                .format(f::URLENCODED)
                .max_length(60),
        )
        .optional(
            "shared",
            Schema::boolean("The local volume is reachable from all nodes.").default(false),
        );
    for (key, description) in [
        ("bps", "Throughput limit in bytes per second."),
        ("bps_rd", "Read throughput limit in bytes per second."),
        ("bps_wr", "Write throughput limit in bytes per second."),
        ("iops", "I/O operations per second limit."),
        ("iops_rd", "Read operations per second limit."),
        ("iops_wr", "Write operations per second limit."),
        ("iops_max", "Burst pool of I/O operations."),
        ("iops_rd_max", "Burst pool of read operations."),
        ("iops_wr_max", "Burst pool of write operations."),
    ] {
        fmt = fmt.optional(key, int(description));
    }
    for (key, description) in [
        ("mbps", "Throughput limit in MB/s."),
        ("mbps_rd", "Read throughput limit in MB/s."),
        ("mbps_wr", "Write throughput limit in MB/s."),
        ("mbps_max", "Burst pool of throughput in MB/s."),
        ("mbps_rd_max", "Burst pool of read throughput in MB/s."),
        ("mbps_wr_max", "Burst pool of write throughput in MB/s."),
    ] {
        fmt = fmt.optional(key, Schema::number(description));
    }
    for key in [
        "bps_max_length",
        "bps_rd_max_length",
        "bps_wr_max_length",
        "iops_max_length",
        "iops_rd_max_length",
        "iops_wr_max_length",
    ] {
        fmt = fmt.optional(key, int("Length of a burst in seconds.").minimum(1));
    }
    fmt = fmt
        .alias("bps_rd_length", "bps_rd_max_length")
        .alias("bps_wr_length", "bps_wr_max_length")
        .alias("iops_rd_length", "iops_rd_max_length")
        .alias("iops_wr_length", "iops_wr_max_length");
    if alloc {
        fmt = import_from(fmt);
    }
    fmt
}

fn import_from(fmt: PropertyStringFormat) -> PropertyStringFormat {
    fmt.optional(
        "import-from",
        Schema::string("Create the disk as a copy of this volume or absolute path.")
            .format(f::VOLUME_ID_OR_ABSOLUTE_PATH),
    )
}

fn with_ssd(fmt: PropertyStringFormat) -> PropertyStringFormat {
    fmt.optional(
        "ssd",
        Schema::boolean("Present the drive as an SSD instead of a spinning disk."),
    )
}

fn with_wwn(fmt: PropertyStringFormat) -> PropertyStringFormat {
    fmt.optional(
        "wwn",
        Schema::string("World wide name: 0x and 16 hex digits.").pattern("0x[0-9a-fA-F]{16}"),
    )
}

fn with_iothread_ro(fmt: PropertyStringFormat) -> PropertyStringFormat {
    fmt.optional(
        "iothread",
        Schema::boolean("Run the drive's I/O in its own thread."),
    )
    .optional("ro", Schema::boolean("Attach the drive read-only."))
}

fn build_drive_format(bus: DriveBus, alloc: bool) -> PropertyStringFormat {
    match bus {
        DriveBus::Ide => with_wwn(with_ssd(drive_common(alloc))).optional(
            "model",
            Schema::string("Model name reported to the guest, URL-encoded.")
                .format(f::URLENCODED)
                .max_length(120),
        ),
        DriveBus::Sata => with_wwn(with_ssd(drive_common(alloc))),
        DriveBus::Scsi => with_wwn(with_ssd(with_iothread_ro(drive_common(alloc))))
            .optional(
                "product",
                Schema::string("Product name reported to the guest.")
                    .pattern(r"[A-Za-z0-9\-_\s]{0,16}"),
            )
            .optional(
                "vendor",
                Schema::string("Vendor name reported to the guest.")
                    .pattern(r"[A-Za-z0-9\-_\s]{0,8}"),
            )
            .optional("queues", int("Number of queues.").minimum(2))
            .optional(
                "scsiblock",
                Schema::boolean("Pass a host block device through with scsi-block.").default(false),
            ),
        DriveBus::Virtio => with_iothread_ro(drive_common(alloc)),
        DriveBus::Efidisk => {
            let fmt = PropertyStringFormat::new()
                .default_key(
                    "file",
                    Schema::string("Volume holding the EFI variables.")
                        .format(f::VOLUME_ID_OR_QM_PATH),
                    false,
                )
                .alias("volume", "file")
                .optional(
                    "format",
                    Schema::string("Image format of the volume.").enum_values(IMAGE_FORMATS),
                )
                .optional(
                    "size",
                    Schema::string("Size of the volume (informational).").format(f::DISK_SIZE),
                )
                .optional(
                    "efitype",
                    Schema::string("Size and kind of the EFI vars store.")
                        .enum_values(&["2m", "4m"])
                        .default("2m"),
                )
                .optional(
                    "pre-enrolled-keys",
                    Schema::boolean("Start with distribution and Microsoft keys enrolled.")
                        .default(false),
                )
                .optional(
                    "ms-cert",
                    Schema::string("Version of the enrolled Microsoft UEFI certificates.")
                        .enum_values(&["2011", "2023", "2023w", "2023k"])
                        .default("2011"),
                );
            if alloc {
                import_from(fmt)
            } else {
                fmt
            }
        }
        DriveBus::TpmState => {
            let fmt = PropertyStringFormat::new()
                .default_key(
                    "file",
                    Schema::string("Volume holding the TPM state.").format(f::VOLUME_ID_OR_QM_PATH),
                    false,
                )
                .alias("volume", "file")
                .optional(
                    "format",
                    Schema::string("Image format of the volume.")
                        .enum_values(&["raw", "qcow2", "vmdk"]),
                )
                .optional(
                    "size",
                    Schema::string("Size of the volume (informational).").format(f::DISK_SIZE),
                )
                .optional(
                    "version",
                    Schema::string("TPM interface version; fixed once created.")
                        .enum_values(&["v1.2", "v2.0"])
                        .default("v1.2"),
                );
            if alloc {
                import_from(fmt)
            } else {
                fmt
            }
        }
    }
}

/// The format of a drive on `bus`; `alloc` adds `import-from` (create/update requests, where
/// `STORAGE:SIZE` and imports are allowed).
pub fn drive_format(bus: DriveBus, alloc: bool) -> Arc<PropertyStringFormat> {
    static CELL: OnceLock<HashMap<(DriveBus, bool), Arc<PropertyStringFormat>>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut map = HashMap::new();
        for bus in DriveBus::ALL {
            for alloc in [false, true] {
                map.insert((bus, alloc), Arc::new(build_drive_format(bus, alloc)));
            }
        }
        map
    })[&(bus, alloc)]
        .clone()
}

cached!(
    /// `unusedN`: a volume detached from the VM but still owned by it.
    unused_format => PropertyStringFormat::new()
        .default_key("file", Schema::string("The detached volume.").format(f::VOLUME_ID), false)
        .alias("volume", "file")
);

cached!(
    /// `netN`: `virtio=MAC,bridge=vmbr0,...`; every model name is also a key taking the MAC.
    net_format => {
        let mut fmt = PropertyStringFormat::new()
            .default_key(
                "model",
                Schema::string("Emulated NIC model.").enum_values(NIC_MODELS),
                false,
            )
            .optional("macaddr", Schema::string("MAC address; generated when missing.").format(f::MAC_ADDR))
            .optional("bridge", Schema::string("Bridge to connect to; user-mode NAT when missing.").format(f::BRIDGE_ID))
            .optional("queues", int("Number of packet queues.").minimum(0).maximum(64))
            .optional("rate", Schema::number("Rate limit in MB/s.").minimum(0.0))
            .optional("tag", int("VLAN tag.").minimum(1).maximum(4094))
            .optional("trunks", Schema::string("VLAN ids passed through, separated by ';'.").pattern(NUMBER_SETS))
            .optional("firewall", Schema::boolean("Filter the interface with the firewall."))
            .optional("link_down", Schema::boolean("Disconnect the link."))
            .optional("mtu", int("MTU of the device (virtio); 1 means the bridge MTU.").minimum(1).maximum(65520));
        for model in NIC_MODELS {
            fmt = fmt.key_alias(model, "model", "macaddr");
        }
        fmt
    }
);

cached!(
    /// `cpu`: model plus flags and tweaks.
    cpu_format => PropertyStringFormat::new()
        .default_key(
            "cputype",
            Schema::string("CPU model: a built-in name or custom-<name>.").format(cpu::CPU_MODEL).default("kvm64"),
            false,
        )
        .optional(
            "reported-model",
            Schema::string("Model reported to the guest (custom model definitions only).")
                .enum_values(cpu::REPORTED_MODELS)
                .format(cpu::NOT_IN_VM_CONFIG),
        )
        .optional("hidden", Schema::boolean("Hide that the guest runs under KVM.").default(false))
        .optional("hv-vendor-id", Schema::string("Hyper-V vendor id.").pattern("[a-zA-Z0-9]{1,12}"))
        .optional("flags", Schema::string("CPU flags, +FLAG to enable, -FLAG to disable, separated by ';'.").format(cpu::VM_FLAGS))
        .optional("guest-phys-bits", int("Physical address bits seen by the guest.").minimum(32).maximum(64))
        .optional("phys-bits", Schema::string("Physical address bits reported: 8-64 or host.").format(f::PHYS_BITS))
);

cached!(
    /// `memory`: RAM in MiB.
    memory_format => PropertyStringFormat::new().default_key(
        "current",
        int("RAM of the VM in MiB (the maximum when ballooning).").minimum(16).default(512),
        false,
    )
);

cached!(
    /// `agent`: QEMU guest agent settings.
    agent_format => PropertyStringFormat::new()
        .default_key("enabled", Schema::boolean("Talk to a guest agent in the VM.").default(false), false)
        .optional("freeze-fs", Schema::boolean("Freeze guest filesystems for backups and snapshots.").default(true))
        .alias("freeze-fs-on-backup", "freeze-fs")
        .alias("guest-fsfreeze", "freeze-fs")
        .optional("fstrim_cloned_disks", Schema::boolean("Trim after moving or cloning disks.").default(false))
        .optional("type", Schema::string("Agent channel.").enum_values(&["virtio", "isa"]).default("virtio"))
);

cached!(
    /// `boot`: `order=dev;dev` (or the deprecated `[acdn]` letters).
    boot_format => PropertyStringFormat::new()
        .default_key("legacy", Schema::string("Deprecated boot letters: floppy, disk, CD-ROM, network.").pattern("[acdn]{1,4}").default("cdn"), true)
        .optional("order", Schema::string("Devices to boot from, in order, separated by ';'.").format(f::BOOT_DEVICE_LIST))
);

cached!(
    /// `vga`: display adapter.
    vga_format => PropertyStringFormat::new()
        .default_key(
            "type",
            Schema::string("Display adapter type.")
                .enum_values(&[
                    "cirrus", "qxl", "qxl2", "qxl3", "qxl4", "none", "serial0", "serial1", "serial2",
                    "serial3", "std", "virtio", "virtio-gl", "vmware",
                ])
                .default("std"),
            true,
        )
        .optional("memory", int("Video memory in MiB.").minimum(4).maximum(512))
        .optional("clipboard", Schema::string("Clipboard to offer.").enum_values(&["vnc"]))
);

cached!(
    /// `machine`: QEMU machine type and options.
    machine_format => PropertyStringFormat::new()
        .default_key(
            "type",
            Schema::string("QEMU machine type, e.g. pc, q35, pc-i440fx-9.0, pc-q35-8.1+pve0.")
                .pattern(r"(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)")
                .max_length(40),
            true,
        )
        .optional("viommu", Schema::string("Emulated IOMMU.").enum_values(&["intel", "virtio"]))
        .optional("enable-s3", Schema::boolean("Offer ACPI suspend to RAM."))
        .optional("enable-s4", Schema::boolean("Offer ACPI suspend to disk."))
        .optional("aw-bits", Schema::number("Address width of the vIOMMU.").minimum(32.0).maximum(64.0))
);

cached!(
    /// `startup`: boot order position and delays.
    startup_format => PropertyStringFormat::new()
        .default_key("order", int("Position in the start order (lower starts first).").minimum(0), true)
        .optional("up", int("Seconds to wait after starting this guest.").minimum(0))
        .optional("down", int("Seconds to wait for this guest to shut down.").minimum(0))
);

cached!(
    /// `smbios1`: SMBIOS type 1 fields.
    smbios1_format => {
        let mut fmt = PropertyStringFormat::new()
            .optional("uuid", Schema::string("System UUID.").pattern("[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}"))
            .optional("base64", Schema::boolean("The other values are base64 encoded."));
        for key in ["version", "serial", "manufacturer", "product", "sku", "family"] {
            fmt = fmt.optional(key, Schema::string("SMBIOS type 1 field.").pattern(BASE64));
        }
        fmt
    }
);

cached!(
    /// `numaN`: one guest NUMA node.
    numa_format => PropertyStringFormat::new()
        .required("cpus", Schema::string("Guest CPUs of this node, e.g. 0-3;6.").pattern(NUMBER_SETS))
        .optional("hostnodes", Schema::string("Host NUMA nodes backing it.").pattern(NUMBER_SETS))
        .optional("memory", Schema::number("Memory of this node in MiB."))
        .optional("policy", Schema::string("Host memory policy.").enum_values(&["preferred", "bind", "interleave"]))
);

cached!(
    /// `rng0`: VirtIO random number generator.
    rng_format => PropertyStringFormat::new()
        .default_key("source", Schema::string("Host entropy source.").enum_values(&["/dev/urandom", "/dev/random", "/dev/hwrng"]), false)
        .optional("max_bytes", int("Entropy bytes per period; 0 means unlimited.").default(1024))
        .optional("period", int("Period in milliseconds.").default(1000))
);

cached!(
    /// `watchdog`: emulated watchdog.
    watchdog_format => PropertyStringFormat::new()
        .default_key("model", Schema::string("Watchdog device.").enum_values(&["i6300esb", "ib700"]).default("i6300esb"), true)
        .optional("action", Schema::string("What to do when the guest stops feeding it.").enum_values(&["reset", "shutdown", "poweroff", "pause", "debug", "none"]))
);

cached!(
    /// `audio0`: sound device.
    audio_format => PropertyStringFormat::new()
        .required("device", Schema::string("Sound device.").enum_values(&["ich9-intel-hda", "intel-hda", "AC97"]))
        .optional("driver", Schema::string("Audio backend.").enum_values(&["spice", "none"]).default("spice"))
);

cached!(
    /// `usbN`: USB pass-through or SPICE redirection.
    usb_format => PropertyStringFormat::new()
        .default_key(
            "host",
            Schema::string("Host device (vendor:product or bus-port) or 'spice'.")
                .pattern(r"(0x)?[0-9A-Fa-f]{4}:(0x)?[0-9A-Fa-f]{4}|\d+-\d+(\.\d+)*|[Ss][Pp][Ii][Cc][Ee]"),
            true,
        )
        .optional("mapping", Schema::string("Cluster-wide USB mapping id.").format(format::CONFIG_ID))
        .optional("usb3", Schema::boolean("Plug into a USB 3 controller.").default(false))
);

cached!(
    /// `spice_enhancements`.
    spice_enhancements_format => PropertyStringFormat::new()
        .optional("foldersharing", Schema::boolean("Share folders over SPICE.").default(false))
        .optional("videostreaming", Schema::string("Compress detected video streams.").enum_values(&["off", "all", "filter"]).default("off"))
);

cached!(
    /// `hostpciN`: PCI pass-through.
    hostpci_format => {
        let hex = |d: &'static str| Schema::string(d).pattern(HEX_ID);
        PropertyStringFormat::new()
            .default_key("host", Schema::string("Host PCI device(s), bus:dev.func, separated by ';'.").pattern(PCI_IDS), true)
            .optional("mapping", Schema::string("Cluster-wide PCI mapping id.").format(format::CONFIG_ID))
            .optional("rombar", Schema::boolean("Map the device ROM into guest memory.").default(true))
            .optional("romfile", Schema::string("ROM file name.").pattern("[^,;]+"))
            .optional("pcie", Schema::boolean("Attach to the PCIe bus (q35).").default(false))
            .optional("x-vga", Schema::boolean("Enable vfio-vga support.").default(false))
            .optional("legacy-igd", Schema::boolean("Pass an Intel GPU in legacy IGD mode.").default(false))
            .optional("mdev", Schema::string("Mediated device type.").pattern(r"[^/\.:]+"))
            .optional("vendor-id", hex("Vendor id shown to the guest."))
            .optional("device-id", hex("Device id shown to the guest."))
            .optional("sub-vendor-id", hex("Subsystem vendor id shown to the guest."))
            .optional("sub-device-id", hex("Subsystem device id shown to the guest."))
            .optional("driver", Schema::string("Host driver handling.").enum_values(&["vfio", "keep"]))
    }
);

cached!(
    /// `ipconfigN`: cloud-init addresses of the Nth NIC.
    ipconfig_format => PropertyStringFormat::new()
        .optional("ip", Schema::string("IPv4 address in CIDR form, or dhcp.").format(f::IPV4_CONFIG).default("dhcp"))
        .optional("gw", Schema::string("IPv4 gateway.").format(f::IPV4))
        .optional("ip6", Schema::string("IPv6 address in CIDR form, dhcp or auto.").format(f::IPV6_CONFIG).default("dhcp"))
        .optional("gw6", Schema::string("IPv6 gateway.").format(f::IPV6))
);

cached!(
    /// `cicustom`: custom cloud-init snippets.
    cicustom_format => {
        let mut fmt = PropertyStringFormat::new();
        for key in ["meta", "network", "user", "vendor"] {
            fmt = fmt.optional(key, Schema::string("Snippet volume replacing the generated file.").format(f::VOLUME_ID));
        }
        fmt
    }
);

cached!(
    /// `amd-sev`.
    sev_format => PropertyStringFormat::new()
        .default_key("type", Schema::string("SEV flavour.").enum_values(&["std", "es", "snp"]).max_length(3), false)
        .optional("no-debug", Schema::boolean("Forbid debugging the guest.").default(false))
        .optional("no-key-sharing", Schema::boolean("Forbid key sharing with other guests.").default(false))
        .optional("allow-smt", Schema::boolean("Allow SMT (SEV-SNP).").default(true))
        .optional("kernel-hashes", Schema::boolean("Add kernel hashes for measured boot.").default(false))
);

cached!(
    /// `intel-tdx`.
    tdx_format => PropertyStringFormat::new()
        .default_key("type", Schema::string("TDX flavour.").enum_values(&["tdx"]), false)
        .required("attestation", Schema::boolean("Enable attestation through the quote generation socket.").default(true))
        .optional("vsock-cid", int("vsock CID of the quote generation service.").minimum(2).default(2))
        .optional("vsock-port", int("vsock port of the quote generation service.").minimum(0).default(4050))
);

cached!(
    /// `ivshmem`: inter-VM shared memory.
    ivshmem_format => PropertyStringFormat::new()
        .required("size", int("Size in MiB.").minimum(1))
        .optional("name", Schema::string("File name (prefixed with pve-shm-).").pattern(r"[a-zA-Z0-9\-]+"))
);

cached!(
    /// `virtiofsN`: a shared host directory.
    virtiofs_format => PropertyStringFormat::new()
        .default_key("dirid", Schema::string("Directory mapping id, also the mount tag.").format(format::CONFIG_ID), false)
        .optional("cache", Schema::string("Cache policy.").enum_values(&["auto", "always", "metadata", "never"]).default("auto"))
        .optional("direct-io", Schema::boolean("Honour O_DIRECT from the guest.").default(false))
        .optional("expose-xattr", Schema::boolean("Support extended attributes.").default(false))
        .optional("expose-acl", Schema::boolean("Support POSIX ACLs.").default(false))
);

cached!(
    /// `meta`: creation facts written by the server.
    meta_format => PropertyStringFormat::new()
        .optional("ctime", int("Creation time, UNIX epoch.").minimum(0))
        .optional("creation-qemu", Schema::string("QEMU version at creation.").pattern(r"\d+(\.\d+)+"))
);
