//! Restarts: finished tasks survive, tasks of a dead daemon end as
//! "unexpected status", the index rotates.

mod common;

use std::time::Duration;

use common::{log_file, log_text, manager, NODE};
use oxve_tasks::{
    RunState, TaskError, TaskFilter, TaskManager, TaskOptions, TaskSource, Upid, UNEXPECTED_STATUS,
};

#[tokio::test]
async fn finished_tasks_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let ok = tm.spawn("qmstart", Some("100"), "root@pam", |ctx| async move {
        ctx.log("started");
        Ok::<(), String>(())
    });
    let ok = ok.unwrap();
    tm.wait(&ok).await.unwrap();
    let bad = tm
        .spawn("qmstop", Some("100"), "root@pam", |_| async {
            Err("no such VM")
        })
        .unwrap();
    tm.wait(&bad).await.unwrap();
    assert!(matches!(
        TaskManager::new(NODE, dir.path().to_path_buf()),
        Err(TaskError::DirLocked { .. })
    ));
    drop(tm);

    let tm = manager(dir.path());
    let (list, total) = tm.list(&TaskFilter::default());
    assert_eq!(total, 2);
    assert_eq!(list[0].upid, bad);
    assert_eq!(list[0].status.as_deref(), Some("no such VM"));
    assert_eq!(list[1].status.as_deref(), Some("OK"));
    let status = tm.status(&ok).await.unwrap();
    assert_eq!(
        (status.status, status.exitstatus.as_deref()),
        (RunState::Stopped, Some("OK"))
    );
    assert_eq!(log_text(&tm, &ok).await, ["started", "TASK OK"]);

    let again = tm
        .spawn("qmstart", Some("100"), "root@pam", |_| async {
            Ok::<(), String>(())
        })
        .unwrap();
    assert_ne!(again, ok, "a restarted manager never reuses a UPID");
    tm.wait(&again).await.unwrap();
    assert_eq!(tm.list(&TaskFilter::default()).1, 3);
}

/// Writes the state a dead daemon leaves: a log without status line and
/// the UPID in the `active` list.
fn leave_dead_task(dir: &std::path::Path, upid: &Upid, log: &str) {
    let path = log_file(dir, upid);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, log).unwrap();
    let active = dir.join("active");
    let mut list = std::fs::read_to_string(&active).unwrap_or_default();
    list.push_str(&format!("{upid}\n"));
    std::fs::write(active, list).unwrap();
}

#[tokio::test]
async fn tasks_of_a_dead_daemon_end_as_unexpected_status() {
    let dir = tempfile::tempdir().unwrap();
    let died: Upid = format!("UPID:{NODE}:00001000:00abcdef:65000000:qmstart:100:root@pam:")
        .parse()
        .unwrap();
    let finished: Upid = format!("UPID:{NODE}:00001000:00abcdef:65000001:qmstop:100:root@pam:")
        .parse()
        .unwrap();
    leave_dead_task(dir.path(), &died, "starting VM 100\n");
    leave_dead_task(dir.path(), &finished, "stopping\nTASK OK\n");

    let tm = manager(dir.path());
    let status = tm.status(&died).await.unwrap();
    assert_eq!(status.status, RunState::Stopped);
    assert_eq!(status.exitstatus.as_deref(), Some(UNEXPECTED_STATUS));
    assert!(status.endtime.is_some());
    let status = tm.status(&finished).await.unwrap();
    assert_eq!(
        status.exitstatus.as_deref(),
        Some("OK"),
        "a status line in the log wins"
    );
    let (list, _) = tm.list(&TaskFilter {
        source: TaskSource::All,
        ..Default::default()
    });
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .any(|e| e.upid == died && e.status.as_deref() == Some(UNEXPECTED_STATUS)));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("active")).unwrap(),
        ""
    );
    drop(tm);

    // Persisted: the index now holds the result, even if the log changes.
    std::fs::write(log_file(dir.path(), &died), "starting VM 100\nTASK OK\n").unwrap();
    let tm = manager(dir.path());
    assert_eq!(
        tm.status(&died).await.unwrap().exitstatus.as_deref(),
        Some(UNEXPECTED_STATUS)
    );
    assert_eq!(tm.list(&TaskFilter::default()).1, 2);
}

#[test]
fn task_running_when_the_runtime_dies() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let upid = runtime.block_on(async {
        let tm = manager(dir.path());
        let upid = tm
            .spawn("vzdump", Some("100"), "root@pam", |ctx| async move {
                ctx.log("INFO: starting backup");
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<(), String>(())
            })
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(tm.status(&upid).await.unwrap().status, RunState::Running);
        upid
    });
    // The daemon dies: its runtime and all tasks go away without finishing.
    drop(runtime);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tm = manager(dir.path());
        let status = tm.status(&upid).await.unwrap();
        assert_eq!(status.status, RunState::Stopped);
        assert_eq!(status.exitstatus.as_deref(), Some(UNEXPECTED_STATUS));
        assert_eq!(log_text(&tm, &upid).await, ["INFO: starting backup"]);
        let (list, total) = tm.list(&TaskFilter::default());
        assert_eq!(total, 1);
        assert_eq!(list[0].status.as_deref(), Some(UNEXPECTED_STATUS));
        assert!(tm.running_tasks().is_empty());
    });
}

#[tokio::test]
async fn index_rotation_keeps_statuses_readable() {
    let dir = tempfile::tempdir().unwrap();
    let options = TaskOptions {
        index_rotate_bytes: 300,
        ..TaskOptions::default()
    };
    let tm = TaskManager::with_options(NODE, dir.path().to_path_buf(), options.clone()).unwrap();
    let mut all = Vec::new();
    for i in 0..12 {
        let id = format!("{}", 100 + i);
        let upid = tm
            .spawn("qmstart", Some(&id), "root@pam", |_| async {
                Ok::<(), String>(())
            })
            .unwrap();
        tm.wait(&upid).await.unwrap();
        all.push(upid);
    }
    assert!(dir.path().join("index.1").exists());
    let (list, total) = tm.list(&TaskFilter {
        limit: 100,
        ..Default::default()
    });
    assert!((3..12).contains(&total), "old entries rotate away: {total}");
    assert_eq!(list[0].upid, all[11]);
    for upid in &all {
        assert_eq!(
            tm.status(upid).await.unwrap().exitstatus.as_deref(),
            Some("OK"),
            "{upid}"
        );
    }
    drop(tm);
    let tm = TaskManager::with_options(NODE, dir.path().to_path_buf(), options).unwrap();
    assert_eq!(
        tm.list(&TaskFilter {
            limit: 100,
            ..Default::default()
        })
        .1,
        total
    );
}
