//! The client against a real `qemu-nbd`: write into a new qcow2, read it back, map it.

use std::process::Command;

use oxve_archive::{DiskSource, DiskTarget, Extent};
use oxve_nbd::{NbdClient, NbdSource, NbdTarget, QemuNbd};

#[test]
fn write_read_and_map_a_qcow2_through_qemu_nbd() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("d.qcow2");
    let socket = dir.path().join("nbd.sock");
    let ok = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&image)
        .arg("64M")
        .status()
        .unwrap();
    assert!(ok.success());
    let pattern: Vec<u8> = (0..(3 << 20)).map(|i| (i % 251) as u8).collect();
    {
        let server = QemuNbd::serve(&image, "qcow2", &socket, true).unwrap();
        let mut target = NbdTarget::open(server.socket(), oxve_nbd::process_export()).unwrap();
        target.write_at(8 << 20, &pattern).unwrap();
        drop(target);
        server.stop().unwrap();
    }
    // The data is in the image, as qemu-img sees it.
    let check = Command::new("qemu-img")
        .args(["map", "--output=json"])
        .arg(&image)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&check.stdout).contains("\"data\": true"));

    let server = QemuNbd::serve(&image, "qcow2", &socket, false).unwrap();
    let mut source = NbdSource::open(server.socket(), oxve_nbd::process_export()).unwrap();
    assert_eq!(source.size(), 64 << 20);
    let extents = source.extents().unwrap();
    assert_eq!(
        extents,
        vec![
            Extent {
                offset: 0,
                len: 8 << 20,
                data: false
            },
            Extent {
                offset: 8 << 20,
                len: 3 << 20,
                data: true
            },
            Extent {
                offset: 11 << 20,
                len: 53 << 20,
                data: false
            },
        ]
    );
    let mut back = vec![0u8; pattern.len()];
    source.read_at(8 << 20, &mut back).unwrap();
    assert!(back == pattern, "read back what was written");

    // Read-only exports refuse writes.
    let mut client = NbdClient::connect(server.socket(), oxve_nbd::process_export()).unwrap();
    assert!(client.read_only());
    assert!(client.write_at(0, &[1, 2, 3]).is_err());
}
