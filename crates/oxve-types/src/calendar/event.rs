//! Parsing calendar events (`pve-calendar-event`), the subset of systemd's calendar events
//! Proxmox accepts: `[weekdays] [[year-]month-day] [hour:]minute[:second] [UTC]` or one of
//! `minutely`, `hourly`, `daily`, `weekly`, `monthly`, `yearly`/`annually`, `quarterly`,
//! `semiannually`/`semi-annually`.
//!
//! Every component is `*` (any), or a list of values, ranges `a..b` and repetitions `a/n`,
//! `a..b/n`, `*/n`. A missing time means `00:00:00`, missing seconds mean `:00`, and a time of
//! one component (`*/5`, `30`) is the minute of every hour.

use std::fmt;

/// One item of a component list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Single(u32),
    /// Inclusive range.
    Range(u32, u32),
    /// `start/step` up to an optional inclusive end.
    Repeated(u32, u32, Option<u32>),
}

impl Value {
    pub fn contains(&self, v: u32) -> bool {
        match *self {
            Value::Single(x) => x == v,
            Value::Range(a, b) => v >= a && v <= b,
            Value::Repeated(start, step, end) => {
                if v < start {
                    return false;
                }
                // step 0 (`5/0`) only matches the start itself
                let hit = (v - start).checked_rem(step).map_or(v == start, |r| r == 0);
                hit && end.is_none_or(|e| v <= e)
            }
        }
    }

    /// The smallest value of this item greater than `v`.
    fn next_after(&self, v: u32) -> Option<u32> {
        match *self {
            Value::Single(x) => (x > v).then_some(x),
            Value::Range(a, b) => {
                if v < a {
                    Some(a)
                } else {
                    (v < b).then_some(v + 1)
                }
            }
            Value::Repeated(start, step, end) => {
                if v < start {
                    return Some(start);
                }
                let n = start + (v - start + step).checked_div(step)? * step;
                end.is_none_or(|e| n <= e).then_some(n)
            }
        }
    }
}

/// A component: empty means any value.
pub type Component = Vec<Value>;

pub(crate) fn list_contains(list: &[Value], v: u32) -> bool {
    list.is_empty() || list.iter().any(|x| x.contains(v))
}

pub(crate) fn find_next(list: &[Value], v: u32) -> Option<u32> {
    list.iter().filter_map(|x| x.next_after(v)).min()
}

/// A parsed calendar event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarEvent {
    /// Weekdays as a bit set, bit 0 = Monday .. bit 6 = Sunday; 0 means every day.
    pub weekdays: u8,
    pub year: Component,
    pub month: Component,
    pub day: Component,
    pub hour: Component,
    pub minute: Component,
    pub second: Component,
    /// Evaluate in UTC instead of local time.
    pub utc: bool,
}

/// Why a calendar event does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse calendar event '{text}' - {reason}")]
pub struct CalendarEventError {
    pub text: String,
    pub reason: String,
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

fn zero() -> Component {
    vec![Value::Single(0)]
}

fn special(name: &str) -> Option<CalendarEvent> {
    let midnight = |ev: CalendarEvent| CalendarEvent {
        hour: zero(),
        minute: zero(),
        second: zero(),
        ..ev
    };
    let months = |list: &[u32]| list.iter().map(|m| Value::Single(*m)).collect();
    Some(match name {
        "minutely" => CalendarEvent {
            second: zero(),
            ..Default::default()
        },
        "hourly" => CalendarEvent {
            minute: zero(),
            second: zero(),
            ..Default::default()
        },
        "daily" => midnight(CalendarEvent::default()),
        "weekly" => midnight(CalendarEvent {
            weekdays: 1,
            ..Default::default()
        }),
        "monthly" => midnight(CalendarEvent {
            day: vec![Value::Single(1)],
            ..Default::default()
        }),
        "yearly" | "annually" => midnight(CalendarEvent {
            day: vec![Value::Single(1)],
            month: vec![Value::Single(1)],
            ..Default::default()
        }),
        "quarterly" => midnight(CalendarEvent {
            day: vec![Value::Single(1)],
            month: months(&[1, 4, 7, 10]),
            ..Default::default()
        }),
        "semiannually" | "semi-annually" => midnight(CalendarEvent {
            day: vec![Value::Single(1)],
            month: months(&[1, 7]),
            ..Default::default()
        }),
        _ => return None,
    })
}

/// A cursor over the text being parsed.
struct Input<'a> {
    rest: &'a str,
}

type PResult<T> = Result<T, String>;

impl<'a> Input<'a> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn number(&mut self, max: u32) -> PResult<u32> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(format!("expected a number at '{}'", self.rest));
        }
        let value: u32 = self.rest[..len]
            .parse()
            .map_err(|_| format!("number too large at '{}'", self.rest))?;
        if value >= max {
            return Err(format!("time value too large: {value}"));
        }
        self.rest = &self.rest[len..];
        Ok(value)
    }

    fn item(&mut self, max: u32) -> PResult<Value> {
        let value = self.number(max)?;
        if self.eat("..") {
            let end = self.number(max)?;
            if value > end {
                return Err("range start is bigger than end".into());
            }
            if self.eat("/") {
                return Ok(Value::Repeated(value, self.number(max)?, Some(end)));
            }
            return Ok(Value::Range(value, end));
        }
        if self.eat("/") {
            return Ok(Value::Repeated(value, self.number(max)?, None));
        }
        Ok(Value::Single(value))
    }

    /// `*`, `*/n` or a comma-separated list of items; values must be below `max`.
    fn component(&mut self, start: u32, max: u32) -> PResult<Component> {
        if self.eat("*") {
            if self.rest.starts_with('/') {
                let save = self.rest;
                self.eat("/");
                let step = self.number(max)?;
                if step > 0 {
                    return Ok(vec![Value::Repeated(start, step, None)]);
                }
                self.rest = save;
            }
            return Ok(Vec::new());
        }
        let mut list = vec![self.item(max)?];
        while self.eat(",") {
            list.push(self.item(max)?);
        }
        Ok(list)
    }

    fn weekday(&mut self) -> PResult<u8> {
        let len = self
            .rest
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let word = self.rest[..len].to_ascii_lowercase();
        let index = WEEKDAYS
            .iter()
            .position(|(short, long)| word == *short || word == *long)
            .ok_or_else(|| format!("invalid weekday '{word}'"))?;
        self.rest = &self.rest[len..];
        Ok(index as u8)
    }

    /// `day[..day]`, a range wrapping past Sunday allowed (`sat..mon`).
    fn weekday_range(&mut self) -> PResult<u8> {
        let start = self.weekday()?;
        if !self.eat("..") {
            return Ok(1 << start);
        }
        let end = self.weekday()?;
        let mut bits = 0u8;
        let mut d = start;
        loop {
            bits |= 1 << d;
            if d == end {
                break;
            }
            d = (d + 1) % 7;
        }
        Ok(bits)
    }

    fn date(&mut self) -> Option<(Component, Component, Component)> {
        let save = self.rest;
        let three = (|| {
            let year = self.component(0, 2200).ok()?;
            self.eat("-").then_some(())?;
            let month = self.component(1, 13).ok()?;
            self.eat("-").then_some(())?;
            let day = self.component(1, 32).ok()?;
            Some((year, month, day))
        })();
        if three.is_some() {
            return three;
        }
        self.rest = save;
        let two = (|| {
            let month = self.component(1, 13).ok()?;
            self.eat("-").then_some(())?;
            let day = self.component(1, 32).ok()?;
            Some((Vec::new(), month, day))
        })();
        if two.is_none() {
            self.rest = save;
        }
        two
    }

    fn time(&mut self) -> PResult<Option<(Component, Component, Component)>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let save = self.rest;
        let first = self.component(0, 60)?;
        if !self.eat(":") {
            // one component: the minute of every hour
            return Ok(Some((Vec::new(), first, zero())));
        }
        // the first component was the hour: check it against 24
        self.rest = save;
        let hour = self.component(0, 24)?;
        self.eat(":");
        let minute = self.component(0, 60)?;
        let second = if self.eat(":") {
            self.component(0, 60)?
        } else {
            zero()
        };
        Ok(Some((hour, minute, second)))
    }
}

impl CalendarEvent {
    /// Parse a calendar event as Proxmox does.
    pub fn parse(text: &str) -> Result<Self, CalendarEventError> {
        let err = |reason: String| CalendarEventError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        let (body, utc) = match trimmed.strip_suffix("UTC") {
            Some(b) => (b.trim_end(), true),
            None => (trimmed, false),
        };
        if let Some(mut ev) = special(body) {
            ev.utc = utc;
            return Ok(ev);
        }
        let mut ev = CalendarEvent {
            utc,
            ..Default::default()
        };
        let mut input = Input { rest: body };
        let mut has_spec = false;
        if input.rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            ev.weekdays = input.weekday_range().map_err(err)?;
            while input.eat(",") {
                ev.weekdays |= input.weekday_range().map_err(err)?;
            }
            input.skip_spaces();
            has_spec = true;
        }
        if let Some((year, month, day)) = input.date() {
            (ev.year, ev.month, ev.day) = (year, month, day);
            input.skip_spaces();
            has_spec = true;
        }
        match input.time().map_err(err)? {
            Some((hour, minute, second)) => {
                (ev.hour, ev.minute, ev.second) = (hour, minute, second);
                has_spec = true;
            }
            None => (ev.hour, ev.minute, ev.second) = (zero(), zero(), zero()),
        }
        if !input.rest.trim().is_empty() {
            return Err(err(format!("unexpected '{}'", input.rest)));
        }
        if !has_spec {
            return Err(err("expected a date or time specification".into()));
        }
        Ok(ev)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Single(v) => write!(f, "{v}"),
            Value::Range(a, b) => write!(f, "{a}..{b}"),
            Value::Repeated(a, s, None) => write!(f, "{a}/{s}"),
            Value::Repeated(a, s, Some(e)) => write!(f, "{a}..{e}/{s}"),
        }
    }
}

/// Check for the `pve-calendar-event` format.
pub fn check_calendar_event(text: &str) -> Result<(), String> {
    CalendarEvent::parse(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::*;

    #[test]
    fn parses_common_forms() {
        let ev = CalendarEvent::parse("sat 02:00").unwrap();
        assert_eq!(ev.weekdays, 1 << 5);
        assert_eq!(
            (ev.hour.clone(), ev.minute.clone()),
            (vec![Single(2)], vec![Single(0)])
        );
        assert_eq!(ev.second, vec![Single(0)]);

        let ev = CalendarEvent::parse("*/4:00").unwrap();
        assert_eq!(ev.hour, vec![Repeated(0, 4, None)]);
        assert_eq!(ev.minute, vec![Single(0)]);
        assert_eq!(ev.weekdays, 0);

        let ev = CalendarEvent::parse("mon..fri 22:30").unwrap();
        assert_eq!(ev.weekdays, 0b0011111);
        let ev = CalendarEvent::parse("sat..mon 1:00").unwrap();
        assert_eq!(ev.weekdays, 0b1100001);
        let ev = CalendarEvent::parse("mon,wed,fri 3:15:30").unwrap();
        assert_eq!(ev.weekdays, 0b0010101);
        assert_eq!(ev.second, vec![Single(30)]);

        let ev = CalendarEvent::parse("*-*-1 00:00").unwrap();
        assert_eq!(ev.day, vec![Single(1)]);
        assert!(ev.month.is_empty() && ev.year.is_empty());
        let ev = CalendarEvent::parse("2030-01,07-15").unwrap();
        assert_eq!(ev.year, vec![Single(2030)]);
        assert_eq!(ev.month, vec![Single(1), Single(7)]);
        assert_eq!(ev.hour, vec![Single(0)]);

        let ev = CalendarEvent::parse("2:30").unwrap();
        assert_eq!(
            (ev.hour.clone(), ev.minute.clone()),
            (vec![Single(2)], vec![Single(30)])
        );
        let ev = CalendarEvent::parse("*/5").unwrap();
        assert!(ev.hour.is_empty());
        assert_eq!(ev.minute, vec![Repeated(0, 5, None)]);
        let ev = CalendarEvent::parse("*:*").unwrap();
        assert!(ev.hour.is_empty() && ev.minute.is_empty());
        assert_eq!(ev.second, vec![Single(0)]);
        let ev = CalendarEvent::parse("8..17/2:00").unwrap();
        assert_eq!(ev.hour, vec![Repeated(8, 2, Some(17))]);
        let ev = CalendarEvent::parse("daily UTC").unwrap();
        assert!(ev.utc);
        assert_eq!(CalendarEvent::parse("weekly").unwrap().weekdays, 1);
        assert_eq!(
            CalendarEvent::parse("monthly").unwrap().day,
            vec![Single(1)]
        );
        assert_eq!(CalendarEvent::parse("sat").unwrap().hour, vec![Single(0)]);
    }

    #[test]
    fn rejects_bad_events() {
        for bad in [
            "",
            "funday",
            "25:00",
            "12:60",
            "*-13-01",
            "*-*-32",
            "5..3",
            "sat 02:00 x",
            "mon..",
            "12:",
            "hourly daily",
        ] {
            assert!(CalendarEvent::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(check_calendar_event("sat 02:00").is_ok());
    }
}
