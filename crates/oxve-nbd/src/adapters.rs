//! An NBD export as an archive disk source (backup) or extraction target (restore).

use std::path::Path;

use oxve_archive::{DiskSource, DiskTarget, Extent};

use crate::client::NbdClient;
use crate::error::Result;
use crate::extents::map_extents;

/// Reads an export, mapping it first so zero ranges are skipped.
pub struct NbdSource {
    client: NbdClient,
    extents: Option<Vec<Extent>>,
}

impl NbdSource {
    pub fn open(socket: &Path, name: &str) -> Result<NbdSource> {
        let extents = map_extents(socket, name)?;
        Ok(NbdSource {
            client: NbdClient::connect(socket, name)?,
            extents: Some(extents),
        })
    }
}

impl DiskSource for NbdSource {
    fn size(&self) -> u64 {
        self.client.size()
    }
    fn extents(&mut self) -> std::io::Result<Vec<Extent>> {
        Ok(self.extents.take().unwrap_or_default())
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        Ok(self.client.read_at(offset, buf)?)
    }
}

/// Writes into a freshly created export, which reads as zeros already. Durability comes
/// from stopping the server cleanly ([`crate::QemuNbd::stop`]) after the last write.
pub struct NbdTarget {
    client: NbdClient,
}

impl NbdTarget {
    pub fn open(socket: &Path, name: &str) -> Result<NbdTarget> {
        Ok(NbdTarget {
            client: NbdClient::connect(socket, name)?,
        })
    }
}

impl DiskTarget for NbdTarget {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        Ok(self.client.write_at(offset, data)?)
    }
    fn zero(&mut self, _offset: u64, _len: u64) -> std::io::Result<()> {
        Ok(())
    }
}
