//! Memory and swap from `/proc/meminfo`, in bytes.

use std::fs;

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub total: u64,
    pub used: u64,
    pub free: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryInfo {
    pub memory: Usage,
    pub swap: Usage,
}

pub fn memory_info() -> MemoryInfo {
    parse_meminfo(&fs::read_to_string("/proc/meminfo").unwrap_or_default())
}

fn parse_meminfo(text: &str) -> MemoryInfo {
    let get = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    let total = get("MemTotal");
    // "Available" is what Proxmox (and free(1)) treat as free for the used figure.
    let free = get("MemAvailable");
    let swap_total = get("SwapTotal");
    let swap_free = get("SwapFree");
    MemoryInfo {
        memory: Usage {
            total,
            used: total.saturating_sub(free),
            free,
        },
        swap: Usage {
            total: swap_total,
            used: swap_total.saturating_sub(swap_free),
            free: swap_free,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meminfo() {
        let m = parse_meminfo(
            "MemTotal:       1000 kB\nMemFree:  100 kB\nMemAvailable:    400 kB\nSwapTotal: 10 kB\nSwapFree: 4 kB\n",
        );
        assert_eq!(m.memory.total, 1_024_000);
        assert_eq!(m.memory.used, 600 * 1024);
        assert_eq!(m.swap.used, 6 * 1024);
    }
}
