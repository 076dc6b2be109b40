//! A directory tree as a tar stream (a container's directory volume): numeric owners exactly
//! as on disk (the shifted ids of an unprivileged container stay as they are), modes,
//! symlinks, hard links, device nodes and FIFOs, empty directories, mtimes (seconds) and
//! extended attributes (so POSIX ACLs and file capabilities too) as PAX `SCHILY.xattr.*`
//! records. One file system only, as `tar --one-file-system`: a mount point below the root
//! (or a nested btrfs subvolume) is kept as an empty directory. Sockets are left out, as tar
//! does. Files are streamed, never held in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header};

/// What a tree walk found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TreeCounts {
    /// Entries written (the root directory included).
    pub entries: u64,
    /// Sockets left out.
    pub skipped: u64,
    /// Entries that vanished between listing their directory and reading them.
    pub vanished: u64,
    /// Entries the caller's filter left out (a directory counts once, with all below it).
    pub excluded: u64,
}

/// The bytes the files of the tree at `root` take on disk (one file system, by a walk of
/// metadata only): what a restore must find room for.
pub fn used_bytes(root: &Path) -> io::Result<u64> {
    let dev = std::fs::symlink_metadata(root)?.dev();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            total += meta.blocks() * 512;
            if meta.is_dir() && meta.dev() == dev {
                stack.push(entry.path());
            }
        }
    }
    Ok(total)
}

/// Writes the tree at `root` as a tar stream into `out`, leaving out the entries `skip` says
/// (given their path relative to `root`; a skipped directory is not descended into);
/// `progress` gets the bytes of file data read so far.
pub fn write_tree<W: Write>(
    root: &Path,
    out: W,
    skip: &dyn Fn(&Path) -> bool,
    progress: &mut dyn FnMut(u64),
) -> io::Result<(W, TreeCounts)> {
    let mut walk = Walk {
        builder: Builder::new(out),
        dev: std::fs::symlink_metadata(root)?.dev(),
        links: HashMap::new(),
        counts: TreeCounts::default(),
        data: 0,
        progress,
    };
    walk.entry(root, Path::new("./"))?;
    let mut stack = vec![(root.to_path_buf(), PathBuf::new())];
    while let Some((dir, rel)) = stack.pop() {
        let listing = match std::fs::read_dir(&dir) {
            Ok(l) => l,
            // Written already, it stays an empty directory.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        };
        let mut names: Vec<_> = listing
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        // Sorted, so the same tree always makes the same stream.
        names.sort();
        let from = stack.len();
        for name in names {
            let (path, rel) = (dir.join(&name), rel.join(&name));
            if skip(&rel) {
                walk.counts.excluded += 1;
                continue;
            }
            if walk.entry(&path, &rel)? {
                stack.push((path, rel));
            }
        }
        // Depth first in name order: subdirectories were pushed in order, are popped reversed.
        stack[from..].reverse();
    }
    let counts = walk.counts;
    Ok((walk.builder.into_inner()?, counts))
}

struct Walk<'p, W: Write> {
    builder: Builder<W>,
    dev: u64,
    /// (device, inode) of files with more than one link → the path first written.
    links: HashMap<(u64, u64), PathBuf>,
    counts: TreeCounts,
    data: u64,
    progress: &'p mut dyn FnMut(u64),
}

impl<W: Write> Walk<'_, W> {
    /// Writes one entry; whether it is a directory to descend into. An entry that vanished
    /// before it was read is left out (as tar does); everything is read before anything of
    /// the entry is written, so the stream never holds half an entry.
    fn entry(&mut self, path: &Path, rel: &Path) -> io::Result<bool> {
        let err = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let read = (|| -> io::Result<_> {
            let meta = std::fs::symlink_metadata(path)?;
            let ft = meta.file_type();
            let content = if ft.is_socket() {
                Content::Socket
            } else if ft.is_symlink() {
                Content::Symlink(std::fs::read_link(path)?)
            } else if ft.is_file() && !self.links.contains_key(&(meta.dev(), meta.ino())) {
                Content::File(File::open(path)?)
            } else {
                Content::Other
            };
            Ok((meta, content, xattrs_of(path)?))
        })();
        let (meta, content, xattrs) = match read {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.counts.vanished += 1;
                return Ok(false);
            }
            Err(e) => return Err(err(e)),
        };
        let ft = meta.file_type();
        if let Content::Socket = content {
            self.counts.skipped += 1;
            return Ok(false);
        }
        let mut header = Header::new_gnu();
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(u64::from(meta.uid()));
        header.set_gid(u64::from(meta.gid()));
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_size(0);
        if !xattrs.is_empty() {
            let records: Vec<(String, &[u8])> = xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                .collect();
            self.builder
                .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))?;
        }
        self.counts.entries += 1;
        if ft.is_dir() {
            header.set_entry_type(EntryType::Directory);
            self.builder
                .append_data(&mut header, rel, io::empty())
                .map_err(err)?;
            return Ok(meta.dev() == self.dev);
        }
        if let Content::Symlink(target) = content {
            header.set_entry_type(EntryType::Symlink);
            self.builder
                .append_link(&mut header, rel, target)
                .map_err(err)?;
            return Ok(false);
        }
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(EntryType::Link);
                self.builder
                    .append_link(&mut header, rel, first)
                    .map_err(err)?;
                return Ok(false);
            }
            self.links.insert(key, rel.to_path_buf());
        }
        if let Content::File(file) = content {
            header.set_entry_type(EntryType::Regular);
            header.set_size(meta.len());
            let data = Exact {
                inner: file,
                left: meta.len(),
                eof: false,
            };
            self.builder
                .append_data(&mut header, rel, data)
                .map_err(err)?;
            self.data += meta.len();
            (self.progress)(self.data);
            return Ok(false);
        }
        let kind = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else {
            EntryType::Fifo
        };
        header.set_entry_type(kind);
        if kind != EntryType::Fifo {
            let rdev = meta.rdev();
            header.set_device_major(libc::major(rdev))?;
            header.set_device_minor(libc::minor(rdev))?;
        }
        self.builder
            .append_data(&mut header, rel, io::empty())
            .map_err(err)?;
        Ok(false)
    }
}

/// What an entry holds, read before it is written.
enum Content {
    Socket,
    Symlink(PathBuf),
    /// A regular file's first link, open for reading.
    File(File),
    /// Directories, later links of a file, devices and FIFOs.
    Other,
}

/// The extended attributes of `path` itself (not a symlink's target), by name.
fn xattrs_of(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        // File systems without xattr support have none.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        let Some(text) = name.to_str() else {
            continue;
        };
        if let Some(value) = xattr::get(path, &name)? {
            out.push((text.to_string(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// Exactly `left` bytes of a file: cut where it grew, zeros where it shrank since its size
/// was written into the header (the tar stream stays well-formed either way).
struct Exact<R> {
    inner: R,
    left: u64,
    eof: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = if self.eof {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        let n = if n == 0 {
            self.eof = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        Ok(n)
    }
}
