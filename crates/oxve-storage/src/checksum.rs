//! Checksums of uploaded files (`checksum` + `checksum-algorithm` of the upload API).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use crate::error::StorageError;

/// A checksum algorithm Proxmox accepts for uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumAlgorithm {
    /// Every algorithm.
    pub const ALL: [ChecksumAlgorithm; 6] = [
        ChecksumAlgorithm::Md5,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha224,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha384,
        ChecksumAlgorithm::Sha512,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Md5 => "md5",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Sha224 => "sha224",
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::Sha384 => "sha384",
            ChecksumAlgorithm::Sha512 => "sha512",
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            ChecksumAlgorithm::Md5 => State::Md5(Md5::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha224 => State::Sha224(Sha224::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
            ChecksumAlgorithm::Sha384 => State::Sha384(Sha384::new()),
            ChecksumAlgorithm::Sha512 => State::Sha512(Sha512::new()),
        })
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| StorageError::InvalidOption {
                storage: String::new(),
                option: "checksum-algorithm".into(),
                reason: format!(
                    "value '{s}' does not have a value in the enumeration 'md5, sha1, sha224, sha256, sha384, sha512'"
                ),
            })
    }
}

enum State {
    Md5(Md5),
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

/// An incremental hash, so a caller can hash data while streaming it to disk.
pub struct Hasher(State);

impl Hasher {
    /// Feed data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Md5(h) => h.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha224(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Sha384(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// The digest as lower-case hex.
    pub fn finish_hex(self) -> String {
        match self.0 {
            State::Md5(h) => hex::encode(h.finalize()),
            State::Sha1(h) => hex::encode(h.finalize()),
            State::Sha224(h) => hex::encode(h.finalize()),
            State::Sha256(h) => hex::encode(h.finalize()),
            State::Sha384(h) => hex::encode(h.finalize()),
            State::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Hash a whole file.
pub fn file_digest(path: &Path, algorithm: ChecksumAlgorithm) -> Result<String, StorageError> {
    let mut file = std::fs::File::open(path).map_err(|e| StorageError::io("open", path, e))?;
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| StorageError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish_hex())
}

/// Compare a computed digest with the one a caller gave (case and surrounding space ignored).
pub fn check_digest(
    name: &str,
    algorithm: ChecksumAlgorithm,
    expected: &str,
    actual: &str,
) -> Result<(), StorageError> {
    if expected.trim().eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(StorageError::ChecksumMismatch {
            name: name.to_string(),
            algorithm: algorithm.to_string(),
            expected: expected.trim().to_string(),
            actual: actual.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let cases = [
            (ChecksumAlgorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (ChecksumAlgorithm::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (ChecksumAlgorithm::Sha224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
            (ChecksumAlgorithm::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (ChecksumAlgorithm::Sha384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
            (ChecksumAlgorithm::Sha512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ];
        for (algo, want) in cases {
            let mut h = algo.hasher();
            h.update(b"abc");
            assert_eq!(h.finish_hex(), want, "{algo}");
            assert_eq!(algo.as_str().parse::<ChecksumAlgorithm>().unwrap(), algo);
        }
        let err = "crc32".parse::<ChecksumAlgorithm>().unwrap_err();
        assert_eq!(err.param(), Some("checksum-algorithm"));
        assert!(check_digest("x", ChecksumAlgorithm::Md5, " ABC ", "abc").is_ok());
        assert!(check_digest("x", ChecksumAlgorithm::Md5, "abd", "abc").is_err());
    }
}
