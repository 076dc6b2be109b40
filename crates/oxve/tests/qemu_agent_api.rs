//! The QEMU guest agent against the real qemu-ga in the project's guest image: information
//! commands, exec, file read/write, fs-freeze of a mounted file system (a write blocks while it
//! is frozen), freeze/thaw around snapshot-mode backups and disk snapshots, shutdown through the
//! agent, and the errors of a VM whose agent is missing or not running.

mod common;

use std::time::{Duration, Instant};

use common::ws::{guest_disk_of_size, guest_exec, open_serial};
use common::{create_and_start_guest, task_log, wait_task, Daemon, Reply, Session};
use serde_json::Value;

fn agent(vmid: u32, cmd: &str) -> String {
    format!("/nodes/testnode/qemu/{vmid}/agent/{cmd}")
}

/// Waits until the guest's agent answers `ping` (the guest boots and starts qemu-ga).
async fn wait_agent(s: &Session, vmid: u32) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let r = s.post(&agent(vmid, "ping"), &[]).await;
        if r.status == 200 {
            assert_eq!(
                r.data(),
                &serde_json::json!({ "result": {} }),
                "{:?}",
                r.body
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "agent of VM {vmid} never answered: {:?}",
            r.body
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn result(r: &Reply) -> &Value {
    assert_eq!(r.status, 200, "{:?}", r.body);
    &r.data()["result"]
}

async fn task_ok(s: &Session, r: Reply) -> String {
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    let t = wait_task(s, &upid).await;
    let log = task_log(s, &upid).await;
    assert_eq!(t["exitstatus"], "OK", "{t}\n{log}");
    log
}

/// Runs `argv` through the agent and returns its exit status once it ended.
async fn agent_exec(s: &Session, vmid: u32, argv: &[&str], input: Option<&str>) -> Value {
    let mut form: Vec<(&str, &str)> = argv.iter().map(|a| ("command", *a)).collect();
    if let Some(i) = input {
        form.push(("input-data", i));
    }
    let r = s.post(&agent(vmid, "exec"), &form).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pid = r.data()["pid"].as_i64().expect("pid").to_string();
    for _ in 0..300 {
        let r = s.get(&agent(vmid, "exec-status"), &[("pid", &pid)]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.data()["exited"].as_bool() == Some(true) || r.data()["exited"] == 1 {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{argv:?} did not end");
}

#[tokio::test]
async fn guest_agent_commands_freeze_backup_snapshot_and_shutdown() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(
        &d,
        &s,
        470,
        &[
            ("agent", "1"),
            ("net0", "virtio=52:54:00:AB:47:01"),
            ("scsi1", "local:0.0625,format=qcow2"),
            // The power button is ignored: only the agent can shut this guest down.
            ("args", "-fw_cfg name=opt/oxve/config,string=acpi=ignore"),
        ],
    )
    .await;
    wait_agent(&s, 470).await;

    // Index and information commands.
    let r = s.get("/nodes/testnode/qemu/470/agent", &[]).await;
    let names: Vec<&str> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "ping",
        "exec",
        "file-read",
        "network-get-interfaces",
        "fsfreeze-freeze",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    // The NIC's MAC and the address the guest gave it (what API clients read IPs from).
    let mut term = open_serial(&s, 470).await;
    guest_exec(
        &mut term,
        "ip link set eth0 up; ip addr add 192.0.2.47/24 dev eth0",
    )
    .await;
    let r = s.get(&agent(470, "network-get-interfaces"), &[]).await;
    let eth0 = result(&r)
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["hardware-address"] == "52:54:00:ab:47:01")
        .unwrap_or_else(|| panic!("{:?}", r.body))
        .clone();
    assert_eq!(eth0["name"], "eth0", "{eth0}");
    let ips = eth0["ip-addresses"].as_array().cloned().unwrap_or_default();
    assert!(
        ips.iter().any(|a| a["ip-address"] == "192.0.2.47"
            && a["prefix"] == 24
            && a["ip-address-type"] == "ipv4"),
        "{eth0}"
    );
    let r = s.get(&agent(470, "get-osinfo"), &[]).await;
    assert_eq!(result(&r)["id"], "oxve-guest", "{:?}", r.body);
    let r = s.get(&agent(470, "info"), &[]).await;
    assert!(result(&r)["version"].as_str().is_some(), "{:?}", r.body);
    let r = s
        .post(
            "/nodes/testnode/qemu/470/agent",
            &[("command", "get-host-name")],
        )
        .await;
    assert_eq!(result(&r)["host-name"], "oxve-guest", "{:?}", r.body);
    let r = s
        .post("/nodes/testnode/qemu/470/agent", &[("command", "rm-rf")])
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // exec: stdout, stderr, exit code, stdin.
    let st = agent_exec(
        &s,
        470,
        &["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"],
        None,
    )
    .await;
    assert_eq!(st["exitcode"], 3, "{st}");
    assert_eq!(st["out-data"], "hello\n", "{st}");
    assert_eq!(st["err-data"], "oops\n", "{st}");
    let st = agent_exec(&s, 470, &["/bin/cat"], Some("from stdin")).await;
    assert_eq!(st["out-data"], "from stdin", "{st}");

    // file-write, then file-read (plain and base64).
    let r = s
        .post(
            &agent(470, "file-write"),
            &[
                ("file", "/tmp/agent-file"),
                ("content", "line one\nline two\n"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .get(&agent(470, "file-read"), &[("file", "/tmp/agent-file")])
        .await;
    assert_eq!(r.data()["content"], "line one\nline two\n", "{:?}", r.body);
    let r = s
        .get(
            &agent(470, "file-read"),
            &[("file", "/tmp/agent-file"), ("decode", "0"), ("count", "4")],
        )
        .await;
    assert_eq!(r.data()["content"], "bGluZQ==", "{:?}", r.body);
    assert_eq!(r.data()["truncated"], true, "{:?}", r.body);
    let r = s
        .get(
            &agent(470, "file-read"),
            &[("file", "/tmp/agent-file"), ("offset", "5"), ("count", "3")],
        )
        .await;
    assert_eq!(r.data()["content"], "one", "{:?}", r.body);
    let r = s
        .get(&agent(470, "file-read"), &[("file", "/nonexistent")])
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);

    // A mounted ext2 file system on the data disk, frozen: a write to it blocks until thawed.
    let data = guest_disk_of_size(&mut term, 64 << 20).await;
    let out = guest_exec(
        &mut term,
        &format!("mke2fs -q -F /dev/{data} >/dev/null 2>&1; mkdir -p /mnt/data && mount -t ext2 /dev/{data} /mnt/data && echo MOUNTED"),
    )
    .await;
    assert!(out.contains("MOUNTED"), "{out}");
    let r = s.post(&agent(470, "fsfreeze-freeze"), &[]).await;
    assert_eq!(result(&r), 1, "{:?}", r.body);
    let r = s.post(&agent(470, "fsfreeze-status"), &[]).await;
    assert_eq!(result(&r), "frozen");
    guest_exec(
        &mut term,
        "(echo during-freeze > /mnt/data/f && touch /tmp/written) & sleep 0",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = guest_exec(&mut term, "ls /tmp/written 2>&1").await;
    assert!(
        out.contains("No such file"),
        "the write went through a frozen fs: {out}"
    );
    let r = s.post(&agent(470, "fsfreeze-thaw"), &[]).await;
    assert_eq!(result(&r), 1, "{:?}", r.body);
    let mut written = false;
    for _ in 0..20 {
        if guest_exec(&mut term, "ls /tmp/written 2>&1")
            .await
            .contains("/tmp/written")
        {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(written, "the write did not complete after the thaw");
    let r = s
        .get(&agent(470, "file-read"), &[("file", "/mnt/data/f")])
        .await;
    assert_eq!(r.data()["content"], "during-freeze\n", "{:?}", r.body);

    // Snapshot-mode backup: frozen right before the point in time, thawed right after.
    let log = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "470"), ("mode", "snapshot"), ("storage", "local")],
        )
        .await,
    )
    .await;
    let freeze = log
        .find("issuing guest-agent 'fs-freeze' command")
        .unwrap_or_else(|| panic!("{log}"));
    let taken = log
        .find("the point in time is taken")
        .unwrap_or_else(|| panic!("{log}"));
    let thaw = log
        .find("issuing guest-agent 'fs-thaw' command")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(freeze < taken && taken < thaw, "{log}");
    assert!(!log.contains("ERROR"), "{log}");
    let r = s.post(&agent(470, "fsfreeze-status"), &[]).await;
    assert_eq!(result(&r), "thawed");
    let out = guest_exec(
        &mut term,
        "echo after-backup > /mnt/data/g && cat /mnt/data/g",
    )
    .await;
    assert!(out.contains("after-backup"), "{out}");

    // A freeze the agent refuses (already frozen): logged, the backup goes on, the thaw runs.
    let r = s.post(&agent(470, "fsfreeze-freeze"), &[]).await;
    assert_eq!(result(&r), 1, "{:?}", r.body);
    let log = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "470"), ("mode", "snapshot"), ("storage", "local")],
        )
        .await,
    )
    .await;
    assert!(log.contains("ERROR: guest-fsfreeze-freeze failed"), "{log}");
    assert!(
        log.contains("issuing guest-agent 'fs-thaw' command"),
        "{log}"
    );
    assert!(log.contains("Finished Backup of VM 470"), "{log}");
    let r = s.post(&agent(470, "fsfreeze-status"), &[]).await;
    assert_eq!(result(&r), "thawed");

    // A disk snapshot without RAM freezes and thaws too.
    let log = task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/470/snapshot",
            &[("snapname", "disks")],
        )
        .await,
    )
    .await;
    let freeze = log
        .find("freeze guest filesystem")
        .unwrap_or_else(|| panic!("{log}"));
    let thaw = log
        .find("thaw guest filesystem")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(freeze < thaw, "{log}");
    let r = s.post(&agent(470, "fsfreeze-status"), &[]).await;
    assert_eq!(result(&r), "thawed");

    // Permissions: an auditor (VM.GuestAgent.Audit) may ask, but not run, read or freeze.
    let r = s
        .post(
            "/access/users",
            &[("userid", "agentless@pve"), ("password", "secret123")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .put(
            "/access/acl",
            &[
                ("path", "/vms/470"),
                ("users", "agentless@pve"),
                ("roles", "PVEAuditor"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let u = Session::new(&d, "agentless@pve", "secret123").await;
    assert_eq!(u.post(&agent(470, "ping"), &[]).await.status, 200);
    assert_eq!(u.get(&agent(470, "get-osinfo"), &[]).await.status, 200);
    assert_eq!(
        u.get(&agent(470, "exec-status"), &[("pid", "1")])
            .await
            .status,
        403
    );
    assert_eq!(
        u.post(&agent(470, "exec"), &[("command", "/bin/true")])
            .await
            .status,
        403
    );
    assert_eq!(
        u.post(&agent(470, "fsfreeze-freeze"), &[]).await.status,
        403
    );
    assert_eq!(u.post(&agent(470, "shutdown"), &[]).await.status, 403);
    assert_eq!(
        u.get(&agent(470, "file-read"), &[("file", "/etc/passwd")])
            .await
            .status,
        403
    );
    assert_eq!(
        u.post("/nodes/testnode/qemu/470/agent", &[("command", "ping")])
            .await
            .status,
        403
    );

    // Shutdown goes through the agent (the guest ignores the power button).
    drop(term);
    let log = task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/470/status/shutdown",
            &[("timeout", "120")],
        )
        .await,
    )
    .await;
    let r = s.get("/nodes/testnode/qemu/470/status/current", &[]).await;
    assert_eq!(r.data()["status"], "stopped", "{log}");
    let r = s.post(&agent(470, "ping"), &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.to_string().contains("VM 470 is not running"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn agent_missing_or_not_running() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(&d, &s, 471, &[("agent", "1")]).await;
    wait_agent(&s, 471).await;

    // qemu-ga dies inside the guest: clear errors, and backups go on without the freeze.
    let mut term = open_serial(&s, 471).await;
    guest_exec(&mut term, "killall qemu-ga").await;
    let start = Instant::now();
    let r = s.get(&agent(471, "get-osinfo"), &[]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(
        r.body
            .to_string()
            .contains("QEMU guest agent is not running"),
        "{:?}",
        r.body
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    let log = task_ok(
        &s,
        s.post(
            "/nodes/testnode/vzdump",
            &[("vmid", "471"), ("mode", "snapshot"), ("storage", "local")],
        )
        .await,
    )
    .await;
    assert!(
        log.contains("skipping guest-agent 'fs-freeze', agent configured but not running?"),
        "{log}"
    );
    assert!(!log.contains("issuing guest-agent 'fs-thaw'"), "{log}");

    // Shutdown falls back to the power button.
    drop(term);
    task_ok(
        &s,
        s.post(
            "/nodes/testnode/qemu/471/status/shutdown",
            &[("timeout", "120")],
        )
        .await,
    )
    .await;
    let r = s.get("/nodes/testnode/qemu/471/status/current", &[]).await;
    assert_eq!(r.data()["status"], "stopped");

    // Without `agent`: not configured.
    let r = s
        .put("/nodes/testnode/qemu/471/config", &[("delete", "agent")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.post(&agent(471, "ping"), &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .to_string()
            .contains("No QEMU guest agent configured"),
        "{:?}",
        r.body
    );
}
