//! Password hashes of the `pve` realm: argon2id PHC strings in `priv/shadow.cfg`, one
//! `<userid>:<hash>:` line per user, as Proxmox lays the file out.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::authkey::random_bytes;
use crate::error::{AuthError, Result};

/// Minimum password length accepted for new passwords (Proxmox: 8).
pub const MIN_PASSWORD_LEN: usize = 8;
/// Maximum password length (Proxmox: 64).
pub const MAX_PASSWORD_LEN: usize = 64;

/// Cost of new argon2id hashes. Verification uses the cost stored in each hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for HashParams {
    /// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        HashParams {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl HashParams {
    /// Very cheap parameters, for tests only.
    pub fn insecure_fast() -> Self {
        HashParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }
}

/// Check length limits of a new password.
pub fn check_new_password(password: &str) -> Result<()> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(AuthError::param(
            "password",
            format!("value must be at least {MIN_PASSWORD_LEN} characters long"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(AuthError::param(
            "password",
            format!("value may only be {MAX_PASSWORD_LEN} characters long"),
        ));
    }
    Ok(())
}

/// Hash `password` into an argon2id PHC string (slow: run it off the async threads).
pub fn hash_password(password: &str, params: HashParams) -> Result<String> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
        .map_err(|e| AuthError::Internal(format!("invalid argon2 parameters: {e}")))?;
    let salt = SaltString::encode_b64(&random_bytes(16))
        .map_err(|e| AuthError::Internal(format!("salt encoding failed: {e}")))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the PHC string `hash` (constant time; slow).
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Parse `priv/shadow.cfg`: userid -> hash. Malformed lines are skipped.
pub fn parse_shadow(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.trim().split(':');
            let (user, hash) = (it.next()?, it.next()?);
            (!user.is_empty() && !hash.is_empty()).then(|| (user.to_string(), hash.to_string()))
        })
        .collect()
}

/// Write `priv/shadow.cfg`.
pub fn write_shadow(entries: &BTreeMap<String, String>) -> String {
    entries
        .iter()
        .map(|(user, hash)| format!("{user}:{hash}:\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse", HashParams::insecure_fast()).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(!h.contains(':'), "must fit in a colon-separated file");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsf"));
        assert!(!verify_password("not a hash", "x"));
        let h2 = hash_password("correct horse", HashParams::insecure_fast()).unwrap();
        assert_ne!(h, h2, "salted");
    }

    #[test]
    fn default_cost_hash_verifies() {
        let h = hash_password("password1", HashParams::default()).unwrap();
        assert!(h.contains("m=19456,t=2,p=1"), "{h}");
        assert!(verify_password(&h, "password1"));
    }

    #[test]
    fn shadow_file() {
        let text = "admin@pve:$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA:\nbad line\n\nx@pve:y:\n";
        let m = parse_shadow(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m["x@pve"], "y");
        let written = write_shadow(&m);
        assert_eq!(parse_shadow(&written), m);
        assert!(written.ends_with("x@pve:y:\n"));
    }

    #[test]
    fn length_limits() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(65)).is_err());
    }
}
