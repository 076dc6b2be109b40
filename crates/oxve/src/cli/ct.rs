//! `oxve ct exec VMID -- CMD...` and `oxve ct enter VMID`: like `pct exec` / `pct enter`,
//! local to the node (root only). They attach to the running container with `lxc-attach`
//! under the daemon's run dir, which is the directory of its CLI socket.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};

fn lxc_path(args: &mut Vec<String>) -> PathBuf {
    let socket = match args.iter().position(|a| a == "--socket") {
        Some(i) if i + 1 < args.len() => {
            let v = args.remove(i + 1);
            args.remove(i);
            v
        }
        _ => std::env::var("OXVE_SOCKET").unwrap_or_else(|_| "/run/oxve/oxve.sock".into()),
    };
    PathBuf::from(socket)
        .parent()
        .map(|p| p.join("lxc"))
        .unwrap_or_else(|| PathBuf::from("/run/oxve/lxc"))
}

/// Handle `ct exec` / `ct enter`; `None` when `words` is another command.
pub fn run_local(words: &[String]) -> Option<anyhow::Result<()>> {
    let cmd = match words {
        [ct, sub, ..] if ct == "ct" && (sub == "exec" || sub == "enter") => sub.clone(),
        _ => return None,
    };
    Some(attach(&cmd, words[2..].to_vec()))
}

fn attach(cmd: &str, mut args: Vec<String>) -> anyhow::Result<()> {
    let lxc_path = lxc_path(&mut args);
    let vmid = args
        .first()
        .ok_or_else(|| {
            anyhow!(
                "usage: oxve ct {cmd} VMID{}",
                if cmd == "exec" { " -- CMD..." } else { "" }
            )
        })?
        .clone();
    oxve_types::format::check_vmid(&vmid).map_err(|e| anyhow!("VMID: {e}"))?;
    if !lxc_path.join(&vmid).join("config").exists() {
        bail!(
            "CT {vmid} is not running on this node (no run files under {})",
            lxc_path.display()
        );
    }
    let mut command = std::process::Command::new("lxc-attach");
    command
        .args(["-n", &vmid, "-P"])
        .arg(&lxc_path)
        .args(["--clear-env", "--keep-var", "TERM"]);
    if cmd == "exec" {
        let rest: Vec<String> = args[1..]
            .iter()
            .skip_while(|a| *a == "--")
            .cloned()
            .collect();
        if rest.is_empty() {
            bail!("usage: oxve ct exec VMID -- CMD...");
        }
        command.arg("--").args(rest);
    }
    // replace this process: the container's command owns the terminal and the exit code
    let err = command.exec();
    Err(err).context("running lxc-attach")
}
