//! Backup jobs under `/cluster/backup` as Proxmox keeps them (parameters, checks, `next-run`,
//! permissions), and the daemon's scheduler starting a job at its calendar time.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Session};
use serde_json::Value;

async fn jobs(s: &Session) -> Vec<Value> {
    let r = s.get("/cluster/backup", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data().as_array().unwrap().clone()
}

/// `date -d @epoch +FORMAT` in the host's local time.
fn local_format(epoch: i64, format: &str) -> String {
    let out = std::process::Command::new("date")
        .args(["-d", &format!("@{epoch}"), &format!("+{format}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn backup_jobs_crud_next_run_and_checks() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    assert!(jobs(&s).await.is_empty());

    let r = s
        .post(
            "/cluster/backup",
            &[
                ("schedule", "sat 02:00"),
                ("vmid", "100,101"),
                ("storage", "local"),
                ("mode", "snapshot"),
                ("compress", "zstd"),
                ("prune-backups", "keep-last=3,keep-daily=7"),
                ("notes-template", "{{guestname}} on {{node}}"),
                ("mailto", "root@example.com"),
                ("comment", "weekly"),
                ("protected", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.data().is_null());
    let list = jobs(&s).await;
    assert_eq!(list.len(), 1);
    let job = &list[0];
    let id = job["id"].as_str().unwrap().to_string();
    assert!(
        id.starts_with("backup-") && id.len() == "backup-12345678-1234".len(),
        "{id}"
    );
    assert_eq!(job["type"], "vzdump");
    assert_eq!(job["schedule"], "sat 02:00");
    assert_eq!(job["enabled"], 1);
    assert_eq!(job["vmid"], "100,101");
    assert_eq!(job["protected"], 1);
    assert_eq!(job["mailto"], "root@example.com");
    assert_eq!(job["prune-backups"]["keep-last"], 3);
    assert_eq!(job["prune-backups"]["keep-daily"], 7);
    // next-run: the coming Saturday 02:00, local time, within a week.
    let next = job["next-run"].as_i64().unwrap();
    assert!(next > now() && next <= now() + 7 * 86_400, "{next}");
    assert_eq!(local_format(next, "%a %H:%M:%S"), "Sat 02:00:00");

    // Guests no job selects.
    for (vmid, name) in [("100", "web"), ("102", "db")] {
        let r = s
            .post(
                "/nodes/testnode/qemu",
                &[("vmid", vmid), ("name", name), ("memory", "128")],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        common::wait_task(&s, r.data().as_str().unwrap()).await;
    }
    let r = s.get("/cluster/backup-info/not-backed-up", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.data(),
        &serde_json::json!([{"vmid": 102, "name": "db", "type": "qemu"}])
    );

    let r = s
        .get(&format!("/cluster/backup/{id}/included_volumes"), &[])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.data(),
        &serde_json::json!({"children": [
            {"id": 100, "type": "qemu", "name": "web", "children": []},
            {"id": 101, "type": "unknown", "leaf": 1},
        ]})
    );

    let r = s.get(&format!("/cluster/backup/{id}"), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["comment"], "weekly");
    assert_eq!(r.data()["id"], id.as_str());

    // Update: a new schedule, a removed option, the selection switched to all.
    let r = s
        .put(
            &format!("/cluster/backup/{id}"),
            &[("schedule", "*/4:00"), ("delete", "comment"), ("all", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let job = s
        .get(&format!("/cluster/backup/{id}"), &[])
        .await
        .data()
        .clone();
    assert_eq!(job["schedule"], "*/4:00");
    assert!(
        job.get("comment").is_none() && job.get("vmid").is_none(),
        "{job:?}"
    );
    assert_eq!(job["all"], 1);
    let next = jobs(&s).await[0]["next-run"].as_i64().unwrap();
    assert!(next > now() && next <= now() + 4 * 3600);
    assert_eq!(local_format(next, "%M:%S"), "00:00");
    assert_eq!(local_format(next, "%-H").parse::<u32>().unwrap() % 4, 0);

    // A given id, the deprecated starttime/dow converted to a schedule.
    let r = s
        .post(
            "/cluster/backup",
            &[
                ("id", "nightly"),
                ("starttime", "22:30"),
                ("dow", "mon,tue,wed,thu,fri"),
                ("all", "1"),
                ("exclude", "105"),
                ("enabled", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let job = s.get("/cluster/backup/nightly", &[]).await.data().clone();
    assert_eq!(job["schedule"], "mon,tue,wed,thu,fri 22:30");
    // all=1 with exclude=105 covers every guest.
    let r = s.get("/cluster/backup-info/not-backed-up", &[]).await;
    assert_eq!(r.data(), &serde_json::json!([]));
    assert_eq!(job["enabled"], 0);
    assert!(job.get("starttime").is_none());

    // Bad input: 400 naming the parameter, nothing stored.
    let bad: &[(&[(&str, &str)], &str)] = &[
        (
            &[("id", "nightly"), ("schedule", "daily"), ("all", "1")],
            "id",
        ),
        (
            &[("schedule", "daily"), ("all", "1"), ("vmid", "100")],
            "all",
        ),
        (&[("schedule", "daily")], "vmid"),
        (&[("vmid", "100")], "schedule"),
        (&[("schedule", "25:00"), ("vmid", "100")], "schedule"),
        (&[("schedule", "funday"), ("vmid", "100")], "schedule"),
        (
            &[("schedule", "daily"), ("vmid", "100"), ("mode", "fast")],
            "mode",
        ),
        (
            &[
                ("schedule", "daily"),
                ("vmid", "100"),
                ("prune-backups", "keep-all=1,keep-last=2"),
            ],
            "prune-backups",
        ),
        (
            &[
                ("schedule", "daily"),
                ("vmid", "100"),
                ("storage", "local"),
                ("dumpdir", "/tmp"),
            ],
            "dumpdir",
        ),
        (&[("schedule", "daily"), ("vmid", "1")], "vmid"),
        (
            &[("schedule", "daily"), ("vmid", "100"), ("id", "a b")],
            "id",
        ),
    ];
    for (params, name) in bad {
        let r = s.post("/cluster/backup", params).await;
        assert_eq!(r.status, 400, "{params:?}: {:?}", r.body);
        assert!(
            r.body["errors"][*name].is_string(),
            "{params:?}: {:?}",
            r.body
        );
    }
    // Only root@pam may set host paths.
    let r = s
        .post(
            "/cluster/backup",
            &[
                ("schedule", "daily"),
                ("vmid", "100"),
                ("dumpdir", "/srv/dump"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"]["dumpdir"],
        "Only root may set this option."
    );
    let r = s
        .put(
            &format!("/cluster/backup/{id}"),
            &[("delete", "nosuchoption")],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = s
        .put(
            &format!("/cluster/backup/{id}"),
            &[("vmid", "100"), ("all", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "the given vmid wins over all: {:?}", r.body);
    assert_eq!(jobs(&s).await.len(), 2);

    // Permissions: Sys.Audit to read, Sys.Modify to change.
    let userid = "auditor@pve";
    assert_eq!(
        s.post(
            "/access/users",
            &[("userid", userid), ("password", "user-pass-1")]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        s.put(
            "/access/acl",
            &[("path", "/"), ("roles", "PVEAuditor"), ("users", userid)]
        )
        .await
        .status,
        200
    );
    let auditor = Session::new(&d, userid, "user-pass-1").await;
    assert_eq!(jobs(&auditor).await.len(), 2);
    let r = auditor.delete("/cluster/backup/nightly", &[]).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = auditor
        .post("/cluster/backup", &[("schedule", "daily"), ("all", "1")])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // Delete.
    let r = s.delete("/cluster/backup/nightly", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.get("/cluster/backup/nightly", &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["id"].is_string(), "{:?}", r.body);
    let r = s.delete("/cluster/backup/nightly", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(jobs(&s).await.len(), 1);
    // Stored as Proxmox's jobs.cfg section.
    assert!(!d.data_dir.join("jobs/vzdump-nightly.json").exists());
    assert!(d.data_dir.join(format!("jobs/vzdump-{id}.json")).exists());
}

/// The scheduler starts a job due every minute within its minute: the job's state records
/// the start (with vzdump's task, or vzdump's refusal while vzdump is not there yet).
#[tokio::test]
async fn scheduler_starts_a_due_job() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let r = s
        .post(
            "/cluster/backup",
            &[
                ("id", "everyminute"),
                ("schedule", "*:*"),
                ("vmid", "100"),
                ("storage", "local"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let created = now();
    let state_file = d.data_dir.join("jobs/vzdump-everyminute.json");
    let deadline = Instant::now() + Duration::from_secs(90);
    let state = loop {
        let st: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
        if st["state"] != "created" {
            break st;
        }
        assert!(Instant::now() < deadline, "the job did not start: {st}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        state["upid"]
            .as_str()
            .is_some_and(|u| u.contains(":vzdump:"))
            || state["msg"].is_string(),
        "{state}"
    );
    // It started at a minute boundary after its creation.
    let started = state["time"].as_i64().unwrap();
    assert!(started >= created && started <= created + 65, "{state}");
    let r = s.delete("/cluster/backup/everyminute", &[]).await;
    assert_eq!(r.status, 200);
}

fn job_state(d: &Daemon, id: &str) -> Value {
    let text = std::fs::read(d.data_dir.join(format!("jobs/vzdump-{id}.json"))).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// A run missed while the daemon was down: made up once at start with `repeat-missed=1`,
/// skipped (until the next calendar time) without it, as Proxmox's scheduler does.
#[tokio::test]
async fn missed_runs_after_a_restart() {
    let mut d = Daemon::start();
    let s = Session::admin(&d).await;
    for (id, repeat) in [("repeat", "1"), ("skip", "0")] {
        let r = s
            .post(
                "/cluster/backup",
                &[
                    ("id", id),
                    ("schedule", "*:*"),
                    ("vmid", "100"),
                    ("repeat-missed", repeat),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    d.kill();
    // Down across a minute boundary: that minute's run is missed.
    let missed = (now() / 60 + 1) * 60;
    tokio::time::sleep(Duration::from_secs((missed + 1 - now()).max(0) as u64)).await;
    let next = missed + 60;
    d.restart(&common::DaemonOptions::default());
    let deadline = Instant::now() + Duration::from_secs(10);
    while job_state(&d, "repeat")["state"] == "created" {
        assert!(
            Instant::now() < deadline,
            "the missed run was not made up at start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let repeat = job_state(&d, "repeat");
    let started = repeat["time"].as_i64().unwrap();
    assert!(
        started > missed && started < next,
        "made up at start: {repeat}"
    );
    if now() < next {
        let skip = job_state(&d, "skip");
        assert_eq!(
            skip["state"], "created",
            "not made up without repeat-missed: {skip}"
        );
    }
}

/// A scheduled job really backs up a stopped VM at its calendar time: the vzdump task runs
/// and the archive appears on the backup storage.
#[tokio::test]

async fn scheduler_backs_up_a_vm_at_calendar_time() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    let r = s
        .post(
            "/nodes/testnode/qemu",
            &[("vmid", "100"), ("memory", "128"), ("scsi0", "local:1")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    common::wait_task(&s, r.data().as_str().unwrap()).await;
    let r = s
        .post(
            "/cluster/backup",
            &[
                ("id", "calendar"),
                ("schedule", "*:*"),
                ("vmid", "100"),
                ("storage", "local"),
                ("mode", "stop"),
                ("compress", "zstd"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let deadline = Instant::now() + Duration::from_secs(90);
    let archive = loop {
        let r = s
            .get(
                "/nodes/testnode/storage/local/content",
                &[("content", "backup"), ("vmid", "100")],
            )
            .await;
        if let Some(e) = r.data().as_array().and_then(|l| l.first()) {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no backup appeared");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(archive["subtype"], "qemu");
    let tasks = s
        .get("/nodes/testnode/tasks", &[("typefilter", "vzdump")])
        .await;
    assert!(
        !tasks.data().as_array().unwrap().is_empty(),
        "{:?}",
        tasks.body
    );
    s.delete("/cluster/backup/calendar", &[]).await;
}

/// The same through proxmoxer, as scripts and Ansible's backup modules use the API.
#[test]
fn proxmoxer_manages_backup_jobs() {
    let d = Daemon::start();
    let python = std::env::var("OXVE_CLIENT_PYTHON").unwrap_or_else(|_| {
        let venv =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        venv.to_string_lossy().into_owned()
    });
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients/proxmoxer_backup.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .env("OXVE_HOST", d.base.trim_start_matches("https://"))
        .env("OXVE_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (run scripts/test.sh, which installs proxmoxer into .venv): {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "proxmoxer backup checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("proxmoxer backup: all checks passed"));
}
