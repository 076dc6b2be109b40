//! Proxmox's section-config text format, as used by `storage.cfg` (and other `*.cfg` files of
//! Proxmox VE that hold typed, named sections):
//!
//! ```text
//! dir: local
//!     path /var/lib/vz
//!     content iso,vztmpl,backup
//!
//! zfspool: tank
//!     pool tank/data
//!     sparse
//! ```
//!
//! A section starts with a `<type>: <id>` line at column 0, followed by indented
//! `<key> <value>` lines; a key alone (a flag) has no value. A blank line ends a section.
//! Lines starting with `#` are comments and are skipped.
//!
//! This module only handles the structure; what each key means is checked by the users of the
//! format. Writing puts each property on a tab-indented line and a blank line after every
//! section, so `parse(write(x)) == x` for every `x` that `write` accepts.

/// One `<type>: <id>` section with its properties, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSection {
    /// The section type (`dir`, `lvmthin`, ...), lower-cased as Proxmox does.
    pub section_type: String,
    /// The section id (the storage id for `storage.cfg`).
    pub id: String,
    /// `key value` lines in file order; `None` for a flag written without a value.
    pub properties: Vec<(String, Option<String>)>,
    /// 1-based line number of the section header (0 for sections built in code).
    pub line: usize,
}

impl ConfigSection {
    /// A section without properties.
    pub fn new(section_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            section_type: section_type.into(),
            id: id.into(),
            properties: Vec::new(),
            line: 0,
        }
    }

    /// The first value of `key`; `Some(None)` for a flag without a value.
    pub fn get(&self, key: &str) -> Option<Option<&str>> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }
}

/// Text that is not valid section config, or a section that cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionConfigError {
    /// A line that is none of: blank, comment, section header, indented property.
    #[error("line {line}: unable to parse config line '{text}'")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The offending line, control characters escaped.
        text: String,
    },
    /// An indented property line outside of any section.
    #[error("line {line}: property '{key}' outside of a section")]
    PropertyOutsideSection {
        /// 1-based line number.
        line: usize,
        /// The property key.
        key: String,
    },
    /// A second section with an id that was already used.
    #[error("line {line}: duplicate section id '{id}'")]
    DuplicateSection {
        /// 1-based line number of the second header.
        line: usize,
        /// The repeated id.
        id: String,
    },
    /// A type, id, key or value that cannot be written (empty, whitespace or a line break).
    #[error("section '{id}': cannot write {what} '{text}'")]
    Unwritable {
        /// The section id.
        id: String,
        /// Which part: `type`, `id`, `key` or `value`.
        what: &'static str,
        /// The offending text, control characters escaped.
        text: String,
    },
}

fn escape(text: &str) -> String {
    text.chars().flat_map(char::escape_default).collect()
}

fn parse_header(line: &str) -> Option<(String, String)> {
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let (section_type, rest) = line.split_once(':')?;
    if section_type.is_empty() || section_type.contains(char::is_whitespace) {
        return None;
    }
    let id = rest.trim();
    if id.is_empty() || id.contains(char::is_whitespace) {
        return None;
    }
    Some((section_type.to_ascii_lowercase(), id.to_string()))
}

fn parse_property(line: &str) -> Option<(String, Option<String>)> {
    if !line.starts_with(char::is_whitespace) {
        return None;
    }
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return None;
    }
    match trimmed.split_once(char::is_whitespace) {
        None => Some((trimmed.to_string(), None)),
        Some((key, value)) => Some((key.to_string(), Some(value.trim_start().to_string()))),
    }
}

/// Parse section-config text into its sections, in file order.
pub fn parse_section_config(text: &str) -> Result<Vec<ConfigSection>, SectionConfigError> {
    let mut sections: Vec<ConfigSection> = Vec::new();
    let mut in_section = false;
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim_start().starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            in_section = false;
            continue;
        }
        if let Some((section_type, id)) = parse_header(line) {
            if sections.iter().any(|s| s.id == id) {
                return Err(SectionConfigError::DuplicateSection { line: line_no, id });
            }
            sections.push(ConfigSection {
                section_type,
                id,
                properties: Vec::new(),
                line: line_no,
            });
            in_section = true;
            continue;
        }
        match parse_property(line) {
            Some((key, value)) => match sections.last_mut() {
                Some(section) if in_section => section.properties.push((key, value)),
                _ => return Err(SectionConfigError::PropertyOutsideSection { line: line_no, key }),
            },
            None => {
                return Err(SectionConfigError::Malformed {
                    line: line_no,
                    text: escape(line),
                })
            }
        }
    }
    Ok(sections)
}

fn check_token(id: &str, what: &'static str, text: &str) -> Result<(), SectionConfigError> {
    let bad_colon = what == "type" && text.contains(':');
    if text.is_empty() || text.contains(char::is_whitespace) || bad_colon {
        return Err(SectionConfigError::Unwritable {
            id: escape(id),
            what,
            text: escape(text),
        });
    }
    Ok(())
}

/// Write sections as section-config text: header, tab-indented properties, blank line.
pub fn write_section_config(sections: &[ConfigSection]) -> Result<String, SectionConfigError> {
    let mut out = String::new();
    for section in sections {
        check_token(&section.id, "type", &section.section_type)?;
        check_token(&section.id, "id", &section.id)?;
        out.push_str(&section.section_type);
        out.push_str(": ");
        out.push_str(&section.id);
        out.push('\n');
        for (key, value) in &section.properties {
            check_token(&section.id, "key", key)?;
            out.push('\t');
            out.push_str(key);
            if let Some(value) = value {
                if value.is_empty()
                    || value.contains(['\n', '\r'])
                    || value.starts_with(char::is_whitespace)
                    || value.ends_with(char::is_whitespace)
                {
                    return Err(SectionConfigError::Unwritable {
                        id: escape(&section.id),
                        what: "value",
                        text: escape(value),
                    });
                }
                out.push(' ');
                out.push_str(value);
            }
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\n\
        # a comment\n\
        zfspool: local-zfs\n\tpool rpool/data\n\tsparse\n\tcontent images,rootdir\n\n";

    #[test]
    fn parses_sections_flags_and_comments() {
        let sections = parse_section_config(SAMPLE).unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].section_type, "dir");
        assert_eq!(sections[0].id, "local");
        assert_eq!(sections[0].get("path"), Some(Some("/var/lib/vz")));
        assert_eq!(sections[1].get("sparse"), Some(None));
        assert_eq!(sections[1].line, 6);
    }

    #[test]
    fn round_trips() {
        let sections = parse_section_config(SAMPLE).unwrap();
        let text = write_section_config(&sections).unwrap();
        let again = parse_section_config(&text).unwrap();
        let strip = |s: Vec<ConfigSection>| {
            s.into_iter()
                .map(|mut x| {
                    x.line = 0;
                    x
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(sections), strip(again));
        assert!(text.ends_with("\tcontent images,rootdir\n\n"));
    }

    #[test]
    fn accepts_spaces_and_trailing_whitespace() {
        let sections = parse_section_config("nfs:  store1  \n    server 10.0.0.1  \n").unwrap();
        assert_eq!(sections[0].id, "store1");
        assert_eq!(sections[0].get("server"), Some(Some("10.0.0.1")));
        let sections = parse_section_config("Dir: x\r\n\tpath /a b\r\n").unwrap();
        assert_eq!(sections[0].section_type, "dir");
        assert_eq!(sections[0].get("path"), Some(Some("/a b")));
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(matches!(
            parse_section_config("\tpath /x\n"),
            Err(SectionConfigError::PropertyOutsideSection { line: 1, .. })
        ));
        assert!(matches!(
            parse_section_config("dir: a\n\tpath /x\n\n\tcontent iso\n"),
            Err(SectionConfigError::PropertyOutsideSection { line: 4, .. })
        ));
        assert!(matches!(
            parse_section_config("garbage line\n"),
            Err(SectionConfigError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse_section_config("dir: a\n\ndir: a\n"),
            Err(SectionConfigError::DuplicateSection { line: 3, .. })
        ));
    }

    #[test]
    fn refuses_to_write_line_breaks() {
        let mut section = ConfigSection::new("dir", "a");
        section
            .properties
            .push(("path".into(), Some("/x\n\tinjected 1".into())));
        assert!(write_section_config(&[section]).is_err());
        assert!(write_section_config(&[ConfigSection::new("dir", "a b")]).is_err());
    }
}
