//! Directory trees in archives: a tree with every kind of entry goes in and comes out the
//! same (contents, numeric owners, modes, links, device nodes, xattrs, mtimes), its blocks
//! are checksummed like a disk's, and damage stops the unpacking.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use oxve_archive::{ArchiveError, ArchiveReader, ArchiveWriter, Compression, TreeExtractor};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mknod(path: &Path, kind: libc::mode_t, dev: libc::dev_t) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mknod with a valid C string.
    assert_eq!(unsafe { libc::mknod(c.as_ptr(), kind | 0o640, dev) }, 0);
}

/// A tree with every kind of entry; owners and device nodes only as root.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/empty")).unwrap();
    std::fs::create_dir_all(root.join("home/user")).unwrap();
    std::fs::write(root.join("etc/hostname"), b"tree-test\n").unwrap();
    // Larger than a block, so the tar stream spans several.
    let big: Vec<u8> = (0..9 << 20).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(root.join("home/user/big"), &big).unwrap();
    // Mostly a hole.
    let sparse = File::create(root.join("home/user/sparse")).unwrap();
    sparse.set_len(12 << 20).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, b"end", (12 << 20) - 3).unwrap();
    std::fs::hard_link(root.join("etc/hostname"), root.join("etc/hostname.link")).unwrap();
    std::os::unix::fs::symlink("../etc/hostname", root.join("home/host")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", root.join("dangling")).unwrap();
    let long = "d".repeat(120);
    std::fs::create_dir_all(root.join(&long)).unwrap();
    std::fs::write(root.join(&long).join("f".repeat(120)), b"long name").unwrap();
    std::os::unix::fs::symlink("t".repeat(150), root.join("longlink")).unwrap();
    mknod(&root.join("fifo"), libc::S_IFIFO, 0);
    // Left out of the archive, as tar does.
    drop(std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap());
    std::fs::set_permissions(
        root.join("etc/hostname"),
        std::fs::Permissions::from_mode(0o4751),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("etc/empty"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    xattr::set(root.join("home/user/big"), "user.oxve", b"kept").unwrap();
    if is_root() {
        mknod(&root.join("null"), libc::S_IFCHR, libc::makedev(1, 3));
        mknod(&root.join("loop9"), libc::S_IFBLK, libc::makedev(7, 9));
        // As an unprivileged container's files are on the host.
        for (p, id) in [
            ("", 100_000),
            ("home/user", 101_000),
            ("home/user/big", 101_000),
            ("etc/hostname", 100_000),
            ("home/host", 101_000),
        ] {
            std::os::unix::fs::lchown(root.join(p), Some(id), Some(id + 5)).unwrap();
        }
        // chown cleared setuid
        std::fs::set_permissions(
            root.join("etc/hostname"),
            std::fs::Permissions::from_mode(0o4751),
        )
        .unwrap();
        // A POSIX ACL granting read to host uid 101000, and a file capability (which a
        // chown after it would clear).
        xattr::set(root.join("home/user/big"), ACL, &acl(101_000)).unwrap();
        let cap = root.join("home/user/ping");
        std::fs::write(&cap, b"#!/bin/sh\n").unwrap();
        std::os::unix::fs::lchown(&cap, Some(100_000), Some(100_000)).unwrap();
        // Where setcap (libcap2-bin) is installed; the comparison covers it then.
        let _ = std::process::Command::new("setcap")
            .arg("cap_net_raw+ep")
            .arg(&cap)
            .status();
    }
    let old = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    filetime::set_symlink_file_times(root.join("home/host"), old, old).unwrap();
    filetime::set_file_times(root.join("etc/empty"), old, old).unwrap();
    filetime::set_file_times(root.join("home/user/big"), old, old).unwrap();
}

const ACL: &str = "system.posix_acl_access";

/// A POSIX ACL in its xattr form: rw for the owner, r for `uid`, the group and the mask.
fn acl(uid: u32) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, uid),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        v.extend(tag.to_le_bytes());
        v.extend(perm.to_le_bytes());
        v.extend(id.to_le_bytes());
    }
    v
}

/// Everything to compare of each entry below `root`.
fn describe(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let ft = m.file_type();
        let what = if ft.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            "dir".to_string()
        } else if ft.is_symlink() {
            format!("link {}", std::fs::read_link(&p).unwrap().display())
        } else if ft.is_file() {
            let data = std::fs::read(&p).unwrap();
            format!(
                "file {} {:x}",
                data.len(),
                data.iter()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(*b as u64))
            )
        } else if ft.is_char_device() || ft.is_block_device() {
            format!("dev {}", m.rdev())
        } else {
            "fifo".to_string()
        };
        let mode = if ft.is_symlink() {
            0
        } else {
            m.mode() & 0o7777
        };
        // A directory's mtime and a symlink's too; the root's changes as the test runs.
        let mtime = if rel.as_os_str().is_empty() {
            0
        } else {
            m.mtime()
        };
        let xattr: Vec<_> = ["user.oxve", ACL, "security.capability"]
            .iter()
            .map(|n| xattr::get(&p, n).ok().flatten())
            .collect();
        out.insert(
            rel,
            format!(
                "{what} {}:{} {mode:o} n{} t{mtime} {xattr:?}",
                m.uid(),
                m.gid(),
                m.nlink()
            ),
        );
    }
    out
}

fn backup(tree: &Path, archive: &Path, compression: Compression) -> oxve_archive::Manifest {
    let mut w = ArchiveWriter::new(
        File::create(archive).unwrap(),
        compression,
        "lxc",
        300,
        1_700_000_000,
    )
    .unwrap();
    w.add_config("pct.conf", b"rootfs: local:300/subvol-300-disk-0.subvol\n")
        .unwrap();
    let mut seen = 0;
    let (disk, counts) = w
        .add_tree("rootfs", tree, &|_| false, &mut |n| seen = n)
        .unwrap();
    assert!(disk.tree);
    assert!(seen >= 9 << 20, "progress reports file data");
    assert!(counts.entries >= 15, "{counts:?}");
    assert_eq!((counts.skipped, counts.vanished), (1, 0), "the socket");
    w.finish().unwrap()
}

fn restore(archive: &Path, into: &Path) -> Result<oxve_archive::Extracted, ArchiveError> {
    std::fs::create_dir_all(into).unwrap();
    let r = ArchiveReader::new(File::open(archive).unwrap())?;
    r.extract(&mut |head| {
        assert!(head.tree);
        assert_eq!(head.name, "rootfs");
        assert!(head.size > 0, "the space the files took");
        Ok(Some(Box::new(TreeExtractor::start(into)?)))
    })
}

#[test]
fn a_tree_comes_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let mut before = describe(&tree);
    assert!(before.remove(Path::new("sock")).is_some());
    for (n, compression) in [
        Compression::None,
        Compression::Zstd { threads: 1 },
        Compression::Gzip,
    ]
    .into_iter()
    .enumerate()
    {
        let archive = dir.path().join(format!("a{n}.oxar"));
        let manifest = backup(&tree, &archive, compression);
        assert_eq!(manifest.disks.len(), 1);
        let out = dir.path().join(format!("out{n}"));
        let extracted = restore(&archive, &out).unwrap();
        assert_eq!(extracted.manifest, manifest);
        assert_eq!(describe(&out), before, "{compression:?}");
        // Holes stay holes.
        let sparse = std::fs::metadata(out.join("home/user/sparse")).unwrap();
        assert!(sparse.blocks() * 512 < 1 << 20, "{}", sparse.blocks());
        assert_eq!(
            ArchiveReader::new(File::open(&archive).unwrap())
                .unwrap()
                .verify()
                .unwrap(),
            manifest
        );
    }
    let big = dir.path().join("out0/home/user/big");
    assert_eq!(xattr::get(&big, "user.oxve").unwrap().unwrap(), b"kept");
    if is_root() {
        let m = std::fs::symlink_metadata(&big).unwrap();
        assert_eq!((m.uid(), m.gid()), (101_000, 101_005));
        assert_eq!(xattr::get(&big, ACL).unwrap().unwrap(), acl(101_000));
    }
}

#[test]
fn a_damaged_tree_block_stops_the_unpacking() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let archive = dir.path().join("a.oxar");
    backup(&tree, &archive, Compression::None);
    let mut bad = std::fs::read(&archive).unwrap();
    // In the second block of the tree (the big file's data).
    let at = bad.len() / 2;
    bad[at] ^= 0x10;
    std::fs::write(&archive, &bad).unwrap();
    let err = ArchiveReader::new(File::open(&archive).unwrap())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, ArchiveError::BlockChecksum { .. }), "{err}");
    let out = dir.path().join("out");
    let err = restore(&archive, &out).unwrap_err();
    assert!(
        matches!(err, ArchiveError::BlockChecksum { ref disk, .. } if disk == "rootfs"),
        "{err}"
    );
    // The unpacking stopped at the damaged block (inside the sparse file's data).
    let sparse = std::fs::metadata(out.join("home/user/sparse"));
    assert!(sparse.map_or(true, |m| m.len() < 12 << 20));
}

#[test]
fn a_tree_cut_short_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("a")).unwrap();
    std::fs::write(tree.join("a/f"), b"x").unwrap();
    drop(std::os::unix::net::UnixListener::bind(tree.join("sock")).unwrap());
    let archive = dir.path().join("a.oxar");
    backup_small(&tree, &archive);
    let good = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &good[..good.len() / 2]).unwrap();
    let err = restore(&archive, &dir.path().join("out")).unwrap_err();
    assert!(
        matches!(err, ArchiveError::Incomplete | ArchiveError::Corrupt(_)),
        "{err}"
    );
}

fn backup_small(tree: &Path, archive: &Path) {
    let mut w = ArchiveWriter::new(
        File::create(archive).unwrap(),
        Compression::None,
        "lxc",
        301,
        1,
    )
    .unwrap();
    w.add_tree("rootfs", tree, &|_| false, &mut |_| {}).unwrap();
    w.finish().unwrap();
}
