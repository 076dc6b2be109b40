//! Benchmarks (ignored by default; run with
//! `cargo test -p oxve-storage --release --test bench -- --ignored --nocapture`):
//! allocating a 100 GiB qcow2, and a full copy through the storage layer against a bare
//! `qemu-img convert` of the same image, reported as ratios measured in the same run.

mod common;

use std::io::Write;

use common::{sh, Env};
use oxve_storage::bench::{alloc_qcow2_100g, copy_vs_bare};
use oxve_storage::{AllocOptions, ContentType, Preallocation, VolumeFormat};

#[test]
#[ignore]
fn bench_alloc_thin_100g_qcow2() {
    let env = Env::dir();
    let thin =
        alloc_qcow2_100g(&env.manager, &env.storage, 500, Some(Preallocation::Off), 9).unwrap();
    let meta = alloc_qcow2_100g(&env.manager, &env.storage, 500, None, 5).unwrap();
    let dir = env.tmp.path().join("bare");
    std::fs::create_dir(&dir).unwrap();
    let bare = oxve_storage::bench::median_time(9, || {
        let p = dir.join("x.qcow2");
        let _ = std::fs::remove_file(&p);
        sh(
            "qemu-img",
            &[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-o",
                "preallocation=off",
                p.to_str().unwrap(),
                "100G",
            ],
        );
        Ok(())
    })
    .unwrap();
    println!("alloc 100 GiB qcow2 thin (preallocation=off): {thin:?} (bare qemu-img create: {bare:?}, ratio {:.2})", thin.as_secs_f64() / bare.as_secs_f64());
    println!("alloc 100 GiB qcow2 preallocation=metadata (Proxmox default): {meta:?}");
}

#[test]
#[ignore]
fn bench_full_copy_vs_qemu_img() {
    let env = Env::dir();
    // A 1 GiB image, half of it data.
    let raw = env.tmp.path().join("src.raw");
    let mut f = std::fs::File::create(&raw).unwrap();
    let mut block = vec![0u8; 1 << 20];
    for i in 0..1024u32 {
        if i % 2 == 0 {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (j as u32).wrapping_mul(2654435761).wrapping_add(i) as u8;
            }
            f.write_all(&block).unwrap();
        } else {
            f.write_all(&vec![0u8; 1 << 20]).unwrap();
        }
    }
    drop(f);
    let opts = AllocOptions {
        vmid: 501,
        name: None,
        format: Some(VolumeFormat::Qcow2),
        size: 0,
        preallocation: None,
        content: ContentType::Images,
    };
    let src = env
        .manager
        .import_image(&raw, &env.storage, &opts, &mut |_| {})
        .unwrap();
    let scratch = env.tmp.path().join("other/scratch.img");
    for format in [VolumeFormat::Qcow2, VolumeFormat::Raw] {
        // warm the page cache first
        copy_vs_bare(&env.manager, &src, "other", 502, format, &scratch).unwrap();
        let mut ratios = Vec::new();
        for _ in 0..5 {
            let (ours, bare) =
                copy_vs_bare(&env.manager, &src, "other", 502, format, &scratch).unwrap();
            ratios.push(bare.as_secs_f64() / ours.as_secs_f64());
            println!("copy 1 GiB qcow2 -> {format}: storage layer {ours:?}, bare qemu-img convert {bare:?}");
        }
        ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "copy -> {format}: throughput ratio (ours / bare), median of 5: {:.2}",
            ratios[2]
        );
    }
}
