//! Where archive time goes: `cargo run --release -p oxve-archive --example throughput DISK DIR`
//! times reading DISK in blocks, hashing it, compressing it, and a whole archive written
//! (zstd, all cores) and extracted into DIR.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use oxve_archive::{ArchiveReader, ArchiveWriter, Compression, DiskSource, DiskTarget, FileSource};
use sha2::{Digest, Sha256};

fn gib_s(bytes: u64, t: Instant) -> String {
    let s = t.elapsed().as_secs_f64();
    format!(
        "{s:.2} s, {:.2} GiB/s",
        bytes as f64 / s / (1u64 << 30) as f64
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let disk = PathBuf::from(&args[1]);
    let dir = PathBuf::from(&args[2]);
    let mut src = FileSource::open(&disk).unwrap();
    let size = src.size();
    let mut buf = vec![0u8; 4 << 20];

    let t = Instant::now();
    let mut off = 0;
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        src.read_at(off, &mut buf[..n]).unwrap();
        off += n as u64;
    }
    println!("read:            {}", gib_s(size, t));

    let t = Instant::now();
    let mut off = 0;
    let mut h = Sha256::new();
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        src.read_at(off, &mut buf[..n]).unwrap();
        h.update(&buf[..n]);
        off += n as u64;
    }
    std::hint::black_box(h.finalize());
    println!("read + sha256:   {}", gib_s(size, t));

    let t = Instant::now();
    let mut off = 0;
    let mut enc = zstd::stream::write::Encoder::new(std::io::sink(), 1).unwrap();
    enc.multithread(std::thread::available_parallelism().unwrap().get() as u32)
        .unwrap();
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        src.read_at(off, &mut buf[..n]).unwrap();
        enc.write_all(&buf[..n]).unwrap();
        off += n as u64;
    }
    enc.finish().unwrap();
    println!("read + zstd -1:  {}", gib_s(size, t));

    let t = Instant::now();
    let mut w = ArchiveWriter::new(
        std::io::sink(),
        Compression::Zstd { threads: 0 },
        "qemu",
        1,
        0,
    )
    .unwrap();
    w.add_disk("d", &mut src, &mut |_, _| {}).unwrap();
    w.finish().unwrap();
    println!("archive to sink: {}", gib_s(size, t));

    let archive = dir.join("t.oxar.zst");
    // SAFETY: sync(2) has no memory effects; each timed write starts with no dirty pages.
    unsafe { libc::sync() };
    let t = Instant::now();
    let out = BufWriter::with_capacity(4 << 20, File::create(&archive).unwrap());
    let mut w = ArchiveWriter::new(out, Compression::Zstd { threads: 0 }, "qemu", 1, 0).unwrap();
    w.add_disk("d", &mut src, &mut |_, _| {}).unwrap();
    w.finish().unwrap();
    println!("archive write:   {}", gib_s(size, t));

    let t = Instant::now();
    let mut r = Compression::reader(std::io::BufReader::with_capacity(
        4 << 20,
        File::open(&archive).unwrap(),
    ))
    .unwrap();
    let n = std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    println!("decompress:      {} ({n} bytes)", gib_s(size, t));
    let t = Instant::now();
    let mut r = Compression::reader(std::io::BufReader::with_capacity(
        4 << 20,
        File::open(&archive).unwrap(),
    ))
    .unwrap();
    let mut h = Sha256::new();
    loop {
        let n = std::io::Read::read(&mut r, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    std::hint::black_box(h.finalize());
    println!("decompress+sha:  {}", gib_s(size, t));

    let t = Instant::now();
    ArchiveReader::new(std::io::BufReader::with_capacity(
        4 << 20,
        File::open(&archive).unwrap(),
    ))
    .unwrap()
    .verify()
    .unwrap();
    println!("archive verify:  {}", gib_s(size, t));

    let target = dir.join("t.raw");
    // SAFETY: sync(2) has no memory effects; each timed write starts with no dirty pages.
    unsafe { libc::sync() };
    let t = Instant::now();
    let r = ArchiveReader::new(std::io::BufReader::with_capacity(
        4 << 20,
        File::open(&archive).unwrap(),
    ))
    .unwrap();
    r.extract(&mut |head| {
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&target)?;
        f.set_len(head.size)?;
        Ok(Some(Box::new(f) as Box<dyn DiskTarget>))
    })
    .unwrap();
    println!("archive extract: {}", gib_s(size, t));
    std::fs::remove_file(&target).unwrap();
    std::fs::remove_file(&archive).unwrap();
}
