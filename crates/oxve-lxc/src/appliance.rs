//! The appliance index, like `pveam`: a Debian-control-style file (Proxmox's `aplinfo.dat`
//! layout) listing container templates with their location and checksum. It is fetched
//! from a configured URL (`file://` works offline; `http(s)://` through curl), cached, and
//! templates are downloaded into a storage with their SHA-512 checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha512};

use crate::cmd::run_async;
use crate::error::{io, LxcError, Result};

/// One template of the index (field names lower-cased, as `GET /nodes/{node}/aplinfo`
/// returns them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appliance {
    pub fields: BTreeMap<String, String>,
}

impl Appliance {
    /// The file name (`debian-12-standard_12.7-1_amd64.tar.zst`).
    pub fn template(&self) -> &str {
        self.fields
            .get("template")
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn location(&self) -> &str {
        self.fields
            .get("location")
            .map(String::as_str)
            .unwrap_or("")
    }
}

fn parse_error(message: impl Into<String>) -> LxcError {
    LxcError::Template {
        path: PathBuf::from("aplinfo"),
        message: message.into(),
    }
}

/// Parse an index: paragraphs of `Key: value` lines, continuation lines start with a space.
pub fn parse_index(text: &str) -> Result<Vec<Appliance>> {
    let mut out = Vec::new();
    for (n, para) in text.split("\n\n").enumerate() {
        let mut fields = BTreeMap::new();
        let mut last: Option<String> = None;
        for line in para.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(cont) = line.strip_prefix(' ').or_else(|| line.strip_prefix('\t')) {
                let key = last.clone().ok_or_else(|| {
                    parse_error(format!("entry {}: continuation without a field", n + 1))
                })?;
                let v: &mut String = fields.entry(key).or_default();
                v.push('\n');
                v.push_str(if cont.trim() == "." { "" } else { cont.trim() });
                continue;
            }
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| parse_error(format!("entry {}: bad line '{line}'", n + 1)))?;
            let key = k.trim().to_ascii_lowercase();
            fields.insert(key.clone(), v.trim().to_string());
            last = Some(key);
        }
        if fields.is_empty() {
            continue;
        }
        if fields.get("type").is_some_and(|t| t != "lxc") {
            continue;
        }
        let location = fields
            .get("location")
            .cloned()
            .ok_or_else(|| parse_error(format!("entry {}: no Location", n + 1)))?;
        let template = location.rsplit('/').next().unwrap_or_default().to_string();
        if template.is_empty() || template.starts_with('.') || template.contains("..") {
            return Err(parse_error(format!(
                "entry {}: bad Location '{location}'",
                n + 1
            )));
        }
        fields.insert("template".into(), template);
        out.push(Appliance { fields });
    }
    Ok(out)
}

/// The URL of `location` relative to the index URL's directory.
pub fn resolve_location(index_url: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    match index_url.rfind('/') {
        Some(i) => format!("{}/{}", &index_url[..i], location.trim_start_matches('/')),
        None => location.to_string(),
    }
}

/// Fetch a URL into `dest` (through a temp file, so `dest` is complete or absent).
pub async fn fetch(url: &str, dest: &Path) -> Result<()> {
    let tmp = dest.with_extension("part");
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    let result = if let Some(path) = url.strip_prefix("file://") {
        std::fs::copy(path, &tmp)
            .map(|_| ())
            .map_err(io("reading", path))
    } else if url.starts_with("http://") || url.starts_with("https://") {
        run_async(
            "curl",
            &[
                "-fsSL",
                "--max-time",
                "600",
                "-o",
                &tmp.to_string_lossy(),
                url,
            ],
        )
        .await
        .map(|_| ())
    } else {
        Err(parse_error(format!(
            "unsupported URL '{url}' (file://, http:// or https://)"
        )))
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).map_err(io("renaming", dest))
}

/// SHA-512 of a file, hex.
pub fn sha512_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(io("reading", path))?;
    let mut h = Sha512::new();
    std::io::copy(&mut f, &mut h).map_err(io("reading", path))?;
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Download `appliance` to `dest`, checking its `sha512sum` when the index has one; a
/// mismatch leaves nothing behind.
pub async fn download(index_url: &str, appliance: &Appliance, dest: &Path) -> Result<String> {
    let url = resolve_location(index_url, appliance.location());
    let tmp = dest.with_extension("download");
    fetch(&url, &tmp).await?;
    if let Some(want) = appliance.fields.get("sha512sum") {
        let t = tmp.clone();
        let have = tokio::task::spawn_blocking(move || sha512_file(&t))
            .await
            .map_err(|e| parse_error(e.to_string()))??;
        if !have.eq_ignore_ascii_case(want.trim()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(LxcError::Template {
                path: dest.to_path_buf(),
                message: format!("checksum mismatch: got sha512 {have}, expected {want}"),
            });
        }
    }
    std::fs::rename(&tmp, dest).map_err(io("renaming", dest))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "Package: oxve-busybox\nVersion: 1.0\nType: lxc\nOS: busybox\nSection: system\nLocation: system/oxve-busybox_1.0_amd64.tar.zst\nsha512sum: ABC\nDescription: A busybox system\n A tiny one.\n\nPackage: some-vm\nType: openvz\nLocation: x/y.tar.gz\n\n";

    #[test]
    fn parses_the_index() {
        let list = parse_index(INDEX).unwrap();
        assert_eq!(list.len(), 1, "only lxc entries");
        let a = &list[0];
        assert_eq!(a.template(), "oxve-busybox_1.0_amd64.tar.zst");
        assert_eq!(a.fields["os"], "busybox");
        assert_eq!(a.fields["description"], "A busybox system\nA tiny one.");
        assert!(
            parse_index("Package: x\nType: lxc\n").is_err(),
            "no location"
        );
        assert!(parse_index("Package: x\nLocation: ../../etc/passwd/..\n").is_err());
        assert!(parse_index("garbage line\n").is_err());
    }

    #[test]
    fn locations_are_relative_to_the_index() {
        assert_eq!(
            resolve_location("file:///srv/tmpl/aplinfo.dat", "system/a.tar.zst"),
            "file:///srv/tmpl/system/a.tar.zst"
        );
        assert_eq!(
            resolve_location("https://x/aplinfo.dat", "https://y/a.tar.zst"),
            "https://y/a.tar.zst"
        );
    }

    #[tokio::test]
    async fn downloads_with_checksum() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("system")).unwrap();
        std::fs::write(dir.path().join("system/t.tar.gz"), b"payload").unwrap();
        let sum = sha512_file(&dir.path().join("system/t.tar.gz")).unwrap();
        let index = format!("file://{}/aplinfo.dat", dir.path().display());
        let good = parse_index(&format!(
            "Type: lxc\nLocation: system/t.tar.gz\nsha512sum: {sum}\n"
        ))
        .unwrap();
        let dest = dir.path().join("out/t.tar.gz");
        download(&index, &good[0], &dest).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"payload");
        let bad = parse_index("Type: lxc\nLocation: system/t.tar.gz\nsha512sum: 00\n").unwrap();
        let dest2 = dir.path().join("out/u.tar.gz");
        assert!(download(&index, &bad[0], &dest2).await.is_err());
        assert!(!dest2.exists());
        assert!(
            std::fs::read_dir(dir.path().join("out")).unwrap().count() == 1,
            "no leftovers"
        );
    }
}
