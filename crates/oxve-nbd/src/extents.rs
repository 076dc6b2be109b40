//! Where an export holds data: `qemu-img map` over NBD asks the server for block status
//! (`base:allocation`), so a mostly empty disk is mapped without reading it.

use std::path::Path;
use std::process::Command;

use oxve_archive::Extent;
use serde::Deserialize;

use crate::error::{NbdError, Result};

#[derive(Deserialize)]
struct MapEntry {
    start: u64,
    length: u64,
    data: bool,
    zero: bool,
}

/// The extents of export `name` on `socket`, in order, covering the whole export.
pub fn map_extents(socket: &Path, name: &str) -> Result<Vec<Extent>> {
    let out = Command::new("qemu-img")
        .args(["map", "--output=json", "-f", "raw"])
        .arg(crate::export_uri(socket, name))
        .output()?;
    if !out.status.success() {
        return Err(NbdError::Tool(format!(
            "qemu-img map: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_map(&out.stdout)
}

fn parse_map(json: &[u8]) -> Result<Vec<Extent>> {
    let entries: Vec<MapEntry> = serde_json::from_slice(json)
        .map_err(|e| NbdError::Tool(format!("qemu-img map output: {e}")))?;
    let mut out: Vec<Extent> = Vec::with_capacity(entries.len());
    for e in entries {
        // Only ranges known to read as zeros are skipped; anything else is read.
        let data = e.data || !e.zero;
        match out.last_mut() {
            Some(last) if last.data == data && last.offset + last.len == e.start => {
                last.len += e.length
            }
            _ => out.push(Extent {
                offset: e.start,
                len: e.length,
                data,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_ranges_are_skipped_and_neighbours_merged() {
        let json = br#"[
            {"start":0,"length":1048576,"depth":0,"present":true,"zero":false,"data":true},
            {"start":1048576,"length":1048576,"depth":0,"present":true,"zero":false,"data":true},
            {"start":2097152,"length":7340032,"depth":0,"present":true,"zero":true,"data":false},
            {"start":9437184,"length":4096,"depth":0,"present":false,"zero":false,"data":false}
        ]"#;
        let got = parse_map(json).unwrap();
        assert_eq!(
            got,
            vec![
                Extent {
                    offset: 0,
                    len: 2097152,
                    data: true
                },
                Extent {
                    offset: 2097152,
                    len: 7340032,
                    data: false
                },
                // a hole not known to be zero is read
                Extent {
                    offset: 9437184,
                    len: 4096,
                    data: true
                },
            ]
        );
    }
}
