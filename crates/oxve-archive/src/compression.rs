//! Whole-stream compression, recognized on reading by its magic bytes.

use std::io::{BufRead, BufReader, Read, Write};

use crate::filter::{FilterReader, FilterWriter, LZOP_MAGIC};

/// How the archive stream is compressed (`compress` of vzdump).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    /// gzip through `pigz` with this many threads (`compress=gzip` with `pigz=N`: 1 is half
    /// the cores, more is that many).
    Pigz {
        threads: u32,
    },
    /// zstd with this many worker threads (0: one per core).
    Zstd {
        threads: u32,
    },
    /// lzo through the `lzop` tool (`compress=lzo`, or `1`, of Proxmox).
    Lzo,
}

impl Compression {
    /// The file name extension after `.oxar`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip | Compression::Pigz { .. } => ".gz",
            Compression::Zstd { .. } => ".zst",
            Compression::Lzo => ".lzo",
        }
    }

    /// Wraps `out` so that what is written to it is compressed.
    pub fn writer<'a, W: Write + 'a>(self, out: W) -> std::io::Result<Box<dyn FinishWrite + 'a>> {
        Ok(match self {
            Compression::None => Box::new(Plain(out)),
            Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::fast(),
            )),
            Compression::Zstd { threads } => {
                let mut enc = zstd::stream::write::Encoder::new(out, 1)?;
                let threads = if threads == 0 {
                    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
                } else {
                    threads
                };
                if threads > 1 {
                    enc.multithread(threads)?;
                }
                Box::new(enc)
            }
            Compression::Pigz { threads } => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
                let threads = if threads <= 1 {
                    (cores / 2).max(1)
                } else {
                    threads
                };
                // As Proxmox runs it: `--rsyncable` keeps unchanged regions alike.
                let args = ["-c", "--rsyncable", "-p", &threads.to_string()].map(String::from);
                Box::new(FilterWriter::new(out, "pigz", &args)?)
            }
            Compression::Lzo => Box::new(FilterWriter::new(out, "lzop", &lzop_args(false))?),
        })
    }

    /// Reads `input`, decompressing by what its first bytes say.
    pub fn reader<'a, R: Read + 'a>(input: R) -> std::io::Result<Box<dyn Read + 'a>> {
        let mut buffered = BufReader::with_capacity(1 << 20, input);
        let head = buffered.fill_buf()?.to_vec();
        Ok(if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?)
        } else if head.starts_with(&LZOP_MAGIC) {
            Box::new(FilterReader::new(buffered, "lzop", &lzop_args(true))?)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        })
    }
}

fn lzop_args(decompress: bool) -> Vec<String> {
    let flags: &[&str] = if decompress {
        &["-d", "-c", "-q"]
    } else {
        &["-c", "-q"]
    };
    flags.iter().map(|f| f.to_string()).collect()
}

/// A writer that must be finished to flush its last frame.
pub trait FinishWrite: Write {
    fn finish_stream(self: Box<Self>) -> std::io::Result<()>;
}

struct Plain<W: Write>(W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for Plain<W> {
    fn finish_stream(mut self: Box<Self>) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for flate2::write::GzEncoder<W> {
    fn finish_stream(self: Box<Self>) -> std::io::Result<()> {
        self.finish()?.flush()
    }
}

impl<W: Write> FinishWrite for zstd::stream::write::Encoder<'_, W> {
    fn finish_stream(self: Box<Self>) -> std::io::Result<()> {
        self.finish()?.flush()
    }
}
