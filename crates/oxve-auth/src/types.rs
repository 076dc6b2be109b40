//! Parameters and results of the user, group, role, token and realm operations, shaped as
//! the Proxmox API takes and returns them (booleans as 0/1 numbers).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::user_cfg::TokenEntry;
use crate::userid::Userid;

/// Token settings as returned by the token endpoints (`token-info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// 1 if privilege separated.
    pub privsep: u8,
    /// Expiry (Unix time), 0 for "same as user".
    pub expire: i64,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl From<&TokenEntry> for TokenInfo {
    fn from(t: &TokenEntry) -> Self {
        TokenInfo {
            privsep: u8::from(t.privsep),
            expire: t.expire,
            comment: t.comment.clone(),
        }
    }
}

/// One token in a list (`GET /access/users/{userid}/token`, `GET /access/users?full=1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenListEntry {
    /// The token name (without the user part).
    pub tokenid: String,
    /// Its settings.
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// Result of creating a token: the secret is shown here only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenCreated {
    /// `user@realm!token`.
    #[serde(rename = "full-tokenid")]
    pub full_tokenid: String,
    /// The secret (a UUID).
    pub value: String,
    /// The token settings.
    pub info: TokenInfo,
}

/// One entry of `GET /access/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserListEntry {
    /// The user id.
    pub userid: Userid,
    /// 1 if enabled.
    pub enable: u8,
    /// Expiry (Unix time), 0 for never.
    pub expire: i64,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lastname: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Two-factor keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
    /// Comma-separated groups (only with `full`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<String>,
    /// Tokens (only with `full`, and only if the user has any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<TokenListEntry>>,
    /// Type of the user's realm (`pve`, `pam`).
    #[serde(rename = "realm-type", skip_serializing_if = "Option::is_none")]
    pub realm_type: Option<String>,
}

/// `GET /access/users/{userid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// 1 if enabled.
    pub enable: u8,
    /// Expiry (Unix time), 0 for never.
    pub expire: i64,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lastname: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Two-factor keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Tokens by name (only if the user has any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<BTreeMap<String, TokenInfo>>,
}

/// Parameters of `POST /access/users`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserCreate {
    /// The new user.
    pub userid: Userid,
    /// Initial password (`pve` realm only).
    #[serde(default)]
    pub password: Option<String>,
    /// Enabled (default yes).
    #[serde(default)]
    pub enable: Option<bool>,
    /// Expiry (Unix time), 0 for never.
    #[serde(default)]
    pub expire: Option<i64>,
    /// First name.
    #[serde(default)]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default)]
    pub lastname: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Two-factor keys.
    #[serde(default)]
    pub keys: Option<String>,
    /// Groups to join (must exist).
    #[serde(default)]
    pub groups: Vec<String>,
}

impl UserCreate {
    /// Parameters for creating `userid` with defaults for everything else.
    pub fn new(userid: Userid) -> Self {
        UserCreate {
            userid,
            password: None,
            enable: None,
            expire: None,
            firstname: None,
            lastname: None,
            email: None,
            comment: None,
            keys: None,
            groups: Vec::new(),
        }
    }
}

/// Parameters of `PUT /access/users/{userid}`; `None` leaves a field as it is, an empty
/// string clears a text field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserUpdate {
    /// Enabled.
    #[serde(default)]
    pub enable: Option<bool>,
    /// Expiry (Unix time), 0 for never.
    #[serde(default)]
    pub expire: Option<i64>,
    /// First name.
    #[serde(default)]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default)]
    pub lastname: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Two-factor keys.
    #[serde(default)]
    pub keys: Option<String>,
    /// New group list (replaces the current one unless `append`).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Add `groups` to the current groups instead of replacing them.
    #[serde(default)]
    pub append: bool,
}

/// Parameters of `POST /access/users/{userid}/token/{tokenid}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TokenOptions {
    /// Expiry (Unix time), 0/none for "same as user".
    #[serde(default)]
    pub expire: Option<i64>,
    /// Privilege separation (default on).
    #[serde(default)]
    pub privsep: Option<bool>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Parameters of `PUT /access/users/{userid}/token/{tokenid}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TokenUpdate {
    /// New expiry.
    #[serde(default)]
    pub expire: Option<i64>,
    /// New privilege separation flag.
    #[serde(default)]
    pub privsep: Option<bool>,
    /// New comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Settings to reset: `comment`, `expire`, `privsep`.
    #[serde(default)]
    pub delete: Vec<String>,
}

/// One entry of `GET /access/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupListEntry {
    /// The group id.
    pub groupid: String,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Comma-separated members.
    pub users: String,
}

/// `GET /access/groups/{groupid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Members.
    pub members: Vec<Userid>,
}

/// One entry of `GET /access/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleListEntry {
    /// The role id.
    pub roleid: String,
    /// Comma-separated sorted privileges.
    pub privs: String,
    /// 1 for built-in roles.
    pub special: u8,
}

/// Parameters of `PUT /access/acl`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AclUpdate {
    /// The ACL path.
    pub path: String,
    /// Roles to grant or remove.
    pub roles: Vec<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// API tokens (`user@realm!token`).
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Inherit to deeper paths (default yes).
    #[serde(default)]
    pub propagate: Option<bool>,
    /// Remove the entries instead of adding them.
    #[serde(default)]
    pub delete: bool,
}

/// One entry of `GET /access/domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// Realm name.
    pub realm: String,
    /// Realm type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Two-factor type required by the realm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tfa: Option<String>,
}
