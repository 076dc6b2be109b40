//! API token secrets (`priv/token.cfg`) and the `Authorization: PVEAPIToken=...` header.
//!
//! A token's secret is a random UUID shown once at creation. Only its SHA-256 is stored, one
//! `<userid>!<token> <sha256 hex>` line per token: a UUID has 122 random bits, so a fast hash
//! is enough and verifying a request costs microseconds.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::userid::Authid;

/// A new random token secret (a UUID v4 string, as Proxmox).
pub fn generate_secret() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compare two digests in constant time.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parse `priv/token.cfg`: full token id -> secret digest. Malformed lines are skipped.
pub fn parse_token_cfg(text: &str) -> BTreeMap<String, [u8; 32]> {
    text.lines()
        .filter_map(|line| {
            let (id, hexsum) = line.trim().split_once(char::is_whitespace)?;
            let bytes = hex::decode(hexsum.trim()).ok()?;
            Some((id.to_string(), bytes.try_into().ok()?))
        })
        .collect()
}

/// Write `priv/token.cfg`.
pub fn write_token_cfg(entries: &BTreeMap<String, [u8; 32]>) -> String {
    entries
        .iter()
        .map(|(id, sum)| format!("{id} {}\n", hex::encode(sum)))
        .collect()
}

/// Why an API token header could not be parsed; the texts are Proxmox's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenHeaderError {
    /// Not a `PVEAPIToken` header at all.
    #[error("no API token specified")]
    NotAToken,
    /// No `=secret` part.
    #[error("no tokenid specified")]
    NoTokenId,
    /// The id is not `user@realm!token`.
    #[error("'{0}' is not a valid token ID - not able to split into user and token parts")]
    BadTokenId(String),
}

/// Split an `Authorization` header value `PVEAPIToken=<user>@<realm>!<token>=<secret>` (a
/// space may replace the first `=`; the secret starts after the last `=`).
pub fn parse_token_header(value: &str) -> Result<(Authid, String), TokenHeaderError> {
    let rest = value
        .trim()
        .strip_prefix("PVEAPIToken")
        .ok_or(TokenHeaderError::NotAToken)?;
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(' '))
        .ok_or(TokenHeaderError::NotAToken)?
        .trim_start();
    if rest.is_empty() {
        return Err(TokenHeaderError::NotAToken);
    }
    let (id, secret) = rest.rsplit_once('=').ok_or(TokenHeaderError::NoTokenId)?;
    let authid =
        Authid::parse_token_id(id).map_err(|_| TokenHeaderError::BadTokenId(id.to_string()))?;
    Ok((authid, secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let (id, secret) =
            parse_token_header("PVEAPIToken=root@pam!ci=0d9f4c3e-1c8b-4a5e-9b1a-3f0e2c6d7a81")
                .unwrap();
        assert_eq!(id.to_string(), "root@pam!ci");
        assert_eq!(secret, "0d9f4c3e-1c8b-4a5e-9b1a-3f0e2c6d7a81");
        let (id, secret) = parse_token_header("PVEAPIToken root@pam!ci=abc").unwrap();
        assert_eq!(
            (id.to_string().as_str(), secret.as_str()),
            ("root@pam!ci", "abc")
        );
        // The last '=' separates the secret.
        let (id, secret) = parse_token_header("PVEAPIToken=a=b@pve!tk=s").unwrap();
        assert_eq!((id.user().name(), secret.as_str()), ("a=b", "s"));
        assert_eq!(
            parse_token_header("PVEAuthCookie=x"),
            Err(TokenHeaderError::NotAToken)
        );
        assert_eq!(
            parse_token_header("PVEAPIToken=root@pam!ci"),
            Err(TokenHeaderError::NoTokenId)
        );
        assert!(matches!(
            parse_token_header("PVEAPIToken=root@pam=abc"),
            Err(TokenHeaderError::BadTokenId(_))
        ));
    }

    #[test]
    fn token_cfg_round_trip() {
        let mut m = BTreeMap::new();
        m.insert("a@pve!t".to_string(), hash_secret("s1"));
        m.insert("b@pam!x".to_string(), hash_secret("s2"));
        let text = write_token_cfg(&m);
        assert_eq!(parse_token_cfg(&text), m);
        assert_eq!(parse_token_cfg("junk\nx@pve!t nothex\n").len(), 0);
    }

    #[test]
    fn secrets() {
        let s = generate_secret();
        assert_eq!(s.len(), 36);
        assert!(uuid::Uuid::parse_str(&s).is_ok());
        assert!(digests_equal(&hash_secret(&s), &hash_secret(&s)));
        assert!(!digests_equal(&hash_secret(&s), &hash_secret("other")));
    }
}
