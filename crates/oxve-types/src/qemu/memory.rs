//! The `memory` option (`2048` or `current=2048`, MiB).

use std::fmt;
use std::str::FromStr;

use crate::property_string::PsError;

use super::psformats;
use super::values::{Put, Take};

/// RAM when `memory` is not set, in MiB.
pub const DEFAULT_MEMORY_MIB: u64 = 512;

/// The parsed `memory` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// RAM in MiB (the maximum when ballooning).
    pub current: u64,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            current: DEFAULT_MEMORY_MIB,
        }
    }
}

impl Memory {
    pub fn mib(current: u64) -> Self {
        Memory { current }
    }

    pub fn parse(text: &str) -> Result<Self, PsError> {
        let mut t = Take(psformats::memory_format().parse(text)?);
        let current = t.int("current").unwrap_or(DEFAULT_MEMORY_MIB as i64);
        Ok(Memory {
            current: u64::try_from(current).unwrap_or(DEFAULT_MEMORY_MIB),
        })
    }

    /// Canonical form: the bare number of MiB.
    pub fn print(&self) -> String {
        let mut p = Put::default();
        p.string("current", Some(self.current));
        psformats::memory_format().print(&p.0)
    }
}

impl FromStr for Memory {
    type Err = PsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Memory::parse(s)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.print())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_limits() {
        assert_eq!(Memory::parse("2048").unwrap(), Memory::mib(2048));
        assert_eq!(Memory::parse("current=4096").unwrap().print(), "4096");
        assert_eq!(
            Memory::parse(&Memory::mib(16).print()).unwrap(),
            Memory::mib(16)
        );
        let e = Memory::parse("8").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("current"));
        assert!(Memory::parse("2G").is_err());
        assert!(Memory::parse("current=1024,max=2048").is_err());
        assert_eq!(Memory::default().current, 512);
    }
}
