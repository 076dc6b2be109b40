//! The volumes of a container's settings section, which snapshots, templates and clones
//! cover. The snapshot bookkeeping itself is the same for every guest type (oxve-api's
//! `guest_snapshot` with [`crate::snapshot`]).

use crate::config_text::Section;

use super::config::CtConfig;
use super::devices::MountSource;

/// The storage volumes of a settings section (rootfs and `mpN` volumes, not bind mounts).
pub fn section_volumes(section: &Section) -> Vec<(String, String)> {
    let view = CtConfig {
        current: section.clone(),
        ..Default::default()
    };
    view.mount_points()
        .into_iter()
        .filter_map(|(key, mp)| match mp.source() {
            MountSource::Volume(v) => Some((key, v)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_not_bind_mounts() {
        let c = CtConfig::parse(
            "hostname: a\nmp0: /srv,mp=/srv\nmp1: bt:100/vm-100-disk-1.raw,mp=/data,size=1G\nrootfs: btrfs:100/vm-100-disk-0.raw,size=1G\n",
        )
        .unwrap();
        assert_eq!(
            section_volumes(&c.current),
            [
                (
                    "rootfs".to_string(),
                    "btrfs:100/vm-100-disk-0.raw".to_string()
                ),
                ("mp1".to_string(), "bt:100/vm-100-disk-1.raw".to_string())
            ]
        );
    }
}
