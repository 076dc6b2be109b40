//! Unpacking a directory tree's tar stream (see `tree.rs`) into a directory, as root: numeric
//! owners as archived (no mapping), modes (set after the owner, so setuid bits stay),
//! extended attributes (after both, so file capabilities stay), mtimes (directories' last),
//! hard links, symlinks, device nodes and FIFOs. Runs on a thread of its own, fed block by
//! block by the archive reader through [`TreeExtractor`].

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use filetime::FileTime;
use tar::EntryType;

use crate::reader::DiskTarget;

/// Unpacks the tar stream `input` into the existing directory `root` (whose own metadata is
/// set from the stream's `./` entry); returns the number of entries.
pub fn unpack_tree(input: impl Read, root: &Path) -> io::Result<u64> {
    let root = root.canonicalize()?;
    let mut archive = tar::Archive::new(input);
    let mut dirs: Vec<(PathBuf, FileTime)> = Vec::new();
    let mut count = 0u64;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = relative(&entry.path()?)?;
        let dst = root.join(&rel);
        let err = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", rel.display()));
        if rel.as_os_str().is_empty() && entry.header().entry_type() != EntryType::Directory {
            return Err(invalid("the tree's root is not a directory"));
        }
        if let Some(parent) = dst.parent().filter(|_| !rel.as_os_str().is_empty()) {
            // A parent must not lead out of the root (through a symlink the stream made).
            if !parent.canonicalize().map_err(err)?.starts_with(&root) {
                return Err(invalid(&format!("{} leaves the tree", rel.display())));
            }
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mtime = FileTime::from_unix_time(header.mtime()? as i64, 0);
        let xattrs = xattrs_of(&mut entry)?;
        match kind {
            EntryType::Directory => {
                match std::fs::symlink_metadata(&dst) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        std::fs::remove_file(&dst).map_err(err)?;
                        std::fs::create_dir(&dst).map_err(err)?;
                    }
                    Err(_) => std::fs::create_dir(&dst).map_err(err)?,
                }
                dirs.push((dst.clone(), mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                replace(&dst)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dst)
                    .map_err(err)?;
                copy_sparse(&mut entry, &mut file).map_err(err)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| invalid("hard link without a target"))?;
                let target = root.join(relative(&target)?);
                if let Some(parent) = target.parent() {
                    if !parent.canonicalize().map_err(err)?.starts_with(&root) {
                        return Err(invalid(&format!("{} links out of the tree", rel.display())));
                    }
                }
                replace(&dst)?;
                std::fs::hard_link(&target, &dst).map_err(err)?;
                // It shares the inode (and so the metadata) of the file it links to.
                count += 1;
                continue;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| invalid("symlink without a target"))?
                    .into_owned();
                replace(&dst)?;
                std::os::unix::fs::symlink(&target, &dst).map_err(err)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                replace(&dst)?;
                let (ftype, dev) = match kind {
                    EntryType::Fifo => (libc::S_IFIFO, 0),
                    other => (
                        if other == EntryType::Char {
                            libc::S_IFCHR
                        } else {
                            libc::S_IFBLK
                        },
                        libc::makedev(
                            header.device_major()?.unwrap_or(0),
                            header.device_minor()?.unwrap_or(0),
                        ),
                    ),
                };
                let c = std::ffi::CString::new(dst.as_os_str().as_bytes())
                    .map_err(|_| invalid("NUL in a path"))?;
                // SAFETY: mknod with a valid C string; no memory is handed over.
                if unsafe { libc::mknod(c.as_ptr(), ftype | 0o600, dev) } != 0 {
                    return Err(err(io::Error::last_os_error()));
                }
            }
            other => {
                return Err(invalid(&format!(
                    "{}: unsupported entry type {other:?}",
                    rel.display()
                )))
            }
        }
        let symlink = kind == EntryType::Symlink;
        std::os::unix::fs::lchown(&dst, Some(header.uid()? as u32), Some(header.gid()? as u32))
            .map_err(err)?;
        if !symlink {
            let mode = header.mode()? & 0o7777;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).map_err(err)?;
        }
        for (name, value) in &xattrs {
            xattr::set(&dst, name, value).map_err(|e| {
                io::Error::new(e.kind(), format!("{}: xattr {name}: {e}", rel.display()))
            })?;
        }
        if kind != EntryType::Directory {
            filetime::set_symlink_file_times(&dst, mtime, mtime).map_err(err)?;
        }
        count += 1;
    }
    // Last, deepest first: creating entries inside a directory changes its mtime.
    for (dir, mtime) in dirs.iter().rev() {
        filetime::set_symlink_file_times(dir, *mtime, *mtime)?;
    }
    Ok(count)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// A path of the stream, relative and without `..` (`./` is the root, the empty path).
fn relative(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            _ => return Err(invalid(&format!("unsafe path {}", path.display()))),
        }
    }
    Ok(out)
}

/// Removes a non-directory at `dst` (unpacking over an existing tree).
fn replace(dst: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => Err(invalid(&format!(
            "{} is a directory in the target",
            dst.display()
        ))),
        Ok(_) => std::fs::remove_file(dst),
        Err(_) => Ok(()),
    }
}

/// The `SCHILY.xattr.*` PAX records of an entry.
fn xattrs_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                out.push((
                    String::from_utf8_lossy(name).into_owned(),
                    ext.value_bytes().to_vec(),
                ));
            }
        }
    }
    Ok(out)
}

/// Copies a file's data, leaving holes where whole chunks are zeros.
fn copy_sparse(input: &mut impl Read, file: &mut File) -> io::Result<()> {
    const CHUNK: usize = 64 << 10;
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let mut filled = 0;
        while filled < CHUNK {
            let n = input.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        if buf[..filled].iter().all(|b| *b == 0) {
            file.seek(SeekFrom::Current(filled as i64))?;
        } else {
            file.write_all(&buf[..filled])?;
        }
        len += filled as u64;
        if filled < CHUNK {
            break;
        }
    }
    file.set_len(len)
}

/// A [`DiskTarget`] for a tree: the blocks the reader verified go, in order, to
/// [`unpack_tree`] on a thread of its own; [`DiskTarget::finish`] waits for it. Dropped
/// unfinished, it stops the thread and waits for it, so nothing writes into the directory
/// after the extraction failed.
pub struct TreeExtractor {
    sender: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<io::Result<u64>>>,
}

impl TreeExtractor {
    /// Starts unpacking into the existing directory `root`.
    pub fn start(root: &Path) -> io::Result<TreeExtractor> {
        let (sender, receiver) = sync_channel::<Vec<u8>>(2);
        let root = root.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("tree-unpack".into())
            .spawn(move || {
                let mut input = ChannelRead {
                    receiver,
                    current: Vec::new(),
                    pos: 0,
                };
                let count = unpack_tree(&mut input, &root)?;
                // The end-of-archive blocks may be left; the reader still sends them.
                io::copy(&mut input, &mut io::sink())?;
                Ok(count)
            })?;
        Ok(TreeExtractor {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    fn join(&mut self) -> io::Result<u64> {
        self.sender = None;
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("the unpacking thread panicked"))?,
            None => Err(io::Error::other("the unpacking already ended")),
        }
    }
}

impl DiskTarget for TreeExtractor {
    fn write_at(&mut self, _offset: u64, data: &[u8]) -> io::Result<()> {
        let sent = match &self.sender {
            Some(s) => s.send(data.to_vec()).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The thread stopped early: its error says why.
            Err(match self.join() {
                Err(e) => e,
                Ok(_) => io::Error::other("the tree's tar stream ended before its data"),
            })
        }
    }

    fn zero(&mut self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(invalid("a zero region in a tree"))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.join().map(|_| ())
    }
}

impl Drop for TreeExtractor {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}

/// Reads the blocks sent through a channel as one stream; ends when the sender is gone.
struct ChannelRead {
    receiver: Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.receiver.recv() {
                Ok(block) => {
                    self.current = block;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
