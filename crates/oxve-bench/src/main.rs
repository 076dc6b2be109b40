//! `oxve-bench-seed DATA_DIR COUNT [NODE]`: write COUNT realistic VM configs into the config
//! store of DATA_DIR (before the daemon starts), for benchmarks of list endpoints.

use std::path::PathBuf;

use oxve_store::{ConfigStore, GuestKind, GuestRef, SqliteStore};

fn vm_config(vmid: u32) -> String {
    format!(
        "boot: order=scsi0;ide2;net0\ncores: 2\ncpu: x86-64-v2-AES\nide2: none,media=cdrom\nmemory: 2048\nname: bench-vm-{vmid}\nnet0: virtio=BC:24:11:{:02X}:{:02X}:{:02X},bridge=vmbr0,firewall=1\nnuma: 0\nostype: l26\nscsi0: local:{vmid}/vm-{vmid}-disk-0.qcow2,iothread=1,size=32G\nscsihw: virtio-scsi-single\nsmbios1: uuid=00000000-0000-4000-8000-{vmid:012}\nsockets: 1\ntags: bench;web\nvmgenid: 00000000-0000-4000-8000-{vmid:012}\n",
        (vmid >> 16) & 0xff,
        (vmid >> 8) & 0xff,
        vmid & 0xff
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        anyhow::bail!("usage: oxve-bench-seed DATA_DIR COUNT [NODE]");
    }
    let data_dir = PathBuf::from(&args[1]);
    let count: u32 = args[2].parse()?;
    let node = args.get(3).cloned().unwrap_or_else(|| "benchnode".into());
    let store = SqliteStore::open(&data_dir.join("config.db"))?;
    for i in 0..count {
        let vmid = 100 + i;
        let guest = GuestRef {
            node: node.clone(),
            kind: GuestKind::Qemu,
            vmid,
        };
        store.create_guest(&guest, &vm_config(vmid)).await?;
    }
    println!("seeded {count} guests into {}", data_dir.display());
    Ok(())
}
