//! Storage types → plugin constructors, chosen at run time by a definition's `type`.

use std::collections::BTreeMap;

use crate::config::StorageEntry;
use crate::error::{escape, StorageError};
use crate::plugin::{PluginContext, StoragePlugin};
use crate::plugins;

/// Builds the plugin for one storage definition.
pub type PluginFactory =
    fn(&StorageEntry, &PluginContext) -> Result<Box<dyn StoragePlugin>, StorageError>;

/// The known storage types.
#[derive(Clone, Default)]
pub struct PluginRegistry {
    factories: BTreeMap<String, PluginFactory>,
}

impl PluginRegistry {
    /// A registry without types.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in types: dir, btrfs, lvm, lvmthin, zfspool, nfs, cifs.
    pub fn with_builtin() -> Self {
        let mut r = Self::empty();
        r.register("dir", plugins::dir::DirPlugin::factory);
        r.register("btrfs", plugins::btrfs::BtrfsPlugin::factory);
        r.register("lvm", plugins::lvm::LvmPlugin::factory);
        r.register("lvmthin", plugins::lvmthin::LvmThinPlugin::factory);
        r.register("zfspool", plugins::zfspool::ZfsPoolPlugin::factory);
        r.register("nfs", plugins::nfs::NfsPlugin::factory);
        r.register("cifs", plugins::cifs::CifsPlugin::factory);
        r
    }

    /// Add or replace a type.
    pub fn register(&mut self, storage_type: &str, factory: PluginFactory) {
        self.factories.insert(storage_type.to_string(), factory);
    }

    /// The registered type names.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }

    /// Build the plugin for a definition.
    pub fn open(
        &self,
        entry: &StorageEntry,
        ctx: &PluginContext,
    ) -> Result<Box<dyn StoragePlugin>, StorageError> {
        let factory = self
            .factories
            .get(&entry.storage_type)
            .ok_or_else(|| StorageError::UnknownType(escape(&entry.storage_type)))?;
        factory(entry, ctx)
    }
}
