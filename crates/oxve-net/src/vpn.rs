//! WireGuard access to a NAT bridge: an endpoint on the host (kernel WireGuard where the
//! kernel has it, `wireguard-go` otherwise) whose peers are routed into the bridge's subnet.
//! Keys are made with `wg genkey`; the endpoint's private key stays in the node's private
//! data dir, a peer's private key is only ever returned once, inside its config.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;
use crate::error::{NetError, Result};
use crate::netlink::{Netlink, NewLink};

/// A WireGuard endpoint serving one bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnEndpoint {
    pub bridge: String,
    pub ifname: String,
    pub listen_port: u16,
    /// The endpoint's tunnel address and the tunnel subnet (`10.200.0.1/24`).
    pub address: String,
    pub private_key: String,
    pub public_key: String,
    #[serde(default)]
    pub peers: Vec<VpnPeer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnPeer {
    pub name: String,
    pub public_key: String,
    pub address: Ipv4Addr,
}

/// Every endpoint of the node (`<data_dir>/network/vpn.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnConfig {
    pub endpoints: Vec<VpnEndpoint>,
}

fn cmd_err(command: &str, message: impl Into<String>) -> NetError {
    NetError::Command {
        command: command.into(),
        message: message.into(),
    }
}

/// Run `wg` with `input` on stdin; its stdout.
fn wg(args: &[&str], input: Option<&str>) -> Result<String> {
    let mut child = Command::new("wg")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| cmd_err("wg", format!("{e} (is wireguard-tools installed?)")))?;
    if let Some(input) = input {
        child
            .stdin
            .take()
            .ok_or_else(|| cmd_err("wg", "no stdin"))?
            .write_all(input.as_bytes())
            .map_err(|e| cmd_err("wg", e.to_string()))?;
    } else {
        drop(child.stdin.take());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| cmd_err("wg", e.to_string()))?;
    if !out.status.success() {
        return Err(cmd_err(
            &format!("wg {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A new key pair: (private, public), base64.
pub fn keypair() -> Result<(String, String)> {
    let private = wg(&["genkey"], None)?;
    let public = wg(&["pubkey"], Some(&format!("{private}\n")))?;
    Ok((private, public))
}

impl VpnConfig {
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(t) => serde_json::from_str(&t)
                .map_err(|e| NetError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(VpnConfig::default()),
            Err(e) => Err(NetError::io("reading", path, e)),
        }
    }

    /// Saved readable by root only: it holds private keys.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let text =
            serde_json::to_string_pretty(self).map_err(|e| NetError::Invalid(e.to_string()))?;
        crate::service::write_atomic(path, &text)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| NetError::io("securing", path, e))
    }

    pub fn endpoint(&self, bridge: &str) -> Option<&VpnEndpoint> {
        self.endpoints.iter().find(|e| e.bridge == bridge)
    }

    pub fn endpoint_mut(&mut self, bridge: &str) -> Option<&mut VpnEndpoint> {
        self.endpoints.iter_mut().find(|e| e.bridge == bridge)
    }
}

impl VpnEndpoint {
    pub fn tunnel(&self) -> Result<Ipv4Cidr> {
        self.address
            .parse()
            .map_err(|e: String| NetError::Invalid(format!("{}: {e}", self.ifname)))
    }

    /// The next free tunnel address for a peer.
    pub fn free_address(&self) -> Result<Ipv4Addr> {
        let tunnel = self.tunnel()?;
        (2..)
            .map_while(|n| tunnel.host(n))
            .find(|ip| *ip != tunnel.addr && !self.peers.iter().any(|p| p.address == *ip))
            .ok_or_else(|| {
                NetError::Invalid(format!("no free address left in {}", tunnel.subnet()))
            })
    }

    /// The wg-quick style config a peer uses to connect.
    pub fn peer_config(
        &self,
        peer: &VpnPeer,
        peer_private: &str,
        endpoint_host: &str,
        bridge_subnet: &Ipv4Cidr,
    ) -> Result<String> {
        let tunnel = self.tunnel()?;
        Ok(format!(
            "[Interface]\nPrivateKey = {peer_private}\nAddress = {}/{}\n\n[Peer]\nPublicKey = {}\nEndpoint = {endpoint_host}:{}\nAllowedIPs = {}, {}\nPersistentKeepalive = 25\n",
            peer.address,
            tunnel.prefix,
            self.public_key,
            self.listen_port,
            bridge_subnet.subnet(),
            tunnel.subnet(),
        ))
    }
}

/// Bring the endpoint's device up with its keys, port, address and peers.
pub async fn apply_endpoint(nl: &Netlink, ep: &VpnEndpoint, key_dir: &Path) -> Result<String> {
    let mut how = "kernel WireGuard";
    if nl.link(&ep.ifname).await?.is_none() {
        match nl.add(&ep.ifname, &NewLink::Wireguard).await {
            Ok(()) => {}
            Err(NetError::Unsupported { .. }) => {
                // userspace WireGuard: wireguard-go makes a tun device and daemonizes
                how = "wireguard-go (no kernel WireGuard)";
                let out = Command::new("wireguard-go")
                    .arg(&ep.ifname)
                    .output()
                    .map_err(|e| {
                        cmd_err("wireguard-go", format!("{e} (is wireguard-go installed?)"))
                    })?;
                if !out.status.success() {
                    return Err(cmd_err(
                        "wireguard-go",
                        String::from_utf8_lossy(&out.stderr).trim(),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    } else {
        how = "existing device";
    }
    let key_file = key_dir.join(format!("{}.key", ep.ifname));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key_file)
            .map_err(|e| NetError::io("writing", &key_file, e))?;
        f.write_all(ep.private_key.as_bytes())
            .map_err(|e| NetError::io("writing", &key_file, e))?;
    }
    let mut conf = format!("[Interface]\nListenPort = {}\n", ep.listen_port);
    for p in &ep.peers {
        conf.push_str(&format!(
            "\n[Peer]\nPublicKey = {}\nAllowedIPs = {}/32\n",
            p.public_key, p.address
        ));
    }
    let conf_file = key_dir.join(format!("{}.conf", ep.ifname));
    crate::service::write_atomic(&conf_file, &conf)?;
    let set = wg(&["setconf", &ep.ifname, &conf_file.to_string_lossy()], None).and_then(|_| {
        wg(
            &[
                "set",
                &ep.ifname,
                "private-key",
                &key_file.to_string_lossy(),
            ],
            None,
        )
    });
    let _ = std::fs::remove_file(&key_file);
    set?;
    let link = nl.require(&ep.ifname).await?;
    let tunnel = ep.tunnel()?;
    nl.add_address(&link, IpAddr::V4(tunnel.addr), tunnel.prefix)
        .await?;
    nl.set_up(&link, true).await?;
    Ok(how.to_string())
}

/// Remove the endpoint's device (wireguard-go exits with it).
pub async fn remove_endpoint(nl: &Netlink, ifname: &str) -> Result<()> {
    if let Some(link) = nl.link(ifname).await? {
        nl.delete(&link).await?;
    }
    Ok(())
}
