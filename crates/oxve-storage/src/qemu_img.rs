//! `qemu-img` through the [`CommandRunner`] seam: create, info, resize, convert (with
//! progress) and internal snapshots.

use std::path::Path;

use serde::Deserialize;

use crate::command::{Cmd, CommandRunner};
use crate::error::StorageError;
use crate::format::{Preallocation, VolumeFormat};

const QEMU_IMG: &str = "qemu-img";

/// What `qemu-img info --output=json` says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Guest-visible size in bytes.
    pub virtual_size: u64,
    /// Detected or forced format (`raw`, `qcow2`, `vmdk`, ...).
    pub format: String,
    /// Bytes allocated on the host.
    pub actual_size: u64,
    /// Backing file as recorded in the image (relative for linked clones).
    pub backing_filename: Option<String>,
    /// Internal snapshot names (qcow2).
    pub snapshots: Vec<String>,
    /// Whether the image references an external data file (qcow2 `data-file`).
    pub has_data_file: bool,
    /// Number of extents (vmdk) or children; more than one is refused for untrusted images.
    pub extents: usize,
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(rename = "virtual-size")]
    virtual_size: u64,
    format: String,
    #[serde(rename = "actual-size", default)]
    actual_size: u64,
    #[serde(rename = "backing-filename")]
    backing_filename: Option<String>,
    #[serde(default)]
    snapshots: Vec<RawSnapshot>,
    #[serde(rename = "format-specific")]
    format_specific: Option<RawFormatSpecific>,
}

#[derive(Deserialize)]
struct RawSnapshot {
    name: String,
}

#[derive(Deserialize)]
struct RawFormatSpecific {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: serde_json::Value,
}

impl ImageInfo {
    /// Parse the JSON output of `qemu-img info --output=json`.
    pub fn from_json(cmd: &str, json: &str) -> Result<Self, StorageError> {
        let raw: RawInfo = serde_json::from_str(json).map_err(|e| StorageError::CommandOutput {
            command: cmd.to_string(),
            reason: e.to_string(),
        })?;
        let (has_data_file, extents) = match &raw.format_specific {
            Some(fs) if fs.kind == "qcow2" => (fs.data.get("data-file").is_some(), 1),
            Some(fs) if fs.kind == "vmdk" => (
                false,
                fs.data
                    .get("extents")
                    .and_then(|e| e.as_array())
                    .map_or(1, Vec::len),
            ),
            _ => (false, 1),
        };
        Ok(ImageInfo {
            virtual_size: raw.virtual_size,
            format: raw.format,
            actual_size: raw.actual_size,
            backing_filename: raw.backing_filename,
            snapshots: raw.snapshots.into_iter().map(|s| s.name).collect(),
            has_data_file,
            extents,
        })
    }

    /// Refuse images that could make QEMU read other files: backing files, external data
    /// files, multi-extent vmdk (Proxmox's checks for untrusted images).
    pub fn check_untrusted(&self, path: &Path) -> Result<(), StorageError> {
        let reason = if self.backing_filename.is_some() {
            "backing files are not allowed for imported images"
        } else if self.has_data_file {
            "'data-file' references are not allowed"
        } else if self.extents > 1 {
            "multiple children or extents are not allowed"
        } else {
            return Ok(());
        };
        Err(StorageError::InvalidFilename {
            name: path.display().to_string(),
            reason: reason.into(),
        })
    }
}

/// `qemu-img info --output=json [-f <format>] <path>`.
pub fn info(
    runner: &dyn CommandRunner,
    path: &Path,
    format: Option<&str>,
) -> Result<ImageInfo, StorageError> {
    // `-U`: read the metadata of an image a running VM holds open (shared lock).
    let mut cmd = Cmd::new(QEMU_IMG).args(["info", "-U", "--output=json"]);
    if let Some(f) = format {
        cmd = cmd.args(["-f", f]);
    }
    let cmd = cmd.arg(path);
    let out = runner.run_ok(&cmd)?;
    ImageInfo::from_json(&cmd.to_string(), &out.stdout)
}

/// The `-o preallocation=` mode qemu-img gets for `format` (none for vmdk, which ignores it).
pub fn preallocation_option(format: VolumeFormat, mode: Preallocation) -> Option<String> {
    match (format, mode) {
        (VolumeFormat::Qcow2, m) => Some(format!("preallocation={m}")),
        (VolumeFormat::Raw, Preallocation::Metadata) => Some("preallocation=off".into()),
        (VolumeFormat::Raw, m) => Some(format!("preallocation={m}")),
        _ => None,
    }
}

/// The `qemu-img create` command for a new image of `size` bytes.
pub fn create_cmd(
    path: &Path,
    format: VolumeFormat,
    size: u64,
    preallocation: Option<Preallocation>,
) -> Cmd {
    let mut cmd = Cmd::new(QEMU_IMG).args(["create", "-q"]);
    if let Some(opt) = preallocation.and_then(|p| preallocation_option(format, p)) {
        cmd = cmd.args(["-o", &opt]);
    }
    cmd.args(["-f", format.as_str()])
        .arg(path)
        .arg(size.to_string())
}

/// Create an image.
pub fn create(
    runner: &dyn CommandRunner,
    path: &Path,
    format: VolumeFormat,
    size: u64,
    preallocation: Option<Preallocation>,
) -> Result<(), StorageError> {
    runner.run_ok(&create_cmd(path, format, size, preallocation))?;
    Ok(())
}

/// Create a qcow2 overlay of `backing` (a path relative to `dir`, where it also runs).
pub fn create_overlay(
    runner: &dyn CommandRunner,
    dir: &Path,
    path: &Path,
    backing: &str,
    backing_format: VolumeFormat,
) -> Result<(), StorageError> {
    let cmd = Cmd::new(QEMU_IMG)
        .args(["create", "-q", "-b", backing, "-F", backing_format.as_str()])
        .args(["-f", "qcow2"])
        .arg(path)
        .cwd(dir);
    runner.run_ok(&cmd)?;
    Ok(())
}

/// Grow an image to `size` bytes (`--preallocation` keeps thick images thick).
pub fn resize(
    runner: &dyn CommandRunner,
    path: &Path,
    format: VolumeFormat,
    size: u64,
    preallocation: Option<Preallocation>,
) -> Result<(), StorageError> {
    let mut cmd = Cmd::new(QEMU_IMG).args(["resize", "-q", "-f", format.as_str()]);
    if let Some(p) = preallocation.filter(|p| p.is_thick() && format != VolumeFormat::Vmdk) {
        cmd = cmd.arg(format!("--preallocation={p}"));
    }
    runner.run_ok(&cmd.arg(path).arg(size.to_string()))?;
    Ok(())
}

/// How `convert` writes its target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// The target exists already (allocated by the storage): `-n`.
    pub target_exists: bool,
    /// The existing target reads as zeroes, so zero areas need not be written.
    pub target_is_zero: bool,
    /// Preallocation of a target that qemu-img creates (ignored with `target_exists`).
    pub preallocation: Option<Preallocation>,
}

/// What `convert` reads: an image, optionally as it was at an internal snapshot.
#[derive(Debug, Clone, Copy)]
pub struct ConvertSource<'a> {
    pub path: &'a Path,
    pub format: &'a str,
    pub snapshot: Option<&'a str>,
}

/// The `qemu-img convert` command line.
pub fn convert_cmd(
    src: ConvertSource<'_>,
    dst: &Path,
    dst_format: VolumeFormat,
    opts: ConvertOptions,
) -> Cmd {
    let mut cmd = Cmd::new(QEMU_IMG).args(["convert", "-p"]);
    if let Some(snap) = src.snapshot {
        // Read the image as it was at internal snapshot `snap`; a snapshot never changes, so
        // reading it while a running VM holds the image (-U) is safe.
        cmd = cmd.args(["-U", "-l", &format!("snapshot.name={snap}")]);
    }
    if opts.target_exists {
        cmd = cmd.arg("-n");
        if opts.target_is_zero {
            cmd = cmd.arg("--target-is-zero");
        }
    } else if let Some(o) = opts
        .preallocation
        .and_then(|p| preallocation_option(dst_format, p))
    {
        cmd = cmd.args(["-o", &o]);
    }
    cmd.args(["-f", src.format, "-O", dst_format.as_str()])
        .arg(src.path)
        .arg(dst)
}

/// Parse one progress chunk of `qemu-img convert -p` (`    (12.34/100%)`).
pub fn parse_progress(chunk: &str) -> Option<f64> {
    let start = chunk.find('(')?;
    let rest = &chunk[start + 1..];
    let end = rest.find("/100%")?;
    rest[..end].trim().parse().ok()
}

/// Copy/convert `src` into `dst`, reporting percent done (0..=100) to `progress`.
pub fn convert(
    runner: &dyn CommandRunner,
    src: ConvertSource<'_>,
    dst: &Path,
    dst_format: VolumeFormat,
    opts: ConvertOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<(), StorageError> {
    let cmd = convert_cmd(src, dst, dst_format, opts);
    let mut last = -1.0f64;
    let mut cb = |chunk: &str| {
        if let Some(p) = parse_progress(chunk) {
            if p > last {
                last = p;
                progress(p);
            }
        }
    };
    let out = runner.run_streaming(&cmd, Some(&mut cb))?;
    crate::command::check_status(&cmd, out)?;
    Ok(())
}

/// What to do with an internal snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOp {
    /// `-c`: create.
    Create,
    /// `-d`: delete.
    Delete,
    /// `-a`: apply (roll back to).
    Apply,
}

/// `qemu-img snapshot -c|-d|-a <name> <path>`.
pub fn snapshot(
    runner: &dyn CommandRunner,
    op: SnapshotOp,
    name: &str,
    path: &Path,
) -> Result<(), StorageError> {
    let flag = match op {
        SnapshotOp::Create => "-c",
        SnapshotOp::Delete => "-d",
        SnapshotOp::Apply => "-a",
    };
    runner.run_ok(&Cmd::new(QEMU_IMG).args(["snapshot", flag, name]).arg(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CmdOutput, RecordingRunner};

    #[test]
    fn parses_info_json() {
        let json = r#"{"virtual-size": 1073741824, "filename": "x.qcow2", "format": "qcow2",
            "actual-size": 200704, "backing-filename": "../100/base-100-disk-0.qcow2",
            "snapshots": [{"name": "s1", "id": "1"}],
            "format-specific": {"type": "qcow2", "data": {"compat": "1.1"}}}"#;
        let i = ImageInfo::from_json("qemu-img info", json).unwrap();
        assert_eq!(i.virtual_size, 1 << 30);
        assert_eq!(i.actual_size, 200704);
        assert_eq!(
            i.backing_filename.as_deref(),
            Some("../100/base-100-disk-0.qcow2")
        );
        assert_eq!(i.snapshots, ["s1"]);
        assert!(i.check_untrusted(Path::new("x")).is_err());
        let json = r#"{"virtual-size": 1, "format": "vmdk", "format-specific": {"type": "vmdk",
            "data": {"extents": [{}, {}]}}}"#;
        let i = ImageInfo::from_json("qemu-img info", json).unwrap();
        assert!(i.check_untrusted(Path::new("x")).is_err());
        assert!(ImageInfo::from_json("q", "not json").is_err());
    }

    #[test]
    fn builds_commands() {
        let c = create_cmd(
            Path::new("/s/x.qcow2"),
            VolumeFormat::Qcow2,
            1 << 30,
            Some(Preallocation::Metadata),
        );
        assert_eq!(
            c.to_string(),
            "qemu-img create -q -o preallocation=metadata -f qcow2 /s/x.qcow2 1073741824"
        );
        let c = create_cmd(
            Path::new("/s/x.raw"),
            VolumeFormat::Raw,
            1024,
            Some(Preallocation::Metadata),
        );
        assert_eq!(
            c.to_string(),
            "qemu-img create -q -o preallocation=off -f raw /s/x.raw 1024"
        );
        let c = create_cmd(
            Path::new("/s/x.vmdk"),
            VolumeFormat::Vmdk,
            1024,
            Some(Preallocation::Full),
        );
        assert_eq!(c.to_string(), "qemu-img create -q -f vmdk /s/x.vmdk 1024");
        let raw = |snapshot| ConvertSource {
            path: Path::new("/a.raw"),
            format: "raw",
            snapshot,
        };
        let c = convert_cmd(
            raw(None),
            Path::new("/dev/vg/vm-1-disk-0"),
            VolumeFormat::Raw,
            ConvertOptions {
                target_exists: true,
                target_is_zero: false,
                preallocation: None,
            },
        );
        assert_eq!(
            c.to_string(),
            "qemu-img convert -p -n -f raw -O raw /a.raw /dev/vg/vm-1-disk-0"
        );
        let c = convert_cmd(
            raw(Some("before-upgrade")),
            Path::new("/s/vm-1-disk-0.qcow2"),
            VolumeFormat::Qcow2,
            ConvertOptions {
                preallocation: Some(Preallocation::Metadata),
                ..Default::default()
            },
        );
        assert_eq!(
            c.to_string(),
            "qemu-img convert -p -U -l snapshot.name=before-upgrade -o preallocation=metadata -f raw -O qcow2 /a.raw /s/vm-1-disk-0.qcow2"
        );
    }

    #[test]
    fn reports_progress() {
        assert_eq!(parse_progress("    (12.50/100%)"), Some(12.5));
        assert_eq!(parse_progress("garbage"), None);
        let r = RecordingRunner::new();
        r.respond(
            &["qemu-img", "convert"],
            CmdOutput::ok(
                "    (0.00/100%)\r    (50.00/100%)\r    (50.00/100%)\r    (100.00/100%)\r\n",
            ),
        );
        let mut seen = Vec::new();
        convert(
            &r,
            ConvertSource {
                path: Path::new("/a"),
                format: "raw",
                snapshot: None,
            },
            Path::new("/b"),
            VolumeFormat::Qcow2,
            ConvertOptions::default(),
            &mut |p| seen.push(p),
        )
        .unwrap();
        assert_eq!(seen, [0.0, 50.0, 100.0]);
    }
}
