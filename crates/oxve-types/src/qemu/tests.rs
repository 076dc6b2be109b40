//! Whole-config tests: a realistic config with snapshots, pending update semantics, hot-plug
//! decisions and robustness against arbitrary input.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::*;

/// A VM as Proxmox VE writes it: description, UEFI disks, a CD-ROM, two NICs, pending
/// changes and two snapshots (the second one with saved RAM).
const SAMPLE: &str = "\
#Web frontend%3A nginx + app
#owner%3A ops
agent: 1,fstrim_cloned_disks=1
balloon: 1024
bios: ovmf
boot: order=scsi0;ide2;net0
cores: 2
cpu: x86-64-v2-AES,flags=+aes
efidisk0: local-lvm:vm-100-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M
ide2: local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom,size=631M
machine: pc-q35-8.1+pve0
memory: 2048
meta: creation-qemu=8.1.5,ctime=1714000000
name: web01
net0: virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1
net1: e1000=BC:24:11:2C:34:AF,bridge=vmbr1,tag=20,link_down=1
numa: 0
onboot: 1
ostype: l26
parent: after-upgrade
protection: 0
scsi0: local-lvm:vm-100-disk-0,iothread=1,discard=on,size=32G,ssd=1
scsi1: local-lvm:vm-100-disk-2,backup=0,size=100G
scsihw: virtio-scsi-single
serial0: socket
smbios1: uuid=6f1c1c2e-3e0b-4b1e-9d55-0e6c6a3e7f10
sockets: 1
startup: order=2,up=30
tags: prod;web
tpmstate0: local-lvm:vm-100-disk-3,size=4M,version=v2.0
unused0: local-lvm:vm-100-disk-4
vga: serial0
vmgenid: 2c1f5e0a-8d3b-4a8e-9f7c-1b2d3e4f5a6b

[PENDING]
cores: 4
delete: !unused0,serial0
memory: 4096

[after-upgrade]
boot: order=scsi0;ide2;net0
cores: 2
ide2: none,media=cdrom
machine: pc-q35-8.1+pve0
memory: 2048
name: web01
net0: virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1
ostype: l26
parent: base
runningcpu: kvm64,enforce,+kvm_pv_eoi,+kvm_pv_unhalt,+lahf_lm,+sep
runningmachine: pc-q35-8.1+pve0
scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G
scsihw: virtio-scsi-single
snaptime: 1714000200
vmstate: local-lvm:vm-100-state-after-upgrade

[base]
#clean install
boot: order=scsi0;ide2;net0
cores: 2
ide2: none,media=cdrom
memory: 2048
name: web01
net0: virtio=BC:24:11:2C:34:AE,bridge=vmbr0,firewall=1
ostype: l26
scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G
scsihw: virtio-scsi-single
snaptime: 1714000100
";

#[test]
fn full_sample_validates_and_reads() {
    let c = VmConfig::parse(SAMPLE).unwrap();
    assert_eq!(c.name(), Some("web01"));
    assert_eq!(
        c.description(),
        Some("Web frontend: nginx + app\nowner: ops")
    );
    assert_eq!(c.memory_mib(), 2048);
    assert_eq!(c.balloon(), Some(1024));
    assert_eq!((c.sockets(), c.cores(), c.vcpus()), (1, 2, 2));
    assert_eq!(c.cpu().cputype, "x86-64-v2-AES");
    assert_eq!(c.ostype(), "l26");
    assert_eq!(c.machine().as_deref(), Some("pc-q35-8.1+pve0"));
    assert_eq!(c.bios(), "ovmf");
    assert!(c.onboot() && !c.protection() && !c.template() && c.agent_enabled());
    assert_eq!(c.tags(), ["prod", "web"]);
    assert_eq!(c.lock(), None);
    assert_eq!(c.parent(), Some("after-upgrade"));
    assert_eq!(
        c.startup(),
        Startup {
            order: Some(2),
            up: Some(30),
            down: None
        }
    );
    assert_eq!(c.boot_devices(), ["scsi0", "ide2", "net0"]);

    let keys: Vec<String> = c.drives().iter().map(Drive::key).collect();
    assert_eq!(keys, ["ide2", "scsi0", "scsi1", "efidisk0", "tpmstate0"]);
    let scsi0 = c.drive("scsi0").unwrap();
    assert_eq!(scsi0.size_bytes(), Some(32 << 30));
    assert_eq!(scsi0.iothread, Some(true));
    assert!(c.drive("ide2").unwrap().is_cdrom());
    assert_eq!(
        c.unused_volumes(),
        [("unused0".to_string(), "local-lvm:vm-100-disk-4".to_string())]
    );

    let nets = c.nets();
    assert_eq!(nets.len(), 2);
    assert_eq!(nets[0].1.macaddr.as_deref(), Some("BC:24:11:2C:34:AE"));
    assert_eq!(nets[1].1.tag, Some(20));
    assert_eq!(nets[1].1.link_down, Some(true));
    assert_eq!(c.serials(), [(0, "socket".to_string())]);

    let base = c.snapshot("base").unwrap();
    assert_eq!(base.description(), Some("clean install"));
    assert_eq!(base.snaptime(), Some(1_714_000_100));
    let snap = c.snapshot("after-upgrade").unwrap();
    assert_eq!(snap.parent(), Some("base"));
    assert_eq!(snap.vmstate(), Some("local-lvm:vm-100-state-after-upgrade"));

    assert_eq!(
        c.pending_deletes(),
        [
            ("serial0".to_string(), false),
            ("unused0".to_string(), true)
        ]
        .into_iter()
        .collect()
    );
    // writing back gives the same text
    assert_eq!(c.to_text().unwrap(), SAMPLE);
}

#[test]
fn api_views() {
    let c = VmConfig::parse(SAMPLE).unwrap();
    let cur = c.to_api_json(true);
    assert_eq!(cur["cores"], json!(2));
    assert_eq!(cur["onboot"], json!(1));
    assert_eq!(cur["memory"], json!("2048"));
    assert_eq!(cur["name"], json!("web01"));
    assert!(cur.contains_key("serial0"));
    let merged = c.to_api_json(false);
    assert_eq!(merged["cores"], json!(4));
    assert_eq!(merged["memory"], json!("4096"));
    assert!(!merged.contains_key("serial0") && !merged.contains_key("unused0"));

    let list = c.pending_list();
    let item = |k: &str| list.iter().find(|i| i.key == k).unwrap().clone();
    assert_eq!(item("cores").value, Some(json!(2)));
    assert_eq!(item("cores").pending, Some(json!(4)));
    assert_eq!(item("unused0").delete, Some(2));
    assert_eq!(item("serial0").delete, Some(1));
    assert_eq!(item("name").pending, None);
    assert!(list.iter().all(|i| i.key != "delete"));
    let json = serde_json::to_value(item("serial0")).unwrap();
    assert_eq!(
        json,
        json!({"key": "serial0", "value": "socket", "delete": 1})
    );
}

#[test]
fn every_key_round_trips_through_text() {
    let text = "\
acpi: 1
affinity: 0-3,8
agent: enabled=1,freeze-fs=0,type=isa
allow-ksm: 0
amd-sev: type=snp,allow-smt=0
arch: x86_64
args: -no-reboot
audio0: device=ich9-intel-hda,driver=none
autostart: 0
balloon: 0
bios: seabios
boot: order=virtio0;sata1;net5
bootdisk: virtio0
cicustom: user=local:snippets/user.yaml
cipassword: $5$abc$def
citype: nocloud
ciupgrade: 0
ciuser: admin
cores: 8
cpu: host,hidden=1,hv-vendor-id=proxmox,phys-bits=host
cpulimit: 1.5
cpuunits: 2048
freeze: 0
hookscript: local:snippets/hook.pl
hostpci0: 0000:01:00.0;0000:01:00.1,pcie=1,x-vga=1
hostpci1: mapping=gpu,rombar=0
hotplug: network,disk,cpu
hugepages: 1024
ide0: local:100/vm-100-disk-9.qcow2,model=QEMU%20HD,wwn=0x5000c500a1b2c3d4
intel-tdx: type=tdx,attestation=1,vsock-port=4051
ipconfig0: gw=10.0.0.1,ip=10.0.0.5/24
ipconfig1: ip6=auto
ivshmem: size=64,name=shm1
keephugepages: 1
keyboard: de-ch
kvm: 0
localtime: 1
lock: backup
machine: type=q35,viommu=virtio
memory: 16384
migrate_downtime: 0.5
migrate_speed: 100
name: db-01.example.com
nameserver: 10.0.0.53 fd00::53
net5: vmxnet3=BC:24:11:00:00:05,bridge=vmbr0,mtu=1500,queues=2,trunks=10;20-30
numa: 1
numa0: cpus=0-3,hostnodes=0,memory=8192,policy=bind
numa1: cpus=4-7,hostnodes=1,memory=8192,policy=preferred
ostype: win11
parallel0: /dev/parport0
protection: 1
reboot: 0
rng0: source=/dev/urandom,max_bytes=2048,period=500
sata1: none,media=cdrom
scsihw: megasas
searchdomain: example.com
shares: 0
smbios1: base64=1,manufacturer=UHJveG1veA==,uuid=6f1c1c2e-3e0b-4b1e-9d55-0e6c6a3e7f10
sockets: 2
spice_enhancements: foldersharing=1,videostreaming=all
sshkeys: ssh-ed25519%20AAAA%20me
startdate: 2024-01-01T12:00:00
startup: order=1,down=120
tablet: 0
tags: db
tdf: 0
template: 0
usb0: host=1234:5678,usb3=1
usb1: spice
vcpus: 12
vga: qxl,memory=64
virtio0: local-lvm:vm-100-disk-0,aio=native,cache=none,detect_zeroes=0,iothread=1,ro=0
virtiofs0: dirid=share1,cache=always,expose-acl=1
vmgenid: 0
vmstatestorage: local-lvm
watchdog: model=i6300esb,action=reset
";
    let c = VmConfig::parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.to_text().unwrap(), text);
    assert_eq!(c.boot_devices(), ["virtio0", "sata1", "net5"]);
    assert!(c.hotplug().cpu);
    // every value re-checks against the API schema too (internal keys aside)
    for (key, value) in c.values() {
        check_value(key, value, true).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

fn config(text: &str) -> VmConfig {
    VmConfig::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn update(v: Value) -> ConfigUpdate {
    ConfigUpdate::from_params(v.as_object().unwrap()).unwrap()
}

const STOPPED: &str = "\
boot: order=scsi0;net0
cores: 1
ide2: none,media=cdrom
memory: 1024
name: vm
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0
scsi0: local:100/vm-100-disk-0.qcow2,size=8G
scsi1: local:100/vm-100-disk-1.qcow2,size=4G
serial0: socket
";

#[test]
fn stopped_vm_applies_changes_and_deletions() {
    let mut c = config(STOPPED);
    let out = c
        .stage_update(
            100,
            &update(json!({"cores": 2, "memory": "2048", "delete": "serial0,scsi1,net0"})),
        )
        .unwrap();
    assert!(out.modified.contains("cores") && out.modified.contains("boot"));
    // staged: pending holds the changes, the boot order lost net0
    assert_eq!(c.pending.values["cores"], "2");
    assert_eq!(c.pending.values["boot"], "order=scsi0");
    assert_eq!(
        c.pending_deletes().keys().collect::<Vec<_>>(),
        ["net0", "scsi1", "serial0"]
    );
    let (volumes, errors) = c.apply_pending(100);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!c.has_pending());
    assert_eq!(c.cores(), 2);
    assert_eq!(c.memory_mib(), 2048);
    assert!(c.get("serial0").is_none() && c.get("net0").is_none() && c.get("scsi1").is_none());
    assert_eq!(c.boot_devices(), ["scsi0"]);
    // the detached disk is kept as unused, not freed
    assert_eq!(
        volumes.unused_added,
        [(
            "unused0".to_string(),
            "local:100/vm-100-disk-1.qcow2".to_string()
        )]
    );
    assert!(volumes.to_free.is_empty());
    assert_eq!(c.get("unused0"), Some("local:100/vm-100-disk-1.qcow2"));

    // deleting the unused entry frees the volume at once
    let out = c
        .stage_update(100, &update(json!({"delete": "unused0"})))
        .unwrap();
    assert_eq!(out.volumes.to_free, ["local:100/vm-100-disk-1.qcow2"]);
    assert!(c.get("unused0").is_none());
    // reparses
    config(&c.to_text().unwrap());
}

#[test]
fn forced_delete_frees_and_replaced_disk_becomes_unused() {
    let mut c = config(STOPPED);
    let mut u = update(json!({"delete": "scsi1", "force": 1,
                              "scsi0": "local:100/vm-100-disk-5.qcow2,size=16G",
                              "ide2": "local:iso/x.iso,media=cdrom"}));
    u.fill_missing_macs(|| unreachable!());
    c.stage_update(100, &u).unwrap();
    assert!(c.pending_deletes()["scsi1"]);
    // a new CD-ROM joins an explicit boot order
    assert_eq!(c.pending.values["boot"], "order=scsi0;net0;ide2");
    let (volumes, errors) = c.apply_pending(100);
    assert!(errors.is_empty());
    assert_eq!(volumes.to_free, ["local:100/vm-100-disk-1.qcow2"]);
    assert_eq!(
        volumes.unused_added,
        [(
            "unused0".to_string(),
            "local:100/vm-100-disk-0.qcow2".to_string()
        )]
    );
    assert_eq!(c.drive("scsi0").unwrap().size_bytes(), Some(16 << 30));
    // the CD-ROM image was not owned: nothing to keep
    assert_eq!(c.unused_volumes().len(), 1);
}

#[test]
fn revert_and_cleanup() {
    let mut c = config(STOPPED);
    c.stage_update(
        100,
        &update(json!({"cores": 4, "name": "other", "sockets": 2})),
    )
    .unwrap();
    // setting the current value again leaves nothing pending for that key
    c.stage_update(100, &update(json!({"name": "vm"}))).unwrap();
    assert!(!c.pending.values.contains_key("name"));
    // revert a changed key: back to current
    c.stage_update(100, &update(json!({"revert": "cores"})))
        .unwrap();
    assert!(!c.pending.values.contains_key("cores"));
    assert_eq!(c.pending.values["sockets"], "2");
    // revert a key that only exists pending: dropped
    c.stage_update(100, &update(json!({"revert": "sockets"})))
        .unwrap();
    assert!(!c.has_pending(), "{:?}", c.pending);
    // revert a pending deletion
    c.stage_update(100, &update(json!({"delete": "serial0"})))
        .unwrap();
    assert!(c.pending_deletes().contains_key("serial0"));
    c.stage_update(100, &update(json!({"revert": "serial0"})))
        .unwrap();
    assert!(!c.has_pending());
    // deleting what is not there only warns
    let out = c
        .stage_update(100, &update(json!({"delete": "vga"})))
        .unwrap();
    assert_eq!(out.warnings.len(), 1);
    assert!(!c.has_pending());
}

#[test]
fn update_rules() {
    let mut c = config(STOPPED);
    let e = c
        .stage_update(100, &update(json!({"boot": "order=scsi0;virtio3"})))
        .unwrap_err();
    assert!(e
        .to_string()
        .contains("invalid bootorder: device 'virtio3' does not exist"));
    let e = c
        .stage_update(100, &update(json!({"balloon": 4096})))
        .unwrap_err();
    assert!(e.to_string().contains("balloon value too large"));
    let e = c
        .stage_update(100, &update(json!({"scsi2": "local:4"})))
        .unwrap_err();
    assert!(matches!(e, UpdateError::Param(ref m) if m.contains_key("scsi2")));
    c.set("protection", "1").unwrap();
    let e = c
        .stage_update(100, &update(json!({"delete": "scsi1"})))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "can't remove drive 'scsi1' - protection mode enabled"
    );
    c.set("lock", "backup").unwrap();
    assert_eq!(
        c.check_lock().unwrap_err().to_string(),
        "VM is locked (backup)"
    );
    // tags are deduplicated; the legacy bootdisk goes when an order is set
    let mut c = config("bootdisk: scsi0\nscsi0: local:100/a.raw\n");
    c.stage_update(
        100,
        &update(json!({"tags": "b;a;B", "boot": "order=scsi0"})),
    )
    .unwrap();
    assert_eq!(c.pending.values["tags"], "b;a");
    assert!(c.pending_deletes().contains_key("bootdisk"));
}

const RUNNING: &str = "\
agent: 1
cores: 2
ide2: local:iso/a.iso,media=cdrom
memory: 2048
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0
net1: virtio=BC:24:11:00:00:02,bridge=vmbr0,tag=10
ostype: l26
sata0: local:100/vm-100-disk-2.raw
scsi0: local:100/vm-100-disk-0.qcow2,size=8G
scsi1: local:100/vm-100-disk-1.qcow2,size=8G
";

fn step(plan: &HotplugPlan, key: &str) -> Option<LiveAction> {
    plan.steps
        .iter()
        .find(|s| s.key == key)
        .map(|s| s.action.clone())
}

#[test]
fn running_vm_hotplug_plan() {
    let mut c = config(RUNNING);
    let u = update(json!({
        "cores": 4,                                              // not hot-pluggable
        "name": "renamed",                                       // fast plug
        "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr1,rate=5",  // re-plug tap
        "net1": "virtio=BC:24:11:00:00:02,bridge=vmbr0,tag=10,link_down=1",
        "net2": "e1000=BC:24:11:00:00:03,bridge=vmbr0",          // new NIC
        "scsi1": "local:100/vm-100-disk-1.qcow2,size=8G,mbps=50",// throttle
        "scsi2": "local:100/vm-100-disk-3.qcow2,size=1G",        // new disk
        "sata1": "local:100/vm-100-disk-4.raw",                  // sata: no hotplug
        "ide2": "none,media=cdrom",                              // eject
        "agent": "1,fstrim_cloned_disks=1",
        "delete": "scsi0",
    }));
    let out = c.stage_update(100, &u).unwrap();
    let plan = c.hotplug_plan(HotplugContext::default(), Some(&out.modified));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(step(&plan, "cores"), None);
    assert_eq!(step(&plan, "name"), Some(LiveAction::None));
    assert_eq!(
        step(&plan, "net0"),
        Some(LiveAction::NetReconfigure {
            tap: true,
            rate: false,
            link: true
        })
    );
    assert_eq!(
        step(&plan, "net1"),
        Some(LiveAction::NetReconfigure {
            tap: false,
            rate: false,
            link: true
        })
    );
    assert_eq!(step(&plan, "net2"), Some(LiveAction::DevicePlug));
    assert_eq!(
        step(&plan, "scsi1"),
        Some(LiveAction::DiskUpdate { throttle: true })
    );
    assert_eq!(step(&plan, "scsi2"), Some(LiveAction::DevicePlug));
    assert_eq!(step(&plan, "sata1"), None);
    assert_eq!(step(&plan, "ide2"), Some(LiveAction::CdromChange));
    assert_eq!(step(&plan, "agent"), Some(LiveAction::None));
    assert_eq!(step(&plan, "scsi0"), Some(LiveAction::DeviceUnplug));

    // the engine performs each step and commits it
    let mut unused = Vec::new();
    for s in &plan.steps {
        unused.extend(c.commit_hotplug(100, s).unwrap().unused_added);
    }
    assert_eq!(c.get("name"), Some("renamed"));
    assert_eq!(c.get("ide2"), Some("none,media=cdrom"));
    assert!(c.get("scsi0").is_none());
    assert_eq!(
        unused,
        [(
            "unused0".to_string(),
            "local:100/vm-100-disk-0.qcow2".to_string()
        )]
    );
    // what could not be hot-plugged stays pending for the next start
    let left: BTreeSet<&str> = c.pending.values.keys().map(String::as_str).collect();
    assert_eq!(left, BTreeSet::from(["cores", "sata1"]));
    assert!(c.pending_deletes().is_empty());
    config(&c.to_text().unwrap());
}

#[test]
fn hotplug_respects_the_hotplug_option() {
    let mut c = config(&format!("hotplug: 0\n{RUNNING}"));
    let u = update(json!({
        "net2": "e1000=BC:24:11:00:00:03,bridge=vmbr0",
        "net0": "e1000=BC:24:11:00:00:01,bridge=vmbr0",
        "net1": "virtio=BC:24:11:00:00:02,bridge=vmbr0,tag=11",
        "scsi2": "local:100/vm-100-disk-3.qcow2",
        "scsi1": "local:100/vm-100-disk-1.qcow2,size=8G,cache=writeback",
        "memory": "4096", "vcpus": 1, "cpuunits": 200,
        "ide2": "local:100/vm-100-disk-9.raw",
    }));
    c.stage_update(100, &u).unwrap();
    let plan = c.hotplug_plan(HotplugContext::default(), None);
    assert_eq!(step(&plan, "net2"), None);
    assert_eq!(
        step(&plan, "net0"),
        None,
        "model change needs network hotplug"
    );
    assert!(matches!(
        step(&plan, "net1"),
        Some(LiveAction::NetReconfigure { tap: true, .. })
    ));
    assert_eq!(step(&plan, "scsi2"), None);
    assert_eq!(step(&plan, "scsi1"), None, "cache cannot change live");
    assert_eq!(step(&plan, "memory"), None);
    assert_eq!(step(&plan, "vcpus"), None);
    assert_eq!(step(&plan, "cpuunits"), Some(LiveAction::CpuUnits));
    assert!(plan.errors["ide2"].contains("unable to change media type"));

    let mut c = config(&format!(
        "hotplug: network,disk,cpu,memory\nnuma: 1\n{RUNNING}"
    ));
    c.stage_update(100, &update(json!({"memory": "4096", "vcpus": 2})))
        .unwrap();
    let plan = c.hotplug_plan(HotplugContext::default(), None);
    assert_eq!(step(&plan, "memory"), Some(LiveAction::MemoryHotplug));
    assert_eq!(step(&plan, "vcpus"), Some(LiveAction::CpuHotplug));
}

#[test]
fn usb_and_tablet_need_usb_hotplug() {
    let mut c = config(RUNNING);
    c.stage_update(100, &update(json!({"usb0": "spice", "tablet": 0})))
        .unwrap();
    let plan = c.hotplug_plan(HotplugContext::default(), None);
    assert_eq!(step(&plan, "usb0"), None);
    assert_eq!(step(&plan, "tablet"), Some(LiveAction::DeviceUnplug));
    let plan = c.hotplug_plan(HotplugContext { usb_hotplug: true }, None);
    assert_eq!(step(&plan, "usb0"), Some(LiveAction::DevicePlug));
}

/// A stand-in for the fuzz target: random config-ish text never panics the parser, and
/// whatever parses writes back to text that parses to the same config.
#[test]
fn random_configs_never_panic() {
    let pieces = [
        "scsi0: ",
        "net0: ",
        "virtio=",
        "BC:24:11:00:00:01",
        ",bridge=vmbr0",
        "local:100/a.raw",
        ",size=",
        "32G",
        "\n",
        "[PENDING]\n",
        "[snap]\n",
        "delete: ",
        "cores: ",
        "1",
        "memory: ",
        "cpu: ",
        "host",
        ",flags=+aes",
        "boot: order=",
        "scsi0;net0",
        "#c\n",
        "ide2: none",
        ",media=cdrom",
        "tags: a;b",
        "unused0: ",
        "x",
        "=",
        ",",
        ":",
        "onboot: yes",
        "vmstate: local:v",
        "snaptime: 5",
        "parent: snap",
        "\r",
        " ",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..5000 {
        let mut text = String::new();
        let len = seed % 24;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        if let Ok(c) = VmConfig::parse(&text) {
            let _ = (c.drives(), c.nets(), c.boot_devices(), c.pending_list());
            let _ = c.to_api_json(false);
            if let Ok(written) = c.to_text() {
                assert_eq!(VmConfig::parse(&written).as_ref(), Ok(&c), "{text:?}");
            }
        }
    }
}
