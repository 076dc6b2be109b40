//! The node's TLS identity: a self-signed certificate made on first start and kept in the
//! data dir, as Proxmox keeps `pve-ssl.pem` per node.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to generate the node certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Paths of the node certificate and key.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Return the certificate and key under `dir`, creating a self-signed pair for `node` if
/// there is none yet.
pub fn ensure_node_certificate(dir: &Path, node: &str) -> Result<TlsFiles, TlsError> {
    let files = TlsFiles {
        cert: dir.join("node.pem"),
        key: dir.join("node.key"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    let names = vec![
        node.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    let cert = rcgen::generate_simple_self_signed(names)?;
    write_file(&files.key, cert.key_pair.serialize_pem().as_bytes(), 0o600)
        .map_err(write_err(&files.key))?;
    write_file(&files.cert, cert.cert.pem().as_bytes(), 0o644).map_err(write_err(&files.cert))?;
    Ok(files)
}

/// Write via a temp file and rename, so a crash never leaves half a key.
fn write_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

/// SHA-256 fingerprint of the first certificate in a PEM file, as `AA:BB:...` (the form
/// Proxmox shows as `ssl_fingerprint`).
pub fn fingerprint(cert_pem_path: &Path) -> std::io::Result<String> {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let pem = fs::read_to_string(cert_pem_path)?;
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let digest = Sha256::digest(der);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}
