//! Calendar events (`pve-calendar-event`, a subset of systemd's) and local time: when a
//! backup job runs next, and the hour/day/week buckets of backup retention.

mod event;
mod next;
mod zone;

pub use event::{check_calendar_event, CalendarEvent, CalendarEventError, Component, Value};
pub use zone::{civil_from_days, days_from_civil, Fields, FixedOffset, LocalZone, Tm, Zone};
