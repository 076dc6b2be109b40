//! Writing one guest's archive: its configs and disks streamed into `<name>.tmp` in the dump
//! directory, fsynced, then renamed into place, so a failed or interrupted backup never
//! leaves a file that looks complete.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxve_archive::{ArchiveWriter, Compression, DirectAppend, DiskSource, FileSource, Manifest};
use oxve_nbd::{NbdSource, QemuNbd};

use super::exclude::{container_path, Exclusions};

/// Where a disk's content is read from.
#[derive(Debug, Clone)]
pub enum DiskInput {
    /// A raw file or block device, read directly (holes skipped).
    Raw(PathBuf),
    /// An image in another format (qcow2, vmdk), served by a `qemu-nbd` of our own.
    Image { path: PathBuf, format: String },
    /// An export of a running VM's QEMU.
    Export { socket: PathBuf, name: String },
    /// A directory (a container's subvolume, or an image's file system mounted), archived
    /// as a tree of files; `mount` is where the container sees it (for `exclude-path`).
    Tree { root: PathBuf, mount: String },
}

/// One disk of the archive: its archive name (`drive-scsi0`, `rootfs`) and where it is.
#[derive(Debug, Clone)]
pub struct ArchiveDisk {
    pub name: String,
    pub input: DiskInput,
}

/// What an archive is made of.
pub struct ArchivePlan {
    pub target: PathBuf,
    pub compression: Compression,
    pub guest_type: &'static str,
    pub vmid: u32,
    pub ctime: u64,
    pub configs: Vec<(String, Vec<u8>)>,
    pub disks: Vec<ArchiveDisk>,
    /// Bytes per second, at most (`bwlimit`).
    pub bwlimit: Option<u64>,
    /// I/O priority of the reading and writing thread (`ionice`: 0-7 best effort, 8 idle).
    pub ionice: u8,
    /// Directory for `qemu-nbd` sockets.
    pub work_dir: PathBuf,
    /// What trees leave out (`exclude-path`, `stdexcludes`).
    pub exclusions: Exclusions,
}

impl ArchivePlan {
    /// A new archive of guest `vmid` (`qemu` or `lxc`) in the job's dump directory, named as
    /// Proxmox names backups, with `config` (file name, text) and a fresh work directory;
    /// the disks are added by the caller.
    pub fn new(
        env: &crate::env::RpcEnv,
        spec: &super::job::JobSpec,
        guest_type: &'static str,
        vmid: u32,
        config: (&str, String),
        log: &super::job::GuestLog,
    ) -> Result<ArchivePlan, String> {
        let ctime = super::job::now();
        let target = spec.dumpdir.join(format!(
            "vzdump-{guest_type}-{vmid}-{}.oxar{}",
            super::job::archive_time(ctime),
            spec.compression.extension()
        ));
        let work_dir = env
            .state
            .data_dir
            .join("tmp")
            .join(format!("vzdump-{vmid}-{ctime}"));
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| format!("create {}: {e}", work_dir.display()))?;
        log.info(format!("creating vzdump archive '{}'", target.display()));
        if let Compression::Pigz { threads } = spec.compression {
            log.info(format!("compressing with pigz ({threads} threads asked)"));
        }
        Ok(ArchivePlan {
            target,
            compression: spec.compression,
            guest_type,
            vmid,
            ctime,
            configs: vec![(config.0.to_string(), config.1.into_bytes())],
            disks: Vec::new(),
            bwlimit: spec.bwlimit,
            ionice: spec.ionice,
            work_dir,
            exclusions: spec.exclusions.clone(),
        })
    }
}

fn tmp_path(target: &Path) -> PathBuf {
    let mut p = target.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

/// Writes the archive (blocking). `log` gets progress lines.
pub fn write_archive(
    plan: &ArchivePlan,
    log: &(dyn Fn(String) + Sync),
) -> Result<Manifest, String> {
    set_ionice(plan.ionice);
    let tmp = tmp_path(&plan.target);
    let result = write_to(plan, &tmp, log);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to(
    plan: &ArchivePlan,
    tmp: &Path,
    log: &(dyn Fn(String) + Sync),
) -> Result<Manifest, String> {
    let file = File::create(tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
    let out = DirectAppend::new(&file, tmp).map_err(|e| format!("open {}: {e}", tmp.display()))?;
    let mut writer = ArchiveWriter::new(
        out,
        plan.compression,
        plan.guest_type,
        plan.vmid,
        plan.ctime,
    )
    .map_err(|e| e.to_string())?;
    for (name, data) in &plan.configs {
        writer.add_config(name, data).map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let mut total = 0u64;
    for (index, disk) in plan.disks.iter().enumerate() {
        if let DiskInput::Tree { root, mount } = &disk.input {
            let tree = TreeRef {
                name: &disk.name,
                root,
                mount,
            };
            add_tree(&mut writer, plan, &tree, started, &mut total, log)?;
            continue;
        }
        // Kept alive while the disk is read.
        let mut server: Option<QemuNbd> = None;
        let mut source: Box<dyn DiskSource> = match &disk.input {
            DiskInput::Raw(path) => Box::new(
                FileSource::open(path)
                    .map_err(|e| format!("{}: open {}: {e}", disk.name, path.display()))?,
            ),
            DiskInput::Image { path, format } => {
                let socket = plan.work_dir.join(format!("nbd-{index}.sock"));
                let s = QemuNbd::serve(path, format, &socket, false)
                    .map_err(|e| format!("{}: {e}", disk.name))?;
                let src = NbdSource::open(s.socket(), oxve_nbd::process_export())
                    .map_err(|e| format!("{}: {e}", disk.name))?;
                server = Some(s);
                Box::new(src)
            }
            DiskInput::Export { socket, name } => {
                Box::new(NbdSource::open(socket, name).map_err(|e| format!("{}: {e}", disk.name))?)
            }
            DiskInput::Tree { .. } => unreachable!("trees are written above"),
        };
        let size = source.size();
        log(format!("{}: {} bytes", disk.name, size));
        let disk_start = Instant::now();
        let mut next_report = 10u64;
        let mut progress = |done: u64, size: u64| {
            let percent = (done * 100).checked_div(size).unwrap_or(100);
            if percent >= next_report {
                next_report = percent / 10 * 10 + 10;
                log(format!(
                    "{}: {percent}% ({} of {}) in {:.1}s",
                    disk.name,
                    human(done),
                    human(size),
                    disk_start.elapsed().as_secs_f64()
                ));
            }
        };
        let mut throttled = Throttled {
            inner: source.as_mut(),
            limit: plan.bwlimit.filter(|l| *l > 0),
            started,
            read: &mut total,
        };
        let manifest = writer
            .add_disk(&disk.name, &mut throttled, &mut progress)
            .map_err(|e| e.to_string())?;
        drop(source);
        if let Some(s) = server {
            s.stop().map_err(|e| format!("{}: {e}", disk.name))?;
        }
        log(format!(
            "{}: {} of data, {} of zeros skipped, in {:.1}s",
            disk.name,
            human(manifest.data_bytes),
            human(manifest.zero_bytes),
            disk_start.elapsed().as_secs_f64()
        ));
    }
    let manifest = writer.finish().map_err(|e| e.to_string())?;
    file.sync_all()
        .map_err(|e| format!("fsync {}: {e}", tmp.display()))?;
    std::fs::rename(tmp, &plan.target).map_err(|e| format!("rename {}: {e}", tmp.display()))?;
    if let Some(dir) = plan.target.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(manifest)
}

/// Adds the directory tree `root` as disk `name`, at no more than `bwlimit` over the job,
/// logging its progress every GiB of file data.
/// A tree to archive: its archive name, where it is read, where the container sees it.
struct TreeRef<'t> {
    name: &'t str,
    root: &'t Path,
    mount: &'t str,
}

fn add_tree(
    writer: &mut ArchiveWriter<'_>,
    plan: &ArchivePlan,
    tree: &TreeRef<'_>,
    started: Instant,
    total: &mut u64,
    log: &(dyn Fn(String) + Sync),
) -> Result<(), String> {
    let TreeRef { name, root, mount } = *tree;
    log(format!("{name}: directory tree {}", root.display()));
    let tree_start = Instant::now();
    let before = *total;
    let mut next_report = 1u64 << 30;
    let limit = plan.bwlimit.filter(|l| *l > 0);
    let mut progress = |done: u64| {
        *total = before + done;
        if done >= next_report {
            next_report = done + (1 << 30);
            log(format!(
                "{name}: {} of file data in {:.1}s",
                human(done),
                tree_start.elapsed().as_secs_f64()
            ));
        }
        if let Some(limit) = limit {
            let due = Duration::from_secs_f64(*total as f64 / limit as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    };
    let (manifest, counts) = writer
        .add_tree(
            name,
            root,
            &|rel| plan.exclusions.excludes(&container_path(mount, rel)),
            &mut progress,
        )
        .map_err(|e| e.to_string())?;
    if counts.excluded > 0 {
        log(format!(
            "{name}: {} paths excluded (exclude-path, stdexcludes)",
            counts.excluded
        ));
    }
    if counts.skipped > 0 {
        log(format!("{name}: {} sockets left out", counts.skipped));
    }
    if counts.vanished > 0 {
        log(format!(
            "{name}: {} files vanished while being read",
            counts.vanished
        ));
    }
    log(format!(
        "{name}: {} entries, {} archived, in {:.1}s",
        counts.entries,
        human(manifest.size),
        tree_start.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// A source read at no more than `limit` bytes per second over the whole job (`bwlimit`);
/// zero ranges are not read, so they do not count.
struct Throttled<'s> {
    inner: &'s mut dyn DiskSource,
    limit: Option<u64>,
    started: Instant,
    read: &'s mut u64,
}

impl DiskSource for Throttled<'_> {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn extents(&mut self) -> std::io::Result<Vec<oxve_archive::Extent>> {
        self.inner.extents()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_at(offset, buf)?;
        *self.read += buf.len() as u64;
        if let Some(limit) = self.limit {
            let due = Duration::from_secs_f64(*self.read as f64 / limit as f64);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(())
    }
}

/// Sets this thread's I/O priority as `ionice` does: levels 0-7 of the best-effort class,
/// 8 for the idle class (only the BFQ scheduler honours it).
fn set_ionice(level: u8) {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const CLASS_SHIFT: libc::c_long = 13;
    let prio = if level >= 8 {
        3 << CLASS_SHIFT
    } else {
        (2 << CLASS_SHIFT) | libc::c_long::from(level)
    };
    // SAFETY: ioprio_set on the calling thread (who = 0) changes only its I/O priority.
    unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0 as libc::c_long,
            prio,
        )
    };
}

/// Sizes as Proxmox's logs show them (`1.5 GiB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// [`write_archive`] on a blocking thread, logging to the guest's log.
pub async fn write(plan: ArchivePlan, log: &super::job::GuestLog) -> Result<(), String> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || write_archive(&plan, &|m| log.info(m)).map(|_| ()))
        .await
        .map_err(|e| e.to_string())?
}
