//! The operations of [`crate::AccessControl`], one file per kind of object, and the field
//! checks they share.

mod acl;
mod bootstrap;
mod groups;
mod login;
mod pools;
mod realms;
mod roles;
mod tokens;
mod users;

use crate::error::{AuthError, Result};

pub use pools::{parent_pool, PoolUpdate};
pub use realms::realm_type;

/// Run slow blocking work (password hashing, PAM) off the async worker threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Internal(format!("worker thread failed: {e}")))
}

/// A free-text field: empty means unset; control characters are refused (they could not be
/// stored), and so is text longer than `max` characters.
pub(crate) fn text_field(name: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    let Some(v) = value else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(AuthError::param(
            name,
            format!("value may only be {max} characters long"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(AuthError::param(name, "value contains control characters"));
    }
    Ok((!v.is_empty()).then(|| v.to_string()))
}

/// An optional e-mail address (Proxmox `email-opt`): `local@domain`, without spaces or `:`.
pub(crate) fn email_field(value: Option<&str>) -> Result<Option<String>> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let valid = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            let local_ok = !local.is_empty()
                && local.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '+' | '-' | '~'))
                });
            let domain_ok = domain.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            local_ok && domain_ok
        });
    if valid {
        Ok(Some(v.to_string()))
    } else {
        Err(AuthError::param(
            "email",
            format!("value '{v}' does not look like a valid email address"),
        ))
    }
}

/// Legacy two-factor keys: `[0-9a-zA-Z!=]{0,4096}`.
pub(crate) fn keys_field(value: Option<&str>) -> Result<Option<String>> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() <= 4096
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '!' || c == '=')
    {
        Ok(Some(v.to_string()))
    } else {
        Err(AuthError::param(
            "keys",
            "value does not match the regex pattern",
        ))
    }
}

/// An expiry time: not negative.
pub(crate) fn expire_field(value: Option<i64>) -> Result<Option<i64>> {
    match value {
        Some(v) if v < 0 => Err(AuthError::param(
            "expire",
            format!("value must have a minimum value of 0 (got {v})"),
        )),
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_checks() {
        assert_eq!(
            email_field(Some("a.b+c@example.com")).unwrap().as_deref(),
            Some("a.b+c@example.com")
        );
        assert_eq!(email_field(Some("")).unwrap(), None);
        for bad in ["a", "a@", "@b", "a b@c", "a:b@c", "a@b..c", ".a@b"] {
            assert!(email_field(Some(bad)).is_err(), "{bad}");
        }
        assert!(keys_field(Some("x!y=")).is_ok());
        assert!(keys_field(Some("x y")).is_err());
        assert!(text_field("comment", Some("a\nb"), 10).is_err());
        assert!(text_field("comment", Some("abc"), 2).is_err());
        assert_eq!(text_field("comment", Some(""), 2).unwrap(), None);
        assert!(expire_field(Some(-1)).is_err());
    }
}
