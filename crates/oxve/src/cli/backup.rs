//! `oxve backup` and `oxve restore`: Proxmox's `vzdump` and `qmrestore` / `pct restore` as
//! clients of the API. Both run on one node: `--node`, else the node of the daemon reached.

use anyhow::{anyhow, bail};
use oxve_router::HttpMethod;
use serde_json::Value;

use super::aliases::{follow_task_on, show_result, take_option, CommonOptions};
use super::api_cmd::parse_param_args;
use super::Client;

const BACKUP_USAGE: &str =
    "usage: oxve backup VMID... [--all 1] [--exclude LIST] [--mode snapshot|suspend|stop] \
     [--storage S] [--compress 0|1|gzip|lzo|zstd] [--pigz N] [--notes-template T] [--background] \
     [--stdout 1] ...";
const RESTORE_USAGE: &str =
    "usage: oxve restore ARCHIVE VMID [--storage S] [--force 1] [--unique 1] [--background] ...";

/// Handles `backup` / `restore`; `None` when `words` is another command.
pub async fn run(words: &[String]) -> Option<anyhow::Result<()>> {
    let (cmd, rest) = words.split_first()?;
    match cmd.as_str() {
        "backup" => Some(backup(rest.to_vec()).await),
        "restore" => Some(restore(rest.to_vec()).await),
        _ => None,
    }
}

/// Leading arguments that are not options.
fn take_positional(args: &mut Vec<String>) -> Vec<String> {
    let count = args.iter().take_while(|a| !a.starts_with('-')).count();
    args.drain(..count).collect()
}

/// The node to act on: `--node`, else the one the daemon says is local.
async fn node(client: &Client, explicit: Option<String>) -> anyhow::Result<String> {
    if let Some(node) = explicit {
        return Ok(node);
    }
    let status = client.call(HttpMethod::Get, "/cluster/status", &[]).await?;
    status
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "node" && e["local"].as_u64() == Some(1))
        .and_then(|e| e["name"].as_str().map(str::to_string))
        .ok_or_else(|| anyhow!("cannot tell the local node: give --node"))
}

async fn backup(mut args: Vec<String>) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{BACKUP_USAGE}");
        return Ok(());
    }
    let common = CommonOptions::take(&mut args)?;
    let explicit_node = take_option(&mut args, "--node");
    let vmids = take_positional(&mut args);
    let mut params = parse_param_args(&args)?;
    if !vmids.is_empty() {
        params.push(("vmid".into(), vmids.join(",")));
    } else if !params
        .iter()
        .any(|(k, _)| k == "vmid" || k == "all" || k == "exclude" || k == "pool")
    {
        bail!("no guests given\n{BACKUP_USAGE}");
    }
    let client = Client::connect(&common.connect).await?;
    let node = node(&client, explicit_node).await?;
    if take_stdout(&mut params) {
        return backup_to_stdout(&client, &node, params).await;
    }
    let data = client
        .call(HttpMethod::Post, &format!("/nodes/{node}/vzdump"), &params)
        .await?;
    show_result(&client, data, &common).await
}

/// Removes `--stdout` from the parameters; whether it was set.
fn take_stdout(params: &mut Vec<(String, String)>) -> bool {
    let mut on = false;
    params.retain(|(k, v)| {
        if k != "stdout" {
            return true;
        }
        on = matches!(v.as_str(), "1" | "true" | "yes" | "on");
        false
    });
    on
}

/// A directory removed with everything in it when dropped.
struct ScratchDir(std::path::PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `vzdump --stdout`: the archive of one guest written to stdout (the task log goes to
/// stderr). The API cannot stream to a client's stdout (Proxmox refuses `stdout` there too),
/// so the backup goes to a scratch dump directory (under `--tmpdir`, else /var/tmp), whose
/// archive is then copied out and removed.
async fn backup_to_stdout(
    client: &Client,
    node: &str,
    mut params: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let vmids = params
        .iter()
        .find(|(k, _)| k == "vmid")
        .map(|(_, v)| v.split([',', ' ', ';']).filter(|v| !v.is_empty()).count())
        .unwrap_or(0);
    if vmids != 1 || params.iter().any(|(k, _)| k == "all" || k == "pool") {
        bail!("you can only backup a single VM with option --stdout");
    }
    if params.iter().any(|(k, _)| k == "storage" || k == "dumpdir") {
        bail!("--stdout writes no file: do not give --storage or --dumpdir");
    }
    let base = params
        .iter()
        .find(|(k, _)| k == "tmpdir")
        .map_or("/var/tmp".into(), |(_, v)| v.clone());
    let scratch = ScratchDir(
        std::path::Path::new(&base).join(format!("oxve-vzdump-stdout-{}", std::process::id())),
    );
    std::fs::create_dir_all(&scratch.0)?;
    params.push(("dumpdir".into(), scratch.0.to_string_lossy().into_owned()));
    let data = client
        .call(HttpMethod::Post, &format!("/nodes/{node}/vzdump"), &params)
        .await?;
    let upid = data
        .as_str()
        .ok_or_else(|| anyhow!("vzdump returned no task: {data}"))?;
    follow_task_on(client, upid, true).await?;
    let archive = std::fs::read_dir(&scratch.0)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("vzdump-") && name.contains(".oxar") && !name.ends_with(".notes")
        })
        .ok_or_else(|| anyhow!("the backup task wrote no archive"))?;
    let mut file = std::fs::File::open(&archive)?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

/// The guest type an archive's name says (`vzdump-qemu-...` / `vzdump-lxc-...`).
fn archive_kind(archive: &str) -> Option<&'static str> {
    let name = archive.rsplit(['/', ':']).next().unwrap_or(archive);
    if name.starts_with("vzdump-qemu-") {
        Some("qemu")
    } else if name.starts_with("vzdump-lxc-") || name.starts_with("vzdump-openvz-") {
        Some("lxc")
    } else {
        None
    }
}

/// A backup volume id as given; a local file as its absolute path (as `qmrestore` takes).
fn archive_param(archive: &str) -> String {
    let path = std::path::Path::new(archive);
    if !archive.starts_with('/') && path.is_file() {
        if let Ok(abs) = path.canonicalize() {
            return abs.to_string_lossy().into_owned();
        }
    }
    archive.to_string()
}

async fn restore(mut args: Vec<String>) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{RESTORE_USAGE}");
        return Ok(());
    }
    let common = CommonOptions::take(&mut args)?;
    let explicit_node = take_option(&mut args, "--node");
    let positional = take_positional(&mut args);
    let [archive, vmid] = positional.as_slice() else {
        bail!("{RESTORE_USAGE}");
    };
    let kind = archive_kind(archive).ok_or_else(|| {
        anyhow!("'{archive}' is not a vzdump archive name (vzdump-qemu-... or vzdump-lxc-...)")
    })?;
    let archive = archive_param(archive);
    let mut params = vec![("vmid".to_string(), vmid.clone())];
    if kind == "qemu" {
        params.push(("archive".into(), archive));
    } else {
        params.push(("ostemplate".into(), archive));
        params.push(("restore".into(), "1".into()));
    }
    params.extend(parse_param_args(&args)?);
    let client = Client::connect(&common.connect).await?;
    let node = node(&client, explicit_node).await?;
    let data: Value = client
        .call(HttpMethod::Post, &format!("/nodes/{node}/{kind}"), &params)
        .await?;
    show_result(&client, data, &common).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_kind_from_name() {
        assert_eq!(
            archive_kind("local:backup/vzdump-qemu-100-2026_01_02-03_04_05.oxar.zst"),
            Some("qemu")
        );
        assert_eq!(
            archive_kind("/var/lib/vz/dump/vzdump-lxc-101-2026_01_02-03_04_05.oxar"),
            Some("lxc")
        );
        assert_eq!(archive_kind("vzdump-lxc-101-x.tar.gz"), Some("lxc"));
        assert_eq!(archive_kind("local:backup/other.tar"), None);
    }

    #[test]
    fn leading_words_are_positional() {
        let mut args: Vec<String> = ["100", "101", "--mode", "stop", "--all"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(take_positional(&mut args), ["100", "101"]);
        assert_eq!(args, ["--mode", "stop", "--all"]);
    }
}
