//! Writing an archive: header, configs, disks, manifest.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::compression::{Compression, FinishWrite};
use crate::error::{ArchiveError, Result};
use crate::record::*;
use crate::source::DiskSource;
use crate::tree::{used_bytes, write_tree, TreeCounts};

/// Hashes everything written through it (the stream digest of the manifest record).
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes one archive; configs first, then disks, then [`finish`](Self::finish).
pub struct ArchiveWriter<'a> {
    out: Hashing<Box<dyn FinishWrite + 'a>>,
    manifest: Manifest,
    block_hash: BlockHash,
}

impl<'a> ArchiveWriter<'a> {
    /// Starts an archive of guest `guest_type`/`vmid` taken at `ctime`.
    pub fn new<W: Write + 'a>(
        out: W,
        compression: Compression,
        guest_type: &str,
        vmid: u32,
        ctime: u64,
    ) -> Result<Self> {
        Self::with_block_hash(out, compression, guest_type, vmid, ctime, BlockHash::Blake3)
    }

    /// [`new`](Self::new) with the given block digests: `Sha256` writes a version 3 archive,
    /// which oxve releases before version 4 read.
    pub fn with_block_hash<W: Write + 'a>(
        out: W,
        compression: Compression,
        guest_type: &str,
        vmid: u32,
        ctime: u64,
        block_hash: BlockHash,
    ) -> Result<Self> {
        let mut w = ArchiveWriter {
            block_hash,
            out: Hashing {
                inner: compression.writer(out)?,
                hash: Sha256::new(),
            },
            manifest: Manifest {
                guest_type: guest_type.into(),
                vmid,
                ctime,
                ..Default::default()
            },
        };
        put_u8(&mut w.out, HEADER)?;
        w.out.write_all(MAGIC)?;
        put_u32(&mut w.out, block_hash.version())?;
        put_u64(&mut w.out, ctime)?;
        Ok(w)
    }

    /// Adds a config file (`qemu-server.conf`, `pct.conf`, firewall rules, ...).
    pub fn add_config(&mut self, name: &str, data: &[u8]) -> Result<()> {
        put_u8(&mut self.out, CONFIG)?;
        put_name(&mut self.out, name)?;
        let len = u32::try_from(data.len())
            .map_err(|_| ArchiveError::Corrupt("config too large".into()))?;
        put_u32(&mut self.out, len)?;
        self.out.write_all(data)?;
        self.manifest.configs.push(name.to_string());
        Ok(())
    }

    /// Adds disk `name`, reading only its data extents; zero blocks within data become zero
    /// regions too. `progress` gets (bytes done, size).
    pub fn add_disk(
        &mut self,
        name: &str,
        source: &mut dyn DiskSource,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<DiskManifest> {
        let index = u8::try_from(self.manifest.disks.len())
            .map_err(|_| ArchiveError::Corrupt("too many disks".into()))?;
        let size = source.size();
        put_u8(&mut self.out, DISK)?;
        put_u8(&mut self.out, index)?;
        put_name(&mut self.out, name)?;
        put_u64(&mut self.out, size)?;
        let mut disk = DiskManifest {
            name: name.into(),
            size,
            data_bytes: 0,
            zero_bytes: 0,
            blocks: 0,
            sha256: String::new(),
            tree: false,
        };
        let mut whole = Sha256::new();
        let mut buf = vec![0u8; BLOCK_SIZE];
        let zeros = vec![0u8; BLOCK_SIZE];
        // The disk digest covers its map of blocks (with their digests) and zero regions, so
        // zeros are never hashed byte by byte. Consecutive zero ranges are merged into one record.
        let mut pending_zero: Option<(u64, u64)> = None;
        let extents = source
            .extents()
            .map_err(|e| ArchiveError::Disk(name.into(), e.to_string()))?;
        for ext in extents {
            let mut off = ext.offset;
            let end = ext.offset + ext.len;
            while off < end {
                let len = (end - off).min(BLOCK_SIZE as u64) as usize;
                let is_zero = if ext.data {
                    source.read_at(off, &mut buf[..len]).map_err(|e| {
                        ArchiveError::Disk(name.into(), format!("read at {off}: {e}"))
                    })?;
                    buf[..len] == zeros[..len]
                } else {
                    true
                };
                if is_zero {
                    let len = if ext.data { len as u64 } else { end - off };
                    pending_zero = match pending_zero {
                        Some((start, l)) if start + l == off => Some((start, l + len)),
                        Some(z) => {
                            self.zero(index, z, &mut whole)?;
                            Some((off, len))
                        }
                        None => Some((off, len)),
                    };
                    disk.zero_bytes += len;
                    off += len;
                } else {
                    if let Some(z) = pending_zero.take() {
                        self.zero(index, z, &mut whole)?;
                    }
                    self.block(index, off, &buf[..len], &mut whole)?;
                    disk.data_bytes += len as u64;
                    disk.blocks += 1;
                    off += len as u64;
                }
                progress(off, size);
            }
        }
        if let Some(z) = pending_zero.take() {
            self.zero(index, z, &mut whole)?;
        }
        if disk.data_bytes + disk.zero_bytes != size {
            return Err(ArchiveError::Disk(
                name.into(),
                format!(
                    "extents cover {} of {size} bytes",
                    disk.data_bytes + disk.zero_bytes
                ),
            ));
        }
        disk.sha256 = hex::encode(whole.finalize());
        self.manifest.disks.push(disk.clone());
        Ok(disk)
    }

    /// Adds the directory tree at `root` (a container's directory volume) as a tar stream
    /// (see `tree.rs` for what it keeps) in data blocks, without what `skip` says (paths
    /// relative to `root`); `progress` gets the bytes of file data read so far.
    pub fn add_tree(
        &mut self,
        name: &str,
        root: &Path,
        skip: &dyn Fn(&Path) -> bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(DiskManifest, TreeCounts)> {
        let index = u8::try_from(self.manifest.disks.len())
            .map_err(|_| ArchiveError::Corrupt("too many disks".into()))?;
        let disk_err = |e: std::io::Error| ArchiveError::Disk(name.into(), e.to_string());
        let used = used_bytes(root).map_err(disk_err)?;
        put_u8(&mut self.out, TREE)?;
        put_u8(&mut self.out, index)?;
        put_name(&mut self.out, name)?;
        put_u64(&mut self.out, used)?;
        let sink = TreeSink {
            writer: self,
            index,
            buf: Vec::with_capacity(BLOCK_SIZE),
            offset: 0,
            blocks: 0,
            map: Sha256::new(),
        };
        let (mut sink, counts) = write_tree(root, sink, skip, progress).map_err(|e| {
            // An archive write error stays one; anything else is the tree's.
            match e.get_ref().and_then(|i| i.downcast_ref::<SinkError>()) {
                Some(_) => ArchiveError::Io(std::io::Error::new(e.kind(), e.to_string())),
                None => disk_err(e),
            }
        })?;
        sink.emit()?;
        let (offset, blocks, map) = (sink.offset, sink.blocks, sink.map.finalize());
        put_u8(&mut self.out, TREE_END)?;
        put_u8(&mut self.out, index)?;
        put_u64(&mut self.out, offset)?;
        let disk = DiskManifest {
            name: name.into(),
            size: offset,
            data_bytes: offset,
            zero_bytes: 0,
            blocks,
            sha256: hex::encode(map),
            tree: true,
        };
        self.manifest.disks.push(disk.clone());
        Ok((disk, counts))
    }

    /// Writes one data block of disk `index` and adds it to the disk's map digest.
    fn block(&mut self, index: u8, offset: u64, data: &[u8], map: &mut Sha256) -> Result<()> {
        let len = data.len() as u32;
        let digest = self.block_hash.digest(data);
        map_block(map, offset, len, &digest);
        put_u8(&mut self.out, BLOCK)?;
        put_u8(&mut self.out, index)?;
        put_u64(&mut self.out, offset)?;
        put_u32(&mut self.out, len)?;
        self.out.write_all(&digest)?;
        // The payload is covered by its digest: not hashed into the stream again.
        self.out.inner.write_all(data)?;
        Ok(())
    }

    fn zero(&mut self, index: u8, (offset, len): (u64, u64), map: &mut Sha256) -> Result<()> {
        map_zero(map, offset, len);
        put_u8(&mut self.out, ZERO)?;
        put_u8(&mut self.out, index)?;
        put_u64(&mut self.out, offset)?;
        put_u64(&mut self.out, len)?;
        Ok(())
    }

    /// Writes the manifest and ends the stream; the archive is complete only after this.
    pub fn finish(mut self) -> Result<Manifest> {
        let json =
            serde_json::to_vec(&self.manifest).map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        put_u8(&mut self.out, MANIFEST)?;
        put_u32(&mut self.out, json.len() as u32)?;
        self.out.write_all(&json)?;
        let digest = std::mem::take(&mut self.out.hash).finalize();
        self.out.inner.write_all(&digest)?;
        self.out.inner.finish_stream()?;
        Ok(self.manifest)
    }
}

/// The tar stream of a tree, cut into data blocks of [`BLOCK_SIZE`] as it is written.
struct TreeSink<'w, 'a> {
    writer: &'w mut ArchiveWriter<'a>,
    index: u8,
    buf: Vec<u8>,
    /// Where `buf` starts in the stream.
    offset: u64,
    blocks: u64,
    map: Sha256,
}

/// Marks an error of the archive (not of the tree) passing through the tar builder.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SinkError(String);

impl TreeSink<'_, '_> {
    fn emit(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.writer
            .block(self.index, self.offset, &self.buf, &mut self.map)?;
        self.offset += self.buf.len() as u64;
        self.blocks += 1;
        self.buf.clear();
        Ok(())
    }
}

impl Write for TreeSink<'_, '_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(BLOCK_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK_SIZE {
            self.emit()
                .map_err(|e| std::io::Error::other(SinkError(e.to_string())))?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
