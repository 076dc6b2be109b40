//! Reading an archive, verifying every block, the disk maps and the stream digest.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::compression::Compression;
use crate::error::{ArchiveError, Result};
use crate::hash_pool::{BlockJob, Failure, HashPool};
use crate::record::*;

/// Hashes everything read through it.
struct Hashing<R: Read> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Where extracted disk content goes: positional writes into a target of the disk's size.
pub trait DiskTarget {
    /// Writes `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()>;
    /// `len` bytes at `offset` read as zeros (the target may need to write them).
    fn zero(&mut self, offset: u64, len: u64) -> std::io::Result<()>;
    /// The disk's (or tree's) data ended: the target completes its work. Called for trees.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// A writer that the reader's worker threads may use at the same time, each writing the
    /// block it has just checked; `None` (the default) has every block written through
    /// [`write_at`](Self::write_at) by the reading thread.
    fn shared(&self) -> Option<Arc<dyn SharedWrite>> {
        None
    }
}

/// Positional writes from several threads at once (whole blocks, never overlapping).
pub trait SharedWrite: Send + Sync {
    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()>;
}

impl DiskTarget for std::fs::File {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, data, offset)
    }
    fn zero(&mut self, _offset: u64, _len: u64) -> std::io::Result<()> {
        // A new (sparse) file reads as zeros already.
        Ok(())
    }
}

/// Where a disk goes, or `None` to only verify it.
pub type TargetFor<'f, 't> =
    dyn FnMut(&DiskManifestHead) -> Result<Option<Box<dyn DiskTarget + 't>>> + 'f;

/// What [`ArchiveReader::extract`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub configs: BTreeMap<String, Vec<u8>>,
    pub manifest: Manifest,
}

/// Reads one archive from start to end.
pub struct ArchiveReader<'a> {
    input: Hashing<Box<dyn Read + 'a>>,
    /// Configs read ahead by [`ArchiveReader::configs`].
    configs: BTreeMap<String, Vec<u8>>,
    /// The record type read ahead after them.
    pending: Option<u8>,
    /// The format version (1 also hashes block payloads into the stream digest).
    version: u32,
}

struct DiskState {
    name: String,
    /// A tree's is known only at its end record.
    size: u64,
    next: u64,
    map: Sha256,
    tree: bool,
    /// A tree's end record was read.
    ended: bool,
}

impl<'a> ArchiveReader<'a> {
    /// Opens an archive (any compression) and checks its header.
    pub fn new<R: Read + 'a>(input: R) -> Result<Self> {
        let mut r = ArchiveReader {
            input: Hashing {
                inner: Compression::reader(input)?,
                hash: Sha256::new(),
            },
            configs: BTreeMap::new(),
            pending: None,
            version: VERSION,
        };
        if get_u8(&mut r.input)? != HEADER {
            return Err(ArchiveError::BadMagic);
        }
        let mut magic = [0u8; 8];
        read_exact(&mut r.input, &mut magic)?;
        if &magic != MAGIC {
            return Err(ArchiveError::BadMagic);
        }
        let version = get_u32(&mut r.input)?;
        if !(VERSION_1..=VERSION).contains(&version) {
            return Err(ArchiveError::Version(version));
        }
        r.version = version;
        let _ctime = get_u64(&mut r.input)?;
        Ok(r)
    }

    /// Checks the whole archive without writing anything.
    pub fn verify(self) -> Result<Manifest> {
        Ok(self.run(&mut |_| Ok(None))?.manifest)
    }

    /// Reads the archive, writing each disk into the target `target_for(disk name, size)`
    /// returns; a `None` target skips that disk (still verified).
    pub fn extract<'t>(self, target_for: &mut TargetFor<'_, 't>) -> Result<Extracted> {
        self.run(target_for)
    }

    /// The config files, which come first in an archive; reads only as far as the first
    /// record after them (a restore looks at the config before it allocates disks).
    pub fn configs(&mut self) -> Result<&BTreeMap<String, Vec<u8>>> {
        while self.pending.is_none() {
            let kind = get_u8(&mut self.input)?;
            if kind != CONFIG {
                self.pending = Some(kind);
                break;
            }
            let (name, data) = self.read_config()?;
            self.configs.insert(name, data);
        }
        Ok(&self.configs)
    }

    fn read_config(&mut self) -> Result<(String, Vec<u8>)> {
        let name = get_name(&mut self.input)?;
        let len = get_u32(&mut self.input)? as usize;
        let mut data = vec![0u8; len];
        read_exact(&mut self.input, &mut data)?;
        Ok((name, data))
    }

    fn run<'t>(mut self, target_for: &mut TargetFor<'_, 't>) -> Result<Extracted> {
        let mut configs = std::mem::take(&mut self.configs);
        let mut disks: Vec<DiskState> = Vec::new();
        let mut targets: Vec<Option<Box<dyn DiskTarget + 't>>> = Vec::new();
        // Blocks are checked on worker threads while the next ones are read and written.
        let mut hashing = HashPool::new(BlockHash::of_version(self.version));
        loop {
            let kind = match self.pending.take() {
                Some(kind) => kind,
                None => get_u8(&mut self.input)?,
            };
            match kind {
                CONFIG => {
                    let (name, data) = self.read_config()?;
                    configs.insert(name, data);
                }
                DISK => {
                    let index = get_u8(&mut self.input)? as usize;
                    let name = get_name(&mut self.input)?;
                    let size = get_u64(&mut self.input)?;
                    if index != disks.len() {
                        return Err(ArchiveError::Corrupt(format!("disk {name} out of order")));
                    }
                    targets.push(target_for(&DiskManifestHead {
                        name: name.clone(),
                        size,
                        tree: false,
                    })?);
                    disks.push(DiskState {
                        name,
                        size,
                        next: 0,
                        map: Sha256::new(),
                        tree: false,
                        ended: false,
                    });
                }
                TREE => {
                    let index = get_u8(&mut self.input)? as usize;
                    let name = get_name(&mut self.input)?;
                    let used = get_u64(&mut self.input)?;
                    if index != disks.len() {
                        return Err(ArchiveError::Corrupt(format!("tree {name} out of order")));
                    }
                    targets.push(target_for(&DiskManifestHead {
                        name: name.clone(),
                        size: used,
                        tree: true,
                    })?);
                    disks.push(DiskState {
                        name,
                        size: u64::MAX,
                        next: 0,
                        map: Sha256::new(),
                        tree: true,
                        ended: false,
                    });
                }
                TREE_END => {
                    let index = get_u8(&mut self.input)? as usize;
                    let len = get_u64(&mut self.input)?;
                    let disk = disks
                        .get_mut(index)
                        .filter(|d| d.tree && !d.ended)
                        .ok_or_else(|| ArchiveError::Corrupt(format!("stray end of {index}")))?;
                    if disk.next != len {
                        return Err(ArchiveError::Corrupt(format!(
                            "{}: {} bytes, its end says {len}",
                            disk.name, disk.next
                        )));
                    }
                    disk.size = len;
                    disk.ended = true;
                    if let Some(t) = targets[index].as_mut() {
                        t.finish()
                            .map_err(|e| ArchiveError::Disk(disk.name.clone(), e.to_string()))?;
                    }
                }
                BLOCK | ZERO => {
                    let index = get_u8(&mut self.input)? as usize;
                    let offset = get_u64(&mut self.input)?;
                    // Taken first: taking may report a mismatch of an earlier block.
                    let block = match kind {
                        BLOCK => Some(hashing.take().map_err(|m| mismatch(&disks, m))?),
                        _ => None,
                    };
                    let disk = disks.get_mut(index).ok_or_else(|| {
                        ArchiveError::Corrupt(format!("data of unknown disk {index}"))
                    })?;
                    if disk.ended || (disk.tree && kind == ZERO) {
                        return Err(ArchiveError::Corrupt(format!(
                            "{}: data outside its tree",
                            disk.name
                        )));
                    }
                    if offset != disk.next {
                        return Err(ArchiveError::Corrupt(format!(
                            "{}: expected offset {}, found {offset}",
                            disk.name, disk.next
                        )));
                    }
                    let len = if kind == BLOCK {
                        let len = get_u32(&mut self.input)?;
                        if len as usize > BLOCK_SIZE {
                            return Err(ArchiveError::Corrupt(format!("block of {len} bytes")));
                        }
                        let mut digest = [0u8; 32];
                        read_exact(&mut self.input, &mut digest)?;
                        let mut block = block.expect("taken for a data block");
                        let data = block.window(len as usize);
                        if self.version == VERSION_1 {
                            read_exact(&mut self.input, data)?;
                        } else {
                            read_exact(&mut self.input.inner, data)?;
                        }
                        let data = block.data(len as usize);
                        if disk.tree {
                            // Checked before the unpacker sees it: a damaged block never
                            // becomes a file.
                            if BlockHash::of_version(self.version).digest(data) != digest {
                                return Err(ArchiveError::BlockChecksum {
                                    disk: disk.name.clone(),
                                    offset,
                                });
                            }
                            if let Some(t) = targets[index].as_mut() {
                                t.write_at(offset, data).map_err(|e| {
                                    ArchiveError::Disk(disk.name.clone(), e.to_string())
                                })?;
                            }
                            hashing.give_back(block);
                            map_block(&mut disk.map, offset, len, &digest);
                            disk.next = offset + u64::from(len);
                            continue;
                        }
                        // Checked by a worker while the next blocks are read; a target that
                        // takes writes from several threads gets it from the worker once
                        // checked, any other is written now (a mismatch found later fails
                        // the extraction, whose caller discards the target).
                        let shared = targets[index].as_ref().and_then(|t| t.shared());
                        if let (None, Some(t)) = (&shared, targets[index].as_mut()) {
                            t.write_at(offset, data)?;
                        }
                        let job = BlockJob {
                            len: len as usize,
                            digest,
                            disk: index,
                            offset,
                            sink: shared,
                        };
                        hashing.submit(block, job);
                        map_block(&mut disk.map, offset, len, &digest);
                        u64::from(len)
                    } else {
                        let len = get_u64(&mut self.input)?;
                        map_zero(&mut disk.map, offset, len);
                        if let Some(t) = targets[index].as_mut() {
                            t.zero(offset, len)?;
                        }
                        len
                    };
                    disk.next = offset + len;
                    if disk.next > disk.size {
                        return Err(ArchiveError::Corrupt(format!(
                            "{}: data beyond its size",
                            disk.name
                        )));
                    }
                }
                MANIFEST => {
                    hashing.finish().map_err(|m| mismatch(&disks, m))?;
                    let len = get_u32(&mut self.input)? as usize;
                    let mut json = vec![0u8; len];
                    read_exact(&mut self.input, &mut json)?;
                    let expected = std::mem::take(&mut self.input.hash).finalize();
                    let mut digest = [0u8; 32];
                    read_exact(&mut self.input.inner, &mut digest)?;
                    if expected.as_slice() != digest {
                        return Err(ArchiveError::Corrupt("stream digest mismatch".into()));
                    }
                    let manifest: Manifest = serde_json::from_slice(&json)
                        .map_err(|e| ArchiveError::Corrupt(format!("manifest: {e}")))?;
                    check_disks(&manifest, disks)?;
                    return Ok(Extracted { configs, manifest });
                }
                other => {
                    return Err(ArchiveError::Corrupt(format!(
                        "unknown record type {other:#x}"
                    )))
                }
            }
        }
    }
}

/// The error of a block a worker found damaged, or could not write.
fn mismatch(disks: &[DiskState], failure: Failure) -> ArchiveError {
    let name = |index: usize| {
        disks
            .get(index)
            .map_or_else(|| index.to_string(), |d| d.name.clone())
    };
    match failure {
        Failure::Mismatch { disk, offset } => ArchiveError::BlockChecksum {
            disk: name(disk),
            offset,
        },
        Failure::Write {
            disk,
            offset,
            error,
        } => ArchiveError::Disk(name(disk), format!("write at {offset}: {error}")),
    }
}

/// The manifest must describe the disks the stream held, completely.
fn check_disks(manifest: &Manifest, disks: Vec<DiskState>) -> Result<()> {
    if manifest.disks.len() != disks.len() {
        return Err(ArchiveError::Corrupt("manifest and disks differ".into()));
    }
    for (m, d) in manifest.disks.iter().zip(disks) {
        if d.tree && !d.ended {
            return Err(ArchiveError::Corrupt(format!(
                "{}: tree without its end",
                d.name
            )));
        }
        if d.next != d.size {
            return Err(ArchiveError::Corrupt(format!(
                "{}: only {} of {} bytes",
                d.name, d.next, d.size
            )));
        }
        if m.name != d.name
            || m.size != d.size
            || m.tree != d.tree
            || m.sha256 != hex::encode(d.map.finalize())
        {
            return Err(ArchiveError::Corrupt(format!(
                "{}: does not match the manifest",
                m.name
            )));
        }
    }
    Ok(())
}

/// A disk as announced in the stream, before its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskManifestHead {
    pub name: String,
    /// A disk's size; for a tree, the bytes its files took on disk when it was archived
    /// (what a new volume for it needs).
    pub size: u64,
    /// A directory tree (its target must unpack a tar stream, e.g. a
    /// [`TreeExtractor`](crate::TreeExtractor)), not a disk image.
    pub tree: bool,
}
