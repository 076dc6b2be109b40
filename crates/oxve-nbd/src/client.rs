//! The NBD client: fixed newstyle negotiation with `NBD_OPT_GO`, then one request at a time
//! with simple replies (no structured replies are negotiated, so a read's data follows its
//! reply header directly).

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::{NbdError, Result};

const NBDMAGIC: u64 = 0x4e42_444d_4147_4943; // "NBDMAGIC"
const IHAVEOPT: u64 = 0x4948_4156_454f_5054; // "IHAVEOPT"
const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
const FLAG_FIXED_NEWSTYLE: u16 = 1;
const FLAG_NO_ZEROES: u16 = 2;
const OPT_GO: u32 = 7;
const REP_ACK: u32 = 1;
const REP_INFO: u32 = 3;
const INFO_EXPORT: u16 = 0;
const REQUEST_MAGIC: u32 = 0x2560_9513;
const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLUSH: u16 = 3;
const CMD_WRITE_ZEROES: u16 = 6;
/// The largest request QEMU's server accepts is 32 MiB; stay well below.
const MAX_REQUEST: u64 = 8 << 20;

/// A connection to one export.
pub struct NbdClient {
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
    size: u64,
    read_only: bool,
    cookie: u64,
}

fn u16_of(r: &mut impl Read) -> Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}
fn u32_of(r: &mut impl Read) -> Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}
fn u64_of(r: &mut impl Read) -> Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

impl NbdClient {
    /// Connects to export `name` of the server on `socket`.
    pub fn connect(socket: &Path, name: &str) -> Result<NbdClient> {
        let stream = UnixStream::connect(socket)?;
        let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone()?);
        let mut writer = BufWriter::with_capacity(1 << 20, stream);
        if u64_of(&mut reader)? != NBDMAGIC || u64_of(&mut reader)? != IHAVEOPT {
            return Err(NbdError::Handshake("not a newstyle NBD server".into()));
        }
        let server_flags = u16_of(&mut reader)?;
        if server_flags & FLAG_FIXED_NEWSTYLE == 0 {
            return Err(NbdError::Handshake("server lacks fixed newstyle".into()));
        }
        let client_flags = u32::from(server_flags & (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        writer.write_all(&client_flags.to_be_bytes())?;
        // NBD_OPT_GO: export name, no information requests.
        let name = name.as_bytes();
        writer.write_all(&IHAVEOPT.to_be_bytes())?;
        writer.write_all(&OPT_GO.to_be_bytes())?;
        writer.write_all(&(4 + name.len() as u32 + 2).to_be_bytes())?;
        writer.write_all(&(name.len() as u32).to_be_bytes())?;
        writer.write_all(name)?;
        writer.write_all(&0u16.to_be_bytes())?;
        writer.flush()?;
        let mut export: Option<(u64, u16)> = None;
        loop {
            if u64_of(&mut reader)? != REPLY_MAGIC {
                return Err(NbdError::Handshake("bad option reply magic".into()));
            }
            let _option = u32_of(&mut reader)?;
            let kind = u32_of(&mut reader)?;
            let len = u32_of(&mut reader)? as usize;
            let mut data = vec![0u8; len];
            reader.read_exact(&mut data)?;
            match kind {
                REP_ACK => break,
                REP_INFO if len >= 12 && u16::from_be_bytes([data[0], data[1]]) == INFO_EXPORT => {
                    let size = u64::from_be_bytes(data[2..10].try_into().unwrap_or_default());
                    let flags = u16::from_be_bytes([data[10], data[11]]);
                    export = Some((size, flags));
                }
                REP_INFO => {}
                k if k & 0x8000_0000 != 0 => {
                    return Err(NbdError::Handshake(format!(
                        "export {:?} refused: {}",
                        String::from_utf8_lossy(name),
                        String::from_utf8_lossy(&data)
                    )));
                }
                _ => {}
            }
        }
        let (size, flags) =
            export.ok_or_else(|| NbdError::Handshake("server sent no export info".into()))?;
        Ok(NbdClient {
            reader,
            writer,
            size,
            read_only: flags & 2 != 0,
            cookie: 0,
        })
    }

    /// The export's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the server serves the export read-only.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    fn request(&mut self, kind: u16, offset: u64, len: u32, data: &[u8]) -> Result<u64> {
        self.cookie += 1;
        let w = &mut self.writer;
        w.write_all(&REQUEST_MAGIC.to_be_bytes())?;
        w.write_all(&0u16.to_be_bytes())?;
        w.write_all(&kind.to_be_bytes())?;
        w.write_all(&self.cookie.to_be_bytes())?;
        w.write_all(&offset.to_be_bytes())?;
        w.write_all(&len.to_be_bytes())?;
        w.write_all(data)?;
        w.flush()?;
        Ok(self.cookie)
    }

    fn reply(&mut self, command: &'static str, offset: u64, cookie: u64) -> Result<()> {
        if u32_of(&mut self.reader)? != SIMPLE_REPLY_MAGIC {
            return Err(NbdError::Handshake("bad reply magic".into()));
        }
        let code = u32_of(&mut self.reader)?;
        let got = u64_of(&mut self.reader)?;
        if got != cookie {
            return Err(NbdError::Reply {
                got,
                expected: cookie,
            });
        }
        if code != 0 {
            return Err(NbdError::Command {
                command,
                offset,
                code,
            });
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at `offset`.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let len = (buf.len() - done).min(MAX_REQUEST as usize);
            let at = offset + done as u64;
            let cookie = self.request(CMD_READ, at, len as u32, &[])?;
            self.reply("read", at, cookie)?;
            self.reader.read_exact(&mut buf[done..done + len])?;
            done += len;
        }
        Ok(())
    }

    /// Writes `data` at `offset`.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        for (i, chunk) in data.chunks(MAX_REQUEST as usize).enumerate() {
            let at = offset + (i as u64) * MAX_REQUEST;
            let cookie = self.request(CMD_WRITE, at, chunk.len() as u32, chunk)?;
            self.reply("write", at, cookie)?;
        }
        Ok(())
    }

    /// Makes `len` bytes at `offset` read as zeros.
    pub fn write_zeroes(&mut self, offset: u64, len: u64) -> Result<()> {
        let mut at = offset;
        let end = offset + len;
        while at < end {
            let n = (end - at).min(1 << 30);
            let cookie = self.request(CMD_WRITE_ZEROES, at, n as u32, &[])?;
            self.reply("write zeroes", at, cookie)?;
            at += n;
        }
        Ok(())
    }

    /// Asks the server to make every completed write durable.
    pub fn flush(&mut self) -> Result<()> {
        let cookie = self.request(CMD_FLUSH, 0, 0, &[])?;
        self.reply("flush", 0, cookie)
    }

    /// Ends the session politely (the server may close without a reply).
    pub fn disconnect(mut self) -> Result<()> {
        self.request(CMD_DISC, 0, 0, &[])?;
        Ok(())
    }
}
