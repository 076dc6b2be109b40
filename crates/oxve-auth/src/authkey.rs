//! The ticket signing key (`priv/authkey.key`) and its daily rotation.
//!
//! The file holds the current key and, after a rotation, the previous one, one per line as
//! `<creation Unix time>:<base64 key>`. As Proxmox does with its RSA auth key, the key is
//! replaced when a ticket is issued and the key is 24 h old; tickets signed with the previous
//! key stay valid for the rest of their lifetime. The ticket age windows follow Proxmox's
//! `get_ticket_age_range`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use crate::ticket::{
    assemble_ticket, parse_ticket, signature_valid, AUTH_GRACE_PERIOD, TICKET_LIFETIME,
};

/// How long a signing key is used for new tickets, in seconds (24 h).
pub const AUTHKEY_LIFETIME: i64 = 24 * 3600;

/// Length of a generated key in bytes.
pub const KEY_BYTES: usize = 32;

/// Random key material, `len` bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf
}

/// One signing key and when it was made.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// Creation time (Unix seconds).
    pub created: i64,
    secret: Vec<u8>,
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthKey(created {})", self.created)
    }
}

impl AuthKey {
    fn generate(now: i64) -> Self {
        AuthKey {
            created: now,
            secret: random_bytes(KEY_BYTES),
        }
    }
}

/// The current signing key and the one it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKeyRing {
    /// Signs new tickets.
    pub current: AuthKey,
    /// Still verifies tickets issued before the last rotation.
    pub previous: Option<AuthKey>,
}

impl AuthKeyRing {
    /// A fresh ring made at `now`.
    pub fn generate(now: i64) -> Self {
        AuthKeyRing {
            current: AuthKey::generate(now),
            previous: None,
        }
    }

    /// Parse the key file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = text.lines().filter(|l| !l.trim().is_empty()).map(|line| {
            let (created, b64) = line
                .trim()
                .split_once(':')
                .ok_or_else(|| "missing ':' in auth key line".to_string())?;
            let created = created
                .parse()
                .map_err(|_| format!("invalid auth key time '{created}'"))?;
            let secret = STANDARD
                .decode(b64)
                .map_err(|e| format!("invalid auth key encoding: {e}"))?;
            if secret.len() < KEY_BYTES {
                return Err(format!("auth key too short ({} bytes)", secret.len()));
            }
            Ok(AuthKey { created, secret })
        });
        let current = keys.next().ok_or("empty auth key file")??;
        let previous = keys.next().transpose()?;
        Ok(AuthKeyRing { current, previous })
    }

    /// The key file text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for key in std::iter::once(&self.current).chain(self.previous.as_ref()) {
            out.push_str(&format!(
                "{}:{}\n",
                key.created,
                STANDARD.encode(&key.secret)
            ));
        }
        out
    }

    /// Whether the current key should be replaced before signing at `now`: it is a day old,
    /// or was made more than the grace period in the future (a clock that was set wrong).
    pub fn needs_rotation(&self, now: i64) -> bool {
        now - self.current.created >= AUTHKEY_LIFETIME
            || self.current.created > now + AUTH_GRACE_PERIOD
    }

    /// The ring after replacing the current key with a new one made at `now`.
    pub fn rotated(&self, now: i64) -> Self {
        AuthKeyRing {
            current: AuthKey::generate(now),
            previous: Some(self.current.clone()),
        }
    }

    /// Sign a ticket for `data` at `now` with the current key.
    pub fn sign(&self, data: &str, now: i64) -> String {
        assemble_ticket(&self.current.secret, data, now)
    }

    /// The data of `ticket` if it is signed by one of the keys and its age fits that key's
    /// window at `now`.
    pub fn verify(&self, ticket: &str, now: i64) -> Option<String> {
        let parts = parse_ticket(ticket)?;
        let age = now - parts.time;
        let key_age = (now - self.current.created).max(0);

        // Current key: tickets are at most as old as the key (plus grace), and a key that
        // should have been rotated signs nothing new.
        let mut min = -AUTH_GRACE_PERIOD;
        let mut max = TICKET_LIFETIME;
        if key_age > AUTHKEY_LIFETIME {
            min = key_age - AUTHKEY_LIFETIME;
        }
        if key_age < TICKET_LIFETIME {
            max = key_age + AUTH_GRACE_PERIOD;
        }
        if min <= TICKET_LIFETIME
            && age > min
            && age < max
            && signature_valid(&self.current.secret, &parts)
        {
            return Some(parts.data);
        }

        // Previous key: only tickets made before the rotation.
        let previous = self.previous.as_ref()?;
        let min = key_age - AUTH_GRACE_PERIOD;
        if min <= TICKET_LIFETIME
            && age > min
            && age < TICKET_LIFETIME
            && signature_valid(&previous.secret, &parts)
        {
            return Some(parts.data);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn file_round_trip() {
        let ring = AuthKeyRing::generate(T0).rotated(T0 + AUTHKEY_LIFETIME);
        let text = ring.to_text();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(AuthKeyRing::parse(&text).unwrap(), ring);
        assert!(AuthKeyRing::parse("").is_err());
        assert!(AuthKeyRing::parse("x:abc").is_err());
        assert!(AuthKeyRing::parse("1:c2hvcnQ=").is_err());
    }

    #[test]
    fn lifetime_and_skew() {
        let ring = AuthKeyRing::generate(T0);
        let now = T0 + 3600;
        let t = ring.sign("root@pam", now);
        assert_eq!(ring.verify(&t, now).as_deref(), Some("root@pam"));
        assert!(ring.verify(&t, now + TICKET_LIFETIME - 1).is_some());
        assert!(ring.verify(&t, now + TICKET_LIFETIME).is_none());
        // Made by a node whose clock is ahead: fine within the grace period.
        let ahead = ring.sign("root@pam", now + AUTH_GRACE_PERIOD - 1);
        assert!(ring.verify(&ahead, now).is_some());
        let too_far = ring.sign("root@pam", now + AUTH_GRACE_PERIOD);
        assert!(ring.verify(&too_far, now).is_none());
    }

    #[test]
    fn tickets_older_than_the_key_are_rejected() {
        let ring = AuthKeyRing::generate(T0);
        let before = ring.sign("u@pve", T0 - 1000);
        assert!(ring.verify(&before, T0 + 10).is_none());
    }

    #[test]
    fn rotation_keeps_old_tickets_valid() {
        let ring = AuthKeyRing::generate(T0);
        let issued = T0 + AUTHKEY_LIFETIME - 60;
        let old_ticket = ring.sign("u@pve", issued);
        let rotation = T0 + AUTHKEY_LIFETIME;
        assert!(ring.needs_rotation(rotation));
        assert!(!ring.needs_rotation(rotation - 1));
        let ring = ring.rotated(rotation);
        assert!(!ring.needs_rotation(rotation));
        assert!(ring.verify(&old_ticket, rotation + 60).is_some());
        assert!(ring.verify(&old_ticket, issued + TICKET_LIFETIME).is_none());
        let new_ticket = ring.sign("u@pve", rotation + 60);
        assert!(ring.verify(&new_ticket, rotation + 120).is_some());
        // A second rotation forgets the first key.
        let ring = ring.rotated(rotation + AUTHKEY_LIFETIME);
        assert!(ring.verify(&old_ticket, rotation + 60).is_none());
    }

    #[test]
    fn key_from_the_future_is_rotated() {
        let ring = AuthKeyRing::generate(T0 + 3600);
        assert!(ring.needs_rotation(T0));
    }
}
