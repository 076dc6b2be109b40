//! What a container backup leaves out: `exclude-path` globs and, with `stdexcludes` (on by
//! default), temporary files and pid files, as Proxmox's vzdump has them. Patterns match the
//! paths the container sees: one starting with `/` from the container's root, any other
//! relative to every directory. `*` also matches `/`, as in tar's exclusions, and a directory
//! that matches is left out with everything below it.

use glob::{MatchOptions, Pattern};

/// Proxmox's `stdexcludes`: contents of the temporary directories (not the directories
/// themselves) and pid files.
const STANDARD: &[&str] = &["/tmp/?*", "/var/tmp/?*", "/var/run/?*.pid"];

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// The exclusions of one backup job.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    /// Matched against the whole path.
    anchored: Vec<Pattern>,
    /// Matched against the path below each of its directories.
    relative: Vec<Pattern>,
    /// Whether `exclude-path` was given (and not only the standard exclusions).
    explicit: bool,
}

impl Exclusions {
    /// From `exclude-path` entries (each may hold several, NUL- or newline-separated, as the
    /// API's list form arrives) and `stdexcludes`; a pattern that is not a glob is an error.
    pub fn new(paths: &[String], standard: bool) -> Result<Self, String> {
        let given: Vec<&str> = paths
            .iter()
            .flat_map(|p| p.split(['\0', '\n']))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let mut this = Exclusions {
            explicit: !given.is_empty(),
            ..Exclusions::default()
        };
        let standard = if standard { STANDARD } else { &[] };
        for text in given.iter().copied().chain(standard.iter().copied()) {
            let pattern = Pattern::new(text).map_err(|e| format!("'{text}': {e}"))?;
            if text.starts_with('/') {
                this.anchored.push(pattern);
            } else {
                this.relative.push(pattern);
            }
        }
        Ok(this)
    }

    /// Whether `exclude-path` asked for anything.
    pub fn explicit(&self) -> bool {
        self.explicit
    }

    /// Whether `path` (absolute, as the container sees it) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        if self.anchored.iter().any(|p| p.matches_with(path, OPTIONS)) {
            return true;
        }
        let below_each_dir = path.match_indices('/').map(|(i, _)| &path[i + 1..]);
        below_each_dir
            .filter(|rest| !rest.is_empty())
            .any(|rest| self.relative.iter().any(|p| p.matches_with(rest, OPTIONS)))
    }
}

/// The container path of `rel` (relative to a volume) in the volume mounted at `mount`.
pub fn container_path(mount: &str, rel: &std::path::Path) -> String {
    let rel = rel.to_string_lossy();
    let rel = rel.trim_start_matches("./").trim_start_matches('/');
    match (mount.trim_end_matches('/'), rel) {
        ("", "") => "/".to_string(),
        (m, "") => m.to_string(),
        (m, r) => format!("{m}/{r}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn standard_exclusions_keep_the_directories_and_drop_their_contents() {
        let e = Exclusions::new(&[], true).unwrap();
        assert!(!e.explicit());
        assert!(!e.excludes("/tmp"));
        assert!(e.excludes("/tmp/x"));
        assert!(e.excludes("/tmp/dir/deeper"));
        assert!(e.excludes("/var/tmp/y"));
        assert!(e.excludes("/var/run/sshd.pid"));
        assert!(!e.excludes("/var/run/sshd.sock"));
        assert!(
            !e.excludes("/root/tmp/x"),
            "anchored at the container's root"
        );
        let none = Exclusions::new(&[], false).unwrap();
        assert!(!none.excludes("/tmp/x"));
    }

    #[test]
    fn relative_patterns_match_below_every_directory() {
        let e = Exclusions::new(&["*.log".into(), "cache".into()], false).unwrap();
        assert!(e.explicit());
        assert!(e.excludes("/a.log"));
        assert!(e.excludes("/var/log/syslog.log"));
        assert!(e.excludes("/home/u/cache"));
        assert!(!e.excludes("/home/u/cache2"));
        assert!(!e.excludes("/var/log/syslog"));
    }

    #[test]
    fn anchored_patterns_and_lists() {
        let e = Exclusions::new(&["/srv/data/*\n/opt/big".into()], false).unwrap();
        assert!(e.excludes("/srv/data/file"));
        assert!(!e.excludes("/srv/data"));
        assert!(e.excludes("/opt/big"));
        assert!(!e.excludes("/x/opt/big"));
        assert!(Exclusions::new(&["[".into()], false).is_err());
    }

    #[test]
    fn container_paths_of_volume_entries() {
        assert_eq!(container_path("/", Path::new("./")), "/");
        assert_eq!(container_path("/", Path::new("etc/passwd")), "/etc/passwd");
        assert_eq!(container_path("/data", Path::new("")), "/data");
        assert_eq!(container_path("/data/", Path::new("x/y")), "/data/x/y");
    }
}
