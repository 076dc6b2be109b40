//! The shared storage test suite, run once per backend that works on this machine (`dir`,
//! `btrfs` on a loop device). Every check uses the real tools and inspects the real files.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use common::{allocated, qemu_img_info, sh, Env};
use oxve_storage::checksum::ChecksumAlgorithm;
use oxve_storage::command::{Cmd, CmdOutput, CommandRunner, SystemRunner};
use oxve_storage::plugin::VolumeFilter;
use oxve_storage::size::SizeSpec;
use oxve_storage::{
    AllocOptions, ContentType, Preallocation, StorageError, VolumeFormat, VolumeId,
};

const MIB: u64 = 1 << 20;

fn opts(
    vmid: u32,
    format: Option<VolumeFormat>,
    size: u64,
    prealloc: Option<Preallocation>,
) -> AllocOptions {
    AllocOptions {
        vmid,
        name: None,
        format,
        size,
        preallocation: prealloc,
        content: ContentType::Images,
    }
}

fn formats(env: &Env) -> Vec<VolumeFormat> {
    let caps = env.manager.capabilities(&env.storage).unwrap();
    caps.formats
        .iter()
        .copied()
        .filter(|f| f.is_image())
        .collect()
}

fn list_ids(env: &Env, vmid: u32) -> Vec<String> {
    let filter = VolumeFilter {
        vmid: Some(vmid),
        ..Default::default()
    };
    env.manager
        .list(&env.storage, &filter)
        .unwrap()
        .into_iter()
        .map(|v| v.volid)
        .collect()
}

/// Every format and every provisioning mode: the real file has the right format and virtual
/// size, thin files have (almost) nothing allocated, thick ones the whole size.
fn alloc_each_format_and_mode(env: &Env) {
    let caps = env.manager.capabilities(&env.storage).unwrap();
    let size = 64 * MIB;
    for format in formats(env) {
        let modes = caps.preallocation_modes(format);
        let modes: Vec<Option<Preallocation>> = if modes.is_empty() {
            vec![None]
        } else {
            modes.into_iter().map(Some).collect()
        };
        for mode in modes {
            let what = format!("{format} {mode:?}");
            let volid = env
                .manager
                .alloc(&env.storage, &opts(200, Some(format), size, mode))
                .expect(&what);
            let path = env.manager.path(&volid).unwrap();
            let info = qemu_img_info(&path);
            assert_eq!(info["format"], format.as_str(), "{what}");
            assert_eq!(info["virtual-size"], size, "{what}");
            let used = allocated(&path);
            match mode {
                Some(Preallocation::Falloc | Preallocation::Full) => {
                    assert!(
                        used >= size,
                        "{what}: thick image has only {used} bytes allocated"
                    )
                }
                _ => assert!(
                    used < size / 8,
                    "{what}: thin image has {used} bytes allocated"
                ),
            }
            let vi = env.manager.info(&volid).unwrap();
            assert_eq!((vi.size, vi.format), (size, format), "{what}");
            assert!(list_ids(env, 200).contains(&volid.to_string()), "{what}");
            env.manager.free(&volid).unwrap();
            assert!(!path.exists(), "{what}: file left after free");
        }
    }
    assert!(list_ids(env, 200).is_empty());
    assert!(
        !env.root.join("images/200").exists(),
        "empty guest directory left behind"
    );
}

/// Default names count up, lists filter by vmid and content, the default format applies.
fn names_and_listing(env: &Env) {
    let a = env
        .manager
        .alloc(&env.storage, &opts(201, None, 4 * MIB, None))
        .unwrap();
    let b = env
        .manager
        .alloc(&env.storage, &opts(201, None, 4 * MIB, None))
        .unwrap();
    let c = env
        .manager
        .alloc(&env.storage, &opts(202, None, 4 * MIB, None))
        .unwrap();
    assert_eq!(a.to_string(), "store:201/vm-201-disk-0.raw");
    assert_eq!(b.to_string(), "store:201/vm-201-disk-1.raw");
    assert_eq!(c.to_string(), "store:202/vm-202-disk-0.raw");
    let named = AllocOptions {
        name: Some("vm-201-data".into()),
        ..opts(201, Some(VolumeFormat::Raw), 4 * MIB, None)
    };
    let d = env.manager.alloc(&env.storage, &named).unwrap();
    assert_eq!(d.to_string(), "store:201/vm-201-data.raw");
    let err = env.manager.alloc(&env.storage, &named).unwrap_err();
    assert!(matches!(err, StorageError::VolumeExists { .. }), "{err}");
    let mut ids = list_ids(env, 201);
    ids.sort();
    assert_eq!(ids, [d.to_string(), a.to_string(), b.to_string()]);
    let all = env
        .manager
        .list(&env.storage, &VolumeFilter::default())
        .unwrap();
    assert_eq!(all.len(), 4);
    let entry = all.iter().find(|v| v.volid == a.to_string()).unwrap();
    assert_eq!(
        (entry.format.as_str(), entry.size, entry.vmid),
        ("raw", 4 * MIB, Some(201))
    );
    assert!(entry.ctime.is_some());
    let cts = VolumeFilter {
        containers: BTreeSet::from([202]),
        content: Some(ContentType::Rootdir),
        ..Default::default()
    };
    let rootdirs: Vec<_> = env
        .manager
        .list(&env.storage, &cts)
        .unwrap()
        .into_iter()
        .map(|v| v.volid)
        .collect();
    assert_eq!(rootdirs, [c.to_string()]);
    let isos = VolumeFilter {
        content: Some(ContentType::Iso),
        ..Default::default()
    };
    assert!(env.manager.list(&env.storage, &isos).unwrap().is_empty());
    for v in [&a, &b, &c, &d] {
        env.manager.free(v).unwrap();
    }
    let err = env.manager.free(&a).unwrap_err();
    assert!(matches!(err, StorageError::VolumeNotFound { .. }), "{err}");
}

/// Grow by `+N` and to an absolute size; shrinking is refused and changes nothing.
fn resize_grow_only(env: &Env) {
    let caps = env.manager.capabilities(&env.storage).unwrap();
    // (image formats: sized subvolumes are checked in btrfs_sized_subvolumes)
    for format in caps.resize_formats.iter().copied().filter(|f| f.is_image()) {
        let volid = env
            .manager
            .alloc(&env.storage, &opts(203, Some(format), 32 * MIB, None))
            .unwrap();
        let path = env.manager.path(&volid).unwrap();
        assert_eq!(
            env.manager
                .resize(&volid, SizeSpec::parse("+32M").unwrap())
                .unwrap(),
            64 * MIB
        );
        assert_eq!(qemu_img_info(&path)["virtual-size"], 64 * MIB, "{format}");
        assert_eq!(
            env.manager
                .resize(&volid, SizeSpec::parse("128M").unwrap())
                .unwrap(),
            128 * MIB
        );
        let err = env
            .manager
            .resize(&volid, SizeSpec::parse("16M").unwrap())
            .unwrap_err();
        assert!(matches!(err, StorageError::ShrinkRefused { .. }), "{err}");
        assert!(err.is_bad_request());
        assert_eq!(qemu_img_info(&path)["virtual-size"], 128 * MIB, "{format}");
        env.manager.free(&volid).unwrap();
    }
}

/// Thick allocations that do not fit are refused before anything is created; thin ones
/// may overcommit, and the status reports provisioned > total.
fn thick_refused_thin_overcommits(env: &Env) {
    let status = env.manager.open(&env.storage).unwrap().status().unwrap();
    assert!(status.active && status.total > 0 && status.avail > 0);
    let too_big = status.avail + (1 << 30);
    let err = env
        .manager
        .alloc(
            &env.storage,
            &opts(
                204,
                Some(VolumeFormat::Raw),
                too_big,
                Some(Preallocation::Falloc),
            ),
        )
        .unwrap_err();
    assert!(
        matches!(err, StorageError::InsufficientSpace { .. }),
        "{err}"
    );
    assert!(list_ids(env, 204).is_empty());
    assert!(!env.root.join("images/204").exists());

    let thin_size = status.total + (1 << 30);
    let thin = env
        .manager
        .alloc(
            &env.storage,
            &opts(
                204,
                Some(VolumeFormat::Raw),
                thin_size,
                Some(Preallocation::Off),
            ),
        )
        .unwrap();
    let after = env.manager.open(&env.storage).unwrap().status().unwrap();
    assert!(after.provisioned.unwrap() > after.total, "{after:?}");
    env.manager.free(&thin).unwrap();
}

fn make_source_image(dir: &Path) -> std::path::PathBuf {
    let raw = dir.join("source.raw");
    let mut f = std::fs::File::create(&raw).unwrap();
    for i in 0..64u32 {
        let block = vec![(i % 251) as u8 + 1; 64 * 1024];
        f.write_all(&block).unwrap();
        f.write_all(&vec![0u8; 192 * 1024]).unwrap();
    }
    drop(f);
    let qcow = dir.join("source.qcow2");
    sh(
        "qemu-img",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            raw.to_str().unwrap(),
            qcow.to_str().unwrap(),
        ],
    );
    qcow
}

fn same_content(a: &Path, b: &Path) {
    sh(
        "qemu-img",
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
    );
}

/// Import an image file (probed format), copy volumes between storages and formats with
/// progress; images referencing other files are refused.
fn import_and_copy(env: &Env) {
    let src = make_source_image(env.tmp.path());
    let mut last = 0.0;
    let volid = env
        .manager
        .import_image(&src, &env.storage, &opts(205, None, 0, None), &mut |p| {
            last = p
        })
        .unwrap();
    assert_eq!(last, 100.0);
    let path = env.manager.path(&volid).unwrap();
    same_content(&src, &path);
    assert_eq!(qemu_img_info(&path)["virtual-size"], 16 * MIB);

    for format in [VolumeFormat::Qcow2, VolumeFormat::Raw, VolumeFormat::Vmdk] {
        let mut seen = Vec::new();
        let copy = env
            .manager
            .copy_volume(
                &volid,
                "other",
                &opts(206, Some(format), 0, None),
                &mut |p| seen.push(p),
            )
            .unwrap();
        assert_eq!(seen.last(), Some(&100.0), "{format}");
        let copy_path = env.manager.path(&copy).unwrap();
        assert_eq!(qemu_img_info(&copy_path)["format"], format.as_str());
        same_content(&src, &copy_path);
        // and back onto the storage under test, in its default format
        let back = env
            .manager
            .copy_volume(&copy, &env.storage, &opts(207, None, 0, None), &mut |_| {})
            .unwrap();
        same_content(&src, &env.manager.path(&back).unwrap());
        env.manager.free(&back).unwrap();
        env.manager.free(&copy).unwrap();
    }

    // a format the target cannot hold is refused before allocating
    if !env
        .manager
        .capabilities(&env.storage)
        .unwrap()
        .supports_format(VolumeFormat::Vmdk)
    {
        let err = env
            .manager
            .copy_volume(
                &volid,
                &env.storage,
                &opts(208, Some(VolumeFormat::Vmdk), 0, None),
                &mut |_| {},
            )
            .unwrap_err();
        assert!(matches!(err, StorageError::Unsupported { .. }), "{err}");
        assert!(list_ids(env, 208).is_empty());
    }

    // an image with a backing file is not imported
    let overlay = env.tmp.path().join("overlay.qcow2");
    sh(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            src.to_str().unwrap(),
            "-F",
            "qcow2",
            overlay.to_str().unwrap(),
        ],
    );
    let err = env
        .manager
        .import_image(
            &overlay,
            &env.storage,
            &opts(209, None, 0, None),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("backing"), "{err}");
    assert!(list_ids(env, 209).is_empty());
    env.manager.free(&volid).unwrap();
}

fn hex_digest(algo: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut h = algo.hasher();
    h.update(data);
    h.finish_hex()
}

/// Uploads: a good checksum lands the file, a bad one deletes it; names are checked.
fn upload_with_checksum(env: &Env) {
    let data = b"pretend this is an ISO image".repeat(1000);
    for algo in ChecksumAlgorithm::ALL {
        let name = format!("good-{algo}.iso");
        let mut up = env
            .manager
            .begin_upload(
                &env.storage,
                ContentType::Iso,
                &name,
                Some((algo, hex_digest(algo, &data))),
            )
            .unwrap();
        up.write_all(&data).unwrap();
        let tmp = up.tmp_path().to_path_buf();
        let volid = up.commit().unwrap();
        assert_eq!(volid.to_string(), format!("store:iso/{name}"));
        assert!(!tmp.exists());
        let path = env.root.join("template/iso").join(&name);
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }
    let isos: Vec<_> = env
        .manager
        .list(
            &env.storage,
            &VolumeFilter {
                content: Some(ContentType::Iso),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(isos.len(), ChecksumAlgorithm::ALL.len());
    assert!(isos
        .iter()
        .all(|v| v.format == "iso" && v.size == data.len() as u64));

    let mut bad = env
        .manager
        .begin_upload(
            &env.storage,
            ContentType::Iso,
            "bad.iso",
            Some((ChecksumAlgorithm::Sha256, "00".repeat(32))),
        )
        .unwrap();
    bad.write_all(&data).unwrap();
    let err = bad.commit().unwrap_err();
    assert!(
        matches!(err, StorageError::ChecksumMismatch { .. }),
        "{err}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.root.join("template/iso"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("good-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let mut tmpl = env
        .manager
        .begin_upload(&env.storage, ContentType::Vztmpl, "debian-12.tar.zst", None)
        .unwrap();
    tmpl.write_all(b"zstd data").unwrap();
    let v = tmpl.commit().unwrap();
    assert_eq!(v.to_string(), "store:vztmpl/debian-12.tar.zst");
    let listed = env
        .manager
        .list(
            &env.storage,
            &VolumeFilter {
                content: Some(ContentType::Vztmpl),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed[0].format, "tzst");

    for name in [
        "../x.iso",
        "a/b.iso",
        "x.txt",
        ".hidden.iso",
        "x\0.iso",
        "good-md5.iso",
    ] {
        let err = env
            .manager
            .begin_upload(&env.storage, ContentType::Iso, name, None)
            .map(|_| ())
            .unwrap_err();
        assert!(err.is_bad_request(), "{name:?}: {err}");
    }
    let err = env
        .manager
        .begin_upload(&env.storage, ContentType::Images, "x.raw", None)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.param(), Some("content"));
    // dropping an unfinished upload deletes its file
    let up = env
        .manager
        .begin_upload(&env.storage, ContentType::Iso, "dropped.iso", None)
        .unwrap();
    let tmp = up.tmp_path().to_path_buf();
    drop(up);
    assert!(!tmp.exists());
    for algo in ChecksumAlgorithm::ALL {
        env.manager
            .free(&VolumeId::parse(&format!("store:iso/good-{algo}.iso")).unwrap())
            .unwrap();
    }
    env.manager.free(&v).unwrap();
}

/// Path traversal in volume ids and names is refused without touching anything.
fn traversal_refused(env: &Env) {
    let outside = env.tmp.path().join("outside.iso");
    std::fs::write(&outside, b"keep me").unwrap();
    for bad in [
        "store:../../etc/passwd",
        "store:iso/../../outside.iso",
        "store:/etc/passwd",
        "store:iso/..",
        "store:snippets/../../../outside.iso",
        "store:100/../../outside.iso",
        "store:iso/x\0.iso",
    ] {
        let err = VolumeId::parse(bad).map(|_| ()).unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidVolumeId { .. }),
            "{bad:?}: {err}"
        );
    }
    // names that parse as volume ids but do not match the storage's scheme
    for bad in [
        "store:iso/x.exe",
        "store:images/x.raw",
        "store:100/vm-100-disk-0.exe",
    ] {
        let volid = VolumeId::parse(bad).unwrap();
        assert!(env.manager.path(&volid).is_err(), "{bad}");
        assert!(env.manager.free(&volid).is_err(), "{bad}");
    }
    for name in [
        "../vm-210-x",
        "vm-210-../../x",
        "vm-210-a/b",
        "vm-211-x",
        "/tmp/vm-210-x",
    ] {
        let o = AllocOptions {
            name: Some(name.into()),
            ..opts(210, Some(VolumeFormat::Raw), MIB, None)
        };
        let err = env.manager.alloc(&env.storage, &o).unwrap_err();
        assert!(err.is_bad_request(), "{name}: {err}");
    }
    assert!(list_ids(env, 210).is_empty());
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep me");
}

/// Snapshots where the backend has them: data rolls back; other formats are refused.
fn snapshots(env: &Env) {
    let caps = env.manager.capabilities(&env.storage).unwrap();
    for format in formats(env) {
        let volid = env
            .manager
            .alloc(&env.storage, &opts(211, Some(format), 4 * MIB, None))
            .unwrap();
        if !caps.supports_snapshots(format) {
            let err = env.manager.snapshot_create(&volid, "s1").unwrap_err();
            assert!(
                matches!(err, StorageError::Unsupported { .. }),
                "{format}: {err}"
            );
            env.manager.free(&volid).unwrap();
            continue;
        }
        let path = env.manager.path(&volid).unwrap();
        let write = |byte: u8| {
            let data = env.tmp.path().join(format!("data-{byte}.raw"));
            std::fs::write(&data, vec![byte; 4 * MIB as usize]).unwrap();
            sh(
                "qemu-img",
                &[
                    "convert",
                    "-n",
                    "-f",
                    "raw",
                    "-O",
                    format.as_str(),
                    data.to_str().unwrap(),
                    path.to_str().unwrap(),
                ],
            );
            data
        };
        let first = write(1);
        env.manager.snapshot_create(&volid, "s1").unwrap();
        write(2);
        env.manager.snapshot_rollback(&volid, "s1").unwrap();
        same_content(&first, &path);
        env.manager.snapshot_delete(&volid, "s1").unwrap();
        let err = env.manager.snapshot_create(&volid, "1bad").unwrap_err();
        assert_eq!(err.param(), Some("snapname"));
        env.manager.free(&volid).unwrap();
    }
}

/// Templates and linked clones: base images are read-only, clones see their data, a base
/// with clones is not freed (where the backend tracks that).
fn templates_and_linked_clones(env: &Env) {
    let caps = env.manager.capabilities(&env.storage).unwrap();
    let format = if caps.supports_linked_clone(VolumeFormat::Qcow2) {
        VolumeFormat::Qcow2
    } else {
        VolumeFormat::Raw
    };
    let src = make_source_image(env.tmp.path());
    let volid = env
        .manager
        .import_image(
            &src,
            &env.storage,
            &opts(212, Some(format), 0, None),
            &mut |_| {},
        )
        .unwrap();
    let base = env.manager.create_base(&volid).unwrap();
    assert_eq!(
        base.to_string(),
        format!("store:212/base-212-disk-0.{format}")
    );
    let base_path = env.manager.path(&base).unwrap();
    assert!(!volid_path_exists(env, &volid));
    let clone = env.manager.clone_image(&base, 213, None).unwrap();
    let clone_path = env.manager.path(&clone).unwrap();
    same_content(&src, &clone_path);
    let listed = list_ids(env, 213);
    assert_eq!(listed, [clone.to_string()]);
    env.manager.check_owner(&clone, 213).unwrap();
    let err = env.manager.check_owner(&clone, 212).unwrap_err();
    assert!(
        matches!(err, StorageError::WrongOwner { owner: 213, .. }),
        "{err}"
    );
    if env.btrfs.is_none() {
        // dir: the clone is a qcow2 overlay of the base
        assert_eq!(
            clone.to_string(),
            format!("store:212/base-212-disk-0.{format}/213/vm-213-disk-0.qcow2")
        );
        assert_eq!(
            qemu_img_info(&clone_path)["backing-filename"],
            format!("../212/base-212-disk-0.{format}")
        );
        let err = env.manager.free(&base).unwrap_err();
        assert!(matches!(err, StorageError::VolumeInUse { .. }), "{err}");
    }
    env.manager.free(&clone).unwrap();
    env.manager.free(&base).unwrap();
    assert!(!base_path.exists());
}

/// Backups and snippets are listed from their directories with Proxmox's metadata;
/// protected backups are not removed.
fn backup_and_snippet_files(env: &Env) {
    let dump = env.root.join("dump");
    let name = "vzdump-qemu-230-2024_01_02-03_04_05.vma.zst";
    std::fs::write(dump.join(name), b"backup").unwrap();
    std::fs::write(dump.join(format!("{name}.notes")), "nightly\n").unwrap();
    std::fs::write(dump.join(format!("{name}.protected")), b"").unwrap();
    std::fs::write(
        dump.join("vzdump-lxc-231-2024_01_02-03_04_05.tar.zst"),
        b"ct",
    )
    .unwrap();
    std::fs::write(env.root.join("snippets/hook.pl"), b"#!/usr/bin/perl").unwrap();
    let filter = VolumeFilter {
        vmid: Some(230),
        content: Some(ContentType::Backup),
        ..Default::default()
    };
    let list = env.manager.list(&env.storage, &filter).unwrap();
    assert_eq!(list.len(), 1);
    let b = &list[0];
    assert_eq!(b.volid, format!("store:backup/{name}"));
    assert_eq!(
        (b.format.as_str(), b.vmid, b.notes.as_deref(), b.protected),
        ("vma.zst", Some(230), Some("nightly"), true)
    );
    let all = env
        .manager
        .list(&env.storage, &VolumeFilter::default())
        .unwrap();
    assert!(all
        .iter()
        .any(|v| v.volid == "store:snippets/hook.pl" && v.format == "snippet"));
    assert!(all
        .iter()
        .any(|v| v.volid.ends_with("tar.zst") && v.vmid == Some(231)));
    let volid = VolumeId::parse(&b.volid).unwrap();
    let err = env.manager.free(&volid).unwrap_err();
    assert!(matches!(err, StorageError::Protected { .. }), "{err}");
    std::fs::remove_file(dump.join(format!("{name}.protected"))).unwrap();
    let log = dump.join("vzdump-qemu-230-2024_01_02-03_04_05.log");
    std::fs::write(&log, b"log").unwrap();
    env.manager.free(&volid).unwrap();
    assert!(!dump.join(format!("{name}.notes")).exists());
    assert!(!log.exists(), "the backup's log goes with it");
    for v in [
        "store:backup/vzdump-lxc-231-2024_01_02-03_04_05.tar.zst",
        "store:snippets/hook.pl",
    ] {
        env.manager.free(&VolumeId::parse(v).unwrap()).unwrap();
    }
}

fn volid_path_exists(env: &Env, volid: &VolumeId) -> bool {
    env.manager.path(volid).map(|p| p.exists()).unwrap_or(false)
}

/// A named check of the suite.
type Check = (&'static str, fn(&Env));

fn run_suite(env: &Env) {
    let checks: [Check; 10] = [
        ("alloc_each_format_and_mode", alloc_each_format_and_mode),
        ("names_and_listing", names_and_listing),
        ("resize_grow_only", resize_grow_only),
        (
            "thick_refused_thin_overcommits",
            thick_refused_thin_overcommits,
        ),
        ("import_and_copy", import_and_copy),
        ("upload_with_checksum", upload_with_checksum),
        ("traversal_refused", traversal_refused),
        ("snapshots", snapshots),
        ("templates_and_linked_clones", templates_and_linked_clones),
        ("backup_and_snippet_files", backup_and_snippet_files),
    ];
    for (name, check) in checks {
        eprintln!(
            "[{}] {name}",
            env.manager.config().get(&env.storage).unwrap().storage_type
        );
        check(env);
    }
}

#[test]
fn dir_backend() {
    run_suite(&Env::dir());
}

#[test]
fn btrfs_backend() {
    let Some(env) = Env::btrfs() else { return };
    run_suite(&env);
    // Proxmox's layout: one subvolume per disk with disk.raw inside.
    let v = env
        .manager
        .alloc(&env.storage, &opts(300, None, MIB, None))
        .unwrap();
    let subvol = env.root.join("images/300/vm-300-disk-0");
    assert!(subvol.join("disk.raw").is_file());
    sh("btrfs", &["subvolume", "show", subvol.to_str().unwrap()]);
    env.manager.snapshot_create(&v, "snap1").unwrap();
    assert!(env
        .root
        .join("images/300/vm-300-disk-0@snap1/disk.raw")
        .is_file());
    assert_eq!(list_ids(&env, 300), [v.to_string()]);
    env.manager.free(&v).unwrap();
    assert!(!env.root.join("images/300").exists());
}

/// Ids of the level-0 qgroups of a btrfs (empty when quotas are off).
fn qgroup_ids(mountpoint: &Path) -> Vec<String> {
    let out = std::process::Command::new("btrfs")
        .args(["qgroup", "show", "--raw", "-r"])
        .arg(mountpoint)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with("0/"))
        .map(str::to_string)
        .collect()
}

fn subvol_id(path: &Path) -> String {
    let out = sh("btrfs", &["subvolume", "show", path.to_str().unwrap()]);
    let id = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Subvolume ID:"))
        .unwrap();
    format!("0/{}", id.trim())
}

/// Container subvolumes with a size: the size is a quota the kernel enforces, resize
/// raises it, snapshots, rollback and linked clones keep it, free removes the qgroups.
#[test]
fn btrfs_sized_subvolumes() {
    let Some(env) = Env::btrfs() else { return };
    let mount = env.btrfs.as_ref().unwrap().mountpoint.clone();
    let mut o = opts(310, Some(VolumeFormat::Subvol), 32 * MIB, None);
    o.content = ContentType::Rootdir;
    let v = env.manager.alloc(&env.storage, &o).unwrap();
    assert_eq!(v.to_string(), "store:310/subvol-310-disk-0.subvol");
    let dir = env.manager.path(&v).unwrap();
    sh("btrfs", &["subvolume", "show", dir.to_str().unwrap()]);
    assert_eq!(env.manager.info(&v).unwrap().size, 32 * MIB);
    let listed = env
        .manager
        .list(&env.storage, &VolumeFilter::default())
        .unwrap();
    let entry = listed.iter().find(|e| e.volid == v.to_string()).unwrap();
    assert_eq!((entry.size, entry.format.as_str()), (32 * MIB, "subvol"));

    // writing more than the limit fails with "Disk quota exceeded"
    let write = |name: &str, mib: u64| {
        let mut f = std::fs::File::create(dir.join(name)).unwrap();
        let chunk = vec![7u8; MIB as usize];
        let mut res = Ok(());
        for _ in 0..mib {
            if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_data()) {
                res = Err(e);
                break;
            }
        }
        res
    };
    let err = write("big", 48).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EDQUOT), "{err}");
    std::fs::remove_file(dir.join("big")).unwrap();
    sh("btrfs", &["filesystem", "sync", dir.to_str().unwrap()]);

    // grow: the new limit lets the write through
    let size = env
        .manager
        .resize(&v, SizeSpec::parse("+32M").unwrap())
        .unwrap();
    assert_eq!(size, 64 * MIB);
    write("big", 48).unwrap();
    sh("btrfs", &["filesystem", "sync", dir.to_str().unwrap()]);
    let info = env.manager.info(&v).unwrap();
    assert_eq!(info.size, 64 * MIB);
    assert!(info.used >= 48 * MIB, "{info:?}");
    let err = env
        .manager
        .resize(&v, SizeSpec::parse("16M").unwrap())
        .unwrap_err();
    assert!(matches!(err, StorageError::ShrinkRefused { .. }), "{err}");

    // snapshot, grow again, roll back: the data and the snapshot's limit come back
    env.manager.snapshot_create(&v, "s1").unwrap();
    std::fs::remove_file(dir.join("big")).unwrap();
    env.manager
        .resize(&v, SizeSpec::parse("96M").unwrap())
        .unwrap();
    env.manager.snapshot_rollback(&v, "s1").unwrap();
    assert!(dir.join("big").is_file());
    assert_eq!(env.manager.info(&v).unwrap().size, 64 * MIB);

    // a template and its linked clone keep the limit
    env.manager.snapshot_delete(&v, "s1").unwrap();
    let base = env.manager.create_base(&v).unwrap();
    assert_eq!(base, v, "a subvolume template keeps its name");
    let clone = env.manager.clone_image(&base, 311, None).unwrap();
    assert_eq!(clone.to_string(), "store:311/subvol-311-disk-0.subvol");
    assert_eq!(env.manager.info(&clone).unwrap().size, 64 * MIB);
    let clone_dir = env.manager.path(&clone).unwrap();
    assert!(clone_dir.join("big").is_file());

    // free removes the subvolumes and their qgroups
    let ids = [subvol_id(&dir), subvol_id(&clone_dir)];
    for id in &ids {
        assert!(qgroup_ids(&mount).contains(id), "{id}");
    }
    env.manager.free(&clone).unwrap();
    env.manager.free(&base).unwrap();
    assert!(!dir.exists() && !clone_dir.exists());
    let left = qgroup_ids(&mount);
    for id in &ids {
        assert!(!left.contains(id), "{id} left in {left:?}");
    }
}

/// A runner that fails `qemu-img create` after letting it create a partial file.
struct FailingCreate;

impl CommandRunner for FailingCreate {
    fn run_streaming(
        &self,
        cmd: &Cmd,
        out: Option<&mut dyn FnMut(&str)>,
    ) -> Result<CmdOutput, StorageError> {
        if cmd.args.first().map(String::as_str) == Some("create") {
            let path = cmd.args.iter().rev().nth(1).unwrap();
            std::fs::write(path, b"partial").unwrap();
            return Ok(CmdOutput::failed(1, "qemu-img: simulated failure"));
        }
        SystemRunner.run_streaming(cmd, out)
    }
}

#[test]
fn failed_allocation_leaves_nothing() {
    let env = Env::dir_with_runner(Arc::new(FailingCreate));
    let err = env
        .manager
        .alloc(
            &env.storage,
            &opts(220, Some(VolumeFormat::Qcow2), 4 * MIB, None),
        )
        .unwrap_err();
    assert!(err.to_string().contains("simulated failure"), "{err}");
    assert!(
        !env.root.join("images/220").exists(),
        "partial allocation left behind"
    );
}

#[test]
fn failed_copy_frees_its_target() {
    let env = Env::dir();
    let src = env
        .manager
        .alloc(
            &env.storage,
            &opts(221, Some(VolumeFormat::Qcow2), 4 * MIB, None),
        )
        .unwrap();
    let path = env.manager.path(&src).unwrap();
    // Corrupt the qcow2 version field: the header still gives a size, but qemu-img fails.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4..8].copy_from_slice(&[0xff; 4]);
    std::fs::write(&path, bytes).unwrap();
    let err = env
        .manager
        .copy_volume(
            &src,
            "other",
            &opts(222, Some(VolumeFormat::Raw), 0, None),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, StorageError::CommandFailed { .. }), "{err}");
    assert!(
        !env.tmp.path().join("other/images/222").exists(),
        "copy target left behind"
    );
    let missing = VolumeId::parse("store:221/vm-221-disk-9.raw").unwrap();
    let err = env
        .manager
        .copy_volume(&missing, "other", &opts(222, None, 0, None), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, StorageError::VolumeNotFound { .. }), "{err}");
}
