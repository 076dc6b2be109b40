//! Files oxve writes inside a container's root file system: hostname, hosts, DNS, root's
//! password and SSH keys (what pve-container's setup modules do for the common cases).
//! Every file is owned by the container's root (host uid 100000 when unprivileged).

use std::io::Write;
use std::os::unix::fs::{lchown, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use oxve_types::lxc::CtConfig;

use crate::error::{io, LxcError, Result};

/// Ids of the container's root as the host sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootIds {
    pub uid: u32,
    pub gid: u32,
}

impl RootIds {
    pub fn for_config(conf: &CtConfig) -> RootIds {
        let (uid, gid) = crate::lxcconf::root_host_ids(conf);
        RootIds { uid, gid }
    }
}

/// A path under `root`, refusing symlinks on the way (the container's files are not
/// trusted: `/etc` could point anywhere on the host).
fn inside(root: &Path, rel: &str) -> Result<PathBuf> {
    let mut path = root.to_path_buf();
    let rel = Path::new(rel.trim_start_matches('/'));
    let parts: Vec<Component> = rel.components().collect();
    for (i, c) in parts.iter().enumerate() {
        let Component::Normal(name) = c else {
            return Err(LxcError::Config {
                vmid: 0,
                key: "setup".into(),
                message: format!("bad path {}", rel.display()),
            });
        };
        path.push(name);
        let last = i + 1 == parts.len();
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if meta.file_type().is_symlink() && !last {
                return Err(LxcError::Config {
                    vmid: 0,
                    key: "setup".into(),
                    message: format!("{} is a symlink", path.display()),
                });
            }
        }
    }
    Ok(path)
}

/// Write a file inside the container (replacing it; never following a symlink there).
pub fn write_file(root: &Path, rel: &str, content: &str, mode: u32, ids: RootIds) -> Result<()> {
    let path = inside(root, rel)?;
    if let Some(parent) = path.parent() {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
            lchown(parent, Some(ids.uid), Some(ids.gid)).map_err(io("chown", parent))?;
        }
    }
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(&path).map_err(io("removing", &path))?;
    }
    let tmp = path.with_extension("oxve-tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("writing", &tmp))?;
    f.write_all(content.as_bytes())
        .map_err(io("writing", &tmp))?;
    drop(f);
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
        .map_err(io("chmod", &tmp))?;
    lchown(&tmp, Some(ids.uid), Some(ids.gid)).map_err(io("chown", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io("renaming", &path))
}

fn read_file(root: &Path, rel: &str) -> Option<String> {
    let path = inside(root, rel).ok()?;
    if std::fs::symlink_metadata(&path)
        .ok()?
        .file_type()
        .is_symlink()
    {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// `/etc/hosts` with the `127.0.1.1 <hostname>` line replaced or added.
pub fn hosts_with(current: &str, hostname: &str) -> String {
    let short = hostname.split('.').next().unwrap_or(hostname);
    let entry = if short == hostname {
        format!("127.0.1.1 {hostname}")
    } else {
        format!("127.0.1.1 {hostname} {short}")
    };
    let mut lines: Vec<String> = current
        .lines()
        .filter(|l| !l.trim_start().starts_with("127.0.1.1"))
        .map(str::to_string)
        .collect();
    lines.push(entry);
    lines.join("\n") + "\n"
}

/// `/etc/shadow` with root's password hash replaced.
pub fn shadow_with(current: &str, hash: &str) -> String {
    let mut found = false;
    let mut lines: Vec<String> = current
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split(':').collect();
            if fields.first() == Some(&"root") && fields.len() > 1 {
                found = true;
                fields[1] = hash;
                fields.join(":")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        lines.insert(0, format!("root:{hash}:19000:0:99999:7:::"));
    }
    lines.join("\n") + "\n"
}

/// A SHA-512 crypt hash (`$6$salt$...`), as `/etc/shadow` holds them.
pub fn hash_password(password: &str) -> Result<String> {
    let params = sha_crypt::Sha512Params::new(5000).map_err(|e| LxcError::Tool {
        tool: "sha512-crypt".into(),
        message: format!("{e:?}"),
    })?;
    sha_crypt::sha512_simple(password, &params).map_err(|e| LxcError::Tool {
        tool: "sha512-crypt".into(),
        message: format!("{e:?}"),
    })
}

/// Write hostname, hosts and DNS settings from the config (on create and before each
/// start). `unmanaged` containers are left alone, as in Proxmox.
pub fn apply_config(root: &Path, vmid: u32, conf: &CtConfig) -> Result<()> {
    if conf.ostype() == Some("unmanaged") {
        return Ok(());
    }
    let ids = RootIds::for_config(conf);
    let hostname = conf
        .hostname()
        .map(str::to_string)
        .unwrap_or_else(|| format!("CT{vmid}"));
    write_file(root, "etc/hostname", &format!("{hostname}\n"), 0o644, ids)?;
    let hosts = read_file(root, "etc/hosts").unwrap_or_else(|| "127.0.0.1 localhost\n".into());
    write_file(
        root,
        "etc/hosts",
        &hosts_with(&hosts, &hostname),
        0o644,
        ids,
    )?;
    if matches!(conf.ostype(), Some("debian" | "ubuntu" | "devuan")) {
        write_file(
            root,
            "etc/network/interfaces",
            &debian_interfaces(conf),
            0o644,
            ids,
        )?;
    }
    let nameservers: Vec<&str> = conf
        .get("nameserver")
        .map(|n| oxve_types::format::split_list(n).collect())
        .unwrap_or_default();
    let search = conf.get("searchdomain");
    if !nameservers.is_empty() || search.is_some() {
        let mut text = String::new();
        if let Some(s) = search {
            text.push_str(&format!(
                "search {}\n",
                oxve_types::format::split_list(s)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        for ns in nameservers {
            text.push_str(&format!("nameserver {ns}\n"));
        }
        write_file(root, "etc/resolv.conf", &text, 0o644, ids)?;
    }
    Ok(())
}

/// `/etc/network/interfaces` for ifupdown (Debian and derivatives) from the `netN` keys;
/// LXC has already configured static addresses, this keeps them (and DHCP) across
/// `networking.service` inside.
pub fn debian_interfaces(conf: &CtConfig) -> String {
    let mut out = String::from("auto lo\niface lo inet loopback\n");
    for (_, net) in conf.nets() {
        let name = net.name();
        match net.ip().as_deref() {
            Some("dhcp") => out.push_str(&format!("\nauto {name}\niface {name} inet dhcp\n")),
            Some("manual") => out.push_str(&format!("\nauto {name}\niface {name} inet manual\n")),
            Some(cidr) => {
                out.push_str(&format!(
                    "\nauto {name}\niface {name} inet static\n\taddress {cidr}\n"
                ));
                if let Some(gw) = net.gw() {
                    out.push_str(&format!("\tgateway {gw}\n"));
                }
            }
            None => {}
        }
        match net.ip6().as_deref() {
            Some("auto") => out.push_str(&format!("\niface {name} inet6 auto\n")),
            Some("dhcp") => out.push_str(&format!("\niface {name} inet6 dhcp\n")),
            Some("manual") | None => {}
            Some(cidr) => {
                out.push_str(&format!("\niface {name} inet6 static\n\taddress {cidr}\n"));
                if let Some(gw) = net.gw6() {
                    out.push_str(&format!("\tgateway {gw}\n"));
                }
            }
        }
    }
    out
}

/// The settings [`apply_config`] writes, with the rootfs they went to: when unchanged, a
/// start can skip the setup.
pub fn stamp(vmid: u32, conf: &CtConfig, rootfs: &Path) -> String {
    let keys = [
        "hostname",
        "nameserver",
        "searchdomain",
        "ostype",
        "unprivileged",
    ];
    let mut out = format!("vmid={vmid}\nrootfs={}\n", rootfs.display());
    for key in keys {
        out.push_str(&format!("{key}={}\n", conf.get(key).unwrap_or("")));
    }
    for (i, net) in conf.nets() {
        out.push_str(&format!("net{i}={}\n", net.print()));
    }
    out
}

/// Set root's password (hashed) and SSH keys, on create.
pub fn set_root_credentials(
    root: &Path,
    ids: RootIds,
    password: Option<&str>,
    ssh_keys: Option<&str>,
) -> Result<()> {
    if let Some(password) = password {
        let hash = hash_password(password)?;
        let shadow = read_file(root, "etc/shadow").unwrap_or_default();
        write_file(root, "etc/shadow", &shadow_with(&shadow, &hash), 0o640, ids)?;
    }
    if let Some(keys) = ssh_keys.map(str::trim).filter(|k| !k.is_empty()) {
        let dir = inside(root, "root/.ssh")?;
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("chmod", &dir))?;
        lchown(&dir, Some(ids.uid), Some(ids.gid)).map_err(io("chown", &dir))?;
        write_file(
            root,
            "root/.ssh/authorized_keys",
            &format!("{keys}\n"),
            0o600,
            ids,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn hosts_and_shadow_lines() {
        assert_eq!(
            hosts_with("127.0.0.1 localhost\n127.0.1.1 old\n", "web.example.com"),
            "127.0.0.1 localhost\n127.0.1.1 web.example.com web\n"
        );
        assert_eq!(
            shadow_with("root:*:19000:0:99999:7:::\nnobody:*:1::::::\n", "$6$x$y"),
            "root:$6$x$y:19000:0:99999:7:::\nnobody:*:1::::::\n"
        );
        assert!(shadow_with("", "h").starts_with("root:h:"));
    }

    #[test]
    fn debian_interfaces_from_nets() {
        let conf = CtConfig::parse(
            "ostype: debian\nnet0: name=eth0,bridge=vmbr0,ip=10.0.0.2/24,gw=10.0.0.1,ip6=auto\n\
             net1: name=eth1,ip=dhcp\nrootfs: local:1/x.raw\n",
        )
        .unwrap();
        assert_eq!(
            debian_interfaces(&conf),
            "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress 10.0.0.2/24\n\tgateway 10.0.0.1\n\niface eth0 inet6 auto\n\nauto eth1\niface eth1 inet dhcp\n"
        );
        let other = CtConfig::parse("net0: name=eth0,ip=dhcp\nrootfs: local:1/x.raw\n").unwrap();
        assert_ne!(
            stamp(1, &conf, Path::new("/x")),
            stamp(1, &other, Path::new("/x"))
        );
    }

    #[test]
    fn password_hash_verifies() {
        let h = hash_password("s3cret-pw").unwrap();
        assert!(h.starts_with("$6$"), "{h}");
        assert!(sha_crypt::sha512_check("s3cret-pw", &h).is_ok());
        assert!(sha_crypt::sha512_check("other", &h).is_err());
    }

    #[test]
    fn writes_files_owned_by_the_containers_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/shadow"), "root:*:1:0:99999:7:::\n").unwrap();
        let conf = CtConfig::parse(
            "hostname: ct1\nnameserver: 10.0.0.53\nsearchdomain: example.com\nrootfs: local:1/x.raw\n",
        )
        .unwrap();
        apply_config(root, 100, &conf).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
            "ct1\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/resolv.conf")).unwrap(),
            "search example.com\nnameserver 10.0.0.53\n"
        );
        let ids = RootIds { uid: 0, gid: 0 };
        set_root_credentials(root, ids, Some("passw0rd"), Some("ssh-ed25519 AAAA test")).unwrap();
        let shadow = std::fs::read_to_string(root.join("etc/shadow")).unwrap();
        assert!(shadow.starts_with("root:$6$"));
        let keys = root.join("root/.ssh/authorized_keys");
        assert_eq!(
            std::fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 AAAA test\n"
        );
        assert_eq!(std::fs::metadata(&keys).unwrap().mode() & 0o777, 0o600);
        // a symlinked /etc in the container is refused, never followed
        std::fs::remove_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/tmp", root.join("etc")).unwrap();
        assert!(apply_config(root, 100, &conf).is_err());
    }
}
