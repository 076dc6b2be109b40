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

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::hash_pool::BlockBuf;
use crate::reader::{DiskTarget, SharedWrite};
use crate::record::BLOCK_SIZE;

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
const CHUNK: usize = BLOCK_SIZE;

/// A stream appended to a new, empty file: gathered into aligned chunks that a writer thread
/// writes directly while the next chunk fills (so compressing and writing overlap); a flush
/// waits for the chunks out and writes the partial one buffered (the next full write of that
/// chunk covers it again, directly).
pub struct DirectAppend<'f> {
    file: &'f File,
    current: BlockBuf,
    filled: usize,
    /// The file offset of `current`.
    offset: u64,
    queue: Option<SyncSender<(BlockBuf, u64)>>,
    written: Receiver<(BlockBuf, std::io::Result<()>)>,
    spare: Vec<BlockBuf>,
    in_flight: usize,
    writer: Option<JoinHandle<()>>,
}

impl<'f> DirectAppend<'f> {
    /// Appends to `file`, the empty file at `path`.
    pub fn new(file: &'f File, path: &Path) -> std::io::Result<Self> {
        let direct = open_direct(path);
        let target = FileWriter {
            direct_ok: AtomicBool::new(direct.is_some()),
            buffered: file.try_clone()?,
            direct,
        };
        let (queue, chunks) = sync_channel::<(BlockBuf, u64)>(1);
        let (done, written) = channel();
        let writer = std::thread::spawn(move || {
            for (buf, offset) in chunks {
                let result = target.write_at(offset, buf.data(CHUNK));
                if done.send((buf, result)).is_err() {
                    return;
                }
            }
        });
        Ok(DirectAppend {
            file,
            current: BlockBuf::new(),
            filled: 0,
            offset: 0,
            queue: Some(queue),
            written,
            spare: vec![BlockBuf::new(), BlockBuf::new()],
            in_flight: 0,
            writer: Some(writer),
        })
    }

    /// A chunk back from the writer, or its write error.
    fn take_written(&mut self) -> std::io::Result<BlockBuf> {
        let (buf, result) = self
            .written
            .recv()
            .map_err(|_| std::io::Error::other("archive writer thread ended"))?;
        self.in_flight -= 1;
        result.map(|()| buf)
    }
}

impl Write for DirectAppend<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.filled);
        self.current.window(CHUNK)[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        if self.filled == CHUNK {
            let next = match self.spare.pop() {
                Some(buf) => buf,
                None => self.take_written()?,
            };
            let full = std::mem::replace(&mut self.current, next);
            let queue = self.queue.as_ref().expect("open until dropped");
            queue
                .send((full, self.offset))
                .map_err(|_| std::io::Error::other("archive writer thread ended"))?;
            self.in_flight += 1;
            self.offset += CHUNK as u64;
            self.filled = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        while self.in_flight > 0 {
            let buf = self.take_written()?;
            self.spare.push(buf);
        }
        if self.filled > 0 {
            self.file
                .write_all_at(self.current.data(self.filled), self.offset)?;
        }
        Ok(())
    }
}

impl Drop for DirectAppend<'_> {
    fn drop(&mut self) {
        self.queue = None; // the writer ends after the chunks already queued
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
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
        let mut out = DirectAppend::new(&file, &path).unwrap();
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
