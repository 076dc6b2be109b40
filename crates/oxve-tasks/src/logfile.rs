//! Task log files: `<task_dir>/<X>/<UPID>`, X being the last hex digit of
//! the start time, as Proxmox lays out `/var/log/pve/tasks`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::status::{exit_status_from_last_line, LogLine, UNEXPECTED_STATUS};
use crate::upid::Upid;

/// Text of the single line returned for an empty log (Proxmox' ExtJS hack).
const NO_CONTENT: &str = "no content";

/// How much of the end of a log is read to find its status line.
const TAIL_BYTES: u64 = 4096;

/// Path of the log file of `upid`.
pub(crate) fn log_path(task_dir: &Path, upid: &Upid) -> PathBuf {
    task_dir
        .join(upid.log_subdir().to_string())
        .join(upid.to_string())
}

/// Creates a new, empty log file (mode 0640), failing with
/// `AlreadyExists` if the UPID was used before.
pub(crate) fn create_log(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o640)
        .open(path)
}

/// Reads lines `start+1 ..= start+limit` (all remaining lines when `limit`
/// is 0) and the total number of lines, as pve-common `dump_logfile`: an
/// empty log gives one line "no content" and a total of 1.
pub(crate) fn read_lines(
    path: &Path,
    start: usize,
    limit: usize,
) -> io::Result<(Vec<LogLine>, usize)> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut lines = Vec::new();
    let mut count = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        count += 1;
        if count <= start || (limit != 0 && lines.len() >= limit) {
            continue;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        lines.push(LogLine {
            n: count,
            t: String::from_utf8_lossy(&buf).into_owned(),
        });
    }
    if count == 0 {
        count = 1;
        lines.push(LogLine {
            n: 1,
            t: NO_CONTENT.to_string(),
        });
    }
    Ok((lines, count))
}

/// Reads a finished task's exit status from its last log line, and the
/// log's modification time as its end time.
pub(crate) fn read_exit_status(path: &Path) -> io::Result<(String, i64)> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let len = meta.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut tail = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    let status = text
        .trim_end_matches('\n')
        .rsplit('\n')
        .next()
        .filter(|line| !line.is_empty())
        .map_or_else(|| UNEXPECTED_STATUS.to_string(), exit_status_from_last_line);
    Ok((status, mtime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn paging_matches_proxmox() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        write(&path, "a\nb\nc\nd\n");
        let (lines, total) = read_lines(&path, 0, 2).unwrap();
        assert_eq!(total, 4);
        assert_eq!(
            lines,
            vec![
                LogLine {
                    n: 1,
                    t: "a".into()
                },
                LogLine {
                    n: 2,
                    t: "b".into()
                }
            ]
        );
        let (lines, total) = read_lines(&path, 3, 10).unwrap();
        assert_eq!(
            (lines.len(), lines[0].n, lines[0].t.as_str(), total),
            (1, 4, "d", 4)
        );
        let (lines, total) = read_lines(&path, 10, 10).unwrap();
        assert_eq!((lines.len(), total), (0, 4));
        let (lines, _) = read_lines(&path, 1, 0).unwrap();
        assert_eq!(lines.len(), 3);

        write(&path, "");
        let (lines, total) = read_lines(&path, 0, 50).unwrap();
        assert_eq!(
            lines,
            vec![LogLine {
                n: 1,
                t: "no content".into()
            }]
        );
        assert_eq!(total, 1);

        write(&path, "x\npartial");
        let (lines, total) = read_lines(&path, 0, 50).unwrap();
        assert_eq!((lines[1].t.as_str(), total), ("partial", 2));
    }

    #[test]
    fn exit_status_from_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut file = create_log(&path).unwrap();
        assert_eq!(
            create_log(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(read_exit_status(&path).unwrap().0, UNEXPECTED_STATUS);
        for _ in 0..1000 {
            writeln!(
                file,
                "some long output line to push the status past the tail"
            )
            .unwrap();
        }
        assert_eq!(read_exit_status(&path).unwrap().0, UNEXPECTED_STATUS);
        writeln!(file, "TASK ERROR: it broke").unwrap();
        let (status, mtime) = read_exit_status(&path).unwrap();
        assert_eq!(status, "it broke");
        assert!(mtime > 0);
    }
}
