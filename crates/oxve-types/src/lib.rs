//! Types shared by the oxve server, CLI and client: parameter schemas with their validation,
//! Proxmox-compatible formats and config text. No I/O (the host time zone, for calendar
//! events in local time, is read through the C library).

pub mod calendar;
pub mod config_text;
pub mod format;
pub mod lxc;
pub mod params;
pub mod property_string;
pub mod qemu;
pub mod schema;
pub mod section_config;
pub mod snapshot;
