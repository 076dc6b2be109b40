//! Command line tests: whole command lines for typical configs (one option per line, compared
//! as snapshots) and the adaptations and refusals.

use std::collections::BTreeSet;
use std::path::PathBuf;

use oxve_types::qemu::VmConfig;

use super::*;
use crate::error::QemuError;
use crate::host::{CpuVendor, HostFacts, OvmfFirmware};
use crate::paths::RunPaths;
use crate::resolver::MapResolver;

/// Options that take no value.
const FLAGS: &[&str] = &["-daemonize", "-S", "-nodefaults", "-no-reboot"];

/// One option (with its value) per line.
fn render(args: &[String]) -> String {
    let mut out = String::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        out.push_str(a);
        if a.starts_with('-') && !FLAGS.contains(&a.as_str()) {
            if let Some(v) = it.next() {
                out.push(' ');
                out.push_str(v);
            }
        }
        out.push('\n');
    }
    out
}

fn resolver() -> MapResolver {
    MapResolver::new()
        .with(
            "local:100/vm-100-disk-0.qcow2",
            "/var/lib/vz/images/100/vm-100-disk-0.qcow2",
            Some("qcow2"),
        )
        .with(
            "local:100/vm-100-disk-1.raw",
            "/var/lib/vz/images/100/vm-100-disk-1.raw",
            Some("raw"),
        )
        .with(
            "local-lvm:vm-100-disk-2",
            "/dev/pve/vm-100-disk-2",
            Some("raw"),
        )
        .with(
            "local-lvm:base-100-disk-0",
            "/dev/pve/base-100-disk-0",
            Some("raw"),
        )
        .with(
            "ceph:vm-100-disk-3",
            "rbd:rbd/vm-100-disk-3:conf=/etc/pve/ceph.conf",
            Some("raw"),
        )
        .with(
            "local:iso/debian.iso",
            "/var/lib/vz/template/iso/debian.iso",
            None,
        )
        .with(
            "local:100/vm-100-disk-9.raw",
            "/var/lib/vz/images/100/vm-100-disk-9.raw",
            Some("raw"),
        )
}

fn tcg_host() -> HostFacts {
    HostFacts {
        kvm: false,
        wire_taps: false,
        bridges: BTreeSet::new(),
        vhost_net: false,
        ovmf: None,
        cpu_vendor: CpuVendor::Intel,
    }
}

fn kvm_host() -> HostFacts {
    HostFacts {
        kvm: true,
        wire_taps: true,
        bridges: ["vmbr0".to_string()].into(),
        vhost_net: true,
        ovmf: Some(OvmfFirmware {
            code: PathBuf::from("/usr/share/OVMF/OVMF_CODE_4M.fd"),
            vars_template: PathBuf::from("/usr/share/OVMF/OVMF_VARS_4M.fd"),
        }),
        cpu_vendor: CpuVendor::Amd,
    }
}

fn build(config: &str, host: &HostFacts) -> Result<QemuCommand> {
    let conf = VmConfig::parse(config).unwrap_or_else(|e| panic!("{config}: {e}"));
    build_command_line(100, &conf, &resolver(), host, &RunPaths::new("/run/oxve"))
}

fn cmd(config: &str, host: &HostFacts) -> QemuCommand {
    build(config, host).unwrap_or_else(|e| panic!("{e}"))
}

fn lines(config: &str, host: &HostFacts) -> String {
    render(&cmd(config, host).args)
}

/// Only the lines whose option is in `options`.
fn only(text: &str, options: &[&str]) -> String {
    text.lines()
        .filter(|l| options.iter().any(|o| l.split(' ').next() == Some(o)))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn cpu_of(config: &str, host: &HostFacts) -> String {
    let args = cmd(config, host).args;
    let i = args.iter().position(|a| a == "-cpu").expect("-cpu");
    args[i + 1].clone()
}

fn config_error(config: &str, host: &HostFacts) -> (String, String) {
    match build(config, host) {
        Err(QemuError::Config { key, message, .. }) => (key, message),
        other => panic!("expected a config error for {config:?}, got {other:?}"),
    }
}

#[test]
fn pc_under_tcg() {
    let config = "name: web\nmemory: 1024\ncores: 2\nostype: l26\n\
        smbios1: uuid=5f3a3b1e-8a2c-4d6e-9f00-0123456789ab\n\
        virtio0: local:100/vm-100-disk-0.qcow2,size=8G\nide2: none,media=cdrom\n\
        boot: order=virtio0;ide2;net0\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n\
        serial0: socket\n";
    let c = cmd(config, &tcg_host());
    assert_eq!(
        render(&c.args),
        "\
-name web,debug-threads=on
-pidfile /run/oxve/qemu/100.pid
-daemonize
-S
-nodefaults
-qmp unix:/run/oxve/qemu/100.qmp,server=on,wait=off
-vnc unix:/run/oxve/qemu/100.vnc
-machine type=pc,accel=tcg
-global PIIX4_PM.disable_s3=1
-global PIIX4_PM.disable_s4=1
-uuid 5f3a3b1e-8a2c-4d6e-9f00-0123456789ab
-smbios type=1,uuid=5f3a3b1e-8a2c-4d6e-9f00-0123456789ab
-cpu kvm64,+lahf_lm,+sep
-smp 2,sockets=1,cores=2,maxcpus=2
-m 1024
-boot menu=on,strict=on,reboot-timeout=1000
-device VGA,id=vga
-device piix3-usb-uhci,id=uhci
-device usb-tablet,id=tablet,bus=uhci.0,port=1
-chardev socket,id=serial0,path=/run/oxve/qemu/100.serial0,server=on,wait=off
-device isa-serial,chardev=serial0
-device virtio-balloon-pci,id=balloon0,free-page-reporting=on
-drive if=none,id=drive-ide2,media=cdrom
-device ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2,bootindex=101
-drive file=/var/lib/vz/images/100/vm-100-disk-0.qcow2,if=none,id=drive-virtio0,format=qcow2,cache=none,aio=io_uring,detect-zeroes=on
-device virtio-blk-pci,drive=drive-virtio0,id=virtio0,bootindex=100
-netdev type=user,id=net0
-device virtio-net-pci,mac=BC:24:11:00:00:01,netdev=net0,id=net0,bootindex=102
"
    );
    assert_eq!(c.accel, Accel::Tcg);
    assert_eq!(
        c.notes,
        [
            "KVM is not usable on this host - running under TCG (software emulation)",
            "net0: network wiring is off - user-mode network instead of bridge vmbr0",
        ]
    );
    assert!(c.taps.is_empty() && c.links_down.is_empty() && c.efivars.is_none());
}

const Q35: &str = "\
name: db
machine: pc-q35-8.1+pve0
cpu: host
sockets: 2
cores: 2
vcpus: 3
memory: 4096
numa: 1
ostype: l26
agent: 1
balloon: 0
scsihw: virtio-scsi-single
scsi0: local-lvm:vm-100-disk-2,iothread=1,discard=on,ssd=1,size=32G
scsi1: local:iso/debian.iso,media=cdrom
sata0: local:100/vm-100-disk-1.raw,cache=writeback,serial=abc%20d
ide0: ceph:vm-100-disk-3,aio=native,detect_zeroes=0
boot: order=scsi0;scsi1;net0
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0,queues=4,mtu=9000,link_down=1
net1: e1000=BC:24:11:00:00:02,bridge=vmbr9
vga: serial0
serial0: socket
rng0: source=/dev/urandom
watchdog: model=i6300esb,action=reset
smbios1: uuid=5f3a3b1e-8a2c-4d6e-9f00-0123456789ab,base64=1,manufacturer=UHJveG1veA==
args: -fw_cfg 'name=opt/oxve/config,string=acpi=ignore'
";

#[test]
fn q35_under_kvm_with_everything() {
    let c = cmd(Q35, &kvm_host());
    let text = render(&c.args);
    assert!(text.starts_with("-name db,debug-threads=on\n"), "{text}");
    assert_eq!(
        text.split_once("-vnc unix:/run/oxve/qemu/100.vnc\n").unwrap().1,
        "\
-machine type=pc-q35-8.1,accel=kvm
-global ICH9-LPC.disable_s3=1
-global ICH9-LPC.disable_s4=1
-uuid 5f3a3b1e-8a2c-4d6e-9f00-0123456789ab
-smbios type=1,uuid=5f3a3b1e-8a2c-4d6e-9f00-0123456789ab,manufacturer=Proxmox
-cpu host,+kvm_pv_eoi,+kvm_pv_unhalt
-smp 3,sockets=2,cores=2,maxcpus=4
-m 4096
-object memory-backend-ram,id=ram-node0,size=2048M
-numa node,nodeid=0,cpus=0-1,memdev=ram-node0
-object memory-backend-ram,id=ram-node1,size=2048M
-numa node,nodeid=1,cpus=2-3,memdev=ram-node1
-boot menu=on,strict=on,reboot-timeout=1000
-chardev socket,id=serial0,path=/run/oxve/qemu/100.serial0,server=on,wait=off
-device isa-serial,chardev=serial0
-chardev socket,path=/run/oxve/qemu/100.qga,server=on,wait=off,id=qga0
-device virtio-serial,id=qga0
-device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0
-object rng-random,filename=/dev/urandom,id=rng0
-device virtio-rng-pci,rng=rng0,max-bytes=1024,period=1000
-device i6300esb,id=watchdog
-action watchdog=reset
-device ahci,id=ahci0,multifunction=on
-object iothread,id=iothread-virtioscsi0
-device virtio-scsi-pci,id=virtioscsi0,iothread=iothread-virtioscsi0
-device virtio-scsi-pci,id=virtioscsi1
-drive file=rbd:rbd/vm-100-disk-3:conf=/etc/pve/ceph.conf,if=none,id=drive-ide0,format=raw,cache=none,aio=native
-device ide-hd,bus=ide.0,unit=0,drive=drive-ide0,id=ide0
-drive file=/dev/pve/vm-100-disk-2,if=none,id=drive-scsi0,format=raw,cache=none,aio=io_uring,discard=on,detect-zeroes=unmap
-device scsi-hd,bus=virtioscsi0.0,channel=0,scsi-id=0,lun=0,drive=drive-scsi0,id=scsi0,bootindex=100,rotation_rate=1
-drive file=/var/lib/vz/template/iso/debian.iso,if=none,id=drive-scsi1,media=cdrom,format=raw
-device scsi-cd,bus=virtioscsi1.0,channel=0,scsi-id=0,lun=1,drive=drive-scsi1,id=scsi1,bootindex=101
-drive file=/var/lib/vz/images/100/vm-100-disk-1.raw,if=none,id=drive-sata0,format=raw,cache=writeback,aio=io_uring,detect-zeroes=on
-device ide-hd,bus=ahci0.0,drive=drive-sata0,id=sata0,serial=abc d
-netdev type=tap,id=net0,ifname=tap100i0,script=no,downscript=no,queues=4,vhost=on
-device virtio-net-pci,mac=BC:24:11:00:00:01,netdev=net0,id=net0,mq=on,vectors=10,host_mtu=9000,bootindex=102
-netdev type=user,id=net1
-device e1000,mac=BC:24:11:00:00:02,netdev=net1,id=net1
-fw_cfg name=opt/oxve/config,string=acpi=ignore
"
    );
    assert_eq!(c.accel, Accel::Kvm);
    assert_eq!(
        c.notes,
        [
            "machine type pc-q35-8.1+pve0 runs as pc-q35-8.1 (upstream QEMU)",
            "net1: bridge vmbr9 does not exist on this host - user-mode network",
        ]
    );
    assert_eq!(c.links_down, ["net0"]);
    assert_eq!(c.taps.len(), 1);
    let tap = &c.taps[0];
    assert_eq!(
        (tap.index, tap.ifname.as_str(), tap.bridge.as_str()),
        (0, "tap100i0", "vmbr0")
    );
    assert_eq!(tap.nic.mtu, Some(9000));
}

#[test]
fn disks_on_every_bus() {
    let config = "\
template: 1
ide0: local:100/vm-100-disk-1.raw
ide1: local:100/vm-100-disk-9.raw,model=Disk%201,ssd=1
ide2: local:iso/debian.iso,media=cdrom
ide3: none,media=cdrom
scsi0: local:100/vm-100-disk-0.qcow2,mbps=100,mbps_max=200,iops_rd=500,wwn=0x5000c500a1b2c3d4
scsi1: local-lvm:base-100-disk-0,vendor=ACME,product=Disk
scsi2: local-lvm:vm-100-disk-2,snapshot=1,werror=stop,rerror=report
scsi7: local-lvm:vm-100-disk-2,format=qcow2
virtio0: local-lvm:vm-100-disk-2,iothread=1,discard=on
";
    let c = cmd(config, &tcg_host());
    assert_eq!(
        only(&render(&c.args), &["-drive", "-device", "-object"]),
        "\
-device VGA,id=vga
-device piix3-usb-uhci,id=uhci
-device usb-tablet,id=tablet,bus=uhci.0,port=1
-device virtio-balloon-pci,id=balloon0,free-page-reporting=on
-device lsi,id=scsihw0
-device lsi,id=scsihw1
-drive file=/var/lib/vz/images/100/vm-100-disk-1.raw,if=none,id=drive-ide0,format=raw,cache=none,aio=io_uring,detect-zeroes=on,readonly=on
-device ide-hd,bus=ide.0,unit=0,drive=drive-ide0,id=ide0
-drive file=/var/lib/vz/images/100/vm-100-disk-9.raw,if=none,id=drive-ide1,format=raw,cache=none,aio=io_uring,detect-zeroes=on,readonly=on
-device ide-hd,bus=ide.0,unit=1,drive=drive-ide1,id=ide1,rotation_rate=1,model=Disk 1
-drive file=/var/lib/vz/template/iso/debian.iso,if=none,id=drive-ide2,media=cdrom,format=raw
-device ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2,bootindex=100
-drive if=none,id=drive-ide3,media=cdrom
-device ide-cd,bus=ide.1,unit=1,drive=drive-ide3,id=ide3,bootindex=101
-drive file=/var/lib/vz/images/100/vm-100-disk-0.qcow2,if=none,id=drive-scsi0,format=qcow2,cache=none,aio=io_uring,detect-zeroes=on,readonly=on,throttling.bps-total=104857600,throttling.bps-total-max=209715200,throttling.iops-read=500
-device scsi-hd,bus=scsihw0.0,scsi-id=0,drive=drive-scsi0,id=scsi0,wwn=0x5000c500a1b2c3d4
-drive file=/dev/pve/base-100-disk-0,if=none,id=drive-scsi1,format=raw,cache=none,aio=io_uring,detect-zeroes=on,readonly=on
-device scsi-hd,bus=scsihw0.0,scsi-id=1,drive=drive-scsi1,id=scsi1,vendor=ACME,product=Disk
-drive file=/dev/pve/vm-100-disk-2,if=none,id=drive-scsi2,format=raw,cache=none,aio=io_uring,detect-zeroes=on,readonly=on,snapshot=on,werror=stop,rerror=report
-device scsi-hd,bus=scsihw0.0,scsi-id=2,drive=drive-scsi2,id=scsi2
-drive file=/dev/pve/vm-100-disk-2,if=none,id=drive-scsi7,format=qcow2,cache=none,aio=io_uring,detect-zeroes=on,readonly=on
-device scsi-hd,bus=scsihw1.0,scsi-id=0,drive=drive-scsi7,id=scsi7
-drive file=/dev/pve/vm-100-disk-2,if=none,id=drive-virtio0,format=raw,cache=none,aio=io_uring,discard=on,detect-zeroes=unmap,readonly=on
-object iothread,id=iothread-virtio0
-device virtio-blk-pci,iothread=iothread-virtio0,drive=drive-virtio0,id=virtio0
"
    );
    assert!(c
        .notes
        .contains(&"template: disks are opened read-only".to_string()));
}

#[test]
fn read_only_only_where_needed() {
    // Not a template: only the base volume and `ro=1` are read-only.
    let text = lines(
        "scsi0: local-lvm:vm-100-disk-2\nscsi1: local-lvm:base-100-disk-0\n\
         virtio0: local:100/vm-100-disk-1.raw,ro=1\n",
        &tcg_host(),
    );
    let drives = only(&text, &["-drive"]);
    let ro: Vec<bool> = drives.lines().map(|l| l.contains("readonly=on")).collect();
    assert_eq!(ro, [false, true, true], "{drives}");
}

#[test]
fn scsi_controllers() {
    let text = lines(
        "scsihw: virtio-scsi-pci\nscsi0: local-lvm:vm-100-disk-2,iothread=1\n\
         scsi9: local:iso/debian.iso,media=cdrom\n",
        &tcg_host(),
    );
    assert_eq!(
        only(&text, &["-device"]).lines().filter(|l| l.contains("scsi")).collect::<Vec<_>>(),
        [
            "-device virtio-scsi-pci,id=scsihw0",
            "-device scsi-hd,bus=scsihw0.0,channel=0,scsi-id=0,lun=0,drive=drive-scsi0,id=scsi0",
            "-device scsi-cd,bus=scsihw0.0,channel=0,scsi-id=0,lun=9,drive=drive-scsi9,id=scsi9,bootindex=100",
        ]
    );
    let c = cmd(
        "scsihw: virtio-scsi-pci\nscsi0: local-lvm:vm-100-disk-2,iothread=1\n",
        &tcg_host(),
    );
    assert!(
        c.notes.iter().any(|n| n.contains("iothread is only used")),
        "{:?}",
        c.notes
    );
    for (hw, device) in [
        ("megasas", "megasas"),
        ("pvscsi", "pvscsi"),
        ("lsi53c810", "lsi53c810"),
    ] {
        let text = lines(
            &format!("scsihw: {hw}\nscsi3: local-lvm:vm-100-disk-2\n"),
            &tcg_host(),
        );
        assert!(
            text.contains(&format!("-device {device},id=scsihw0\n")),
            "{text}"
        );
    }
    let text = lines("scsi3: local-lvm:vm-100-disk-2\n", &tcg_host());
    assert!(
        text.contains("-device scsi-hd,bus=scsihw0.0,scsi-id=3,"),
        "{text}"
    );
}

#[test]
fn ide_on_q35_uses_the_ahci_ports() {
    let text = lines(
        "machine: q35\nide0: local-lvm:vm-100-disk-2\nide2: none,media=cdrom\n",
        &tcg_host(),
    );
    assert!(
        text.contains("-device ide-hd,bus=ide.0,unit=0,drive=drive-ide0,id=ide0\n"),
        "{text}"
    );
    assert!(
        text.contains("-device ide-cd,bus=ide.2,unit=0,drive=drive-ide2,id=ide2"),
        "{text}"
    );
    assert!(text.contains("-machine type=q35,accel=tcg\n"), "{text}");
}

#[test]
fn cpu_models_and_flags() {
    let (tcg, kvm) = (tcg_host(), kvm_host());
    assert_eq!(cpu_of("", &tcg), "kvm64,+lahf_lm,+sep");
    assert_eq!(
        cpu_of("", &kvm),
        "kvm64,+lahf_lm,+sep,+kvm_pv_eoi,+kvm_pv_unhalt,enforce"
    );
    assert_eq!(cpu_of("cpu: host\n", &tcg), "max");
    assert!(cmd("cpu: host\n", &tcg)
        .notes
        .iter()
        .any(|n| n.contains("'host' needs KVM")));
    assert_eq!(
        cpu_of("cpu: host\n", &kvm),
        "host,+kvm_pv_eoi,+kvm_pv_unhalt"
    );
    assert_eq!(
        cpu_of("cpu: x86-64-v2-AES\n", &tcg),
        "qemu64,+aes,+popcnt,+pni,+sse4.1,+sse4.2,+ssse3,+lahf_lm,+sep"
    );
    assert_eq!(
        cpu_of("cpu: kvm64,flags=+pcid;-spec-ctrl;+nested-virt\n", &kvm),
        "kvm64,+lahf_lm,+sep,+kvm_pv_eoi,+kvm_pv_unhalt,+pcid,-spec-ctrl,+svm,enforce"
    );
    let mut intel = tcg.clone();
    intel.cpu_vendor = CpuVendor::Intel;
    assert_eq!(cpu_of("cpu: max,flags=+nested-virt\n", &intel), "max,+vmx");
    assert_eq!(
        cpu_of("cpu: Skylake-Server,flags=-pcid\n", &tcg),
        "Skylake-Server,-pcid"
    );
    assert_eq!(
        cpu_of("cpu: host,hidden=1,phys-bits=host,guest-phys-bits=40,hv-vendor-id=oxve\n", &kvm),
        "host,+kvm_pv_eoi,+kvm_pv_unhalt,kvm=off,hv_vendor_id=oxve,host-phys-bits=true,guest-phys-bits=40"
    );
    assert_eq!(
        cpu_of("ostype: win11\ncpu: x86-64-v2-AES\n", &kvm),
        "qemu64,+aes,+popcnt,+pni,+sse4.1,+sse4.2,+ssse3,+lahf_lm,+sep,+kvm_pv_eoi,\
         +kvm_pv_unhalt,hv_ipi,hv_relaxed,hv_reset,hv_runtime,hv_spinlocks=0x1fff,hv_stimer,\
         hv_synic,hv_time,hv_vapic,hv_vpindex,enforce"
    );
    let (key, message) = config_error("cpu: custom-mine\n", &kvm);
    assert_eq!(key, "cpu");
    assert!(message.contains("custom-mine"), "{message}");
}

#[test]
fn kvm_0_forces_tcg() {
    let c = cmd("kvm: 0\ncpu: host\n", &kvm_host());
    assert_eq!(c.accel, Accel::Tcg);
    let text = render(&c.args);
    assert!(text.contains("-machine type=pc,accel=tcg\n"), "{text}");
    assert!(text.contains("-cpu max\n"), "{text}");
    assert_eq!(
        c.notes[0],
        "kvm: 0 - running under TCG (software emulation)"
    );
}

#[test]
fn windows_clock_and_machine_options() {
    let text = lines(
        "ostype: win10\nmachine: type=q35,enable-s3=1\nacpi: 0\nreboot: 0\ntablet: 0\n\
         vga: qxl,memory=32\nvmgenid: 2c4b8c1e-4b0f-4c3e-8c3d-3f7e2b1a0c9d\n",
        &tcg_host(),
    );
    for line in [
        "-machine type=q35,accel=tcg,acpi=off\n",
        "-global ICH9-LPC.disable_s4=1\n",
        "-device vmgenid,guid=2c4b8c1e-4b0f-4c3e-8c3d-3f7e2b1a0c9d\n",
        "-rtc base=localtime,driftfix=slew\n",
        "-no-reboot\n",
        "-device qxl-vga,id=vga,vgamem_mb=32\n",
    ] {
        assert!(text.contains(line), "no {line} in\n{text}");
    }
    assert!(
        !text.contains("disable_s3") && !text.contains("usb-tablet"),
        "{text}"
    );
    let text = lines(
        "startdate: 2024-01-02T03:04:05\nlocaltime: 0\n",
        &tcg_host(),
    );
    assert!(text.contains("-rtc base=2024-01-02T03:04:05\n"), "{text}");
    let text = lines("vga: none\n", &tcg_host());
    assert!(!text.contains("VGA") && !text.contains("tablet"), "{text}");
    let text = lines("", &tcg_host());
    assert!(!text.contains("-rtc"), "{text}");
    assert!(
        text.contains("-boot menu=on,reboot-timeout=1000\n"),
        "no strict without boot devices: {text}"
    );
}

#[test]
fn ovmf_firmware() {
    let (key, message) = config_error("bios: ovmf\n", &tcg_host());
    assert_eq!(key, "bios");
    assert!(
        message.contains("OVMF") && message.contains("not installed"),
        "{message}"
    );

    let c = cmd(
        "bios: ovmf\nefidisk0: local:100/vm-100-disk-1.raw,efitype=4m\n",
        &kvm_host(),
    );
    assert_eq!(
        only(&render(&c.args), &["-drive"]),
        "\
-drive if=pflash,unit=0,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
-drive if=pflash,unit=1,id=drive-efidisk0,format=raw,file=/var/lib/vz/images/100/vm-100-disk-1.raw
"
    );
    assert!(c.efivars.is_none());

    let c = cmd("bios: ovmf\n", &kvm_host());
    assert!(render(&c.args).contains(
        "-drive if=pflash,unit=1,id=drive-efidisk0,format=raw,file=/run/oxve/qemu/100.efivars.fd\n"
    ));
    assert_eq!(
        c.efivars,
        Some(EfiVarsCopy {
            template: PathBuf::from("/usr/share/OVMF/OVMF_VARS_4M.fd"),
            dest: PathBuf::from("/run/oxve/qemu/100.efivars.fd"),
        })
    );
    assert!(c.notes.iter().any(|n| n.contains("no efidisk0")));
}

#[test]
fn nics() {
    let kvm = kvm_host();
    // Without `boot`, the legacy order `cdn` boots from the NICs.
    let c = cmd(
        "net0: e1000,bridge=vmbr0\nnet1: rtl8139=BC:24:11:00:00:03\n\
         net2: vmxnet3=BC:24:11:00:00:04,bridge=vmbr0,tag=10,firewall=1,rate=5\n",
        &kvm,
    );
    let text = only(&render(&c.args), &["-netdev", "-device"]);
    let nets: Vec<&str> = text.lines().filter(|l| l.contains("net")).collect();
    assert_eq!(
        nets,
        [
            "-netdev type=tap,id=net0,ifname=tap100i0,script=no,downscript=no",
            "-device e1000,mac=BC:24:11:77:43:56,netdev=net0,id=net0,bootindex=100",
            "-netdev type=user,id=net1",
            "-device rtl8139,mac=BC:24:11:00:00:03,netdev=net1,id=net1,bootindex=101",
            "-netdev type=tap,id=net2,ifname=tap100i2,script=no,downscript=no",
            "-device vmxnet3,mac=BC:24:11:00:00:04,netdev=net2,id=net2,bootindex=102",
        ]
    );
    assert!(
        c.notes
            .iter()
            .any(|n| n.starts_with("net0: no MAC address")),
        "{:?}",
        c.notes
    );
    assert_eq!(
        c.taps.iter().map(|t| t.ifname.as_str()).collect::<Vec<_>>(),
        ["tap100i0", "tap100i2"]
    );
    assert_eq!(c.taps[1].nic.tag, Some(10));
    // the generated MAC is stable
    assert_eq!(
        cmd("net0: e1000,bridge=vmbr0\n", &kvm).args,
        cmd("net0: e1000,bridge=vmbr0\n", &kvm).args
    );
}

#[test]
fn refusals_name_the_key() {
    let tcg = tcg_host();
    for (config, key, words) in [
        ("hostpci0: 0000:01:00.0\n", "hostpci0", "PCI passthrough"),
        (
            "tpmstate0: local-lvm:vm-100-disk-2,size=4M\n",
            "tpmstate0",
            "TPM",
        ),
        ("machine: virt\n", "machine", "not an x86_64 machine"),
        (
            "numa: 1\nsockets: 2\nmemory: 1025\n",
            "numa",
            "split evenly",
        ),
        (
            "numa: 1\nmemory: 1024\nnuma0: cpus=0,memory=512\n",
            "numa",
            "must add up",
        ),
        ("args: -foo 'bar\n", "args", "unterminated"),
        ("scsi0: none\n", "scsi0", "only a CD-ROM"),
        ("vga: serial1\n", "vga", "serial1 is not configured"),
        ("scsi0: local-lvm:8\n", "scsi0", "allocation request"),
    ] {
        let (k, message) = config_error(config, &tcg);
        assert_eq!(k, key, "{config}");
        assert!(message.contains(words), "{config}: {message}");
    }
    let conf = VmConfig::parse("virtio0: local:100/vm-100-disk-77.raw\n").unwrap();
    let err =
        build_command_line(100, &conf, &resolver(), &tcg, &RunPaths::new("/run/oxve")).unwrap_err();
    assert!(
        matches!(&err, QemuError::Resolve { key, volid, .. } if key == "virtio0" && volid == "local:100/vm-100-disk-77.raw"),
        "{err}"
    );
    let err = build_command_line(
        100,
        &conf,
        &resolver(),
        &tcg,
        &RunPaths::new("/".repeat(100)),
    )
    .unwrap_err();
    assert!(matches!(err, QemuError::SocketPathTooLong { .. }), "{err}");
}

#[test]
fn host_side_settings_are_noted() {
    // cpulimit/cpuunits go to the VM's cgroup, not the command line; affinity is not applied.
    let c = cmd(
        "cpulimit: 2\ncpuunits: 200\naffinity: 0-1\nballoon: 0\n",
        &tcg_host(),
    );
    assert!(c
        .notes
        .contains(&"affinity is not applied by oxve yet".to_string()));
    assert!(!c.notes.iter().any(|n| n.contains("cpulimit")));
    let line = render(&c.args);
    assert!(!line.contains("balloon") && !line.contains("cpulimit"));
}

#[test]
fn shell_form() {
    let c = cmd(
        "name: a\nargs: -fw_cfg 'name=opt/x,string=a b'\n",
        &tcg_host(),
    );
    let shell = c.to_shell("qemu-system-x86_64");
    assert!(
        shell.starts_with("qemu-system-x86_64 -name a,debug-threads=on -pidfile "),
        "{shell}"
    );
    assert!(
        shell.ends_with(" -fw_cfg 'name=opt/x,string=a b'"),
        "{shell}"
    );
    assert_eq!(split_shell_words(&shell).unwrap()[1..], c.args[..]);
}
