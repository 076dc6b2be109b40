//! Read the virtual size and backing file of a qcow2 image straight from its header, so
//! listing a storage does not start one `qemu-img` per image.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const QCOW_MAGIC: u32 = 0x5146_49fb;
const MAX_BACKING_NAME: u32 = 1023;

/// Size and backing file from a qcow2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qcow2Header {
    /// Guest-visible size in bytes.
    pub virtual_size: u64,
    /// The backing file name recorded in the image.
    pub backing_file: Option<String>,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Read the header of a qcow2 file; `None` when the file is not qcow2 (or unreadable).
pub fn read_qcow2_header(path: &Path) -> Option<Qcow2Header> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; 32];
    file.read_exact(&mut head).ok()?;
    if be32(&head[0..4]) != QCOW_MAGIC {
        return None;
    }
    let backing_offset = be64(&head[8..16]);
    let backing_size = be32(&head[16..20]);
    let virtual_size = be64(&head[24..32]);
    let backing_file =
        if backing_offset != 0 && backing_size > 0 && backing_size <= MAX_BACKING_NAME {
            file.seek(SeekFrom::Start(backing_offset)).ok()?;
            let mut name = vec![0u8; backing_size as usize];
            file.read_exact(&mut name).ok()?;
            Some(String::from_utf8_lossy(&name).into_owned())
        } else {
            None
        };
    Some(Qcow2Header {
        virtual_size,
        backing_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_handmade_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.qcow2");
        let mut h = vec![0u8; 128];
        h[0..4].copy_from_slice(&QCOW_MAGIC.to_be_bytes());
        h[8..16].copy_from_slice(&100u64.to_be_bytes());
        h[16..20].copy_from_slice(&5u32.to_be_bytes());
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        h[100..105].copy_from_slice(b"../b1");
        std::fs::write(&p, &h).unwrap();
        let hdr = read_qcow2_header(&p).unwrap();
        assert_eq!(hdr.virtual_size, 1 << 30);
        assert_eq!(hdr.backing_file.as_deref(), Some("../b1"));
        std::fs::write(&p, b"not a qcow2 image at all, just text....").unwrap();
        assert_eq!(read_qcow2_header(&p), None);
    }
}
