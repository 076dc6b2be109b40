//! MAC addresses for new NICs, made the way Proxmox VE makes them: random bytes with the
//! multicast bit cleared and the locally-administered bit set, then the datacenter's prefix
//! (`BC:24:11`, Proxmox's registered OUI, by default) written over the first bytes.

/// Proxmox VE's default MAC prefix (its own OUI).
pub const DEFAULT_MAC_PREFIX: &str = "BC:24:11";

/// Check a MAC prefix as datacenter.cfg accepts it: one to three hex bytes (`BC:24:11`),
/// whose first byte is unicast.
pub fn check_mac_prefix(prefix: &str) -> Result<(), String> {
    let trimmed = prefix.strip_suffix(':').unwrap_or(prefix);
    let bytes: Vec<&str> = trimmed.split(':').collect();
    let ok = (1..=3).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
        && u8::from_str_radix(bytes[0], 16).is_ok_and(|b| b & 1 == 0);
    ok.then_some(())
        .ok_or_else(|| format!("invalid MAC prefix '{prefix}'"))
}

/// Format six bytes as a MAC, applying Proxmox's rules and the optional prefix.
pub fn mac_from_bytes(mut bytes: [u8; 6], prefix: Option<&str>) -> String {
    // unicast, locally administered
    bytes[0] = (bytes[0] & 0xfe) | 0x02;
    let addr = bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    match prefix.filter(|p| check_mac_prefix(p).is_ok()) {
        Some(p) => format!("{}{}", p.to_ascii_uppercase(), &addr[p.len()..]),
        None => addr,
    }
}

/// A new random MAC address (`prefix` as datacenter.cfg's `mac_prefix`; `None` for a fully
/// random locally-administered address).
pub fn random_mac(prefix: Option<&str>) -> String {
    mac_from_bytes(rand::random::<[u8; 6]>(), prefix)
}

/// A MAC address derived from `seed` (for tests and reproducible setups).
pub fn mac_from_seed(seed: u64, prefix: Option<&str>) -> String {
    // splitmix64
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let b = z.to_be_bytes();
    mac_from_bytes([b[0], b[1], b[2], b[3], b[4], b[5]], prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::formats::check_mac_addr;

    fn first_byte(mac: &str) -> u8 {
        u8::from_str_radix(&mac[..2], 16).unwrap()
    }

    #[test]
    fn default_prefix_and_unicast() {
        for seed in 0..200 {
            let mac = mac_from_seed(seed, Some(DEFAULT_MAC_PREFIX));
            assert!(mac.starts_with("BC:24:11:"), "{mac}");
            assert_eq!(mac.len(), 17);
            assert!(check_mac_addr(&mac).is_ok(), "{mac}");
            assert_eq!(mac, mac.to_ascii_uppercase());
        }
        let mac = random_mac(Some(DEFAULT_MAC_PREFIX));
        assert!(mac.starts_with("BC:24:11:") && check_mac_addr(&mac).is_ok());
    }

    #[test]
    fn without_prefix_locally_administered() {
        for seed in 0..200 {
            let mac = mac_from_seed(seed, None);
            let b = first_byte(&mac);
            assert_eq!(b & 1, 0, "unicast: {mac}");
            assert_eq!(b & 2, 2, "locally administered: {mac}");
        }
        let b = first_byte(&random_mac(None));
        assert_eq!(b & 3, 2);
    }

    #[test]
    fn deterministic_and_distinct() {
        assert_eq!(mac_from_seed(7, None), mac_from_seed(7, None));
        assert_ne!(mac_from_seed(7, None), mac_from_seed(8, None));
        let macs: std::collections::BTreeSet<_> = (0..1000)
            .map(|s| mac_from_seed(s, Some("bc:24:11")))
            .collect();
        assert_eq!(macs.len(), 1000);
        assert!(macs.iter().all(|m| m.starts_with("BC:24:11:")));
        assert_ne!(random_mac(None), random_mac(None));
    }

    #[test]
    fn prefixes() {
        assert!(check_mac_prefix("BC:24:11").is_ok());
        assert!(check_mac_prefix("02:").is_ok());
        assert!(check_mac_prefix("01:00").is_err());
        assert!(check_mac_prefix("BC:24:11:22").is_err());
        assert_eq!(&mac_from_seed(1, Some("02:AA"))[..6], "02:AA:");
        // an invalid prefix is ignored rather than producing a broken address
        assert!(check_mac_addr(&mac_from_seed(1, Some("zz"))).is_ok());
    }
}
