//! User, realm and API token identifiers, validated as Proxmox's `pve-userid`, `pve-realm`
//! and `pve-tokenid` formats.
//!
//! A user id is `<name>@<realm>`, 3 to 64 characters. As in Proxmox, the name may hold any
//! character but white space, control characters, `:` (user.cfg separator) and `/` (API path
//! separator); the realm follows the last `@`. An API token id is `<userid>!<tokenname>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The whole user id is shorter than 3 characters.
    #[error("user name '{0}' is too short")]
    UserTooShort(String),
    /// The whole user id is longer than 64 characters.
    #[error("user name '{0}' is too long ({1} > 64)")]
    UserTooLong(String, usize),
    /// No `@realm` part.
    #[error("value '{0}' does not look like a valid user name (missing '@realm')")]
    MissingRealm(String),
    /// The part before `@` is empty or holds a forbidden character.
    #[error("value '{0}' does not look like a valid user name (name may not be empty or contain white space, control characters, ':' or '/')")]
    BadName(String),
    /// The realm is not `[A-Za-z][A-Za-z0-9.-_]+` of at most 32 characters.
    #[error("invalid realm '{0}' (must start with a letter, followed by letters, digits, '.', '-' or '_', 2 to 32 characters)")]
    BadRealm(String),
    /// The token name is not `[A-Za-z][A-Za-z0-9.-_]+`.
    #[error("invalid token name '{0}' (must start with a letter, followed by letters, digits, '.', '-' or '_', at least 2 characters)")]
    BadTokenName(String),
    /// A token id without `!tokenname`.
    #[error("value '{0}' does not look like a valid token ID")]
    NotATokenId(String),
    /// A group, role or pool id with forbidden characters.
    #[error("{kind} name '{name}' contains invalid characters")]
    InvalidId {
        /// `group`, `role` or `pool`.
        kind: &'static str,
        /// The rejected name.
        name: String,
    },
}

/// Maximum length of a realm name (Proxmox `pve-realm`).
pub const REALM_MAX_LEN: usize = 32;
/// Maximum length of a user id (Proxmox `pve-userid`).
pub const USERID_MAX_LEN: usize = 64;

fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && s.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Whether `name` is a valid realm: a letter, then 1..=31 letters, digits, `.`, `-`, `_`.
pub fn is_valid_realm(name: &str) -> bool {
    name.len() <= REALM_MAX_LEN && is_word(name)
}

fn is_valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == '/')
}

fn is_simple_id(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Validate a group id (`pve-groupid`: letters, digits, `.`, `-`, `_`).
pub fn verify_group_id(name: &str) -> Result<(), IdError> {
    if is_simple_id(name) {
        Ok(())
    } else {
        Err(IdError::InvalidId {
            kind: "group",
            name: name.to_string(),
        })
    }
}

/// Validate a role id (`pve-roleid`: letters, digits, `.`, `-`, `_`).
pub fn verify_role_id(name: &str) -> Result<(), IdError> {
    if is_simple_id(name) {
        Ok(())
    } else {
        Err(IdError::InvalidId {
            kind: "role",
            name: name.to_string(),
        })
    }
}

/// Validate a pool id (`pve-poolid`): up to three `/`-separated levels of letters, digits,
/// `.`, `-`, `_` (nested pools since Proxmox VE 8.1).
pub fn verify_pool_id(name: &str) -> Result<(), IdError> {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() <= 3 && parts.iter().all(|p| is_simple_id(p)) {
        Ok(())
    } else {
        Err(IdError::InvalidId {
            kind: "pool",
            name: name.to_string(),
        })
    }
}

/// A validated user id `name@realm`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Userid {
    full: String,
    at: usize,
}

impl Userid {
    /// The built-in superuser `root@pam`.
    pub fn root() -> Self {
        Userid {
            full: "root@pam".to_string(),
            at: 4,
        }
    }

    /// Whether this is `root@pam`.
    pub fn is_root(&self) -> bool {
        self.full == "root@pam"
    }

    /// The user name part (before the last `@`).
    pub fn name(&self) -> &str {
        &self.full[..self.at]
    }

    /// The realm part (after the last `@`).
    pub fn realm(&self) -> &str {
        &self.full[self.at + 1..]
    }

    /// The full id as text.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// Build from a name and a realm, validating both.
    pub fn new(name: &str, realm: &str) -> Result<Self, IdError> {
        format!("{name}@{realm}").parse()
    }
}

impl FromStr for Userid {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let len = s.chars().count();
        if len < 3 {
            return Err(IdError::UserTooShort(s.to_string()));
        }
        if len > USERID_MAX_LEN {
            return Err(IdError::UserTooLong(s.to_string(), len));
        }
        let at = s
            .rfind('@')
            .ok_or_else(|| IdError::MissingRealm(s.to_string()))?;
        let (name, realm) = (&s[..at], &s[at + 1..]);
        if !is_valid_user_name(name) {
            return Err(IdError::BadName(s.to_string()));
        }
        if !is_valid_realm(realm) {
            return Err(IdError::BadRealm(realm.to_string()));
        }
        Ok(Userid {
            full: s.to_string(),
            at,
        })
    }
}

impl fmt::Display for Userid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for Userid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Userid({})", self.full)
    }
}

/// The token part of an API token id (`<userid>!<tokenname>`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenName(String);

impl TokenName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TokenName {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        if is_word(s) {
            Ok(TokenName(s.to_string()))
        } else {
            Err(IdError::BadTokenName(s.to_string()))
        }
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenName({})", self.0)
    }
}

/// Who is acting: a user, or one of a user's API tokens.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Authid {
    user: Userid,
    token: Option<TokenName>,
}

impl Authid {
    /// `root@pam` acting as itself.
    pub fn root() -> Self {
        Userid::root().into()
    }

    /// The owning user (the user itself for a plain user id).
    pub fn user(&self) -> &Userid {
        &self.user
    }

    /// The token name, for an API token id.
    pub fn token(&self) -> Option<&TokenName> {
        self.token.as_ref()
    }

    /// Whether this is an API token id.
    pub fn is_token(&self) -> bool {
        self.token.is_some()
    }

    /// The id of token `token` of `user`.
    pub fn from_token(user: Userid, token: TokenName) -> Self {
        Authid {
            user,
            token: Some(token),
        }
    }

    /// Parse a full token id `user@realm!name`, refusing plain user ids.
    pub fn parse_token_id(s: &str) -> Result<Self, IdError> {
        let id: Authid = s.parse()?;
        if id.is_token() {
            Ok(id)
        } else {
            Err(IdError::NotATokenId(s.to_string()))
        }
    }
}

impl From<Userid> for Authid {
    fn from(user: Userid) -> Self {
        Authid { user, token: None }
    }
}

impl FromStr for Authid {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        // The realm cannot contain '!', so a '!' after the last '@' starts the token name.
        let at = s
            .rfind('@')
            .ok_or_else(|| IdError::MissingRealm(s.to_string()))?;
        match s[at..].find('!') {
            None => Ok(Authid {
                user: s.parse()?,
                token: None,
            }),
            Some(bang) => {
                let split = at + bang;
                Ok(Authid {
                    user: s[..split].parse()?,
                    token: Some(s[split + 1..].parse()?),
                })
            }
        }
    }
}

impl fmt::Display for Authid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.token {
            None => write!(f, "{}", self.user),
            Some(t) => write!(f, "{}!{}", self.user, t),
        }
    }
}

impl fmt::Debug for Authid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Authid({self})")
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Userid);
string_serde!(TokenName);
string_serde!(Authid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userids() {
        let u: Userid = "root@pam".parse().unwrap();
        assert_eq!((u.name(), u.realm()), ("root", "pam"));
        assert!(u.is_root());
        assert_eq!(u, Userid::root());
        let u: Userid = "john.doe@example.com@ad".parse().unwrap();
        assert_eq!((u.name(), u.realm()), ("john.doe@example.com", "ad"));
        let u: Userid = "ünï-cödé@pve".parse().unwrap();
        assert_eq!(u.realm(), "pve");
        assert_eq!(u.to_string(), "ünï-cödé@pve");
    }

    #[test]
    fn bad_userids_say_why() {
        let cases = [
            ("a@", "too short"),
            ("root", "missing '@realm'"),
            ("@pve", "valid user name"),
            ("a b@pve", "valid user name"),
            ("a:b@pve", "valid user name"),
            ("a/b@pve", "valid user name"),
            ("a\u{1}b@pve", "valid user name"),
            ("ab@p", "invalid realm 'p'"),
            ("ab@1pve", "invalid realm '1pve'"),
            ("ab@pv!e", "invalid realm"),
        ];
        for (input, want) in cases {
            let err = input.parse::<Userid>().unwrap_err().to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
        let long = format!("{}@pve", "x".repeat(61));
        assert!(matches!(
            long.parse::<Userid>(),
            Err(IdError::UserTooLong(_, 65))
        ));
        let max = format!("{}@pve", "x".repeat(60));
        assert!(max.parse::<Userid>().is_ok());
        let realm33 = format!("a@r{}", "x".repeat(32));
        assert!(realm33.parse::<Userid>().is_err());
    }

    #[test]
    fn authids() {
        let a: Authid = "admin@pve!ci-token_1.x".parse().unwrap();
        assert!(a.is_token());
        assert_eq!(a.user().as_str(), "admin@pve");
        assert_eq!(a.token().unwrap().as_str(), "ci-token_1.x");
        assert_eq!(a.to_string(), "admin@pve!ci-token_1.x");
        let b: Authid = "a!b@pve".parse().unwrap();
        assert!(!b.is_token());
        assert_eq!(b.user().name(), "a!b");
        let c: Authid = "a!b@pve!tok".parse().unwrap();
        assert_eq!(c.user().name(), "a!b");
        assert_eq!(c.token().unwrap().as_str(), "tok");
        for bad in ["admin@pve!", "admin@pve!1x", "admin@pve!a", "admin@pve!a b"] {
            let err = bad.parse::<Authid>().unwrap_err();
            assert!(matches!(err, IdError::BadTokenName(_)), "{bad}: {err}");
        }
        assert!(Authid::parse_token_id("admin@pve").is_err());
        assert!(Authid::parse_token_id("admin@pve!tok").is_ok());
    }

    #[test]
    fn simple_ids() {
        assert!(verify_group_id("admins.x-1_2").is_ok());
        assert!(verify_group_id("a b").is_err());
        assert!(verify_group_id("").is_err());
        assert!(verify_role_id("PVE_Power-only").is_ok());
        assert!(verify_role_id("a:b").is_err());
        assert!(verify_pool_id("a/b/c").is_ok());
        assert!(verify_pool_id("a/b/c/d").is_err());
        assert!(verify_pool_id("a//b").is_err());
        assert_eq!(
            verify_group_id("x y").unwrap_err().to_string(),
            "group name 'x y' contains invalid characters"
        );
    }

    #[test]
    fn serde_as_strings() {
        let a: Authid = "u@pve!t1".parse().unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"u@pve!t1\"");
        let back: Authid = serde_json::from_str("\"u@pve!t1\"").unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<Userid>("\"nope\"").is_err());
    }
}
