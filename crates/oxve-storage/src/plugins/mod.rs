//! The built-in storage plugins.

pub mod btrfs;
pub(crate) mod btrfs_quota;
pub mod cifs;
pub(crate) mod common;
pub mod dir;
pub(crate) mod dir_images;
pub(crate) mod dir_list;
pub mod lvm;
pub mod lvm_tools;
pub mod lvmthin;
pub mod netfs;
pub mod nfs;
pub mod zfspool;
