//! Broken-down times and the time zones that convert them, so calendar events and backup
//! retention work in local time (as Proxmox does) while tests pick a fixed zone.

/// A broken-down time, normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tm {
    /// Full year (2024).
    pub year: i32,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// Day of the week, 0 = Monday .. 6 = Sunday.
    pub weekday: u32,
    /// Day of the year, 0-based.
    pub yday: u32,
}

impl Tm {
    /// ISO 8601 week number and the year it belongs to (strftime `%V` / `%G`).
    pub fn iso_week(&self) -> (u32, i32) {
        let ordinal = self.yday as i64 + 1;
        let weekday = self.weekday as i64 + 1; // Monday = 1
        let week = (ordinal - weekday + 10) / 7;
        if week < 1 {
            let prev = self.year - 1;
            (weeks_in_year(prev), prev)
        } else if week as u32 > weeks_in_year(self.year) {
            (1, self.year + 1)
        } else {
            (week as u32, self.year)
        }
    }
}

fn weeks_in_year(year: i32) -> u32 {
    let p = |y: i64| (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7);
    let y = year as i64;
    if p(y) == 4 || p(y - 1) == 3 {
        53
    } else {
        52
    }
}

/// Field values that may be out of range (minute 60, day 32, month 13): a zone normalizes
/// them as `mktime` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    pub year: i64,
    /// 1-based; 13 is January of the next year.
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl From<Tm> for Fields {
    fn from(t: Tm) -> Self {
        Fields {
            year: t.year as i64,
            month: t.month as i64,
            day: t.day as i64,
            hour: t.hour as i64,
            minute: t.minute as i64,
            second: t.second as i64,
        }
    }
}

/// Converts between UNIX time and broken-down time in one zone.
pub trait Zone: Send + Sync {
    /// The broken-down time of `epoch`.
    fn to_tm(&self, epoch: i64) -> Tm;
    /// The UNIX time of `fields`, normalizing out-of-range values (like `mktime`).
    fn to_epoch(&self, fields: Fields) -> i64;
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A zone at a fixed offset from UTC (UTC itself with 0); no daylight saving time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FixedOffset {
    /// Seconds east of UTC.
    pub offset: i64,
}

impl FixedOffset {
    pub const UTC: FixedOffset = FixedOffset { offset: 0 };

    pub fn hours(hours: i64) -> Self {
        FixedOffset {
            offset: hours * 3600,
        }
    }
}

impl Zone for FixedOffset {
    fn to_tm(&self, epoch: i64) -> Tm {
        let local = epoch + self.offset;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Tm {
            year: year as i32,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
            // 1970-01-01 was a Thursday (3 with Monday = 0).
            weekday: (days + 3).rem_euclid(7) as u32,
            yday: (days - days_from_civil(year, 1, 1)) as u32,
        }
    }

    fn to_epoch(&self, f: Fields) -> i64 {
        let month0 = f.month - 1;
        let year = f.year + month0.div_euclid(12);
        let month = month0.rem_euclid(12) as u32 + 1;
        let days = days_from_civil(year, month, 1) + f.day - 1;
        days * 86_400 + f.hour * 3600 + f.minute * 60 + f.second - self.offset
    }
}

/// The host's local time zone (`TZ`, `/etc/localtime`), through the C library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalZone;

impl Zone for LocalZone {
    fn to_tm(&self, epoch: i64) -> Tm {
        // SAFETY: `tm` is plain old data, filled by localtime_r from a valid time_t.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let t = epoch as libc::time_t;
        // SAFETY: both pointers are valid for the call.
        if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
            return FixedOffset::UTC.to_tm(epoch);
        }
        Tm {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            weekday: ((tm.tm_wday + 6) % 7) as u32,
            yday: tm.tm_yday as u32,
        }
    }

    fn to_epoch(&self, f: Fields) -> i64 {
        // SAFETY: `tm` is plain old data; mktime only reads and normalizes it.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_year = (f.year - 1900) as i32;
        tm.tm_mon = (f.month - 1) as i32;
        tm.tm_mday = f.day as i32;
        tm.tm_hour = f.hour as i32;
        tm.tm_min = f.minute as i32;
        tm.tm_sec = f.second as i32;
        tm.tm_isdst = -1;
        // SAFETY: `tm` is a valid, initialized struct.
        unsafe { libc::mktime(&mut tm) as i64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offset_round_trips() {
        let z = FixedOffset::UTC;
        // 2024-02-29 12:34:56 UTC, a Thursday.
        let t = z.to_tm(1_709_210_096);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2024, 2, 29, 12, 34, 56)
        );
        assert_eq!(t.weekday, 3);
        assert_eq!(t.yday, 59);
        assert_eq!(z.to_epoch(t.into()), 1_709_210_096);
        // Out-of-range fields roll over: 2024-12-32 24:60 is 2025-01-02 01:00.
        let e = z.to_epoch(Fields {
            year: 2024,
            month: 12,
            day: 32,
            hour: 24,
            minute: 60,
            second: 0,
        });
        let t = z.to_tm(e);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (2025, 1, 2, 1, 0)
        );
        let plus2 = FixedOffset::hours(2);
        assert_eq!(plus2.to_tm(0).hour, 2);
        assert_eq!(plus2.to_epoch(plus2.to_tm(12345).into()), 12345);
    }

    #[test]
    fn iso_weeks() {
        let z = FixedOffset::UTC;
        let week = |y, m, d| z.to_tm(days_from_civil(y, m, d) * 86_400).iso_week();
        assert_eq!(week(2021, 1, 3), (53, 2020)); // Sunday
        assert_eq!(week(2021, 1, 4), (1, 2021)); // Monday
        assert_eq!(week(2024, 12, 30), (1, 2025));
        assert_eq!(week(2026, 12, 31), (53, 2026));
        assert_eq!(week(2023, 6, 15), (24, 2023));
    }

    #[test]
    fn local_zone_round_trips() {
        let z = LocalZone;
        for epoch in [0i64, 1_700_000_000, 1_719_900_000] {
            assert_eq!(z.to_epoch(z.to_tm(epoch).into()), epoch);
        }
    }
}
