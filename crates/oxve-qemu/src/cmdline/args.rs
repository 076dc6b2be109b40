//! Small helpers for writing QEMU arguments: option lists with QEMU's comma escaping, and the
//! shell-like splitting of the `args:` config key.

/// Escapes a value inside a QEMU option list (`,` is written `,,`).
pub fn esc(value: &str) -> String {
    value.replace(',', ",,")
}

/// A QEMU option list (`virtio-blk-pci,drive=drive-virtio0,id=virtio0`).
#[derive(Debug, Clone, Default)]
pub struct Opts(String);

impl Opts {
    /// A list starting with a bare word (a driver or type name).
    pub fn new(head: &str) -> Self {
        Opts(esc(head))
    }

    /// An empty list (the first item is a `key=value`).
    pub fn empty() -> Self {
        Opts(String::new())
    }

    /// Appends `key=value` (the value escaped).
    pub fn kv(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&esc(&value.to_string()));
        self
    }

    /// Appends `key=value` when there is a value.
    pub fn opt(self, key: &str, value: Option<impl std::fmt::Display>) -> Self {
        match value {
            Some(v) => self.kv(key, v),
            None => self,
        }
    }

    /// Appends `key=value` when `cond` holds.
    pub fn kv_if(self, cond: bool, key: &str, value: impl std::fmt::Display) -> Self {
        if cond {
            self.kv(key, value)
        } else {
            self
        }
    }

    /// Appends a raw, already escaped item.
    pub fn raw(mut self, item: &str) -> Self {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(item);
        self
    }

    /// The finished list.
    pub fn build(self) -> String {
        self.0
    }
}

/// Splits the `args:` value like a POSIX shell would split words (quotes and backslashes, no
/// expansions), as Proxmox does.
pub fn split_shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Quotes one argument for display as a shell command (`showcmd`).
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = Opts::new("virtio-blk-pci")
            .kv("drive", "drive-virtio0")
            .opt("serial", Some("a,b"))
            .opt("x", None::<&str>)
            .kv_if(false, "y", 1)
            .raw("z=on")
            .build();
        assert_eq!(o, "virtio-blk-pci,drive=drive-virtio0,serial=a,,b,z=on");
        assert_eq!(Opts::empty().kv("file", "/a,b").build(), "file=/a,,b");
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_shell_words(
                r#"-fw_cfg 'name=opt/oxve/config,string=acpi=ignore;x=1'  -a "b c\"d" e\ f"#
            )
            .unwrap(),
            [
                "-fw_cfg",
                "name=opt/oxve/config,string=acpi=ignore;x=1",
                "-a",
                "b c\"d",
                "e f"
            ]
        );
        assert_eq!(split_shell_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_shell_words("''").unwrap(), [""]);
        assert!(split_shell_words("'abc").is_err());
        assert!(split_shell_words("\"abc").is_err());
        assert_eq!(shell_quote("-m"), "-m");
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }
}
