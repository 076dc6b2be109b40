//! oxve-auth: users, groups, roles, ACLs, tickets, CSRF tokens, API tokens and the `pve` and
//! `pam` realms, compatible with Proxmox VE's access control.

pub mod acl;
pub mod authkey;
pub mod clock;
pub mod error;
pub mod pam;
pub mod password;
pub mod privileges;
pub mod ratelimit;
pub mod roles;
pub mod text;
pub mod ticket;
pub mod tokens;
pub mod user_cfg;
pub mod userid;

pub use error::{AuthError, Result};
