//! The records of the stream and the manifest (see `FORMAT.md`).

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::error::{ArchiveError, Result};

pub const MAGIC: &[u8; 8] = b"OXVEARC\0";
/// Version 4: block digests are BLAKE3 (several times faster than SHA-256, so checking a
/// block no longer bounds a backup's or a restore's speed). Version 3 added directory trees
/// (`T` ... `E`) besides disks. Version 2 left block payloads out of the stream digest (each
/// is covered by its own digest, which the stream digest covers), so data is hashed once.
pub const VERSION: u32 = 4;
/// Version 3 (SHA-256 block digests) is still read, and written on request.
pub const VERSION_3: u32 = 3;
// Version 2 (no trees) is still read: it is version 3 without `T`/`E` records.
/// Version 1 (stream digest over every byte) is still read.
pub const VERSION_1: u32 = 1;
/// How a version digests block payloads (32 bytes either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockHash {
    /// Versions 1 to 3.
    Sha256,
    /// Version 4.
    Blake3,
}

impl BlockHash {
    pub fn of_version(version: u32) -> Self {
        if version >= VERSION {
            BlockHash::Blake3
        } else {
            BlockHash::Sha256
        }
    }

    /// The version an archive with these block digests has.
    pub fn version(self) -> u32 {
        match self {
            BlockHash::Sha256 => VERSION_3,
            BlockHash::Blake3 => VERSION,
        }
    }

    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            BlockHash::Sha256 => {
                use sha2::Digest;
                sha2::Sha256::digest(data).into()
            }
            BlockHash::Blake3 => blake3::hash(data).into(),
        }
    }
}

/// Largest data block; disks are read and checksummed in blocks of this size.
pub const BLOCK_SIZE: usize = 4 << 20;

pub const HEADER: u8 = b'H';
pub const CONFIG: u8 = b'C';
pub const DISK: u8 = b'D';
pub const BLOCK: u8 = b'B';
pub const ZERO: u8 = b'Z';
pub const TREE: u8 = b'T';
pub const TREE_END: u8 = b'E';
pub const MANIFEST: u8 = b'M';

/// What the manifest says about one disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskManifest {
    pub name: String,
    pub size: u64,
    /// Bytes stored as data blocks.
    pub data_bytes: u64,
    /// Bytes stored as zero regions.
    pub zero_bytes: u64,
    pub blocks: u64,
    /// SHA-256 of the disk's map: every block (offset, length, digest) and zero region
    /// (offset, length) in order; see [`map_block`] and [`map_zero`]. Hex.
    pub sha256: String,
    /// A directory tree (its `size` is the length of its tar stream), not a disk image.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tree: bool,
}

/// The last record: what the archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Manifest {
    /// `qemu` or `lxc`.
    pub guest_type: String,
    pub vmid: u32,
    /// UNIX time of the backup.
    pub ctime: u64,
    pub configs: Vec<String>,
    pub disks: Vec<DiskManifest>,
}

pub fn put_u8(w: &mut impl Write, v: u8) -> std::io::Result<()> {
    w.write_all(&[v])
}
pub fn put_u16(w: &mut impl Write, v: u16) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
pub fn put_u32(w: &mut impl Write, v: u32) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
pub fn put_u64(w: &mut impl Write, v: u64) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
pub fn put_name(w: &mut impl Write, name: &str) -> Result<()> {
    let len =
        u16::try_from(name.len()).map_err(|_| ArchiveError::Corrupt("name too long".into()))?;
    put_u16(w, len)?;
    Ok(w.write_all(name.as_bytes())?)
}

/// Reads exactly `buf.len()` bytes; an early end is an incomplete archive.
pub fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ArchiveError::Incomplete,
        _ => ArchiveError::Io(e),
    })
}
pub fn get_u8(r: &mut impl Read) -> Result<u8> {
    let mut b = [0u8; 1];
    read_exact(r, &mut b)?;
    Ok(b[0])
}
pub fn get_u16(r: &mut impl Read) -> Result<u16> {
    let mut b = [0u8; 2];
    read_exact(r, &mut b)?;
    Ok(u16::from_le_bytes(b))
}
pub fn get_u32(r: &mut impl Read) -> Result<u32> {
    let mut b = [0u8; 4];
    read_exact(r, &mut b)?;
    Ok(u32::from_le_bytes(b))
}
pub fn get_u64(r: &mut impl Read) -> Result<u64> {
    let mut b = [0u8; 8];
    read_exact(r, &mut b)?;
    Ok(u64::from_le_bytes(b))
}
pub fn get_name(r: &mut impl Read) -> Result<String> {
    let len = get_u16(r)? as usize;
    let mut b = vec![0u8; len];
    read_exact(r, &mut b)?;
    String::from_utf8(b).map_err(|_| ArchiveError::Corrupt("name is not UTF-8".into()))
}

/// Adds a data block to a disk map digest.
pub fn map_block(map: &mut sha2::Sha256, offset: u64, len: u32, digest: &[u8]) {
    use sha2::Digest;
    map.update([BLOCK]);
    map.update(offset.to_le_bytes());
    map.update(len.to_le_bytes());
    map.update(digest);
}

/// Adds a zero region to a disk map digest.
pub fn map_zero(map: &mut sha2::Sha256, offset: u64, len: u64) {
    use sha2::Digest;
    map.update([ZERO]);
    map.update(offset.to_le_bytes());
    map.update(len.to_le_bytes());
}
