//! `storage.cfg`: storage definitions in Proxmox's section-config format, parsed into typed
//! options and written back in Proxmox's order (required options first, then the rest,
//! each group sorted; `disable` as a bare flag). Sections of types oxve does not implement
//! are kept verbatim, so a round trip loses nothing.
//!
//! A `local` dir storage at `<data_dir>/local` is always present: [`StorageConfig::ensure_local`]
//! injects or repairs it, as Proxmox forces its `local` storage.

mod props;
mod prune;
pub mod schema;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oxve_types::section_config::{parse_section_config, write_section_config, ConfigSection};

use crate::content::{content_set, ContentType};
use crate::error::{escape, StorageError};
use crate::volid::check_storage_id;

pub use props::{parse_bool, StorageProps};
pub use prune::PruneBackups;

/// One storage definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageEntry {
    /// The storage id (`local`, `local-lvm`, ...).
    pub id: String,
    /// The storage type (`dir`, `lvmthin`, ...).
    pub storage_type: String,
    /// Typed options (for the types in [`schema::KNOWN_TYPES`]).
    pub props: StorageProps,
    /// Verbatim properties of a type oxve does not know (empty for known types).
    pub raw: Vec<(String, Option<String>)>,
}

impl StorageEntry {
    /// Build a new definition from API-style parameters, checking every option and that the
    /// required ones are present. Defaults (content, shared) are applied as on parse.
    pub fn create(
        id: &str,
        storage_type: &str,
        params: &[(&str, &str)],
    ) -> Result<Self, StorageError> {
        check_storage_id(id).map_err(|reason| StorageError::option(id, "storage", reason))?;
        let specs = schema::type_options(storage_type)
            .ok_or_else(|| StorageError::UnknownType(escape(storage_type)))?;
        let mut entry = StorageEntry {
            id: id.to_string(),
            storage_type: storage_type.to_string(),
            props: StorageProps::default(),
            raw: Vec::new(),
        };
        for (key, value) in params {
            entry.set_checked(key, Some(value), true)?;
        }
        if let Some(missing) = specs
            .iter()
            .find(|s| s.required && entry.props.get(s.name).is_none())
        {
            return Err(StorageError::option(
                id,
                missing.name,
                "property is missing and it is not optional",
            ));
        }
        entry.apply_defaults();
        Ok(entry)
    }

    /// Change options as `PUT /storage/{storage}` does: fixed options cannot change,
    /// required ones cannot be deleted, and an option cannot be set and deleted at once.
    /// On error nothing is changed.
    pub fn update(&mut self, params: &[(&str, &str)], delete: &[&str]) -> Result<(), StorageError> {
        let mut next = self.clone();
        for key in delete {
            let spec = schema::option_spec(&self.storage_type, key)
                .ok_or_else(|| StorageError::option(&self.id, key, "no such option"))?;
            if spec.required || spec.fixed {
                return Err(StorageError::option(
                    &self.id,
                    key,
                    "unable to delete required or fixed option",
                ));
            }
            if params.iter().any(|(k, _)| k == key) {
                return Err(StorageError::option(
                    &self.id,
                    key,
                    "cannot set and delete property at the same time",
                ));
            }
            next.props.clear(key);
        }
        for (key, value) in params {
            next.set_checked(key, Some(value), false)?;
        }
        next.apply_defaults();
        *self = next;
        Ok(())
    }

    fn set_checked(
        &mut self,
        key: &str,
        value: Option<&str>,
        create: bool,
    ) -> Result<(), StorageError> {
        if key == "type" {
            return match value {
                Some(v) if v == self.storage_type => Ok(()),
                _ => Err(StorageError::option(
                    &self.id,
                    "type",
                    "can't change the storage type",
                )),
            };
        }
        let spec = schema::option_spec(&self.storage_type, key).ok_or_else(|| {
            StorageError::option(
                &self.id,
                key,
                format!("unexpected property for type '{}'", self.storage_type),
            )
        })?;
        if !create && spec.fixed {
            return Err(StorageError::option(
                &self.id,
                key,
                "can't change value of fixed parameter",
            ));
        }
        self.props
            .set(&self.storage_type, key, value)
            .map_err(|reason| StorageError::option(&self.id, key, reason))
    }

    fn from_section(section: &ConfigSection) -> Result<Self, StorageError> {
        check_storage_id(&section.id)
            .map_err(|reason| StorageError::option(&section.id, "storage", reason))?;
        let mut entry = StorageEntry {
            id: section.id.clone(),
            storage_type: section.section_type.clone(),
            props: StorageProps::default(),
            raw: Vec::new(),
        };
        let Some(specs) = schema::type_options(&section.section_type) else {
            entry.raw = section.properties.clone();
            return Ok(entry);
        };
        let mut seen = BTreeSet::new();
        for (key, value) in &section.properties {
            if !seen.insert(key.as_str()) {
                return Err(StorageError::option(
                    &section.id,
                    key,
                    "duplicate attribute",
                ));
            }
            entry.set_checked(key, value.as_deref(), true)?;
        }
        if let Some(missing) = specs
            .iter()
            .find(|s| s.required && entry.props.get(s.name).is_none())
        {
            return Err(StorageError::option(
                &section.id,
                missing.name,
                "missing value for required option",
            ));
        }
        entry.apply_defaults();
        Ok(entry)
    }

    fn to_section(&self) -> ConfigSection {
        let mut section = ConfigSection::new(&self.storage_type, &self.id);
        let Some(specs) = schema::type_options(&self.storage_type) else {
            section.properties = self.raw.clone();
            return section;
        };
        if self.props.disable == Some(true) {
            section.properties.push(("disable".into(), None));
        }
        let mut names: Vec<_> = specs.iter().filter(|s| s.name != "disable").collect();
        names.sort_by_key(|s| (!s.required, s.name));
        for spec in names {
            if let Some(value) = self.props.get(spec.name) {
                section
                    .properties
                    .push((spec.name.to_string(), Some(value)));
            }
        }
        section
    }

    /// Defaults Proxmox applies when reading a config: the type's default content, and
    /// `shared` for types that are shared by nature.
    fn apply_defaults(&mut self) {
        if schema::type_options(&self.storage_type).is_none() {
            return;
        }
        if self.props.content.is_none() {
            self.props.content = Some(schema::default_content(&self.storage_type));
        }
        if schema::is_shared_type(&self.storage_type) {
            self.props.shared = Some(true);
        }
    }

    /// The `local` dir storage under `data_dir`.
    pub fn local(data_dir: &Path) -> Self {
        use ContentType::*;
        let props = StorageProps {
            path: Some(data_dir.join("local").to_string_lossy().into_owned()),
            content: Some(content_set(&[
                Backup, Images, Iso, Rootdir, Snippets, Vztmpl,
            ])),
            prune_backups: Some(PruneBackups::keep_all()),
            ..Default::default()
        };
        StorageEntry {
            id: "local".into(),
            storage_type: "dir".into(),
            props,
            raw: Vec::new(),
        }
    }

    /// Allowed content types.
    pub fn content(&self) -> BTreeSet<ContentType> {
        self.props.content.clone().unwrap_or_default()
    }

    /// Whether the storage is enabled.
    pub fn is_enabled(&self) -> bool {
        self.props.disable != Some(true)
    }

    /// Whether the storage is marked shared (or is shared by nature).
    pub fn is_shared(&self) -> bool {
        self.props.shared == Some(true) || schema::is_shared_type(&self.storage_type)
    }

    /// Whether the storage is available on `node` (no `nodes` restriction, or listed).
    pub fn available_on(&self, node: &str) -> bool {
        self.props.nodes.as_ref().is_none_or(|n| n.contains(node))
    }

    /// The base path of a path-based storage.
    pub fn path(&self) -> Option<PathBuf> {
        self.props.path.as_ref().map(PathBuf::from)
    }

    /// The directory of a content type on a path-based storage (honouring `content-dirs`).
    pub fn content_dir(&self, content: ContentType) -> Option<PathBuf> {
        let base = self.path()?;
        let sub = self
            .props
            .content_dirs
            .as_ref()
            .and_then(|m| m.get(&content).cloned())
            .or_else(|| content.default_subdir().map(str::to_string))?;
        Some(base.join(sub.trim_start_matches('/')))
    }
}

/// The whole storage.cfg, sections in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    entries: Vec<StorageEntry>,
}

impl StorageConfig {
    /// Parse storage.cfg text. Errors name the storage and option.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        let sections = parse_section_config(text).map_err(StorageError::ConfigSyntax)?;
        let entries = sections
            .iter()
            .map(StorageEntry::from_section)
            .collect::<Result<_, _>>()?;
        Ok(StorageConfig { entries })
    }

    /// Parse and make sure `local` exists (see [`StorageConfig::ensure_local`]).
    pub fn parse_with_local(text: &str, data_dir: &Path) -> Result<Self, StorageError> {
        let mut cfg = Self::parse(text)?;
        cfg.ensure_local(data_dir);
        Ok(cfg)
    }

    /// Write storage.cfg text.
    pub fn to_text(&self) -> Result<String, StorageError> {
        let sections: Vec<_> = self.entries.iter().map(StorageEntry::to_section).collect();
        write_section_config(&sections).map_err(StorageError::ConfigSyntax)
    }

    /// Force a `local` dir storage at `<data_dir>/local` as the first entry: added when
    /// missing, replaced when it is not a dir storage at that path; never node-restricted.
    pub fn ensure_local(&mut self, data_dir: &Path) {
        let wanted = StorageEntry::local(data_dir);
        let pos = self.entries.iter().position(|e| e.id == "local");
        let keep = pos.is_some_and(|i| {
            let e = &self.entries[i];
            e.storage_type == "dir" && e.props.path == wanted.props.path
        });
        match pos {
            Some(i) if keep => {
                let mut e = self.entries.remove(i);
                e.props.nodes = None;
                self.entries.insert(0, e);
            }
            Some(i) => {
                self.entries.remove(i);
                self.entries.insert(0, wanted);
            }
            None => self.entries.insert(0, wanted),
        }
    }

    /// All definitions in order.
    pub fn entries(&self) -> &[StorageEntry] {
        &self.entries
    }

    /// One definition.
    pub fn get(&self, id: &str) -> Result<&StorageEntry, StorageError> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| StorageError::UnknownStorage(escape(id)))
    }

    /// Add a definition (the id must be new).
    pub fn add(&mut self, entry: StorageEntry) -> Result<(), StorageError> {
        if self.entries.iter().any(|e| e.id == entry.id) {
            return Err(StorageError::StorageExists(entry.id));
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Update a definition (see [`StorageEntry::update`]).
    pub fn update(
        &mut self,
        id: &str,
        params: &[(&str, &str)],
        delete: &[&str],
    ) -> Result<(), StorageError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| StorageError::UnknownStorage(escape(id)))?;
        entry.update(params, delete)
    }

    /// Remove a definition and return it.
    pub fn remove(&mut self, id: &str) -> Result<StorageEntry, StorageError> {
        let pos = self
            .entries
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| StorageError::UnknownStorage(escape(id)))?;
        Ok(self.entries.remove(pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Preallocation, VolumeFormat};

    const SAMPLE: &str = "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\n\
lvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent rootdir,images\n\n\
zfspool: local-zfs\n\tpool rpool/data\n\tsparse\n\tcontent images,rootdir\n\tblocksize 16k\n\n\
nfs: iso-templates\n\tpath /mnt/pve/iso-templates\n\tserver 10.0.0.10\n\texport /space/iso-templates\n\toptions vers=3,soft\n\tcontent iso,vztmpl\n\n\
cifs: backup\n\tpath /mnt/pve/backup\n\tserver 10.0.0.11\n\tshare VMData\n\tcontent backup\n\tusername anna\n\tsmbversion 3\n\tmaxfiles 3\n\n\
dir: fast\n\tpath /srv/fast\n\tdisable\n\tformat qcow2\n\tpreallocation falloc\n\tprune-backups keep-last=3,keep-daily=7\n\tnodes b,a\n\tis_mountpoint yes\n\n\
btrfs: bt\n\tpath /mnt/bt\n\tnocow 0\n\n\
lvm: vg\n\tvgname vg0\n\tshared 1\n\tsaferemove\n\n\
rbd: ceph\n\tpool rbd\n\tmonhost 10.0.0.1 10.0.0.2\n\tkrbd 0\n\n";

    #[test]
    fn parses_typed_options() {
        let cfg = StorageConfig::parse(SAMPLE).unwrap();
        assert_eq!(cfg.entries().len(), 9);
        let lvm = cfg.get("local-lvm").unwrap();
        assert_eq!(lvm.props.thinpool.as_deref(), Some("data"));
        let zfs = cfg.get("local-zfs").unwrap();
        assert_eq!(zfs.props.sparse, Some(true));
        let nfs = cfg.get("iso-templates").unwrap();
        assert!(nfs.is_shared());
        assert_eq!(nfs.props.options.as_deref(), Some("vers=3,soft"));
        let fast = cfg.get("fast").unwrap();
        assert!(!fast.is_enabled());
        assert_eq!(fast.props.format, Some(VolumeFormat::Qcow2));
        assert_eq!(fast.props.preallocation, Some(Preallocation::Falloc));
        assert_eq!(
            fast.props.prune_backups.as_ref().unwrap().keep_daily,
            Some(7)
        );
        assert!(fast.available_on("a") && !fast.available_on("c"));
        assert_eq!(fast.content(), schema::default_content("dir"));
        let cifs = cfg.get("backup").unwrap();
        assert_eq!(
            cifs.props.effective_prune_backups().unwrap().to_string(),
            "keep-last=3"
        );
        let rbd = cfg.get("ceph").unwrap();
        assert_eq!(rbd.raw.len(), 3);
        assert!(matches!(
            cfg.get("nope"),
            Err(StorageError::UnknownStorage(_))
        ));
    }

    #[test]
    fn round_trips_in_proxmox_order() {
        let cfg = StorageConfig::parse(SAMPLE).unwrap();
        let text = cfg.to_text().unwrap();
        assert_eq!(StorageConfig::parse(&text).unwrap(), cfg);
        assert!(text.contains(
            "lvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent images,rootdir\n\n"
        ));
        assert!(text.contains("dir: fast\n\tdisable\n\tpath /srv/fast\n\tcontent images,rootdir\n\tformat qcow2\n\tis_mountpoint yes\n\tnodes a,b\n\tpreallocation falloc\n\tprune-backups keep-daily=7,keep-last=3\n\n"), "{text}");
        assert!(text.contains("zfspool: local-zfs\n\tpool rpool/data\n\tblocksize 16k\n\tcontent images,rootdir\n\tsparse 1\n\n"));
        assert!(text.contains("rbd: ceph\n\tpool rbd\n\tmonhost 10.0.0.1 10.0.0.2\n\tkrbd 0\n\n"));
        assert!(text.contains("nfs: iso-templates\n\texport /space/iso-templates\n\tpath /mnt/pve/iso-templates\n\tserver 10.0.0.10\n\tcontent iso,vztmpl\n\toptions vers=3,soft\n\n"), "{text}");
    }

    #[test]
    fn validation_errors_name_the_option() {
        let cases = [
            ("dir: x\n\tpath relative/path\n", "path"),
            ("dir: x\n\tpath /a\n\tcontent images,bogus\n", "content"),
            ("lvm: x\n\tvgname vg\n\tcontent iso\n", "content"),
            (
                "dir: x\n\tpath /a\n\tpreallocation thick\n",
                "preallocation",
            ),
            ("dir: x\n\tpath /a\n\tshared maybe\n", "shared"),
            ("dir: x\n\tpath /a\n\tvgname pve\n", "vgname"),
            (
                "dir: x\n\tpath /a\n\tprune-backups keep-all=1,keep-last=1\n",
                "prune-backups",
            ),
            ("lvmthin: x\n\tvgname pve\n", "thinpool"),
            ("zfspool: x\n\tpool tank\n\tblocksize 3k\n", "blocksize"),
            ("dir: x\n\tpath /a\n\tpath /b\n", "path"),
            ("btrfs: x\n\tpath /a\n\tformat qcow2\n", "format"),
            ("dir: x\n\tpath /a\n\tcontent none,iso\n", "content"),
            ("dir: x\n\tpath /a/../b\n", "path"),
            (
                "nfs: x\n\tpath /a\n\tserver bad/host\n\texport /e\n",
                "server",
            ),
        ];
        for (text, option) in cases {
            let err = StorageConfig::parse(text).unwrap_err();
            assert_eq!(err.param(), Some(option), "{text:?}: {err}");
            assert!(err.is_bad_request());
            assert!(err.to_string().contains(option), "{err}");
        }
        assert!(matches!(
            StorageConfig::parse("dir x\n"),
            Err(StorageError::ConfigSyntax(_))
        ));
    }

    #[test]
    fn forces_local() {
        let data = Path::new("/data");
        let cfg = StorageConfig::parse_with_local("", data).unwrap();
        let local = cfg.get("local").unwrap();
        assert_eq!(local.props.path.as_deref(), Some("/data/local"));
        assert_eq!(
            local.content(),
            content_set(&[
                ContentType::Iso,
                ContentType::Vztmpl,
                ContentType::Backup,
                ContentType::Images,
                ContentType::Rootdir,
                ContentType::Snippets
            ])
        );
        let text = cfg.to_text().unwrap();
        assert_eq!(
            text,
            "dir: local\n\tpath /data/local\n\tcontent images,rootdir,iso,vztmpl,backup,snippets\n\tprune-backups keep-all=1\n\n"
        );
        // A wrong `local` is replaced; a right one keeps its options but loses `nodes`.
        let cfg = StorageConfig::parse_with_local("lvm: local\n\tvgname pve\n\n", data).unwrap();
        assert_eq!(cfg.get("local").unwrap().storage_type, "dir");
        let cfg = StorageConfig::parse_with_local(
            "dir: other\n\tpath /o\n\ndir: local\n\tpath /data/local\n\tcontent iso\n\tnodes n1\n\n",
            data,
        )
        .unwrap();
        assert_eq!(cfg.entries()[0].id, "local");
        assert_eq!(cfg.get("local").unwrap().props.nodes, None);
        assert_eq!(
            cfg.get("local").unwrap().content(),
            content_set(&[ContentType::Iso])
        );
    }

    #[test]
    fn create_update_delete() {
        let mut cfg = StorageConfig::default();
        let e = StorageEntry::create(
            "store1",
            "dir",
            &[("path", "/srv/s1"), ("content", "images,iso")],
        )
        .unwrap();
        cfg.add(e.clone()).unwrap();
        assert!(matches!(cfg.add(e), Err(StorageError::StorageExists(_))));
        let err = StorageEntry::create("s2", "dir", &[("content", "iso")]).unwrap_err();
        assert_eq!(err.param(), Some("path"));
        let err = StorageEntry::create("s2", "nope", &[]).unwrap_err();
        assert!(matches!(err, StorageError::UnknownType(_)));
        let err = StorageEntry::create("2bad", "dir", &[("path", "/x")]).unwrap_err();
        assert_eq!(err.param(), Some("storage"));

        cfg.update(
            "store1",
            &[("preallocation", "full"), ("disable", "1")],
            &[],
        )
        .unwrap();
        assert_eq!(
            cfg.get("store1").unwrap().props.preallocation,
            Some(Preallocation::Full)
        );
        let err = cfg
            .update("store1", &[("path", "/other")], &[])
            .unwrap_err();
        assert_eq!(err.param(), Some("path"));
        let err = cfg.update("store1", &[], &["path"]).unwrap_err();
        assert_eq!(err.param(), Some("path"));
        let err = cfg
            .update("store1", &[("format", "qcow2")], &["format"])
            .unwrap_err();
        assert_eq!(err.param(), Some("format"));
        cfg.update("store1", &[], &["preallocation", "disable"])
            .unwrap();
        let s = cfg.get("store1").unwrap();
        assert_eq!(s.props.preallocation, None);
        assert!(s.is_enabled());
        cfg.remove("store1").unwrap();
        assert!(cfg.remove("store1").is_err());
    }

    #[test]
    fn content_dirs_resolve() {
        let e = StorageEntry::create(
            "s",
            "dir",
            &[
                ("path", "/srv/s"),
                ("content-dirs", "iso=isos,backup=bk/dumps"),
            ],
        )
        .unwrap();
        assert_eq!(
            e.content_dir(ContentType::Iso).unwrap(),
            PathBuf::from("/srv/s/isos")
        );
        assert_eq!(
            e.content_dir(ContentType::Backup).unwrap(),
            PathBuf::from("/srv/s/bk/dumps")
        );
        assert_eq!(
            e.content_dir(ContentType::Images).unwrap(),
            PathBuf::from("/srv/s/images")
        );
        let err = StorageEntry::create("s", "dir", &[("path", "/s"), ("content-dirs", "iso=../x")])
            .unwrap_err();
        assert_eq!(err.param(), Some("content-dirs"));
    }
}
