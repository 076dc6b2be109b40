//! Spawning workers and how they end: OK, error, warnings, panic, abort.

mod common;

use std::time::{Duration, Instant};

use common::{log_file, log_text, manager, NODE};
use oxve_tasks::{Interrupted, RunState, TaskError, Upid, INTERRUPTED_STATUS};
use tokio::sync::oneshot;

#[tokio::test]
async fn spawn_log_status_ok() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let upid = tm
        .spawn("qmstart", Some("100"), "root@pam", |ctx| async move {
            ctx.log("starting VM 100");
            go_rx.await.map_err(|e| e.to_string())?;
            ctx.log("two\nlines\n");
            Ok::<(), String>(())
        })
        .unwrap();

    assert!(
        log_file(dir.path(), &upid).is_file(),
        "log exists before spawn returns"
    );
    assert_eq!(upid.node(), NODE);
    assert_eq!(upid.pid(), std::process::id());
    assert_eq!(upid.worker_type(), "qmstart");
    assert_eq!(upid.worker_id(), "100");

    let running = tm.status(&upid).await.unwrap();
    assert_eq!(running.status, RunState::Running);
    let json = serde_json::to_value(&running).unwrap();
    assert!(json.get("exitstatus").is_none(), "{json}");
    assert_eq!(json["upid"], upid.to_string());
    assert_eq!(json["type"], "qmstart");
    assert_eq!(json["id"], "100");
    assert_eq!(json["user"], "root@pam");
    assert_eq!(json["node"], NODE);
    assert!(json.get("tokenid").is_none());

    go_tx.send(()).unwrap();
    let done = tm.wait(&upid).await.unwrap();
    assert_eq!(done.status, RunState::Stopped);
    assert_eq!(done.exitstatus.as_deref(), Some("OK"));
    assert!(done.endtime.unwrap() >= upid.starttime() - 1);
    assert!(done.is_success());
    assert_eq!(
        log_text(&tm, &upid).await,
        ["starting VM 100", "two", "lines", "TASK OK"]
    );
}

#[tokio::test]
async fn error_exit_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("vzdump", Some("101"), "admin@pve!ci", |ctx| async move {
            ctx.log("backup started");
            Err("storage 'nfs' is not online\nretry later")
        })
        .unwrap();
    let status = tm.wait(&upid).await.unwrap();
    assert_eq!(
        status.exitstatus.as_deref(),
        Some("storage 'nfs' is not online retry later")
    );
    assert!(!status.is_success());
    assert_eq!(status.user, "admin@pve");
    assert_eq!(status.tokenid.as_deref(), Some("ci"));
    let log = log_text(&tm, &upid).await;
    assert_eq!(
        log.last().unwrap(),
        "TASK ERROR: storage 'nfs' is not online retry later"
    );
}

#[tokio::test]
async fn warnings_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("qmclone", Some("102"), "root@pam", |ctx| async move {
            ctx.warn("low space");
            ctx.log("copying");
            ctx.warn("slow disk");
            assert_eq!(ctx.warnings(), 2);
            Ok::<(), TaskError>(())
        })
        .unwrap();
    let status = tm.wait(&upid).await.unwrap();
    assert_eq!(status.exitstatus.as_deref(), Some("WARNINGS: 2"));
    assert!(status.is_success());
    assert_eq!(
        log_text(&tm, &upid).await,
        [
            "WARN: low space",
            "copying",
            "WARN: slow disk",
            "TASK WARNINGS: 2"
        ]
    );
}

#[tokio::test]
async fn panic_ends_as_error() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("qmstart", Some("103"), "root@pam", |ctx| async move {
            ctx.log("about to fail");
            if ctx.upid().worker_id() == "103" {
                panic!("boom");
            }
            Ok::<(), String>(())
        })
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), tm.wait(&upid))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.status, RunState::Stopped);
    let exit = status.exitstatus.unwrap();
    assert!(exit.contains("boom"), "{exit}");
    let log = log_text(&tm, &upid).await;
    assert_eq!(log.last().unwrap(), &format!("TASK ERROR: {exit}"));
    assert!(tm.running_tasks().is_empty());
}

#[tokio::test]
async fn abort_cooperative_worker() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("vzdump", Some("104"), "root@pam", |ctx| async move {
            loop {
                tokio::select! {
                    _ = ctx.aborted() => {
                        ctx.log("cleaning up");
                        return Err(Interrupted);
                    }
                    _ = tokio::time::sleep(Duration::from_millis(20)) => ctx.log("working"),
                }
            }
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    tm.abort(&upid).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let status = tm.status(&upid).await.unwrap();
    assert_eq!(status.status, RunState::Stopped);
    assert_eq!(status.exitstatus.as_deref(), Some(INTERRUPTED_STATUS));
    let log = log_text(&tm, &upid).await;
    assert_eq!(log[log.len() - 2], "cleaning up");
    assert_eq!(log.last().unwrap(), "TASK ERROR: received interrupt");
}

#[tokio::test]
async fn abort_worker_that_returns_ok() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("qmshutdown", Some("105"), "root@pam", |ctx| async move {
            ctx.aborted().await;
            Ok::<(), String>(())
        })
        .unwrap();
    tm.abort(&upid).await.unwrap();
    let status = tm.status(&upid).await.unwrap();
    assert_eq!(status.exitstatus.as_deref(), Some(INTERRUPTED_STATUS));
}

#[tokio::test]
async fn abort_stubborn_worker_after_grace() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("qmigrate", Some("106"), "root@pam", |ctx| async move {
            ctx.log("ignoring aborts");
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<(), String>(())
        })
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), tm.abort(&upid))
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "grace period was honoured: {elapsed:?}"
    );
    let status = tm.status(&upid).await.unwrap();
    assert_eq!(status.status, RunState::Stopped);
    assert_eq!(status.exitstatus.as_deref(), Some(INTERRUPTED_STATUS));
    assert!(tm.running_tasks().is_empty());
}

#[tokio::test]
async fn context_logs_after_end_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let (tx, rx) = oneshot::channel();
    let upid = tm
        .spawn("test", None, "root@pam", |ctx| async move {
            tx.send(ctx.clone()).ok();
            Ok::<(), String>(())
        })
        .unwrap();
    let ctx = rx.await.unwrap();
    tm.wait(&upid).await.unwrap();
    ctx.log("too late");
    assert_eq!(log_text(&tm, &upid).await, ["TASK OK"]);
}

#[tokio::test]
async fn unknown_tasks_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let ghost: Upid = format!("UPID:{NODE}:00000001:00000001:00000001:qmstart:100:root@pam:")
        .parse()
        .unwrap();
    assert!(matches!(
        tm.status(&ghost).await,
        Err(TaskError::NoSuchTask { .. })
    ));
    assert!(matches!(
        tm.read_log(&ghost, 0, 50).await,
        Err(TaskError::NoSuchTask { .. })
    ));
    assert!(matches!(
        tm.abort(&ghost).await,
        Err(TaskError::NoSuchTask { .. })
    ));
    let other: Upid = "UPID:other:00000001:00000001:00000001:qmstart:100:root@pam:"
        .parse()
        .unwrap();
    assert!(matches!(
        tm.status(&other).await,
        Err(TaskError::NoSuchTask { .. })
    ));

    let bad = tm.spawn("bad:type", None, "root@pam", |_| async {
        Ok::<(), String>(())
    });
    assert!(matches!(
        bad,
        Err(TaskError::InvalidField { field: "type", .. })
    ));
    let bad = tm.spawn("t", None, "root pam", |_| async { Ok::<(), String>(()) });
    assert!(matches!(
        bad,
        Err(TaskError::InvalidField { field: "user", .. })
    ));

    let done = tm
        .spawn("t", Some("local:iso/x.iso"), "root@pam", |_| async {
            Ok::<(), String>(())
        })
        .unwrap();
    assert!(done.to_string().contains(":local%3Aiso%2Fx.iso:"));
    tm.wait(&done).await.unwrap();
    tm.abort(&done).await.unwrap();
    assert_eq!(tm.status(&done).await.unwrap().id, "local:iso/x.iso");
}

#[test]
fn spawn_outside_runtime_fails() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let res = tm.spawn("t", None, "root@pam", |_| async { Ok::<(), String>(()) });
    assert!(matches!(res, Err(TaskError::NoRuntime)));
}
