//! The daemon's own process identity for UPIDs: pid and process start time.

use crate::error::TaskError;

/// Returns this process' pid and start time in clock ticks since boot
/// (field 22 of `/proc/self/stat`), the pair Proxmox puts into UPIDs.
pub(crate) fn own_pid_and_start() -> Result<(u32, u64), TaskError> {
    let path = "/proc/self/stat";
    let stat = std::fs::read_to_string(path).map_err(TaskError::io("read", path))?;
    let pstart = parse_stat_starttime(&stat).ok_or_else(|| TaskError::ProcStat {
        reason: format!("unexpected content of {path}"),
    })?;
    Ok((std::process::id(), pstart))
}

/// Extracts field 22 (starttime) from a `/proc/<pid>/stat` line.
///
/// Field 2 (the command name) is in parentheses and may itself contain
/// spaces and parentheses, so counting starts after the last `)`: the
/// field following it is field 3.
fn parse_stat_starttime(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_ascii_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_starttime_field() {
        let stat = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 987654 12345678 300 18446744073709551615";
        assert_eq!(parse_stat_starttime(stat), Some(987_654));
        assert_eq!(parse_stat_starttime("garbage"), None);
        assert_eq!(parse_stat_starttime("1 (x) S 1 2"), None);
    }

    #[test]
    fn reads_own_process() {
        let (pid, pstart) = own_pid_and_start().unwrap();
        assert_eq!(pid, std::process::id());
        assert!(pstart > 0);
    }
}
