//! Archives of real sparse files: round trips in every compression, only data is read and
//! stored, and damage is caught.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use oxve_archive::{
    ArchiveError, ArchiveReader, ArchiveWriter, BlockHash, Compression, DiskTarget, FileSource,
};

const MIB: u64 = 1 << 20;

/// 64 MiB sparse disk: a 5 MiB pattern at 0, 4 MiB of written zeros at 8 MiB, 1 MiB at 40 MiB.
fn make_disk(path: &Path) {
    let f = File::create(path).unwrap();
    f.set_len(64 * MIB).unwrap();
    let pattern: Vec<u8> = (0..5 * MIB).map(|i| (i % 251) as u8).collect();
    f.write_all_at(&pattern, 0).unwrap();
    f.write_all_at(&vec![0u8; 4 * MIB as usize], 8 * MIB)
        .unwrap();
    f.write_all_at(&vec![0xabu8; MIB as usize], 40 * MIB)
        .unwrap();
}

fn backup(disk: &Path, archive: &Path, compression: Compression) -> oxve_archive::Manifest {
    backup_with(disk, archive, compression, BlockHash::Blake3)
}

fn backup_with(
    disk: &Path,
    archive: &Path,
    compression: Compression,
    hash: BlockHash,
) -> oxve_archive::Manifest {
    let out = File::create(archive).unwrap();
    let mut w =
        ArchiveWriter::with_block_hash(out, compression, "qemu", 100, 1_700_000_000, hash).unwrap();
    w.add_config(
        "qemu-server.conf",
        b"memory: 512\nscsi0: local:100/vm-100-disk-0.raw\n",
    )
    .unwrap();
    let mut src = FileSource::open(disk).unwrap();
    w.add_disk("drive-scsi0", &mut src, &mut |_, _| {}).unwrap();
    w.finish().unwrap()
}

fn restore(archive: &Path, target: &Path) -> oxve_archive::Extracted {
    let r = ArchiveReader::new(File::open(archive).unwrap()).unwrap();
    r.extract(&mut |head| {
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(target)?;
        f.set_len(head.size)?;
        Ok(Some(Box::new(f) as Box<dyn DiskTarget>))
    })
    .unwrap()
}

#[test]
fn round_trip_in_every_compression() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Pigz { threads: 2 },
        Compression::Zstd { threads: 0 },
        Compression::Lzo,
    ] {
        let archive = dir
            .path()
            .join(format!("a.oxar{}", compression.extension()));
        let manifest = backup(&disk, &archive, compression);
        let d = &manifest.disks[0];
        assert_eq!(d.size, 64 * MIB);
        // Only the 6 MiB of data are stored; holes and written zeros are zero regions.
        assert_eq!(d.data_bytes, 6 * MIB, "{compression:?}");
        assert_eq!(d.zero_bytes, 58 * MIB);
        let restored = dir.path().join("restored.raw");
        let out = restore(&archive, &restored);
        assert_eq!(out.manifest, manifest);
        assert_eq!(
            out.configs["qemu-server.conf"],
            b"memory: 512\nscsi0: local:100/vm-100-disk-0.raw\n"
        );
        assert_eq!(
            std::fs::read(&disk).unwrap(),
            std::fs::read(&restored).unwrap()
        );
        let verified = ArchiveReader::new(File::open(&archive).unwrap())
            .unwrap()
            .verify()
            .unwrap();
        assert_eq!(verified.disks, manifest.disks);
    }
}

#[test]
fn pigz_archives_are_gzip_files() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let gz = dir.path().join("a.oxar.gz");
    backup(&disk, &gz, Compression::Pigz { threads: 1 });
    let plain = dir.path().join("a.oxar");
    backup(&disk, &plain, Compression::None);
    // The stock gzip unpacks it into the uncompressed archive, byte for byte.
    let out = std::process::Command::new("gzip")
        .args(["-d", "-c"])
        .arg(&gz)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&plain).unwrap());
}

#[test]
fn lzo_archives_are_lzop_files() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let lzo = dir.path().join("a.oxar.lzo");
    backup(&disk, &lzo, Compression::Lzo);
    let plain = dir.path().join("a.oxar");
    backup(&disk, &plain, Compression::None);
    // The stock tool unpacks it into the uncompressed archive, byte for byte.
    let out = std::process::Command::new("lzop")
        .args(["-d", "-c"])
        .arg(&lzo)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&plain).unwrap());

    // Damage is caught: lzop's own checksums fail, or a block checksum does.
    let mut bad = std::fs::read(&lzo).unwrap();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&lzo, &bad).unwrap();
    let r = ArchiveReader::new(File::open(&lzo).unwrap()).and_then(|r| r.verify());
    assert!(r.is_err());
    // Cut short: refused.
    let good = {
        backup(&disk, &lzo, Compression::Lzo);
        std::fs::read(&lzo).unwrap()
    };
    std::fs::write(&lzo, &good[..good.len() / 2]).unwrap();
    let r = ArchiveReader::new(File::open(&lzo).unwrap()).and_then(|r| r.verify());
    assert!(r.is_err());
}

#[test]
fn damage_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let archive = dir.path().join("a.oxar");
    backup(&disk, &archive, Compression::None);
    let good = std::fs::read(&archive).unwrap();

    // A flipped byte inside the first data block.
    let mut bad = good.clone();
    bad[4096] ^= 0x01;
    std::fs::write(&archive, &bad).unwrap();
    let err = ArchiveReader::new(File::open(&archive).unwrap())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, ArchiveError::BlockChecksum { .. }), "{err}");

    // Cut short: no manifest.
    std::fs::write(&archive, &good[..good.len() - 100]).unwrap();
    let err = ArchiveReader::new(File::open(&archive).unwrap())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(
        matches!(err, ArchiveError::Incomplete | ArchiveError::Corrupt(_)),
        "{err}"
    );

    // Damage in a zstd archive fails too (in the decoder or a checksum).
    let zst = dir.path().join("a.oxar.zst");
    backup(&disk, &zst, Compression::Zstd { threads: 1 });
    let mut bad = std::fs::read(&zst).unwrap();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&zst, &bad).unwrap();
    let r = ArchiveReader::new(File::open(&zst).unwrap()).and_then(|r| r.verify());
    assert!(r.is_err());

    // Not an archive at all.
    std::fs::write(&archive, b"hello").unwrap();
    assert!(ArchiveReader::new(File::open(&archive).unwrap()).is_err());
}

#[test]
fn an_empty_thin_disk_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("empty.raw");
    let mut f = File::create(&disk).unwrap();
    f.set_len(100 << 30).unwrap();
    f.seek(SeekFrom::Start(50 << 30)).unwrap();
    f.write_all(b"data in the middle").unwrap();
    drop(f);
    let archive = dir.path().join("e.oxar.zst");
    let started = std::time::Instant::now();
    let manifest = backup(&disk, &archive, Compression::Zstd { threads: 0 });
    // Time follows the data (one 4 KiB page), not the 100 GiB size.
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    assert!(manifest.disks[0].data_bytes <= 1 << 20);
    assert!(std::fs::metadata(&archive).unwrap().len() < 64 * 1024);
    ArchiveReader::new(File::open(&archive).unwrap())
        .unwrap()
        .verify()
        .unwrap();
}

#[test]
fn configs_are_read_ahead_and_extraction_goes_on_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let archive = dir.path().join("a.oxar.zst");
    backup(&disk, &archive, Compression::Zstd { threads: 1 });
    let mut r = ArchiveReader::new(File::open(&archive).unwrap()).unwrap();
    let configs = r.configs().unwrap().clone();
    assert_eq!(configs.keys().collect::<Vec<_>>(), ["qemu-server.conf"]);
    let restored = dir.path().join("restored.raw");
    let out = r
        .extract(&mut |head| {
            let f = File::create(&restored)?;
            f.set_len(head.size)?;
            Ok(Some(Box::new(f) as Box<dyn DiskTarget>))
        })
        .unwrap();
    assert_eq!(out.configs, configs);
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        std::fs::read(&restored).unwrap()
    );
}

/// Version 1 archives (stream digest over every byte, block data included) are still read.
#[test]
fn version_1_archives_are_read() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let archive = dir.path().join("a.oxar");
    let manifest = backup_with(&disk, &archive, Compression::None, BlockHash::Sha256);
    // The same records as version 1 wrote them: header version 1 and the stream digest
    // (the last 32 bytes) over everything before it.
    let mut v1 = std::fs::read(&archive).unwrap();
    assert_eq!(v1[9..13], 3u32.to_le_bytes());
    v1[9..13].copy_from_slice(&1u32.to_le_bytes());
    let end = v1.len() - 32;
    let digest = Sha256::digest(&v1[..end]);
    v1[end..].copy_from_slice(&digest);
    std::fs::write(&archive, &v1).unwrap();
    let restored = dir.path().join("restored.raw");
    assert_eq!(restore(&archive, &restored).manifest, manifest);
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        std::fs::read(&restored).unwrap()
    );
    // A version 2 reading of it fails: its stream digest differs.
    v1[9..13].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&archive, &v1).unwrap();
    assert!(ArchiveReader::new(File::open(&archive).unwrap())
        .unwrap()
        .verify()
        .is_err());
    // And so does a version 3 one.
    v1[9..13].copy_from_slice(&3u32.to_le_bytes());
    std::fs::write(&archive, &v1).unwrap();
    let err = ArchiveReader::new(File::open(&archive).unwrap())
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(matches!(err, ArchiveError::Corrupt(_)), "{err}");
}

/// Version 2 archives (version 3 without directory trees) are still read.
#[test]
fn version_3_archives_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let archive = dir.path().join("a.oxar");
    let manifest = backup_with(
        &disk,
        &archive,
        Compression::Zstd { threads: 1 },
        BlockHash::Sha256,
    );
    let restored = dir.path().join("restored.raw");
    assert_eq!(restore(&archive, &restored).manifest, manifest);
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        std::fs::read(&restored).unwrap()
    );
    let plain = dir.path().join("b.oxar");
    backup_with(&disk, &plain, Compression::None, BlockHash::Sha256);
    assert_eq!(std::fs::read(&plain).unwrap()[9..13], 3u32.to_le_bytes());
    let current = dir.path().join("c.oxar");
    backup(&disk, &current, Compression::None);
    assert_eq!(std::fs::read(&current).unwrap()[9..13], 4u32.to_le_bytes());
}

#[test]
fn version_2_archives_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.raw");
    make_disk(&disk);
    let archive = dir.path().join("a.oxar");
    let manifest = backup_with(&disk, &archive, Compression::None, BlockHash::Sha256);
    let mut v2 = std::fs::read(&archive).unwrap();
    v2[9..13].copy_from_slice(&2u32.to_le_bytes());
    let end = v2.len() - 32;
    let digest = stream_digest(&v2[..end]);
    v2[end..].copy_from_slice(&digest);
    std::fs::write(&archive, &v2).unwrap();
    let restored = dir.path().join("restored.raw");
    assert_eq!(restore(&archive, &restored).manifest, manifest);
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        std::fs::read(&restored).unwrap()
    );
}

/// The stream digest of an uncompressed disk archive (everything but block payloads).
fn stream_digest(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let u16_at = |p: usize| u16::from_le_bytes(data[p..p + 2].try_into().unwrap()) as usize;
    let u32_at = |p: usize| u32::from_le_bytes(data[p..p + 4].try_into().unwrap()) as usize;
    let mut hash = Sha256::new();
    let mut pos = 0;
    while pos < data.len() {
        let (head, payload) = match data[pos] {
            b'H' => (21, 0),
            b'C' => {
                let name = u16_at(pos + 1);
                (3 + name + 4, u32_at(pos + 3 + name))
            }
            b'D' => (4 + u16_at(pos + 2) + 8, 0),
            b'B' => (1 + 1 + 8 + 4 + 32, u32_at(pos + 10)),
            b'Z' => (18, 0),
            b'M' => (5 + u32_at(pos + 1), 0),
            other => panic!("record {other}"),
        };
        hash.update(&data[pos..pos + head]);
        // A config's data is hashed; a block's payload is not.
        if data[pos] == b'C' {
            hash.update(&data[pos + head..pos + head + payload]);
        }
        pos += head + payload;
    }
    hash.finalize().into()
}
