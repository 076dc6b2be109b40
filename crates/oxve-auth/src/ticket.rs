//! Ticket and CSRF token formats.
//!
//! A ticket is `PVE:<data>:<8 uppercase hex digits of Unix time>::<base64 signature>`, laid
//! out as Proxmox's `assemble_rsa_ticket` (clients such as the bpg Terraform provider read
//! the user from the second field). `:` inside the data is written as `%3A`. Proxmox signs
//! with RSA; oxve signs with HMAC-SHA256 under the rotating auth key, which no client can
//! tell apart.
//!
//! A CSRF prevention token is `<8 hex time>:<unpadded base64 HMAC-SHA256 of "time:userid">`.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a ticket or CSRF token stays valid, in seconds (2 h).
pub const TICKET_LIFETIME: i64 = 2 * 3600;
/// Allowed clock skew for tickets and tokens "from the future", in seconds (5 min).
pub const AUTH_GRACE_PERIOD: i64 = 5 * 60;

const PREFIX: &str = "PVE";

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m
}

fn escape_data(data: &str) -> String {
    data.replace('%', "%25").replace(':', "%3A")
}

fn unescape_data(data: &str) -> String {
    crate::text::decode_text(data)
}

fn is_timestamp(s: &str) -> bool {
    s.len() == 8
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// Sign `data` at time `now` with `key`.
pub fn assemble_ticket(key: &[u8], data: &str, now: i64) -> String {
    let plain = format!("{PREFIX}:{}:{:08X}", escape_data(data), now as u32);
    let sig = STANDARD.encode(mac(key, plain.as_bytes()).finalize().into_bytes());
    format!("{plain}::{sig}")
}

/// A ticket taken apart, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketParts<'a> {
    /// The signed part `PVE:<data>:<time>`.
    pub plain: &'a str,
    /// The signature text.
    pub signature: &'a str,
    /// The data, unescaped.
    pub data: String,
    /// Creation time.
    pub time: i64,
}

/// Split `ticket` into its parts; `None` if it does not have the ticket layout.
pub fn parse_ticket(ticket: &str) -> Option<TicketParts<'_>> {
    if ticket.is_empty() || ticket.chars().any(char::is_whitespace) {
        return None;
    }
    let split = ticket.rfind("::")?;
    let (plain, signature) = (&ticket[..split], &ticket[split + 2..]);
    if signature.is_empty() || signature.contains(':') {
        return None;
    }
    let rest = plain.strip_prefix(PREFIX)?.strip_prefix(':')?;
    let (data, ts) = rest.rsplit_once(':')?;
    if data.is_empty() || !is_timestamp(ts) {
        return None;
    }
    Some(TicketParts {
        plain,
        signature,
        data: unescape_data(data),
        time: i64::from_str_radix(ts, 16).ok()?,
    })
}

/// Whether `parts` carries a valid signature under `key` (constant-time comparison).
pub fn signature_valid(key: &[u8], parts: &TicketParts<'_>) -> bool {
    let Ok(sig) = STANDARD.decode(parts.signature) else {
        return false;
    };
    mac(key, parts.plain.as_bytes()).verify_slice(&sig).is_ok()
}

/// A CSRF prevention token for `userid` at time `now`.
pub fn assemble_csrf_token(key: &[u8], userid: &str, now: i64) -> String {
    let ts = format!("{:08X}", now as u32);
    let sig = mac(key, format!("{ts}:{userid}").as_bytes()).finalize();
    format!("{ts}:{}", STANDARD_NO_PAD.encode(sig.into_bytes()))
}

/// Whether `token` is a CSRF token of `userid` made less than [`TICKET_LIFETIME`] ago (and
/// no more than [`AUTH_GRACE_PERIOD`] in the future).
pub fn verify_csrf_token(key: &[u8], userid: &str, token: &str, now: i64) -> bool {
    let Some((ts, sig)) = token.split_once(':') else {
        return false;
    };
    if ts.len() != 8
        || !ts
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        || sig.is_empty()
        || sig.chars().any(char::is_whitespace)
    {
        return false;
    }
    let Ok(time) = i64::from_str_radix(ts, 16) else {
        return false;
    };
    let Ok(sig) = STANDARD_NO_PAD.decode(sig) else {
        return false;
    };
    let age = now - time;
    mac(key, format!("{ts}:{userid}").as_bytes())
        .verify_slice(&sig)
        .is_ok()
        && age > -AUTH_GRACE_PERIOD
        && age < TICKET_LIFETIME
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn ticket_layout() {
        let t = assemble_ticket(KEY, "root@pam", 0x6655_4433);
        assert!(t.starts_with("PVE:root@pam:66554433::"), "{t}");
        let parts = parse_ticket(&t).unwrap();
        assert_eq!(parts.data, "root@pam");
        assert_eq!(parts.time, 0x6655_4433);
        assert!(signature_valid(KEY, &parts));
        assert!(!signature_valid(b"other key", &parts));
        // bpg reads the user as the second ':' field.
        assert_eq!(t.split(':').nth(1), Some("root@pam"));
    }

    #[test]
    fn colons_in_data_are_escaped() {
        let t = assemble_ticket(KEY, "a:b%c", 1);
        assert!(t.starts_with("PVE:a%3Ab%25c:00000001::"), "{t}");
        assert_eq!(parse_ticket(&t).unwrap().data, "a:b%c");
    }

    #[test]
    fn malformed_tickets() {
        for bad in [
            "",
            "PVE:root@pam:66554433",
            "PVE:root@pam:66554433::",
            "PVE:root@pam:6655443::c2ln",
            "PVE:root@pam:66554g33::c2ln",
            "PVX:root@pam:66554433::c2ln",
            "PVE::66554433::c2ln",
            "PVE:root@pam:66554433::c2 ln",
            "PVE:root@pam:66554433::a:b",
        ] {
            assert!(parse_ticket(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tampering_is_detected() {
        let t = assemble_ticket(KEY, "user@pve", 1000);
        let forged = t.replace("user@pve", "root@pam");
        assert!(!signature_valid(KEY, &parse_ticket(&forged).unwrap()));
        let later = t.replace(":000003E8:", ":000003E9:");
        assert!(!signature_valid(KEY, &parse_ticket(&later).unwrap()));
    }

    #[test]
    fn csrf_tokens() {
        let now = 1_700_000_000;
        let tok = assemble_csrf_token(KEY, "root@pam", now);
        let (ts, sig) = tok.split_once(':').unwrap();
        assert_eq!(ts, format!("{now:08X}"));
        assert_eq!(sig.len(), 43, "unpadded base64 of 32 bytes");
        assert!(verify_csrf_token(KEY, "root@pam", &tok, now));
        assert!(verify_csrf_token(
            KEY,
            "root@pam",
            &tok,
            now + TICKET_LIFETIME - 1
        ));
        assert!(!verify_csrf_token(
            KEY,
            "root@pam",
            &tok,
            now + TICKET_LIFETIME
        ));
        assert!(verify_csrf_token(
            KEY,
            "root@pam",
            &tok,
            now - AUTH_GRACE_PERIOD + 1
        ));
        assert!(!verify_csrf_token(
            KEY,
            "root@pam",
            &tok,
            now - AUTH_GRACE_PERIOD
        ));
        assert!(!verify_csrf_token(KEY, "other@pam", &tok, now));
        assert!(!verify_csrf_token(b"other", "root@pam", &tok, now));
        assert!(!verify_csrf_token(KEY, "root@pam", "garbage", now));
        assert!(!verify_csrf_token(KEY, "root@pam", &format!("{tok}x"), now));
    }
}
