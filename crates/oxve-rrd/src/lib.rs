//! Round-robin metric archives, as Proxmox VE keeps them for its `.../rrddata` endpoints.
//!
//! A [`Rrd`] holds one series per data source (`cpu`, `mem`, ...) in five fixed-size archives,
//! one per [`Timeframe`] (hour: 70 points of 1 minute, day: 70 of 30 minutes, ... year: 70 of
//! one week), each with an [`Cf::Average`] and a [`Cf::Max`] consolidation of the raw samples
//! that fell into a point's interval. Its size never grows. [`RrdStore`] keeps the series of a
//! node (one per node, guest and storage) and writes them to disk compactly ([`codec`]).

pub mod archive;
pub mod codec;
pub mod store;

pub use archive::{Cf, Fetched, Rrd, Timeframe};
pub use store::RrdStore;

/// What can go wrong with stored archives.
#[derive(Debug, thiserror::Error)]
pub enum RrdError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not an archive of this version")]
    Format(String),
    #[error("invalid series key {0:?}")]
    Key(String),
}
