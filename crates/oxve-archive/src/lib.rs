//! The oxve backup archive (format in `FORMAT.md`): a guest's config files and disks in one
//! stream, with a digest per data block (BLAKE3; SHA-256 before format version 4), zero regions stored as their length, a manifest at
//! the end, and the whole compressed with zstd, gzip (or `pigz`) or lzo (through `lzop`).
//!
//! - [`ArchiveWriter`] writes configs, then disks read from a [`DiskSource`] (only where they
//!   hold data) or directory trees (as tar streams, [`ArchiveWriter::add_tree`]), then the
//!   manifest.
//! - [`ArchiveReader`] reads it back, verifying as it goes: [`ArchiveReader::verify`] only
//!   checks, [`ArchiveReader::extract`] also writes the disks into targets (trees into a
//!   [`TreeExtractor`]).

mod compression;
mod direct_io;
mod error;
mod filter;
mod hash_pool;
mod reader;
mod record;
mod source;
mod tree;
mod unpack;
mod writer;

pub use compression::Compression;
pub use direct_io::{DirectAppend, FileTarget};
pub use error::ArchiveError;
pub use reader::{ArchiveReader, DiskManifestHead, DiskTarget, Extracted, SharedWrite};
pub use record::{BlockHash, DiskManifest, Manifest, BLOCK_SIZE};
pub use source::{DiskSource, Extent, FileSource};
pub use tree::{used_bytes, write_tree, TreeCounts};
pub use unpack::{unpack_tree, TreeExtractor};
pub use writer::ArchiveWriter;
