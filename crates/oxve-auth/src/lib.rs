//! oxve-auth: users, groups, roles, ACLs, tickets, CSRF tokens, API tokens and the `pve` and
//! `pam` realms, compatible with Proxmox VE's access control. No HTTP here: the API layer
//! calls [`AccessControl`] and maps [`AuthError`] to HTTP statuses.
//!
//! State lives in the config store as Proxmox's files: `user.cfg` (users, groups, tokens,
//! custom roles, pools, ACLs), `priv/shadow.cfg` (argon2id hashes of `pve` passwords),
//! `priv/token.cfg` (SHA-256 of API token secrets), `priv/authkey.key` (ticket signing keys)
//! and `priv/csrf.key`. Every change is a compare-and-swap on the document's digest, retried
//! on conflict; the parsed state is cached per store revision.

#![warn(missing_docs)]

pub mod access;
pub mod acl;
pub mod authkey;
mod checks;
pub mod clock;
mod control;
pub mod error;
mod ops;
pub mod pam;
pub mod password;
pub mod privileges;
pub mod ratelimit;
pub mod roles;
pub mod snapshot;
pub mod store_io;
pub mod text;
pub mod ticket;
pub mod tokens;
pub mod types;
pub mod user_cfg;
pub mod userid;

pub use access::ApiCapabilities;
pub use acl::{AclEntry, AclType};
pub use clock::{Clock, ManualClock, SystemClock};
pub use control::{AccessControl, AuthOptions};
pub use error::{AuthError, Result};
pub use ops::{parent_pool, realm_type, PoolUpdate};
pub use password::HashParams;
pub use privileges::{EffectivePrivs, PrivSet, PRIVILEGES};
pub use ratelimit::RateLimitConfig;
pub use snapshot::Snapshot;
pub use types::*;
pub use userid::{Authid, IdError, TokenName, Userid};
