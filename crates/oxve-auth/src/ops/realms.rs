//! Authentication realms: the built-in `pam` (host accounts) and `pve` (oxve's own
//! password database) realms.

use crate::control::AccessControl;
use crate::error::{AuthError, Result};
use crate::types::Domain;
use crate::userid::Userid;

/// The type of realm `realm`, if it exists.
pub fn realm_type(realm: &str) -> Option<&'static str> {
    match realm {
        "pam" => Some("pam"),
        "pve" => Some("pve"),
        _ => None,
    }
}

/// The realm type of `userid`, or a parameter error naming the unknown realm.
pub(crate) fn require_realm(param: &str, userid: &Userid) -> Result<&'static str> {
    realm_type(userid.realm()).ok_or_else(|| {
        AuthError::param(
            param,
            format!("auth domain '{}' does not exist", userid.realm()),
        )
    })
}

impl AccessControl {
    /// `GET /access/domains`: the available realms.
    pub fn domains(&self) -> Vec<Domain> {
        vec![
            Domain {
                realm: "pam".into(),
                kind: "pam".into(),
                comment: Some("Linux PAM standard authentication".into()),
                tfa: None,
            },
            Domain {
                realm: "pve".into(),
                kind: "pve".into(),
                comment: Some("Proxmox VE authentication server".into()),
                tfa: None,
            },
        ]
    }
}
