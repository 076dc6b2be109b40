//! Volume formats and preallocation (provisioning) modes.

use std::fmt;
use std::str::FromStr;

/// The on-disk format of an image volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VolumeFormat {
    /// A raw image: plain file, LV, zvol.
    Raw,
    /// QEMU copy-on-write v2.
    Qcow2,
    /// VMware disk.
    Vmdk,
    /// A directory/subvolume/dataset (container root file systems).
    Subvol,
}

impl VolumeFormat {
    /// Every format.
    pub const ALL: [VolumeFormat; 4] = [
        VolumeFormat::Raw,
        VolumeFormat::Qcow2,
        VolumeFormat::Vmdk,
        VolumeFormat::Subvol,
    ];

    /// The name used in volume names, configs and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeFormat::Raw => "raw",
            VolumeFormat::Qcow2 => "qcow2",
            VolumeFormat::Vmdk => "vmdk",
            VolumeFormat::Subvol => "subvol",
        }
    }

    /// Whether this format is an image file `qemu-img` understands.
    pub fn is_image(self) -> bool {
        self != VolumeFormat::Subvol
    }
}

impl fmt::Display for VolumeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VolumeFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VolumeFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("invalid format '{s}'"))
    }
}

/// Proxmox's `preallocation` option, mapped to provisioning in VMware's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Preallocation {
    /// Thin: sparse, grows as written.
    Off,
    /// Thin with qcow2 metadata written up front (raw: same as `off`).
    Metadata,
    /// Thick lazy-zeroed: space reserved with fallocate, blocks zeroed on first write.
    Falloc,
    /// Thick eager-zeroed: every block written at creation.
    Full,
}

impl Preallocation {
    /// Every mode.
    pub const ALL: [Preallocation; 4] = [
        Preallocation::Off,
        Preallocation::Metadata,
        Preallocation::Falloc,
        Preallocation::Full,
    ];

    /// The name used in storage.cfg and by `qemu-img -o preallocation=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preallocation::Off => "off",
            Preallocation::Metadata => "metadata",
            Preallocation::Falloc => "falloc",
            Preallocation::Full => "full",
        }
    }

    /// Whether the whole size is reserved at creation (must fit in free space).
    pub fn is_thick(self) -> bool {
        matches!(self, Preallocation::Falloc | Preallocation::Full)
    }
}

impl fmt::Display for Preallocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Preallocation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preallocation::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("value '{s}' does not have a value in the enumeration 'off, metadata, falloc, full'")
            })
    }
}
