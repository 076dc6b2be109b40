//! One round-robin database: data sources x archives (timeframes) x consolidation functions.

use std::fmt;
use std::str::FromStr;

/// The time frames of `rrddata`, each one archive of [`ROWS`] points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeframe {
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
}

/// Points per archive, as Proxmox's RRDs have.
pub const ROWS: usize = 70;

impl Timeframe {
    pub const ALL: [Timeframe; 6] = [
        Timeframe::Hour,
        Timeframe::Day,
        Timeframe::Week,
        Timeframe::Month,
        Timeframe::Year,
        Timeframe::Decade,
    ];

    /// Seconds per point.
    pub fn step(self) -> u64 {
        match self {
            Timeframe::Hour => 60,
            Timeframe::Day => 30 * 60,
            Timeframe::Week => 3 * 3600,
            Timeframe::Month => 12 * 3600,
            Timeframe::Year => 7 * 86400,
            Timeframe::Decade => 8 * 7 * 86400,
        }
    }

    fn index(self) -> usize {
        Timeframe::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    pub fn name(self) -> &'static str {
        match self {
            Timeframe::Hour => "hour",
            Timeframe::Day => "day",
            Timeframe::Week => "week",
            Timeframe::Month => "month",
            Timeframe::Year => "year",
            Timeframe::Decade => "decade",
        }
    }
}

impl FromStr for Timeframe {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timeframe::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown timeframe {s:?}"))
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Consolidation function: how the samples of one point's interval become its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cf {
    Average,
    Max,
}

impl FromStr for Cf {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "AVERAGE" => Ok(Cf::Average),
            "MAX" => Ok(Cf::Max),
            _ => Err(format!("unknown consolidation function {s:?}")),
        }
    }
}

/// The samples of the point being filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub sum: f64,
    pub count: u32,
    pub max: f64,
}

impl Bucket {
    pub const EMPTY: Bucket = Bucket {
        sum: 0.0,
        count: 0,
        max: f64::NAN,
    };

    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        self.max = if self.max.is_nan() {
            v
        } else {
            self.max.max(v)
        };
    }

    fn value(&self, cf: Cf) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        match cf {
            Cf::Average => self.sum / f64::from(self.count),
            Cf::Max => self.max,
        }
    }
}

/// One timeframe's ring of points; NaN is "unknown".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Archive {
    /// The slot (time / step) of the point being filled; 0: nothing yet.
    pub slot: u64,
    /// Per data source, the samples of that point.
    pub pending: Vec<Bucket>,
    /// `ROWS` x sources, row-major: the AVERAGE values of completed points.
    pub avg: Vec<f64>,
    /// The same for MAX.
    pub max: Vec<f64>,
}

impl Archive {
    fn new(sources: usize) -> Self {
        Archive {
            slot: 0,
            pending: vec![Bucket::EMPTY; sources],
            avg: vec![f64::NAN; ROWS * sources],
            max: vec![f64::NAN; ROWS * sources],
        }
    }

    fn row(&self, slot: u64) -> usize {
        (slot % ROWS as u64) as usize
    }

    /// Close the pending point and start `slot`, forgetting the points skipped in between.
    fn advance(&mut self, slot: u64) {
        let n = self.pending.len();
        if self.slot != 0 {
            let row = self.row(self.slot) * n;
            for (i, b) in self.pending.iter().enumerate() {
                self.avg[row + i] = b.value(Cf::Average);
                self.max[row + i] = b.value(Cf::Max);
            }
            let skipped = slot.saturating_sub(self.slot + 1).min(ROWS as u64);
            for s in slot - skipped..slot {
                let row = self.row(s) * n;
                self.avg[row..row + n].fill(f64::NAN);
                self.max[row..row + n].fill(f64::NAN);
            }
        }
        self.slot = slot;
        self.pending.fill(Bucket::EMPTY);
    }
}

/// A database of named data sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Rrd {
    pub(crate) sources: Vec<String>,
    /// One per [`Timeframe::ALL`].
    pub(crate) archives: Vec<Archive>,
}

/// Points of one timeframe: `(time, value per source)`, oldest first, [`ROWS`] of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub sources: Vec<String>,
    pub step: u64,
    pub points: Vec<(u64, Vec<Option<f64>>)>,
}

impl Rrd {
    pub fn new(sources: &[&str]) -> Self {
        Rrd {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            archives: Timeframe::ALL
                .iter()
                .map(|_| Archive::new(sources.len()))
                .collect(),
        }
    }

    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Whether this database has exactly these sources (else it is made anew).
    pub fn has_sources(&self, sources: &[&str]) -> bool {
        self.sources.len() == sources.len() && self.sources.iter().zip(sources).all(|(a, b)| a == b)
    }

    /// Add one sample at `time` (epoch seconds): `values` in the order of the sources, `None`
    /// (or NaN) for unknown. Samples older than the point being filled are ignored.
    pub fn update(&mut self, time: u64, values: &[Option<f64>]) {
        for (tf, archive) in Timeframe::ALL.iter().zip(&mut self.archives) {
            let slot = time / tf.step();
            if slot < archive.slot {
                continue;
            }
            if slot > archive.slot {
                archive.advance(slot);
            }
            for (bucket, v) in archive.pending.iter_mut().zip(values) {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    bucket.add(v);
                }
            }
        }
    }

    /// The last [`ROWS`] points of `tf` up to the one being filled (included), as of `now`.
    pub fn fetch(&self, tf: Timeframe, cf: Cf, now: u64) -> Fetched {
        let step = tf.step();
        let archive = &self.archives[tf.index()];
        let n = self.sources.len();
        let end = (now / step).max(archive.slot);
        let first = (end + 1).saturating_sub(ROWS as u64);
        let points = (first..=end)
            .map(|slot| {
                let values = if archive.slot == 0
                    || slot > archive.slot
                    || archive.slot - slot >= ROWS as u64
                {
                    vec![None; n]
                } else if slot == archive.slot {
                    archive.pending.iter().map(|b| known(b.value(cf))).collect()
                } else {
                    let row = archive.row(slot) * n;
                    let ring = match cf {
                        Cf::Average => &archive.avg,
                        Cf::Max => &archive.max,
                    };
                    ring[row..row + n].iter().map(|v| known(*v)).collect()
                };
                (slot * step, values)
            })
            .collect();
        Fetched {
            sources: self.sources.clone(),
            step,
            points,
        }
    }
}

fn known(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(f: &Fetched, i: usize) -> Vec<Option<f64>> {
        f.points.iter().map(|(_, v)| v[i]).collect()
    }

    #[test]
    fn averages_and_maxima_per_minute() {
        let mut rrd = Rrd::new(&["cpu"]);
        let t0 = 1_700_000_040; // a minute boundary
        for (i, v) in [0.1, 0.3, 0.2, 0.6, 0.0, 0.2].iter().enumerate() {
            rrd.update(t0 + i as u64 * 10, &[Some(*v)]);
        }
        rrd.update(t0 + 60, &[Some(1.0)]);
        let avg = rrd.fetch(Timeframe::Hour, Cf::Average, t0 + 60);
        assert_eq!(avg.points.len(), ROWS);
        assert_eq!(avg.step, 60);
        let last = avg.points.len() - 1;
        assert_eq!(avg.points[last].0, t0 + 60);
        assert!((col(&avg, 0)[last - 1].unwrap() - 0.2333).abs() < 1e-3);
        assert_eq!(
            col(&avg, 0)[last],
            Some(1.0),
            "the point being filled is shown"
        );
        assert_eq!(
            col(&avg, 0)[last - 2],
            None,
            "nothing before the first sample"
        );
        let max = rrd.fetch(Timeframe::Hour, Cf::Max, t0 + 60);
        assert_eq!(col(&max, 0)[last - 1], Some(0.6));
    }

    #[test]
    fn longer_timeframes_consolidate_all_samples_of_their_interval() {
        let mut rrd = Rrd::new(&["mem", "netin"]);
        let day_step = Timeframe::Day.step();
        let t0 = 1_700_000_000 / day_step * day_step;
        // 30 minutes of samples every 10 s: mem ramps 0..179, netin unknown half the time.
        for i in 0..180u64 {
            let netin = (i % 2 == 0).then_some(100.0);
            rrd.update(t0 + i * 10, &[Some(i as f64), netin]);
        }
        rrd.update(t0 + day_step, &[Some(0.0), None]);
        let day = rrd.fetch(Timeframe::Day, Cf::Average, t0 + day_step);
        let (time, values) = &day.points[ROWS - 2];
        assert_eq!(*time, t0);
        assert_eq!(values[0], Some(89.5));
        assert_eq!(values[1], Some(100.0), "unknown samples do not count");
        let day_max = rrd.fetch(Timeframe::Day, Cf::Max, t0 + day_step);
        assert_eq!(day_max.points[ROWS - 2].1[0], Some(179.0));
        // The week's point holds the same samples so far.
        let week = rrd.fetch(Timeframe::Week, Cf::Max, t0 + day_step);
        assert_eq!(week.points[ROWS - 1].1[0], Some(179.0));
    }

    #[test]
    fn the_ring_keeps_seventy_points_and_forgets_gaps() {
        let mut rrd = Rrd::new(&["x"]);
        let t0 = 1_700_000_040;
        for m in 0..100u64 {
            rrd.update(t0 + m * 60, &[Some(m as f64)]);
        }
        let now = t0 + 99 * 60;
        let f = rrd.fetch(Timeframe::Hour, Cf::Average, now);
        let xs: Vec<f64> = col(&f, 0).into_iter().map(|v| v.unwrap()).collect();
        assert_eq!(xs, (30..100).map(|m| m as f64).collect::<Vec<_>>());
        // Ten silent minutes: those points are unknown, not the values of 70 minutes ago.
        rrd.update(now + 11 * 60, &[Some(7.0)]);
        let f = rrd.fetch(Timeframe::Hour, Cf::Average, now + 11 * 60);
        let c = col(&f, 0);
        assert_eq!(c[ROWS - 1], Some(7.0));
        assert!(c[ROWS - 11..ROWS - 1].iter().all(Option::is_none), "{c:?}");
        assert_eq!(c[ROWS - 12], Some(99.0));
        // Long after the last sample everything reads unknown.
        let f = rrd.fetch(Timeframe::Hour, Cf::Average, now + 1000 * 60);
        assert!(col(&f, 0).iter().all(Option::is_none));
    }

    #[test]
    fn samples_from_the_past_are_ignored() {
        let mut rrd = Rrd::new(&["x"]);
        rrd.update(1_700_000_100, &[Some(1.0)]);
        rrd.update(1_699_000_000, &[Some(50.0)]);
        let f = rrd.fetch(Timeframe::Hour, Cf::Max, 1_700_000_100);
        assert_eq!(f.points[ROWS - 1].1[0], Some(1.0));
    }

    #[test]
    fn names_parse() {
        assert_eq!("week".parse::<Timeframe>(), Ok(Timeframe::Week));
        assert!("fortnight".parse::<Timeframe>().is_err());
        assert_eq!("MAX".parse::<Cf>(), Ok(Cf::Max));
        assert!("MIN".parse::<Cf>().is_err());
    }
}
