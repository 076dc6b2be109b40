//! Escaping of free text (names, comments) in colon-separated config files, as Proxmox's
//! `encode_text`/`decode_text`: control characters, `:` and non-ASCII bytes become `%XX`.

/// Escape `text` for a user.cfg field.
pub fn encode_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..=0x39).contains(&b) || (0x3b..=0x7e).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undo [`encode_text`]: every `%XX` becomes its byte; invalid UTF-8 is replaced.
pub fn decode_text(data: &str) -> String {
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["plain text", "a:b", "Ünïcödé ✓", "tab\there", "100%", "%41"] {
            assert_eq!(decode_text(&encode_text(s)), s.replace("%41", "A"), "{s}");
        }
        assert_eq!(encode_text("Main admin: ops"), "Main admin%3A ops");
        assert_eq!(encode_text("é"), "%C3%A9");
        assert_eq!(decode_text("x%3ay%3A"), "x:y:");
        assert_eq!(decode_text("50%"), "50%");
        assert_eq!(decode_text("5%zz"), "5%zz");
    }
}
