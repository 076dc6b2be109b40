//! Uploads of ISO images, container templates and import files: data is streamed into a
//! hidden temporary file next to the destination (hashed on the way when a checksum was
//! given), then verified and moved into place without replacing an existing file. A failed
//! checksum, an abort or a dropped upload deletes the temporary file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::checksum::{check_digest, ChecksumAlgorithm, Hasher};
use crate::error::StorageError;
use crate::volid::VolumeId;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// An upload in progress. Write the data into it (it implements [`Write`]), then
/// [`commit`](UploadTarget::commit).
pub struct UploadTarget {
    volid: VolumeId,
    final_path: PathBuf,
    tmp_path: PathBuf,
    file: Option<File>,
    hasher: Option<(ChecksumAlgorithm, String, Hasher)>,
    written: u64,
}

impl UploadTarget {
    /// Prepare an upload to `final_path` (which must not exist yet).
    pub(crate) fn create(
        volid: VolumeId,
        final_path: PathBuf,
        checksum: Option<(ChecksumAlgorithm, String)>,
    ) -> Result<Self, StorageError> {
        if final_path.exists() {
            return Err(StorageError::VolumeExists {
                volid: volid.to_string(),
            });
        }
        let dir = final_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        fs::create_dir_all(&dir).map_err(|e| StorageError::io("create directory", &dir, e))?;
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp_path = dir.join(format!(
            ".upload-{}-{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            name
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .map_err(|e| StorageError::io("create", &tmp_path, e))?;
        Ok(UploadTarget {
            volid,
            final_path,
            tmp_path,
            file: Some(file),
            hasher: checksum.map(|(algo, expected)| (algo, expected, algo.hasher())),
            written: 0,
        })
    }

    /// The volume the upload becomes.
    pub fn volid(&self) -> &VolumeId {
        &self.volid
    }

    /// Where the data is written until commit.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp_path
    }

    /// Where the file ends up.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Verify the checksum (if one was given) and move the file into place. On any failure
    /// the temporary file is deleted.
    pub fn commit(mut self) -> Result<VolumeId, StorageError> {
        if let Some(mut file) = self.file.take() {
            file.flush()
                .and_then(|()| file.sync_all())
                .map_err(|e| StorageError::io("sync", &self.tmp_path, e))?;
        }
        if let Some((algo, expected, hasher)) = self.hasher.take() {
            let name = self
                .final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            check_digest(&name, algo, &expected, &hasher.finish_hex())?;
        }
        match fs::hard_link(&self.tmp_path, &self.final_path) {
            Ok(()) => Ok(self.volid.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StorageError::VolumeExists {
                    volid: self.volid.to_string(),
                })
            }
            Err(e) => Err(StorageError::io("move upload to", &self.final_path, e)),
        }
        // The temporary file is removed by Drop in every case.
    }

    /// Give up: delete the temporary file.
    pub fn abort(self) {}
}

impl Write for UploadTarget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("upload already finished"))?;
        let n = file.write(buf)?;
        if let Some((_, _, h)) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for UploadTarget {
    fn drop(&mut self) {
        self.file.take();
        let _ = fs::remove_file(&self.tmp_path);
    }
}
