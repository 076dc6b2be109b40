//! Percent-style escaping of the worker id field of a UPID.
//!
//! Proxmox' UPID grammar forbids `:`, `/` and white space in the id (the
//! UPID is split on `:` and used as a file name). Ids that contain such
//! characters (a volume id such as `local:iso/x.iso`, say) are stored with
//! each offending UTF-8 byte written as `%XX` (uppercase hex). `%` itself is
//! escaped too, so decoding is exact. Plain ids (a vmid, a storage name) are
//! left unchanged, so ordinary UPIDs look exactly as Proxmox' do.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `b` may appear unescaped in the id field.
fn is_plain(b: u8) -> bool {
    b.is_ascii_graphic() && b != b':' && b != b'/' && b != b'%'
}

/// Escapes a raw worker id for use inside a UPID.
pub(crate) fn escape_id(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw.as_bytes() {
        if is_plain(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

/// Decodes an escaped id field; `None` when it holds characters that must
/// have been escaped, a malformed `%XX` sequence, or invalid UTF-8.
pub(crate) fn unescape_id(escaped: &str) -> Option<String> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if is_plain(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_unchanged() {
        assert_eq!(escape_id("100"), "100");
        assert_eq!(escape_id(""), "");
        assert_eq!(escape_id("local-lvm"), "local-lvm");
    }

    #[test]
    fn special_characters_round_trip() {
        for raw in [
            "local:iso/x.iso",
            "a b",
            "50%",
            "ümlaut",
            "tab\there",
            "x\ny",
        ] {
            let esc = escape_id(raw);
            assert!(esc.bytes().all(is_plain_or_percent), "{esc}");
            assert_eq!(unescape_id(&esc).as_deref(), Some(raw));
        }
        assert_eq!(escape_id("local:iso/x.iso"), "local%3Aiso%2Fx.iso");
    }

    fn is_plain_or_percent(b: u8) -> bool {
        is_plain(b) || b == b'%'
    }

    #[test]
    fn malformed_escapes_are_rejected() {
        for bad in ["%", "%4", "%zz", "a:b", "a/b", "a b", "%FF"] {
            assert_eq!(unescape_id(bad), None, "{bad}");
        }
    }
}
