//! Short commands for everyday calls, each a fixed API method with positional parameters:
//! `oxve user add alice@pve --password x` is `oxve api create /access/users --userid ...`.

use anyhow::{anyhow, bail};
use oxve_router::HttpMethod;

use super::api_cmd::parse_param_args;
use super::output::{print_value, OutputFormat};
use super::{Client, ConnectArgs};

struct Alias {
    words: &'static [&'static str],
    method: HttpMethod,
    /// Path with `{name}` filled from positional arguments in order.
    path: &'static str,
    /// Positional arguments that become body/query parameters, after the path's.
    positional: &'static [&'static str],
    help: &'static str,
}

const ALIASES: &[Alias] = &[
    Alias {
        words: &["user", "list"],
        method: HttpMethod::Get,
        path: "/access/users",
        positional: &[],
        help: "list users",
    },
    Alias {
        words: &["user", "add"],
        method: HttpMethod::Post,
        path: "/access/users",
        positional: &["userid"],
        help: "USERID [--password P] [--groups G] ...",
    },
    Alias {
        words: &["user", "modify"],
        method: HttpMethod::Put,
        path: "/access/users/{userid}",
        positional: &[],
        help: "USERID [--enable 0|1] [--groups G] ...",
    },
    Alias {
        words: &["user", "delete"],
        method: HttpMethod::Delete,
        path: "/access/users/{userid}",
        positional: &[],
        help: "USERID",
    },
    Alias {
        words: &["user", "passwd"],
        method: HttpMethod::Put,
        path: "/access/password",
        positional: &["userid", "password"],
        help: "USERID PASSWORD",
    },
    Alias {
        words: &["user", "token", "list"],
        method: HttpMethod::Get,
        path: "/access/users/{userid}/token",
        positional: &[],
        help: "USERID",
    },
    Alias {
        words: &["user", "token", "add"],
        method: HttpMethod::Post,
        path: "/access/users/{userid}/token/{tokenid}",
        positional: &[],
        help: "USERID TOKENID [--privsep 0|1]",
    },
    Alias {
        words: &["user", "token", "remove"],
        method: HttpMethod::Delete,
        path: "/access/users/{userid}/token/{tokenid}",
        positional: &[],
        help: "USERID TOKENID",
    },
    Alias {
        words: &["user", "permissions"],
        method: HttpMethod::Get,
        path: "/access/permissions",
        positional: &["userid"],
        help: "[USERID] [--path P]",
    },
    Alias {
        words: &["group", "list"],
        method: HttpMethod::Get,
        path: "/access/groups",
        positional: &[],
        help: "list groups",
    },
    Alias {
        words: &["group", "add"],
        method: HttpMethod::Post,
        path: "/access/groups",
        positional: &["groupid"],
        help: "GROUPID [--comment C]",
    },
    Alias {
        words: &["group", "delete"],
        method: HttpMethod::Delete,
        path: "/access/groups/{groupid}",
        positional: &[],
        help: "GROUPID",
    },
    Alias {
        words: &["role", "list"],
        method: HttpMethod::Get,
        path: "/access/roles",
        positional: &[],
        help: "list roles",
    },
    Alias {
        words: &["role", "add"],
        method: HttpMethod::Post,
        path: "/access/roles",
        positional: &["roleid"],
        help: "ROLEID --privs P1,P2",
    },
    Alias {
        words: &["role", "delete"],
        method: HttpMethod::Delete,
        path: "/access/roles/{roleid}",
        positional: &[],
        help: "ROLEID",
    },
    Alias {
        words: &["acl", "list"],
        method: HttpMethod::Get,
        path: "/access/acl",
        positional: &[],
        help: "list ACL entries",
    },
    Alias {
        words: &["acl", "modify"],
        method: HttpMethod::Put,
        path: "/access/acl",
        positional: &["path"],
        help: "PATH --roles R [--users U] [--groups G] [--tokens T] [--propagate 0|1] [--delete 1]",
    },
    Alias {
        words: &["task", "list"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/tasks",
        positional: &[],
        help: "NODE [--limit N] [--vmid ID] ...",
    },
    Alias {
        words: &["task", "status"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/tasks/{upid}/status",
        positional: &[],
        help: "NODE UPID",
    },
    Alias {
        words: &["task", "log"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/tasks/{upid}/log",
        positional: &[],
        help: "NODE UPID [--start N] [--limit N]",
    },
    Alias {
        words: &["task", "stop"],
        method: HttpMethod::Delete,
        path: "/nodes/{node}/tasks/{upid}",
        positional: &[],
        help: "NODE UPID",
    },
    Alias {
        words: &["node", "list"],
        method: HttpMethod::Get,
        path: "/nodes",
        positional: &[],
        help: "list nodes",
    },
    Alias {
        words: &["node", "status"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/status",
        positional: &[],
        help: "NODE",
    },
    Alias {
        words: &["cluster", "resources"],
        method: HttpMethod::Get,
        path: "/cluster/resources",
        positional: &[],
        help: "[--type vm|node|storage]",
    },
    Alias {
        words: &["cluster", "nextid"],
        method: HttpMethod::Get,
        path: "/cluster/nextid",
        positional: &[],
        help: "next free VMID",
    },
    Alias {
        words: &["version"],
        method: HttpMethod::Get,
        path: "/version",
        positional: &[],
        help: "API version",
    },
    Alias {
        words: &["storage", "list"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/storage",
        positional: &[],
        help: "NODE",
    },
    Alias {
        words: &["storage", "add"],
        method: HttpMethod::Post,
        path: "/storage",
        positional: &["type", "storage"],
        help: "TYPE STORAGE --path P [--content C] ...",
    },
    Alias {
        words: &["storage", "set"],
        method: HttpMethod::Put,
        path: "/storage/{storage}",
        positional: &[],
        help: "STORAGE [--content C] [--delete OPTS] ...",
    },
    Alias {
        words: &["storage", "remove"],
        method: HttpMethod::Delete,
        path: "/storage/{storage}",
        positional: &[],
        help: "STORAGE",
    },
    Alias {
        words: &["storage", "content"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/storage/{storage}/content",
        positional: &[],
        help: "NODE STORAGE [--content C] [--vmid ID]",
    },
    Alias {
        words: &["storage", "alloc"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/storage/{storage}/content",
        positional: &["vmid", "filename", "size"],
        help: "NODE STORAGE VMID FILENAME SIZE [--format F]",
    },
    Alias {
        words: &["vm", "list"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/qemu",
        positional: &[],
        help: "NODE",
    },
    Alias {
        words: &["vm", "create"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu",
        positional: &["vmid"],
        help: "NODE VMID [--memory M] [--scsi0 STORAGE:SIZE] [--net0 virtio,bridge=vmbr0] ...",
    },
    Alias {
        words: &["vm", "config"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/qemu/{vmid}/config",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "set"],
        method: HttpMethod::Put,
        path: "/nodes/{node}/qemu/{vmid}/config",
        positional: &[],
        help: "NODE VMID [--KEY VALUE ...] [--delete KEYS]",
    },
    Alias {
        words: &["vm", "resize"],
        method: HttpMethod::Put,
        path: "/nodes/{node}/qemu/{vmid}/resize",
        positional: &["disk", "size"],
        help: "NODE VMID DISK SIZE",
    },
    Alias {
        words: &["vm", "move-disk"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/move_disk",
        positional: &["disk", "storage"],
        help: "NODE VMID DISK STORAGE [--format F] [--delete 1]",
    },
    Alias {
        words: &["vm", "start"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/start",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "stop"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/stop",
        positional: &[],
        help: "NODE VMID [--timeout S]",
    },
    Alias {
        words: &["vm", "shutdown"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/shutdown",
        positional: &[],
        help: "NODE VMID [--timeout S] [--forceStop 1]",
    },
    Alias {
        words: &["vm", "reboot"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/reboot",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "reset"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/reset",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "suspend"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/suspend",
        positional: &[],
        help: "NODE VMID [--todisk 1]",
    },
    Alias {
        words: &["vm", "resume"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/status/resume",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "status"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/qemu/{vmid}/status/current",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "pending"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/qemu/{vmid}/pending",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["vm", "showcmd"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/qemu/{vmid}/showcmd",
        positional: &[],
        help: "NODE VMID [--pretty 1]",
    },
    Alias {
        words: &["vm", "monitor"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/monitor",
        positional: &["command"],
        help: "NODE VMID 'HMP COMMAND'",
    },
    Alias {
        words: &["vm", "sendkey"],
        method: HttpMethod::Put,
        path: "/nodes/{node}/qemu/{vmid}/sendkey",
        positional: &["key"],
        help: "NODE VMID KEY (e.g. ctrl-alt-delete)",
    },
    Alias {
        words: &["vm", "guest", "cmd"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/qemu/{vmid}/agent",
        positional: &["command"],
        help: "NODE VMID COMMAND (guest agent: ping, get-osinfo, fsfreeze-status, ...)",
    },
    Alias {
        words: &["vm", "guest", "exec-status"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/qemu/{vmid}/agent/exec-status",
        positional: &["pid"],
        help: "NODE VMID PID",
    },
    Alias {
        words: &["node", "startall"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/startall",
        positional: &[],
        help: "NODE [--force 1] [--vms 100,101]",
    },
    Alias {
        words: &["node", "stopall"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/stopall",
        positional: &[],
        help: "NODE [--timeout S] [--vms 100,101]",
    },
    Alias {
        words: &["vm", "destroy"],
        method: HttpMethod::Delete,
        path: "/nodes/{node}/qemu/{vmid}",
        positional: &[],
        help: "NODE VMID [--purge 1]",
    },
    Alias {
        words: &["ct", "list"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/lxc",
        positional: &[],
        help: "NODE",
    },
    Alias {
        words: &["ct", "create"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc",
        positional: &["vmid", "ostemplate"],
        help: "NODE VMID OSTEMPLATE [--hostname H] [--rootfs STORAGE:SIZE] [--memory M] [--net0 name=eth0,bridge=vmbr0,ip=dhcp] ...",
    },
    Alias {
        words: &["ct", "config"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/lxc/{vmid}/config",
        positional: &[],
        help: "NODE VMID [--current 1]",
    },
    Alias {
        words: &["ct", "pending"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/lxc/{vmid}/pending",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "set"],
        method: HttpMethod::Put,
        path: "/nodes/{node}/lxc/{vmid}/config",
        positional: &[],
        help: "NODE VMID [--KEY VALUE ...] [--delete KEYS]",
    },
    Alias {
        words: &["ct", "resize"],
        method: HttpMethod::Put,
        path: "/nodes/{node}/lxc/{vmid}/resize",
        positional: &["disk", "size"],
        help: "NODE VMID DISK SIZE",
    },
    Alias {
        words: &["ct", "status"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/lxc/{vmid}/status/current",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "start"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/status/start",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "stop"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/status/stop",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "shutdown"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/status/shutdown",
        positional: &[],
        help: "NODE VMID [--timeout S] [--forceStop 1]",
    },
    Alias {
        words: &["ct", "reboot"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/status/reboot",
        positional: &[],
        help: "NODE VMID [--timeout S]",
    },
    Alias {
        words: &["ct", "suspend"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/status/suspend",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "resume"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/status/resume",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "destroy"],
        method: HttpMethod::Delete,
        path: "/nodes/{node}/lxc/{vmid}",
        positional: &[],
        help: "NODE VMID [--force 1]",
    },
    Alias {
        words: &["ct", "snapshot"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/snapshot",
        positional: &["snapname"],
        help: "NODE VMID SNAPNAME [--description D]",
    },
    Alias {
        words: &["ct", "listsnapshot"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/lxc/{vmid}/snapshot",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "rollback"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
        positional: &[],
        help: "NODE VMID SNAPNAME [--start 1]",
    },
    Alias {
        words: &["ct", "delsnapshot"],
        method: HttpMethod::Delete,
        path: "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
        positional: &[],
        help: "NODE VMID SNAPNAME",
    },
    Alias {
        words: &["ct", "template"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/template",
        positional: &[],
        help: "NODE VMID",
    },
    Alias {
        words: &["ct", "clone"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/clone",
        positional: &["newid"],
        help: "NODE VMID NEWID [--full 1] [--hostname H] [--storage S]",
    },
    Alias {
        words: &["ct", "move-volume"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/lxc/{vmid}/move_volume",
        positional: &["volume", "storage"],
        help: "NODE VMID VOLUME STORAGE [--delete 1]",
    },
    Alias {
        words: &["backup-job", "list"],
        method: HttpMethod::Get,
        path: "/cluster/backup",
        positional: &[],
        help: "list scheduled backup jobs",
    },
    Alias {
        words: &["backup-job", "show"],
        method: HttpMethod::Get,
        path: "/cluster/backup/{id}",
        positional: &[],
        help: "ID",
    },
    Alias {
        words: &["backup-job", "create"],
        method: HttpMethod::Post,
        path: "/cluster/backup",
        positional: &["id"],
        help: "ID --schedule 'sat 02:00' --storage S (--vmid 100,101 | --all 1) [--mode M] ...",
    },
    Alias {
        words: &["backup-job", "set"],
        method: HttpMethod::Put,
        path: "/cluster/backup/{id}",
        positional: &[],
        help: "ID [--schedule S] [--enabled 0|1] [--delete KEYS] ...",
    },
    Alias {
        words: &["backup-job", "delete"],
        method: HttpMethod::Delete,
        path: "/cluster/backup/{id}",
        positional: &[],
        help: "ID",
    },
    Alias {
        words: &["template", "update"],
        method: HttpMethod::Put,
        path: "/nodes/{node}/aplinfo",
        positional: &[],
        help: "NODE (refresh the template index, like pveam update)",
    },
    Alias {
        words: &["template", "available"],
        method: HttpMethod::Get,
        path: "/nodes/{node}/aplinfo",
        positional: &[],
        help: "NODE",
    },
    Alias {
        words: &["template", "download"],
        method: HttpMethod::Post,
        path: "/nodes/{node}/aplinfo",
        positional: &["storage", "template"],
        help: "NODE STORAGE TEMPLATE",
    },
];

fn print_help() {
    println!("Short commands (each is one API call; `oxve api usage PATH` shows parameters):");
    println!(
        "  oxve {:22} {:39} VMID [--iface serialN] [--escape ^O]",
        "vm terminal", "(termproxy + vncwebsocket, on the node)"
    );
    for a in ALIASES {
        println!(
            "  oxve {:22} {} {:34} {}",
            a.words.join(" "),
            a.method.cli_verb(),
            a.path,
            a.help
        );
    }
    println!("Backups, like vzdump / qmrestore / pct restore (NODE: --node, else the daemon's):");
    println!(
        "  oxve backup VMID... [--all 1] [--exclude L] [--mode M] [--storage S] [--compress C] ..."
    );
    println!("  oxve restore ARCHIVE VMID [--storage S] [--force 1] [--unique 1]");
    println!("Local to the node (root), like pct:");
    println!("  oxve ct exec VMID -- CMD...   run a command in a running container");
    println!("  oxve ct enter VMID            a shell in a running container");
}

/// An option's value, taken out of the argument list before the parameters.
pub(super) fn take_option(args: &mut Vec<String>, name: &str) -> Option<String> {
    let pos = args
        .iter()
        .position(|a| a == name || a.starts_with(&format!("{name}=")))?;
    let arg = args.remove(pos);
    match arg.split_once('=') {
        Some((_, v)) => Some(v.to_string()),
        None if pos < args.len() => Some(args.remove(pos)),
        None => None,
    }
}

/// The options every short command takes, removed from its arguments.
pub(super) struct CommonOptions {
    pub format: OutputFormat,
    pub connect: ConnectArgs,
    /// Print a started task's UPID instead of following it.
    pub background: bool,
}

impl CommonOptions {
    pub fn take(args: &mut Vec<String>) -> anyhow::Result<CommonOptions> {
        let format = match take_option(args, "--output-format").as_deref() {
            None | Some("text") => OutputFormat::Text,
            Some("json") => OutputFormat::Json,
            Some("json-pretty") => OutputFormat::JsonPretty,
            Some(other) => bail!("unknown --output-format '{other}'"),
        };
        let connect = ConnectArgs {
            host: take_option(args, "--host").or_else(|| std::env::var("OXVE_HOST").ok()),
            user: take_option(args, "--user").or_else(|| std::env::var("OXVE_USER").ok()),
            password: std::env::var("OXVE_PASSWORD").ok(),
            insecure: args.iter().any(|a| a == "--insecure"),
            socket: take_option(args, "--socket")
                .or_else(|| std::env::var("OXVE_SOCKET").ok())
                .unwrap_or_else(|| "/run/oxve/oxve.sock".into())
                .into(),
        };
        args.retain(|a| a != "--insecure");
        // Task-starting commands wait for the task unless told not to.
        let background = args.iter().any(|a| a == "--background");
        args.retain(|a| a != "--background");
        Ok(CommonOptions {
            format,
            connect,
            background,
        })
    }
}

/// Prints what a call returned; a started task is followed unless in the background.
pub(super) async fn show_result(
    client: &Client,
    data: serde_json::Value,
    common: &CommonOptions,
) -> anyhow::Result<()> {
    match data.as_str().filter(|d| d.starts_with("UPID:")) {
        // A task: follow its log until it ends, as `qm start` does.
        Some(upid) if !common.background => follow_task(client, upid).await,
        _ => {
            print_value(&data, common.format);
            Ok(())
        }
    }
}

pub async fn run(mut words: Vec<String>) -> anyhow::Result<()> {
    if let Some(result) = super::ct::run_local(&words) {
        return result;
    }
    if words.first().map(String::as_str) == Some("help-commands") {
        print_help();
        return Ok(());
    }
    if let Some(result) = super::backup::run(&words).await {
        return result;
    }
    if words.len() >= 2 && words[0] == "vm" && words[1] == "terminal" {
        return super::terminal::run(words.split_off(2)).await;
    }
    let alias = ALIASES
        .iter()
        .filter(|a| a.words.len() <= words.len() && a.words.iter().zip(&words).all(|(w, x)| w == x))
        .max_by_key(|a| a.words.len())
        .ok_or_else(|| {
            anyhow!(
                "unknown command '{}'; see `oxve help-commands` or `oxve --help`",
                words.join(" ")
            )
        })?;
    let mut args: Vec<String> = words.split_off(alias.words.len());
    let common = CommonOptions::take(&mut args)?;

    // Positional arguments fill the path placeholders, then the alias's named positionals.
    let mut path = alias.path.to_string();
    let mut positional = args.iter().take_while(|a| !a.starts_with('-')).cloned();
    let mut count = 0;
    while let Some(start) = path.find('{') {
        let end = path[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(path.len() - 1);
        let name = path[start + 1..end].to_string();
        let value = positional.next().ok_or_else(|| {
            anyhow!(
                "missing {} (usage: oxve {} {})",
                name.to_uppercase(),
                alias.words.join(" "),
                alias.help
            )
        })?;
        count += 1;
        let encoded =
            percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        path.replace_range(start..=end, &encoded);
    }
    let mut params = Vec::new();
    for name in alias.positional {
        if let Some(value) = positional.next() {
            count += 1;
            params.push((name.to_string(), value));
        }
    }
    params.extend(parse_param_args(&args[count..])?);

    let client = Client::connect(&common.connect).await?;
    let data = client.call(alias.method, &path, &params).await?;
    show_result(&client, data, &common).await
}

/// Prints the log of task `upid` as it grows; fails if the task fails.
async fn follow_task(client: &Client, upid: &str) -> anyhow::Result<()> {
    follow_task_on(client, upid, false).await
}

/// [`follow_task`], printing the log on stderr instead when `to_stderr` (stdout carries data).
pub(super) async fn follow_task_on(
    client: &Client,
    upid: &str,
    to_stderr: bool,
) -> anyhow::Result<()> {
    let node = upid.split(':').nth(1).unwrap_or("localhost");
    let base = format!(
        "/nodes/{node}/tasks/{}",
        percent_encoding::utf8_percent_encode(upid, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut shown = 0u64;
    loop {
        let status = client
            .call(HttpMethod::Get, &format!("{base}/status"), &[])
            .await?;
        let log = client
            .call(
                HttpMethod::Get,
                &format!("{base}/log"),
                &[
                    ("start".into(), shown.to_string()),
                    ("limit".into(), "500".into()),
                ],
            )
            .await?;
        for line in log.as_array().into_iter().flatten() {
            if let Some(text) = line["t"].as_str() {
                if to_stderr {
                    eprintln!("{text}");
                } else {
                    println!("{text}");
                }
                shown += 1;
            }
        }
        if status["status"] == "stopped" {
            let exit = status["exitstatus"].as_str().unwrap_or("unknown");
            if exit == "OK" || exit.starts_with("WARNINGS") {
                return Ok(());
            }
            bail!("task failed: {exit}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_names_a_declared_method() {
        let router = oxve_api::api::router();
        for alias in ALIASES {
            // Fill every `{placeholder}` with a value its schema accepts.
            let mut path = alias.path.to_string();
            while let Some(start) = path.find('{') {
                let end = start + path[start..].find('}').unwrap();
                let value = match &path[start + 1..end] {
                    "vmid" => "100",
                    "userid" => "a@pve",
                    "storage" => "local",
                    "node" => "n1",
                    _ => "abc1",
                };
                path.replace_range(start..=end, value);
            }
            assert!(!path.contains('{'), "unfilled placeholder in {path}");
            assert!(
                matches!(
                    router.lookup(alias.method, &path),
                    oxve_router::Lookup::Found { .. }
                ),
                "`oxve {}`: {} {} is not declared",
                alias.words.join(" "),
                alias.method.as_str(),
                alias.path
            );
        }
    }
}
