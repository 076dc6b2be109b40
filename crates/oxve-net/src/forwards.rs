//! Port forwards (DNAT) from the host to guests on NAT bridges: the model, its checks and its
//! file (`<data_dir>/network/forwards.json`).

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;
use crate::error::{ConfigError, NetError, Result};
use crate::interfaces::InterfacesFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// `host:host_port/proto` forwarded to `guest:guest_port` on `bridge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    pub bridge: String,
    pub proto: Proto,
    pub host_port: u16,
    pub guest: Ipv4Addr,
    pub guest_port: u16,
    /// Only clients from this network may use the forward.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_cidr")]
    pub source: Option<Ipv4Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

mod opt_cidr {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::cidr::Ipv4Cidr;

    pub fn serialize<S: Serializer>(v: &Option<Ipv4Cidr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(c) => s.serialize_str(&c.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv4Cidr>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Forward {
    /// The forward's id: protocol and host port (each may be forwarded once per node).
    pub fn id(&self) -> String {
        format!("{}-{}", self.proto.as_str(), self.host_port)
    }
}

/// Split an id `tcp-8080` into its parts.
pub fn parse_id(id: &str) -> Option<(Proto, u16)> {
    let (p, port) = id.split_once('-')?;
    Some((Proto::parse(p)?, port.parse().ok().filter(|p| *p > 0)?))
}

/// The forwards of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwards {
    pub forwards: Vec<Forward>,
}

fn conflict(bridge: &str, param: &str, message: String) -> NetError {
    NetError::Config(ConfigError {
        iface: bridge.to_string(),
        param: param.to_string(),
        message,
    })
}

impl Forwards {
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| NetError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Forwards::default()),
            Err(e) => Err(NetError::io("reading", path, e)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| NetError::Invalid(e.to_string()))?;
        crate::service::write_atomic(path, &text)
    }

    pub fn get(&self, id: &str) -> Option<&Forward> {
        self.forwards.iter().find(|f| f.id() == id)
    }

    /// Check `fwd` against the interfaces and the other forwards (`replacing` is the id of the
    /// forward it replaces, if any).
    pub fn check(
        &self,
        fwd: &Forward,
        file: &InterfacesFile,
        replacing: Option<&str>,
    ) -> Result<()> {
        let bridge = &fwd.bridge;
        let iface = file
            .ifaces
            .get(bridge)
            .ok_or_else(|| conflict(bridge, "iface", "interface does not exist".into()))?;
        if !iface.is_nat() {
            return Err(conflict(
                bridge,
                "iface",
                format!("'{bridge}' is not a NAT bridge (set nat=1)"),
            ));
        }
        let cidr = iface.cidr().ok_or_else(|| {
            conflict(bridge, "iface", "the NAT bridge has no IPv4 address".into())
        })?;
        if !cidr.contains(fwd.guest) || fwd.guest == cidr.network() || fwd.guest == cidr.broadcast()
        {
            return Err(conflict(
                bridge,
                "guest",
                format!("{} is not a guest address in {}", fwd.guest, cidr.subnet()),
            ));
        }
        if fwd.guest == cidr.addr {
            return Err(conflict(
                bridge,
                "guest",
                format!("{} is the bridge's own address", fwd.guest),
            ));
        }
        let id = fwd.id();
        if self
            .forwards
            .iter()
            .any(|f| f.id() == id && Some(id.as_str()) != replacing)
        {
            return Err(conflict(
                bridge,
                "dport",
                format!(
                    "{} port {} is already forwarded",
                    fwd.proto.as_str(),
                    fwd.host_port
                ),
            ));
        }
        Ok(())
    }

    /// Add or replace (by id `replacing`) a forward after checking it.
    pub fn upsert(
        &mut self,
        fwd: Forward,
        file: &InterfacesFile,
        replacing: Option<&str>,
    ) -> Result<()> {
        self.check(&fwd, file, replacing)?;
        if let Some(old) = replacing {
            self.forwards.retain(|f| f.id() != old);
        }
        self.forwards.push(fwd);
        self.forwards
            .sort_by_key(|f| (f.bridge.clone(), f.proto.as_str(), f.host_port));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(port: u16, guest: &str) -> Forward {
        Forward {
            bridge: "vmbr1".into(),
            proto: Proto::Tcp,
            host_port: port,
            guest: guest.parse().unwrap(),
            guest_port: 80,
            source: None,
            comment: None,
        }
    }

    #[test]
    fn forwards_are_checked() {
        let file = crate::interfaces::parse(
            "auto vmbr1\niface vmbr1 inet static\n\taddress 10.10.0.1/24\n\tbridge-ports none\n\toxve-nat 1\n\nauto vmbr2\niface vmbr2 inet static\n\taddress 10.20.0.1/24\n\tbridge-ports none\n",
        );
        let mut all = Forwards::default();
        all.upsert(fwd(8080, "10.10.0.5"), &file, None).unwrap();
        let e = all.upsert(fwd(8080, "10.10.0.6"), &file, None).unwrap_err();
        assert!(e.to_string().contains("already forwarded"), "{e}");
        all.upsert(fwd(8080, "10.10.0.6"), &file, Some("tcp-8080"))
            .unwrap();
        assert_eq!(all.forwards.len(), 1);
        assert!(all
            .upsert(fwd(8081, "10.99.0.6"), &file, None)
            .unwrap_err()
            .to_string()
            .contains("not a guest address"));
        assert!(all
            .upsert(fwd(8081, "10.10.0.1"), &file, None)
            .unwrap_err()
            .to_string()
            .contains("bridge's own"));
        let mut other = fwd(8082, "10.20.0.5");
        other.bridge = "vmbr2".into();
        assert!(all
            .upsert(other, &file, None)
            .unwrap_err()
            .to_string()
            .contains("not a NAT bridge"));
        assert_eq!(parse_id("udp-53"), Some((Proto::Udp, 53)));
        assert_eq!(parse_id("icmp-1"), None);
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(serde_json::from_str::<Forwards>(&json).unwrap(), all);
    }
}
