//! Reading task logs page by page, as GET .../tasks/{upid}/log.

mod common;

use common::manager;
use oxve_tasks::LogLine;
use tokio::sync::oneshot;

#[tokio::test]
async fn pages_are_numbered_from_one() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let upid = tm
        .spawn("test", None, "root@pam", |ctx| async move {
            for i in 1..=10 {
                ctx.log(format!("line {i}"));
            }
            Ok::<(), String>(())
        })
        .unwrap();
    tm.wait(&upid).await.unwrap();

    let (lines, total) = tm.read_log(&upid, 0, 3).await.unwrap();
    assert_eq!(total, 11, "10 lines + TASK OK");
    assert_eq!(
        lines,
        vec![
            LogLine {
                n: 1,
                t: "line 1".into()
            },
            LogLine {
                n: 2,
                t: "line 2".into()
            },
            LogLine {
                n: 3,
                t: "line 3".into()
            },
        ]
    );

    let (lines, total) = tm.read_log(&upid, 3, 3).await.unwrap();
    assert_eq!(total, 11);
    assert_eq!(lines.iter().map(|l| l.n).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(lines[0].t, "line 4");

    let (lines, total) = tm.read_log(&upid, 9, 50).await.unwrap();
    assert_eq!(total, 11);
    assert_eq!(
        lines,
        vec![
            LogLine {
                n: 10,
                t: "line 10".into()
            },
            LogLine {
                n: 11,
                t: "TASK OK".into()
            }
        ]
    );

    let (lines, total) = tm.read_log(&upid, 20, 5).await.unwrap();
    assert!(lines.is_empty());
    assert_eq!(total, 11);

    let (lines, _) = tm.read_log(&upid, 0, 0).await.unwrap();
    assert_eq!(lines.len(), 11, "limit 0 reads to the end");

    let json = serde_json::to_value(&lines[0]).unwrap();
    assert_eq!(json, serde_json::json!({"n": 1, "t": "line 1"}));
}

#[tokio::test]
async fn empty_log_of_running_task() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let (tx, rx) = oneshot::channel::<()>();
    let upid = tm
        .spawn("test", None, "root@pam", |_ctx| async move {
            rx.await.map_err(|e| e.to_string())
        })
        .unwrap();
    let (lines, total) = tm.read_log(&upid, 0, 50).await.unwrap();
    assert_eq!(
        lines,
        vec![LogLine {
            n: 1,
            t: "no content".into()
        }]
    );
    assert_eq!(total, 1);
    tx.send(()).unwrap();
    tm.wait(&upid).await.unwrap();
    let (lines, total) = tm.read_log(&upid, 0, 50).await.unwrap();
    assert_eq!((lines[0].t.as_str(), total), ("TASK OK", 1));
}
