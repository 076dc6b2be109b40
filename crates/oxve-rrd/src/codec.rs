//! The on-disk form of a [`Rrd`]: little-endian, fixed layout, values as f32 (a day of one
//! guest's ten series is ~35 KiB).
//!
//! ```text
//! "OXRRD\x01\0\0"  u16 sources  (u16 len, name)*  u16 archives
//! per archive: u64 step  u32 rows  u64 slot  (f64 sum, u32 count, f32 max)*sources
//!              f32 avg[rows*sources]  f32 max[rows*sources]
//! ```

use crate::archive::{Archive, Bucket, Rrd, Timeframe, ROWS};

const MAGIC: &[u8; 8] = b"OXRRD\x01\0\0";

/// Serialize.
pub fn encode(rrd: &Rrd) -> Vec<u8> {
    let n = rrd.sources.len();
    let mut out = Vec::with_capacity(64 + rrd.archives.len() * (28 + n * 16 + ROWS * n * 8));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(n as u16).to_le_bytes());
    for s in &rrd.sources {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(rrd.archives.len() as u16).to_le_bytes());
    for (tf, a) in Timeframe::ALL.iter().zip(&rrd.archives) {
        out.extend_from_slice(&tf.step().to_le_bytes());
        out.extend_from_slice(&(ROWS as u32).to_le_bytes());
        out.extend_from_slice(&a.slot.to_le_bytes());
        for b in &a.pending {
            out.extend_from_slice(&b.sum.to_le_bytes());
            out.extend_from_slice(&b.count.to_le_bytes());
            out.extend_from_slice(&(b.max as f32).to_le_bytes());
        }
        for v in a.avg.iter().chain(&a.max) {
            out.extend_from_slice(&(*v as f32).to_le_bytes());
        }
    }
    out
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32(&mut self) -> Option<f64> {
        self.array().map(|b| f64::from(f32::from_le_bytes(b)))
    }

    fn f64(&mut self) -> Option<f64> {
        self.array().map(f64::from_le_bytes)
    }
}

/// Parse; `None` when the data is not an archive of this layout (other steps or rows too).
pub fn decode(data: &[u8]) -> Option<Rrd> {
    let mut r = Reader { data };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let n = usize::from(r.u16()?);
    let mut sources = Vec::with_capacity(n);
    for _ in 0..n {
        let len = usize::from(r.u16()?);
        sources.push(String::from_utf8(r.take(len)?.to_vec()).ok()?);
    }
    if usize::from(r.u16()?) != Timeframe::ALL.len() {
        return None;
    }
    let mut archives = Vec::with_capacity(Timeframe::ALL.len());
    for tf in Timeframe::ALL {
        if r.u64()? != tf.step() || r.u32()? as usize != ROWS {
            return None;
        }
        let slot = r.u64()?;
        let mut pending = Vec::with_capacity(n);
        for _ in 0..n {
            pending.push(Bucket {
                sum: r.f64()?,
                count: r.u32()?,
                max: r.f32()?,
            });
        }
        let mut ring = |len: usize| -> Option<Vec<f64>> { (0..len).map(|_| r.f32()).collect() };
        let avg = ring(ROWS * n)?;
        let max = ring(ROWS * n)?;
        archives.push(Archive {
            slot,
            pending,
            avg,
            max,
        });
    }
    if !r.data.is_empty() {
        return None;
    }
    Some(Rrd { sources, archives })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::Cf;

    #[test]
    fn round_trip() {
        let mut rrd = Rrd::new(&["cpu", "mem"]);
        for i in 0..500u64 {
            rrd.update(
                1_700_000_000 + i * 10,
                &[Some(0.25), Some(i as f64 * 1024.0)],
            );
        }
        let bytes = encode(&rrd);
        let back = decode(&bytes).expect("decodes");
        let now = 1_700_005_000;
        for tf in Timeframe::ALL {
            for cf in [Cf::Average, Cf::Max] {
                assert_eq!(
                    back.fetch(tf, cf, now),
                    rrd.fetch(tf, cf, now),
                    "{tf} {cf:?}"
                );
            }
        }
        assert!(bytes.len() < 8 * 1024, "{} bytes", bytes.len());
    }

    #[test]
    fn garbage_and_truncation_are_refused() {
        let rrd = Rrd::new(&["x"]);
        let bytes = encode(&rrd);
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(decode(b"not an archive").is_none());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
    }
}
