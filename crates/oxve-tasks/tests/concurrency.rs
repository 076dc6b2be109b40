//! Many tasks at once: unique UPIDs, concurrent queries.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::manager;
use oxve_tasks::{RunState, TaskFilter, TaskSource};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_spawns_get_unique_upids() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let mut spawners = Vec::new();
    for _ in 0..8 {
        let tm = Arc::clone(&tm);
        spawners.push(tokio::spawn(async move {
            let mut upids = Vec::new();
            for i in 0..25 {
                let upid = tm
                    .spawn("qmstart", Some("100"), "root@pam", move |ctx| async move {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        ctx.log(format!("task {i}"));
                        Ok::<(), String>(())
                    })
                    .unwrap();
                upids.push(upid);
            }
            upids
        }));
    }
    let mut upids = Vec::new();
    for spawner in spawners {
        upids.extend(spawner.await.unwrap());
    }
    let unique: HashSet<String> = upids.iter().map(|u| u.to_string()).collect();
    assert_eq!(unique.len(), 200);
    let starts: HashSet<i64> = upids.iter().map(|u| u.starttime()).collect();
    assert_eq!(
        starts.len(),
        200,
        "same type/id/user: start times are bumped"
    );

    let mut queries = Vec::new();
    for upid in upids.clone() {
        let tm = Arc::clone(&tm);
        queries.push(tokio::spawn(async move {
            tm.status(&upid).await.unwrap();
            tm.read_log(&upid, 0, 10).await.unwrap();
            tm.list(&TaskFilter {
                source: TaskSource::All,
                ..Default::default()
            });
            tm.wait(&upid).await.unwrap()
        }));
    }
    for query in queries {
        let status = query.await.unwrap();
        assert_eq!(status.status, RunState::Stopped);
        assert_eq!(status.exitstatus.as_deref(), Some("OK"));
    }
    let (_, total) = tm.list(&TaskFilter::default());
    assert_eq!(total, 200);
    assert!(tm.running_tasks().is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("active")).unwrap(),
        ""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_right_after_wait() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..20 {
        let tm = manager(dir.path());
        let upid = tm
            .spawn("t", None, "root@pam", |_| async { Ok::<(), String>(()) })
            .unwrap();
        tm.wait(&upid).await.unwrap();
        drop(tm);
    }
    assert_eq!(manager(dir.path()).list(&TaskFilter::default()).1, 20);
}
