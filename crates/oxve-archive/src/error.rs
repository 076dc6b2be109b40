//! What can go wrong writing or reading an archive.

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not an oxve archive (bad magic)")]
    BadMagic,
    #[error("unsupported archive version {0}")]
    Version(u32),
    #[error("archive corrupt: {0}")]
    Corrupt(String),
    #[error("checksum mismatch in {disk} at offset {offset}: the archive is damaged")]
    BlockChecksum { disk: String, offset: u64 },
    #[error("archive incomplete: it ends before its manifest")]
    Incomplete,
    #[error("disk {0}: {1}")]
    Disk(String, String),
}

pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;
