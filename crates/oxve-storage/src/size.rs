//! Disk sizes as Proxmox writes them: `10G`, `512M`, `1T`, `1.5G`, plain bytes; `+1G` for a
//! relative resize. Printing uses the largest exact unit (`format_size`), as in disk
//! property strings (`size=32G`).

use crate::error::{escape, StorageError};

const UNITS: [(char, u64); 4] = [
    ('K', 1 << 10),
    ('M', 1 << 20),
    ('G', 1 << 30),
    ('T', 1 << 40),
];

fn invalid(value: &str, reason: &str) -> StorageError {
    StorageError::InvalidSize {
        value: escape(value),
        reason: reason.into(),
    }
}

/// Parse `<number>[.<fraction>][K|M|G|T]` into bytes (no unit: bytes), like Proxmox's
/// `parse_size`. Fractions are allowed (`1.5G`) and truncated to whole bytes.
pub fn parse_size(value: &str) -> Result<u64, StorageError> {
    let (number, multiplier) = match value.chars().last() {
        Some(last) if last.is_ascii_alphabetic() => {
            let unit = UNITS
                .iter()
                .find(|(u, _)| *u == last)
                .ok_or_else(|| invalid(value, "unit must be one of K, M, G, T"))?;
            (&value[..value.len() - 1], unit.1)
        }
        _ => (value, 1),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(whole) || fraction.is_some_and(|f| !digits_ok(f)) {
        return Err(invalid(
            value,
            "expected a number with an optional K, M, G or T suffix",
        ));
    }
    let whole: u64 = whole
        .parse()
        .map_err(|_| invalid(value, "number too large"))?;
    let mut bytes = whole
        .checked_mul(multiplier)
        .ok_or_else(|| invalid(value, "size too large"))?;
    if let Some(fraction) = fraction {
        // Up to 12 fractional digits are significant for a T multiplier; more are ignored.
        let digits = &fraction[..fraction.len().min(12)];
        let numerator: u128 = digits.parse().unwrap_or(0);
        let denominator = 10u128.pow(digits.len() as u32);
        let extra = numerator * u128::from(multiplier) / denominator;
        bytes = bytes
            .checked_add(extra as u64)
            .ok_or_else(|| invalid(value, "size too large"))?;
    }
    Ok(bytes)
}

/// Print bytes with the largest unit that divides them exactly (`32G`, `1536M`, `1000`), as
/// Proxmox's `format_size` does.
pub fn format_size(bytes: u64) -> String {
    let mut value = bytes;
    let mut unit = None;
    for (u, _) in UNITS {
        if value == 0 || value & 1023 != 0 {
            break;
        }
        value /= 1024;
        unit = Some(u);
    }
    match unit {
        Some(u) => format!("{value}{u}"),
        None => value.to_string(),
    }
}

/// A requested size: absolute, or growth relative to the current size (`+1G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSpec {
    /// The new total size in bytes.
    Absolute(u64),
    /// Bytes to add to the current size.
    Grow(u64),
}

impl SizeSpec {
    /// Parse `[+]<size>` as accepted by `qm resize`.
    pub fn parse(value: &str) -> Result<Self, StorageError> {
        match value.strip_prefix('+') {
            Some(rest) => parse_size(rest)
                .map(SizeSpec::Grow)
                .map_err(|_| invalid(value, "expected [+]<number>[K|M|G|T]")),
            None => parse_size(value).map(SizeSpec::Absolute),
        }
    }

    /// The resulting size for a volume that currently has `current` bytes.
    pub fn resolve(self, current: u64) -> Result<u64, StorageError> {
        match self {
            SizeSpec::Absolute(size) => Ok(size),
            SizeSpec::Grow(delta) => current
                .checked_add(delta)
                .ok_or_else(|| invalid(&format!("+{delta}"), "size too large")),
        }
    }
}

/// Parse the `size` of `POST /nodes/{node}/storage/{storage}/content`: a number in KiB, or
/// with an `M` or `G` suffix (Proxmox's `\d+[MG]?`). Returns bytes.
pub fn parse_alloc_size(value: &str) -> Result<u64, StorageError> {
    let (number, multiplier) = match value.strip_suffix('G') {
        Some(n) => (n, 1u64 << 30),
        None => match value.strip_suffix('M') {
            Some(n) => (n, 1 << 20),
            None => (value, 1 << 10),
        },
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            value,
            "expected <number> (KiB) or <number>M or <number>G",
        ));
    }
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| invalid(value, "size too large"))
}

/// Round a byte count up to whole KiB, as Proxmox does before allocating or resizing.
pub fn round_up_kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024).saturating_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_fractions_and_bytes() {
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1T").unwrap(), 1 << 40);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("0.5K").unwrap(), 512);
    }

    #[test]
    fn rejects_non_sizes() {
        for bad in [
            "",
            "G",
            "10X",
            "10g",
            "-1G",
            "1.G",
            ".5G",
            "1e3",
            " 1G",
            "1G ",
            "1,5G",
            "1..2",
            "99999999999999999999",
            "20000000T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        let err = parse_size("ten").unwrap_err();
        assert_eq!(err.param(), Some("size"));
        assert!(err.to_string().contains("'ten'"));
    }

    #[test]
    fn formats_like_proxmox() {
        assert_eq!(format_size(32 << 30), "32G");
        assert_eq!(format_size(1536 << 20), "1536M");
        assert_eq!(format_size(2 << 40), "2T");
        assert_eq!(format_size(4096), "4K");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
        assert_eq!(format_size(1 << 50), "1024T");
    }

    #[test]
    fn parses_resize_specs() {
        assert_eq!(SizeSpec::parse("+1G").unwrap(), SizeSpec::Grow(1 << 30));
        assert_eq!(
            SizeSpec::parse("20G").unwrap(),
            SizeSpec::Absolute(20 << 30)
        );
        assert_eq!(
            SizeSpec::parse("+512M").unwrap().resolve(1 << 30).unwrap(),
            (1 << 30) + (512 << 20)
        );
        assert!(SizeSpec::parse("++1G").is_err());
        assert!(SizeSpec::parse("+").is_err());
        assert!(SizeSpec::parse("-1G").is_err());
    }

    #[test]
    fn parses_alloc_sizes_in_kib() {
        assert_eq!(parse_alloc_size("1024").unwrap(), 1 << 20);
        assert_eq!(parse_alloc_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_alloc_size("64M").unwrap(), 64 << 20);
        assert!(parse_alloc_size("1T").is_err());
        assert!(parse_alloc_size("1.5G").is_err());
        assert_eq!(round_up_kib(1), 1024);
        assert_eq!(round_up_kib(2048), 2048);
    }
}
