//! When a calendar event next occurs: the search Proxmox (proxmox-time) does, field by field
//! from the year down to the second, moving a broken-down time forward and letting the zone
//! normalize it (so months of different lengths and daylight saving time come out right).

use super::event::{find_next, list_contains, CalendarEvent};
use super::zone::{Fields, FixedOffset, Tm, Zone};

/// A broken-down time being moved forward; every change is normalized through the zone.
struct Editor<'z> {
    zone: &'z dyn Zone,
    tm: Tm,
}

impl Editor<'_> {
    fn set(&mut self, f: Fields) {
        self.tm = self.zone.to_tm(self.zone.to_epoch(f));
    }

    fn fields(&self) -> Fields {
        self.tm.into()
    }

    fn add_years(&mut self, n: i64) {
        let f = self.fields();
        self.set(Fields {
            year: f.year + n,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        });
    }

    fn add_months(&mut self, n: i64) {
        let f = self.fields();
        self.set(Fields {
            month: f.month + n,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            ..f
        });
    }

    fn add_days(&mut self, n: i64) {
        let f = self.fields();
        self.set(Fields {
            day: f.day + n,
            hour: 0,
            minute: 0,
            second: 0,
            ..f
        });
    }

    fn set_time(&mut self, hour: i64, minute: i64, second: i64) {
        let f = self.fields();
        self.set(Fields {
            hour,
            minute,
            second,
            ..f
        });
    }

    fn epoch(&self) -> i64 {
        self.zone.to_epoch(self.fields())
    }
}

impl CalendarEvent {
    /// The first time strictly after `last` (UNIX seconds) at which the event occurs, in
    /// `zone` (UTC when the event says `UTC`); `None` if there is none (a past year).
    pub fn next_after(&self, last: i64, zone: &dyn Zone) -> Option<i64> {
        let zone: &dyn Zone = if self.utc { &FixedOffset::UTC } else { zone };
        let mut t = Editor {
            zone,
            tm: zone.to_tm(last + 1),
        };
        for _ in 0..1000 {
            let tm = t.tm;
            if !self.year.is_empty() && tm.year >= 0 {
                let year = tm.year as u32;
                if !list_contains(&self.year, year) {
                    t.add_years(find_next(&self.year, year)?.abs_diff(year) as i64);
                    continue;
                }
            }
            if !list_contains(&self.month, tm.month) {
                match find_next(&self.month, tm.month) {
                    Some(n) => t.add_months((n - tm.month) as i64),
                    None => t.add_years(1),
                }
                continue;
            }
            if !list_contains(&self.day, tm.day) {
                match find_next(&self.day, tm.day) {
                    Some(n) => t.add_days((n - tm.day) as i64),
                    None => t.add_months(1),
                }
                continue;
            }
            if self.weekdays != 0 && self.weekdays != 0x7f && self.weekdays & (1 << tm.weekday) == 0
            {
                let next = (tm.weekday + 1..7).find(|d| self.weekdays & (1 << d) != 0);
                match next {
                    Some(d) => t.add_days((d - tm.weekday) as i64),
                    None => t.add_days((7 - tm.weekday) as i64),
                }
                continue;
            }
            if !list_contains(&self.hour, tm.hour) {
                match find_next(&self.hour, tm.hour) {
                    Some(n) => t.set_time(n as i64, 0, 0),
                    None => t.add_days(1),
                }
                continue;
            }
            if !list_contains(&self.minute, tm.minute) {
                match find_next(&self.minute, tm.minute) {
                    Some(n) => t.set_time(tm.hour as i64, n as i64, 0),
                    None => t.set_time(tm.hour as i64 + 1, 0, 0),
                }
                continue;
            }
            if !list_contains(&self.second, tm.second) {
                match find_next(&self.second, tm.second) {
                    Some(n) => t.set_time(tm.hour as i64, tm.minute as i64, n as i64),
                    None => t.set_time(tm.hour as i64, tm.minute as i64 + 1, 0),
                }
                continue;
            }
            return Some(t.epoch());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::zone::days_from_civil;
    use super::*;

    const UTC: FixedOffset = FixedOffset::UTC;

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
    }

    fn next(spec: &str, last: i64) -> Option<i64> {
        CalendarEvent::parse(spec).unwrap().next_after(last, &UTC)
    }

    /// (event, last run, expected next run), all UTC. 2024-01-06 is a Saturday.
    #[test]
    fn next_events_table() {
        let table: &[(&str, i64, Option<i64>)] = &[
            (
                "sat 02:00",
                at(2024, 1, 1, 0, 0, 0),
                Some(at(2024, 1, 6, 2, 0, 0)),
            ),
            (
                "sat 02:00",
                at(2024, 1, 6, 2, 0, 0),
                Some(at(2024, 1, 13, 2, 0, 0)),
            ),
            (
                "sat 02:00",
                at(2024, 1, 6, 1, 59, 59),
                Some(at(2024, 1, 6, 2, 0, 0)),
            ),
            (
                "*/4:00",
                at(2024, 1, 1, 0, 0, 0),
                Some(at(2024, 1, 1, 4, 0, 0)),
            ),
            (
                "*/4:00",
                at(2024, 1, 1, 21, 30, 0),
                Some(at(2024, 1, 2, 0, 0, 0)),
            ),
            (
                "mon..fri 22:30",
                at(2024, 1, 5, 23, 0, 0),
                Some(at(2024, 1, 8, 22, 30, 0)),
            ),
            (
                "mon..fri 22:30",
                at(2024, 1, 3, 10, 0, 0),
                Some(at(2024, 1, 3, 22, 30, 0)),
            ),
            (
                "daily",
                at(2024, 2, 28, 12, 0, 0),
                Some(at(2024, 2, 29, 0, 0, 0)),
            ),
            (
                "hourly",
                at(2024, 12, 31, 23, 0, 0),
                Some(at(2025, 1, 1, 0, 0, 0)),
            ),
            (
                "monthly",
                at(2024, 1, 31, 0, 0, 0),
                Some(at(2024, 2, 1, 0, 0, 0)),
            ),
            (
                "*-*-1 00:00",
                at(2024, 12, 15, 0, 0, 0),
                Some(at(2025, 1, 1, 0, 0, 0)),
            ),
            (
                "*-*-31",
                at(2024, 2, 1, 0, 0, 0),
                Some(at(2024, 3, 31, 0, 0, 0)),
            ),
            (
                "2:30",
                at(2024, 1, 1, 2, 30, 0),
                Some(at(2024, 1, 2, 2, 30, 0)),
            ),
            (
                "*/5",
                at(2024, 1, 1, 10, 58, 0),
                Some(at(2024, 1, 1, 11, 0, 0)),
            ),
            (
                "*:*",
                at(2024, 1, 1, 10, 58, 10),
                Some(at(2024, 1, 1, 10, 59, 0)),
            ),
            (
                "minutely",
                at(2024, 1, 1, 10, 58, 0),
                Some(at(2024, 1, 1, 10, 59, 0)),
            ),
            (
                "weekly",
                at(2024, 1, 1, 0, 0, 0),
                Some(at(2024, 1, 8, 0, 0, 0)),
            ),
            (
                "yearly",
                at(2024, 6, 1, 0, 0, 0),
                Some(at(2025, 1, 1, 0, 0, 0)),
            ),
            (
                "quarterly",
                at(2024, 4, 1, 0, 0, 0),
                Some(at(2024, 7, 1, 0, 0, 0)),
            ),
            (
                "2-29",
                at(2024, 3, 1, 0, 0, 0),
                Some(at(2028, 2, 29, 0, 0, 0)),
            ),
            ("2023-01-01", at(2024, 1, 1, 0, 0, 0), None),
            (
                "2030-06-15 12:00",
                at(2024, 1, 1, 0, 0, 0),
                Some(at(2030, 6, 15, 12, 0, 0)),
            ),
            (
                "sun 8..17/3:15",
                at(2024, 1, 7, 14, 16, 0),
                Some(at(2024, 1, 7, 17, 15, 0)),
            ),
            (
                "sat,sun 0:0:30",
                at(2024, 1, 8, 0, 0, 0),
                Some(at(2024, 1, 13, 0, 0, 30)),
            ),
            (
                "fri *-*-13",
                at(2024, 1, 1, 0, 0, 0),
                Some(at(2024, 9, 13, 0, 0, 0)),
            ),
        ];
        for (spec, last, want) in table {
            assert_eq!(next(spec, *last), *want, "{spec} after {last}");
        }
    }

    #[test]
    fn follows_the_zone() {
        // 02:00 at UTC+2 is 00:00 UTC.
        let ev = CalendarEvent::parse("02:00").unwrap();
        let plus2 = FixedOffset::hours(2);
        assert_eq!(
            ev.next_after(at(2024, 1, 1, 12, 0, 0), &plus2),
            Some(at(2024, 1, 2, 0, 0, 0))
        );
        // An event marked UTC ignores the zone.
        let ev = CalendarEvent::parse("02:00 UTC").unwrap();
        assert_eq!(
            ev.next_after(at(2024, 1, 1, 12, 0, 0), &plus2),
            Some(at(2024, 1, 2, 2, 0, 0))
        );
    }
}

/// Daylight saving time in a real zone (Europe/Vienna, through the C library): the test runs
/// itself again in a child process with `TZ` set, so no other test sees the zone change.
#[cfg(test)]
mod dst_tests {
    use super::super::zone::{LocalZone, Zone};
    use super::*;

    const CHILD: &str = "OXVE_CALENDAR_DST_CHILD";

    fn events(spec: &str, from: i64, to: i64) -> Vec<i64> {
        let ev = CalendarEvent::parse(spec).unwrap();
        let mut out = Vec::new();
        let mut last = from;
        while let Some(next) = ev.next_after(last, &LocalZone).filter(|n| *n <= to) {
            out.push(next);
            last = next;
        }
        out
    }

    fn local(epoch: i64) -> (u32, u32, u32, u32) {
        let t = LocalZone.to_tm(epoch);
        (t.month, t.day, t.hour, t.minute)
    }

    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        super::super::zone::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    fn checks() {
        // Spring forward on 2024-03-31 (02:00 CET -> 03:00 CEST): 02:30 does not exist that
        // day; every event is a real 02:30, one per day, the gap day without one.
        let got = events("02:30", utc(2024, 3, 29, 12, 0), utc(2024, 4, 2, 12, 0));
        let days: Vec<_> = got.iter().map(|e| local(*e)).collect();
        assert_eq!(
            days,
            [(3, 30, 2, 30), (4, 1, 2, 30), (4, 2, 2, 30)],
            "{got:?}"
        );
        assert_eq!(got[0], utc(2024, 3, 30, 1, 30)); // CET, UTC+1
        assert_eq!(got[1], utc(2024, 4, 1, 0, 30)); // CEST, UTC+2
                                                    // Fall back on 2024-10-27 (03:00 CEST -> 02:00 CET): 02:30 happens twice; the job
                                                    // runs once that day.
        let got = events("02:30", utc(2024, 10, 26, 12, 0), utc(2024, 10, 28, 12, 0));
        let days: Vec<_> = got.iter().map(|e| local(*e)).collect();
        assert_eq!(days, [(10, 27, 2, 30), (10, 28, 2, 30)], "{got:?}");
        assert_eq!(got[1], utc(2024, 10, 28, 1, 30)); // CET again
                                                      // A weekly event keeps its local time across the change.
        let got = events("sat 02:00", utc(2024, 10, 20, 0, 0), utc(2024, 11, 3, 0, 0));
        assert_eq!(got, [utc(2024, 10, 26, 0, 0), utc(2024, 11, 2, 1, 0)]);
    }

    #[test]
    fn follows_daylight_saving_time() {
        if std::env::var_os(CHILD).is_some() {
            return checks();
        }
        if !std::path::Path::new("/usr/share/zoneinfo/Europe/Vienna").exists() {
            eprintln!("skipped: no tzdata for Europe/Vienna");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "calendar::next::dst_tests::follows_daylight_saving_time",
            ])
            .env("TZ", "Europe/Vienna")
            .env(CHILD, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the checks in Europe/Vienna failed:\n{text}"
        );
        assert!(text.contains("1 passed"), "the child ran no check:\n{text}");
    }
}
