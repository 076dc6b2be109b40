//! Small file-system helpers over libc: free space, file system type, preallocation,
//! atomic exchange, `/proc/mounts`.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::StorageError;

/// Space of a mounted file system, as Proxmox's `df` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsSpace {
    /// Total bytes.
    pub total: u64,
    /// Used bytes (total - free).
    pub used: u64,
    /// Bytes available to unprivileged users.
    pub avail: u64,
}

fn cpath(path: &Path) -> Result<CString, StorageError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        StorageError::io(
            "use path",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains NUL"),
        )
    })
}

/// `statvfs(path)`: total, used and available bytes.
pub fn fs_space(path: &Path) -> Result<FsSpace, StorageError> {
    let c = cpath(path)?;
    // SAFETY: `st` is plain old data that statvfs fills; `c` is a valid NUL-terminated string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(StorageError::io(
            "statvfs",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    let frsize = st.f_frsize as u64;
    let total = st.f_blocks as u64 * frsize;
    let free = st.f_bfree as u64 * frsize;
    Ok(FsSpace {
        total,
        used: total.saturating_sub(free),
        avail: st.f_bavail as u64 * frsize,
    })
}

/// The file system magic of `path` (`statfs.f_type`).
pub fn fs_magic(path: &Path) -> Result<i64, StorageError> {
    let c = cpath(path)?;
    // SAFETY: `st` is plain old data that statfs fills.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(StorageError::io(
            "statfs",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(st.f_type as i64)
}

/// The btrfs magic number.
pub const BTRFS_MAGIC: i64 = 0x9123_683e;

/// The id of the btrfs subvolume whose root directory is `path`, without running `btrfs`:
/// `BTRFS_IOC_INO_LOOKUP` of a subvolume root's object id answers with its tree id.
pub fn btrfs_subvol_id(path: &Path) -> Result<u64, StorageError> {
    #[repr(C)]
    struct InoLookupArgs {
        treeid: u64,
        objectid: u64,
        name: [u8; 4080],
    }
    const FIRST_FREE_OBJECTID: u64 = 256;
    // _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args) (4096 bytes)
    const BTRFS_IOC_INO_LOOKUP: u64 = 0xD000_9412;
    let dir = File::open(path).map_err(|e| StorageError::io("open", path, e))?;
    let mut args = InoLookupArgs {
        treeid: 0,
        objectid: FIRST_FREE_OBJECTID,
        name: [0; 4080],
    };
    // SAFETY: `args` has the layout the ioctl expects and outlives the call.
    let rc = unsafe { libc::ioctl(dir.as_raw_fd(), BTRFS_IOC_INO_LOOKUP as _, &mut args) };
    if rc != 0 {
        return Err(StorageError::io(
            "look up the btrfs subvolume of",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(args.treeid)
}

/// Reserve `len` bytes of `file` (thick lazy-zeroed).
pub fn fallocate(file: &File, path: &Path, len: u64) -> Result<(), StorageError> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: plain syscall on an open descriptor.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
    if rc != 0 {
        return Err(StorageError::io(
            "fallocate",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Write `len` zero bytes to `file` from offset 0 (thick eager-zeroed), then sync it.
pub fn write_zeros(file: &mut File, path: &Path, len: u64) -> Result<(), StorageError> {
    const CHUNK: usize = 4 << 20;
    let buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        file.write_all(&buf[..n])
            .map_err(|e| StorageError::io("write zeros to", path, e))?;
        left -= n as u64;
    }
    file.sync_data()
        .map_err(|e| StorageError::io("sync", path, e))
}

/// Atomically exchange two paths (`renameat2(RENAME_EXCHANGE)`).
pub fn exchange(a: &Path, b: &Path) -> Result<(), StorageError> {
    let ca = cpath(a)?;
    let cb = cpath(b)?;
    // SAFETY: valid NUL-terminated strings; AT_FDCWD with absolute or relative paths.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc != 0 {
        return Err(StorageError::io(
            "exchange",
            a,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// One line of `/proc/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// What is mounted (`server:/export`, `//server/share`, `/dev/sda1`).
    pub source: String,
    /// Where.
    pub target: String,
    /// File system type.
    pub fstype: String,
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = std::str::from_utf8(&bytes[i + 1..i + 4]).ok();
            if let Some(v) = oct.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse `/proc/mounts` text.
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            Some(MountEntry {
                source: unescape_octal(f.next()?),
                target: unescape_octal(f.next()?),
                fstype: f.next()?.to_string(),
            })
        })
        .collect()
}

/// Read and parse a mounts file (normally `/proc/mounts`).
pub fn read_mounts(file: &Path) -> Result<Vec<MountEntry>, StorageError> {
    let text = std::fs::read_to_string(file).map_err(|e| StorageError::io("read", file, e))?;
    Ok(parse_mounts(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_mounts() {
        let m = parse_mounts(
            "10.0.0.1:/export /mnt/pve/n nfs4 rw 0 0\n//srv/share /mnt/with\\040space cifs rw 0 0\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].source, "10.0.0.1:/export");
        assert_eq!(m[1].target, "/mnt/with space");
        assert_eq!(m[1].fstype, "cifs");
    }

    #[test]
    fn reports_space() {
        let s = fs_space(Path::new("/")).unwrap();
        assert!(s.total > 0 && s.avail <= s.total);
    }
}
