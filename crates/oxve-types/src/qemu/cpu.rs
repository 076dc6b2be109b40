//! The `cpu` option: model, flags and tweaks (`x86-64-v2-AES,flags=+aes`, `host`,
//! `kvm64,flags=+pcid;-spec-ctrl`).

use std::fmt;
use std::str::FromStr;

use crate::format::Format;
use crate::property_string::PsError;

use super::psformats;
use super::values::{Put, Take};

/// CPU models QEMU knows, plus the generic ones; also the `reported-model` choices.
pub const REPORTED_MODELS: &[&str] = &[
    "486",
    "athlon",
    "Broadwell",
    "Broadwell-IBRS",
    "Broadwell-noTSX",
    "Broadwell-noTSX-IBRS",
    "Cascadelake-Server",
    "Cascadelake-Server-noTSX",
    "Cascadelake-Server-v2",
    "Cascadelake-Server-v4",
    "Cascadelake-Server-v5",
    "ClearwaterForest",
    "Conroe",
    "Cooperlake",
    "Cooperlake-v2",
    "core2duo",
    "coreduo",
    "EPYC",
    "EPYC-Genoa",
    "EPYC-Genoa-v2",
    "EPYC-IBPB",
    "EPYC-Milan",
    "EPYC-Milan-v2",
    "EPYC-Milan-v3",
    "EPYC-Rome",
    "EPYC-Rome-v2",
    "EPYC-Rome-v3",
    "EPYC-Rome-v4",
    "EPYC-Rome-v5",
    "EPYC-Turin",
    "EPYC-v3",
    "EPYC-v4",
    "EPYC-v5",
    "GraniteRapids",
    "GraniteRapids-v2",
    "GraniteRapids-v3",
    "Haswell",
    "Haswell-IBRS",
    "Haswell-noTSX",
    "Haswell-noTSX-IBRS",
    "host",
    "Icelake-Client",
    "Icelake-Client-noTSX",
    "Icelake-Server",
    "Icelake-Server-noTSX",
    "Icelake-Server-v3",
    "Icelake-Server-v4",
    "Icelake-Server-v5",
    "Icelake-Server-v6",
    "Icelake-Server-v7",
    "IvyBridge",
    "IvyBridge-IBRS",
    "KnightsMill",
    "kvm32",
    "kvm64",
    "max",
    "Nehalem",
    "Nehalem-IBRS",
    "Opteron_G1",
    "Opteron_G2",
    "Opteron_G3",
    "Opteron_G4",
    "Opteron_G5",
    "Penryn",
    "pentium",
    "pentium2",
    "pentium3",
    "phenom",
    "qemu32",
    "qemu64",
    "SandyBridge",
    "SandyBridge-IBRS",
    "SapphireRapids",
    "SapphireRapids-v2",
    "SapphireRapids-v3",
    "SapphireRapids-v4",
    "SierraForest",
    "SierraForest-v2",
    "SierraForest-v3",
    "Skylake-Client",
    "Skylake-Client-IBRS",
    "Skylake-Client-noTSX-IBRS",
    "Skylake-Client-v4",
    "Skylake-Server",
    "Skylake-Server-IBRS",
    "Skylake-Server-noTSX-IBRS",
    "Skylake-Server-v4",
    "Skylake-Server-v5",
    "Westmere",
    "Westmere-IBRS",
];

/// Proxmox's own x86-64 micro-architecture levels: the QEMU model they build on and the
/// flags they add.
pub const LEVEL_MODELS: &[(&str, &str)] = &[
    ("x86-64-v2", "+popcnt;+pni;+sse4.1;+sse4.2;+ssse3"),
    ("x86-64-v2-AES", "+aes;+popcnt;+pni;+sse4.1;+sse4.2;+ssse3"),
    (
        "x86-64-v3",
        "+aes;+popcnt;+pni;+sse4.1;+sse4.2;+ssse3;+avx;+avx2;+bmi1;+bmi2;+f16c;+fma;+abm;+movbe;+xsave",
    ),
    (
        "x86-64-v4",
        "+aes;+popcnt;+pni;+sse4.1;+sse4.2;+ssse3;+avx;+avx2;+bmi1;+bmi2;+f16c;+fma;+abm;+movbe;+xsave;+avx512f;+avx512bw;+avx512cd;+avx512dq;+avx512vl",
    ),
];

/// Flags a VM config may toggle (custom models may use any flag).
pub const VM_FLAG_NAMES: &[&str] = &[
    "nested-virt",
    "md-clear",
    "pcid",
    "spec-ctrl",
    "ssbd",
    "ibpb",
    "virt-ssbd",
    "amd-ssbd",
    "amd-no-ssb",
    "pdpe1gb",
    "hv-tlbflush",
    "hv-evmcs",
    "aes",
];

/// The model used when `cpu` is not set.
pub const DEFAULT_MODEL: &str = "kvm64";

/// True for a model name a VM config may use: built-in, level model or `custom-<id>`.
pub fn is_known_model(name: &str) -> bool {
    if let Some(custom) = name.strip_prefix("custom-") {
        return super::formats::check_config_key(custom).is_ok();
    }
    REPORTED_MODELS.contains(&name) || LEVEL_MODELS.iter().any(|(n, _)| *n == name)
}

fn check_model(value: &str) -> Result<(), String> {
    if is_known_model(value) {
        Ok(())
    } else {
        Err(format!(
            "Built-in cputype '{value}' is not defined (missing 'custom-' prefix?)"
        ))
    }
}

fn check_vm_flags(value: &str) -> Result<(), String> {
    let flags =
        parse_flags(value).ok_or_else(|| "value does not match the regex pattern".to_string())?;
    if flags
        .iter()
        .all(|f| VM_FLAG_NAMES.contains(&f.name.as_str()))
    {
        Ok(())
    } else {
        Err(format!(
            "VM-specific CPU flags must be a subset of: {}",
            VM_FLAG_NAMES.join(", ")
        ))
    }
}

fn reject_reported_model(_: &str) -> Result<(), String> {
    Err("Property 'reported-model' not allowed in VM-specific CPU config.".into())
}

pub const CPU_MODEL: Format = Format::Named {
    name: "pve-cpu-model",
    check: check_model,
};
pub const VM_FLAGS: Format = Format::Named {
    name: "pve-vm-cpu-flags",
    check: check_vm_flags,
};
pub const NOT_IN_VM_CONFIG: Format = Format::Named {
    name: "pve-cpu-reported-model",
    check: reject_reported_model,
};

/// One `+flag` or `-flag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFlag {
    pub enable: bool,
    pub name: String,
}

impl fmt::Display for CpuFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.enable { '+' } else { '-' }, self.name)
    }
}

/// Parse `+aes;-pcid`; `None` if any item is malformed.
pub fn parse_flags(value: &str) -> Option<Vec<CpuFlag>> {
    value
        .split(';')
        .map(|item| {
            let (enable, name) = match item.split_at_checked(1)? {
                ("+", n) => (true, n),
                ("-", n) => (false, n),
                _ => return None,
            };
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            ok.then(|| CpuFlag {
                enable,
                name: name.to_string(),
            })
        })
        .collect()
}

/// The parsed `cpu` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuConfig {
    /// Model name (`host`, `kvm64`, `x86-64-v2-AES`, `custom-foo`, ...).
    pub cputype: String,
    /// Flags toggled on top of the model.
    pub flags: Vec<CpuFlag>,
    /// Hide the KVM signature from the guest.
    pub hidden: Option<bool>,
    /// Hyper-V vendor id.
    pub hv_vendor_id: Option<String>,
    /// `8`..`64` or `host`.
    pub phys_bits: Option<String>,
    /// Physical address bits for the guest, 32..64.
    pub guest_phys_bits: Option<i64>,
}

impl Default for CpuConfig {
    fn default() -> Self {
        CpuConfig {
            cputype: DEFAULT_MODEL.into(),
            flags: Vec::new(),
            hidden: None,
            hv_vendor_id: None,
            phys_bits: None,
            guest_phys_bits: None,
        }
    }
}

impl CpuConfig {
    /// A config with just a model.
    pub fn model(name: &str) -> Self {
        CpuConfig {
            cputype: name.into(),
            ..Default::default()
        }
    }

    /// Parse a `cpu` value.
    pub fn parse(text: &str) -> Result<Self, PsError> {
        let mut t = Take(psformats::cpu_format().parse(text)?);
        Ok(CpuConfig {
            cputype: t.string("cputype").unwrap_or_else(|| DEFAULT_MODEL.into()),
            flags: t
                .string("flags")
                .and_then(|f| parse_flags(&f))
                .unwrap_or_default(),
            hidden: t.boolean("hidden"),
            hv_vendor_id: t.string("hv-vendor-id"),
            phys_bits: t.string("phys-bits"),
            guest_phys_bits: t.int("guest-phys-bits"),
        })
    }

    /// Print in Proxmox's canonical form.
    pub fn print(&self) -> String {
        let flags = (!self.flags.is_empty()).then(|| {
            self.flags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(";")
        });
        let mut p = Put::default();
        p.string("cputype", Some(&self.cputype))
            .string("flags", flags)
            .boolean("hidden", self.hidden)
            .string("hv-vendor-id", self.hv_vendor_id.as_ref())
            .string("phys-bits", self.phys_bits.as_ref())
            .string("guest-phys-bits", self.guest_phys_bits);
        psformats::cpu_format().print(&p.0)
    }

    /// True for `host` (pass the host CPU through).
    pub fn is_host(&self) -> bool {
        self.cputype == "host"
    }

    /// For Proxmox's level models (`x86-64-v2-AES`, ...): the flags the level adds.
    pub fn level_flags(&self) -> Option<Vec<CpuFlag>> {
        LEVEL_MODELS
            .iter()
            .find(|(n, _)| *n == self.cputype)
            .and_then(|(_, f)| parse_flags(f))
    }
}

impl FromStr for CpuConfig {
    type Err = PsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CpuConfig::parse(s)
    }
}

impl fmt::Display for CpuConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.print())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxmox_examples_round_trip() {
        for (text, canonical) in [
            ("host", "host"),
            ("cputype=host", "host"),
            ("x86-64-v2-AES,flags=+aes", "x86-64-v2-AES,flags=+aes"),
            (
                "kvm64,flags=+pcid;-spec-ctrl",
                "kvm64,flags=+pcid;-spec-ctrl",
            ),
            ("max,hidden=1,phys-bits=host", "max,hidden=1,phys-bits=host"),
            (
                "flags=+md-clear,cputype=Skylake-Server,hv-vendor-id=proxmox",
                "Skylake-Server,flags=+md-clear,hv-vendor-id=proxmox",
            ),
            (
                "custom-mymodel,guest-phys-bits=40",
                "custom-mymodel,guest-phys-bits=40",
            ),
        ] {
            let cpu = CpuConfig::parse(text).unwrap();
            assert_eq!(cpu.print(), canonical, "{text}");
            assert_eq!(CpuConfig::parse(&cpu.print()).unwrap(), cpu);
        }
        let cpu = CpuConfig::parse("kvm64,flags=+pcid;-spec-ctrl").unwrap();
        assert_eq!(
            cpu.flags,
            vec![
                CpuFlag {
                    enable: true,
                    name: "pcid".into()
                },
                CpuFlag {
                    enable: false,
                    name: "spec-ctrl".into()
                }
            ]
        );
        assert!(CpuConfig::parse("host").unwrap().is_host());
        assert_eq!(
            CpuConfig::parse("x86-64-v2-AES")
                .unwrap()
                .level_flags()
                .unwrap()[0]
                .name,
            "aes"
        );
    }

    #[test]
    fn errors_name_the_sub_key() {
        let e = CpuConfig::parse("foo").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("cputype"));
        assert!(e.message.contains("not defined"), "{e}");
        let e = CpuConfig::parse("host,flags=+avx512f").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("flags"));
        assert!(e.message.contains("subset"));
        let e = CpuConfig::parse("host,flags=aes").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("flags"));
        let e = CpuConfig::parse("host,reported-model=kvm64").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("reported-model"));
        let e = CpuConfig::parse("host,phys-bits=99").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("phys-bits"));
        let e = CpuConfig::parse("flags=+aes").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("cputype"));
    }
}
