//! Traversal rights for an unprivileged container's root: LXC's setup, running as the mapped
//! root (host uid 100000), must reach the container's directory under the run dir, whose
//! ancestors are private (0700). Instead of opening them to everyone, each one that denies
//! it gets a POSIX ACL entry `user:100000:--x` (what LXC's own error message recommends).
//! The ACL is written as the `system.posix_acl_access` xattr (Linux's binary layout).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{LxcError, Result};

const XATTR: &str = "system.posix_acl_access";
const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED: u32 = u32::MAX;
const X: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    tag: u16,
    id: u32,
    perm: u16,
}

fn parse(bytes: &[u8]) -> Option<Vec<Entry>> {
    let version = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?);
    if version != VERSION || !(bytes.len() - 4).is_multiple_of(8) {
        return None;
    }
    Some(
        bytes[4..]
            .chunks(8)
            .map(|c| Entry {
                tag: u16::from_le_bytes([c[0], c[1]]),
                perm: u16::from_le_bytes([c[2], c[3]]),
                id: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = VERSION.to_le_bytes().to_vec();
    for e in entries {
        out.extend(e.tag.to_le_bytes());
        out.extend(e.perm.to_le_bytes());
        out.extend(e.id.to_le_bytes());
    }
    out
}

/// The ACL of a file with `mode` (and an optional existing ACL) plus `user:uid:--x`.
fn with_traverse(mode: u32, existing: Option<Vec<Entry>>, uid: u32) -> Vec<Entry> {
    let mut entries = existing.unwrap_or_else(|| {
        vec![
            Entry {
                tag: USER_OBJ,
                id: UNDEFINED,
                perm: ((mode >> 6) & 7) as u16,
            },
            Entry {
                tag: GROUP_OBJ,
                id: UNDEFINED,
                perm: ((mode >> 3) & 7) as u16,
            },
            Entry {
                tag: OTHER,
                id: UNDEFINED,
                perm: (mode & 7) as u16,
            },
        ]
    });
    match entries.iter_mut().find(|e| e.tag == USER && e.id == uid) {
        Some(e) => e.perm |= X,
        None => entries.push(Entry {
            tag: USER,
            id: uid,
            perm: X,
        }),
    }
    // the mask must cover the group class (group owner, named users and groups)
    let group_class = entries
        .iter()
        .filter(|e| matches!(e.tag, GROUP_OBJ | USER | GROUP))
        .fold(0, |acc, e| acc | e.perm);
    entries.retain(|e| e.tag != MASK);
    entries.push(Entry {
        tag: MASK,
        id: UNDEFINED,
        perm: group_class,
    });
    entries.sort();
    entries
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| LxcError::Tool {
        tool: "setxattr".into(),
        message: format!("bad path {}", path.display()),
    })
}

fn read_acl(path: &Path) -> Option<Vec<Entry>> {
    let c = cpath(path).ok()?;
    let name = CString::new(XATTR).ok()?;
    let mut buf = vec![0u8; 512];
    // SAFETY: c and name are valid NUL-terminated strings; buf is writable for its length.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    parse(&buf[..n as usize])
}

fn write_acl(path: &Path, entries: &[Entry]) -> Result<()> {
    let c = cpath(path)?;
    let name = CString::new(XATTR).expect("static name");
    let data = encode(entries);
    // SAFETY: c and name are valid NUL-terminated strings; data is readable for its length.
    let rc = unsafe {
        libc::setxattr(
            c.as_ptr(),
            name.as_ptr(),
            data.as_ptr().cast(),
            data.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(LxcError::Tool {
            tool: "setxattr".into(),
            message: format!(
                "granting uid traversal of {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ),
        })
    }
}

/// Let `uid` traverse `dir` and each ancestor that would deny it.
pub fn grant_traverse(dir: &Path, uid: u32) -> Result<()> {
    for ancestor in dir.ancestors() {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.permissions().mode();
        let others_x = mode & 0o001 != 0;
        if others_x || meta.uid() == uid {
            continue;
        }
        let existing = read_acl(ancestor);
        if existing.as_ref().is_some_and(|acl| {
            // a chmod since (the daemon makes its dirs 0700 at start) resets the mask
            let has = |tag: u16, id: u32| {
                acl.iter()
                    .any(|e| e.tag == tag && e.id == id && e.perm & X != 0)
            };
            has(USER, uid) && has(MASK, UNDEFINED)
        }) {
            continue;
        }
        write_acl(ancestor, &with_traverse(mode, existing, uid))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_for_a_private_dir() {
        let acl = with_traverse(0o700, None, 100_000);
        assert_eq!(
            acl.iter().map(|e| (e.tag, e.perm)).collect::<Vec<_>>(),
            [
                (USER_OBJ, 7),
                (USER, 1),
                (GROUP_OBJ, 0),
                (MASK, 1),
                (OTHER, 0)
            ]
        );
        let bytes = encode(&acl);
        assert_eq!(parse(&bytes).unwrap(), acl);
        // idempotent on an existing ACL
        assert_eq!(with_traverse(0o700, Some(acl.clone()), 100_000), acl);
    }

    #[test]
    fn grants_on_real_dirs() {
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::set_permissions(dir.path().join("a"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        grant_traverse(&inner, 100_000).unwrap();
        let acl = read_acl(&dir.path().join("a")).unwrap();
        assert!(acl
            .iter()
            .any(|e| e.tag == USER && e.id == 100_000 && e.perm == X));
    }
}
