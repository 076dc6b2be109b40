//! Where disk content comes from: anything that can say where its data is and read it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A range of a disk, holding data or known to read as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
    pub data: bool,
}

/// A disk to back up.
pub trait DiskSource {
    /// Its size in bytes.
    fn size(&self) -> u64;
    /// Its ranges in order, covering `0..size`; ranges that are not data read as zeros and
    /// are not read at all (so backing up an empty thin disk costs nothing).
    fn extents(&mut self) -> std::io::Result<Vec<Extent>>;
    /// Reads `buf.len()` bytes at `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

/// A raw image file or block device; holes (`SEEK_HOLE`) are zero extents.
pub struct FileSource {
    file: File,
    size: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> std::io::Result<FileSource> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(FileSource { file, size })
    }
}

fn seek(fd: i32, offset: u64, whence: i32) -> Option<u64> {
    // SAFETY: lseek on a valid descriptor has no memory effects.
    let r = unsafe { libc::lseek(fd, offset as libc::off_t, whence) };
    (r >= 0).then_some(r as u64)
}

impl DiskSource for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn extents(&mut self) -> std::io::Result<Vec<Extent>> {
        let fd = self.file.as_raw_fd();
        let mut out = Vec::new();
        let mut pos = 0u64;
        while pos < self.size {
            // Without hole support everything is data.
            let data = seek(fd, pos, libc::SEEK_DATA)
                .unwrap_or(self.size)
                .min(self.size);
            if data > pos {
                out.push(Extent {
                    offset: pos,
                    len: data - pos,
                    data: false,
                });
            }
            if data >= self.size {
                break;
            }
            let hole = seek(fd, data, libc::SEEK_HOLE)
                .unwrap_or(self.size)
                .min(self.size);
            out.push(Extent {
                offset: data,
                len: hole - data,
                data: true,
            });
            pos = hole;
        }
        Ok(out)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}
