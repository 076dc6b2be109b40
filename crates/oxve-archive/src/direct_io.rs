//! Files written around the page cache: a restore's raw volumes and a backup's archive.
//!
//! Both are written once and not read back soon, so copying them through the page cache
//! only costs CPU (the copy was most of a buffered restore's time) and leaves gigabytes of
//! dirty pages for the final fsync, pushing the guests' cache out. Aligned blocks therefore
//! go straight to the device (`O_DIRECT`); anything unaligned, or a file system that refuses
//! direct I/O (tmpfs), takes the buffered path. Both paths write the same file, so a caller's
//! fsync covers both.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::reader::{DiskTarget, SharedWrite};

/// What direct I/O needs of offsets, lengths and buffer addresses.
pub const DIRECT_ALIGN: usize = 4096;

/// A raw file written with direct I/O where it can be; the reader's workers write the blocks
/// they checked themselves, several at once.
pub struct FileTarget {
    writer: Arc<FileWriter>,
}

struct FileWriter {
    buffered: File,
    direct: Option<File>,
    /// Cleared when the file system refuses a direct write (then all go buffered).
    direct_ok: AtomicBool,
}

/// `path` opened for direct writes, or `None` where the file system has no direct I/O.
fn open_direct(path: &Path) -> Option<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

/// Writes `data` at `offset` of `direct` if it can take it; `false` when the caller must
/// write it buffered (after which `direct` is dropped if the file system refused it).
fn write_direct(direct: &mut Option<File>, offset: u64, data: &[u8]) -> std::io::Result<bool> {
    let Some(file) = direct else {
        return Ok(false);
    };
    if !aligned(offset, data) {
        return Ok(false);
    }
    match file.write_all_at(data, offset) {
        Ok(()) => Ok(true),
        // Some file systems open with O_DIRECT but refuse the write itself.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            *direct = None;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

impl FileTarget {
    /// Opens an existing file of the disk's size for writing.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let buffered = OpenOptions::new().write(true).open(path)?;
        let direct = open_direct(path);
        Ok(FileTarget {
            writer: Arc::new(FileWriter {
                direct_ok: AtomicBool::new(direct.is_some()),
                buffered,
                direct,
            }),
        })
    }
}

fn aligned(offset: u64, data: &[u8]) -> bool {
    offset.is_multiple_of(DIRECT_ALIGN as u64)
        && data.len().is_multiple_of(DIRECT_ALIGN)
        && (data.as_ptr() as usize).is_multiple_of(DIRECT_ALIGN)
}

impl SharedWrite for FileWriter {
    fn write_at(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        if let (Some(direct), true) = (&self.direct, self.direct_ok.load(Ordering::Relaxed)) {
            if aligned(offset, data) {
                match direct.write_all_at(data, offset) {
                    Ok(()) => return Ok(()),
                    // Some file systems open with O_DIRECT but refuse the write itself.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        self.direct_ok.store(false, Ordering::Relaxed)
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.buffered.write_all_at(data, offset)
    }
}

impl DiskTarget for FileTarget {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.writer.write_at(offset, data)
    }

    fn zero(&mut self, _offset: u64, _len: u64) -> std::io::Result<()> {
        // A new (sparse) file reads as zeros already.
        Ok(())
    }

    fn shared(&self) -> Option<Arc<dyn SharedWrite>> {
        Some(self.writer.clone())
    }
}

/// The chunk [`DirectAppend`] gathers before it writes.
const CHUNK: usize = 4 << 20;

/// A stream appended to a new, empty file: gathered into aligned chunks that are written
/// directly; a flush writes the partial chunk buffered (and the next full write of that chunk
/// covers it again, directly).
pub struct DirectAppend<'f> {
    file: &'f File,
    direct: Option<File>,
    backing: Vec<u8>,
    /// Where the aligned chunk starts in `backing`.
    start: usize,
    filled: usize,
    /// The file offset of the chunk.
    offset: u64,
}

impl<'f> DirectAppend<'f> {
    /// Appends to `file`, the empty file at `path`.
    pub fn new(file: &'f File, path: &Path) -> Self {
        let backing = vec![0u8; CHUNK + DIRECT_ALIGN];
        let start = backing.as_ptr().align_offset(DIRECT_ALIGN);
        DirectAppend {
            file,
            direct: open_direct(path),
            backing,
            start,
            filled: 0,
            offset: 0,
        }
    }

    fn chunk(&self) -> &[u8] {
        &self.backing[self.start..self.start + self.filled]
    }
}

impl Write for DirectAppend<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.filled);
        let at = self.start + self.filled;
        self.backing[at..at + n].copy_from_slice(&data[..n]);
        self.filled += n;
        if self.filled == CHUNK {
            let chunk = &self.backing[self.start..self.start + CHUNK];
            if !write_direct(&mut self.direct, self.offset, chunk)? {
                self.file.write_all_at(chunk, self.offset)?;
            }
            self.offset += CHUNK as u64;
            self.filled = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.filled > 0 {
            self.file.write_all_at(self.chunk(), self.offset)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_unaligned_writes_land_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.raw");
        File::create(&path).unwrap().set_len(64 << 10).unwrap();
        let mut target = FileTarget::open(&path).unwrap();
        // An aligned buffer: a page-aligned window of a larger vector.
        let mut backing = vec![0u8; 3 * DIRECT_ALIGN];
        let start = backing.as_ptr().align_offset(DIRECT_ALIGN);
        let block = &mut backing[start..start + DIRECT_ALIGN];
        block.fill(0xab);
        target.write_at(8192, block).unwrap();
        target.write_at(100, b"unaligned").unwrap();
        drop(target);
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), 64 << 10);
        assert_eq!(&data[100..109], b"unaligned");
        assert!(data[8192..12288].iter().all(|b| *b == 0xab));
        assert!(data[12288..].iter().all(|b| *b == 0));
    }

    #[test]
    fn appended_stream_is_the_file_whatever_the_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive");
        let file = File::create(&path).unwrap();
        let data: Vec<u8> = (0..(CHUNK * 2 + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut out = DirectAppend::new(&file, &path);
        let (a, rest) = data.split_at(1000);
        out.write_all(a).unwrap();
        out.flush().unwrap(); // a partial chunk, written buffered, then covered again
        for piece in rest.chunks(777_777) {
            out.write_all(piece).unwrap();
        }
        out.flush().unwrap();
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }
}
