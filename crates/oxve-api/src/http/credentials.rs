//! Where a request's credentials come from: the `PVEAuthCookie` cookie, an
//! `Authorization: PVEAuthCookie=...` header (Telmate) or an `Authorization: PVEAPIToken=...`
//! header.

use axum::http::{header, HeaderMap};
use percent_encoding::percent_decode_str;

#[derive(Debug, PartialEq, Eq)]
pub enum Credential {
    Ticket(String),
    /// The whole `PVEAPIToken=...` header value.
    Token(String),
    None,
}

pub fn extract(headers: &HeaderMap) -> Credential {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let auth = auth.trim();
        if auth.starts_with("PVEAPIToken") {
            return Credential::Token(auth.to_string());
        }
        if let Some(ticket) = auth.strip_prefix("PVEAuthCookie=") {
            return Credential::Ticket(decode(ticket));
        }
    }
    for cookies in headers.get_all(header::COOKIE) {
        let Ok(cookies) = cookies.to_str() else {
            continue;
        };
        for cookie in cookies.split(';') {
            if let Some(value) = cookie.trim().strip_prefix("PVEAuthCookie=") {
                if !value.is_empty() {
                    return Credential::Ticket(decode(value));
                }
            }
        }
    }
    Credential::None
}

/// Percent-decode only: a `+` stays a `+`, as Proxmox reads the cookie.
fn decode(value: &str) -> String {
    percent_decode_str(value).decode_utf8_lossy().into_owned()
}

pub fn csrf_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("CSRFPreventionToken")
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ticket_in_cookie_and_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=b; PVEAuthCookie=PVE%3Aroot@pam%3A1::sig+x"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            extract(&h),
            Credential::Ticket("PVE:root@pam:1::sig+x".into())
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "PVEAPIToken=root@pam!t=123".parse().unwrap(),
        );
        assert_eq!(
            extract(&h),
            Credential::Token("PVEAPIToken=root@pam!t=123".into())
        );
        assert_eq!(extract(&HeaderMap::new()), Credential::None);
    }
}
