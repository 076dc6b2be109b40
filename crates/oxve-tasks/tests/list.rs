//! The task list and its filters, as GET /nodes/{node}/tasks.

mod common;

use common::manager;
use oxve_tasks::{TaskFilter, TaskManager, TaskSource, TaskStatusType, Upid};
use tokio::sync::oneshot;

async fn run(
    tm: &TaskManager,
    wtype: &str,
    id: Option<&str>,
    user: &str,
    result: Result<u32, &'static str>,
) -> Upid {
    let upid = tm
        .spawn(wtype, id, user, move |ctx| async move {
            match result {
                Ok(warnings) => {
                    (0..warnings).for_each(|_| ctx.warn("careful"));
                    Ok(())
                }
                Err(msg) => Err(msg),
            }
        })
        .unwrap();
    tm.wait(&upid).await.unwrap();
    upid
}

fn upids(list: &(Vec<oxve_tasks::TaskListEntry>, usize)) -> Vec<Upid> {
    list.0.iter().map(|e| e.upid.clone()).collect()
}

#[tokio::test]
async fn filters_and_paging() {
    let dir = tempfile::tempdir().unwrap();
    let tm = manager(dir.path());
    let a = run(&tm, "qmstart", Some("100"), "root@pam", Ok(0)).await;
    let b = run(&tm, "qmstop", Some("100"), "Alice@pve", Ok(1)).await;
    let c = run(
        &tm,
        "vzdump",
        Some("200"),
        "alice@pve!backup",
        Err("failed"),
    )
    .await;
    let d = run(&tm, "aptupdate", None, "root@pam", Ok(0)).await;
    let (tx, rx) = oneshot::channel::<()>();
    let running = tm
        .spawn("qmigrate", Some("100"), "root@pam", |_| async move {
            rx.await.map_err(|e| e.to_string())
        })
        .unwrap();

    let all = tm.list(&TaskFilter::default());
    assert_eq!(all.1, 4, "archive only by default");
    assert_eq!(
        upids(&all),
        [d.clone(), c.clone(), b.clone(), a.clone()],
        "most recent first"
    );
    let entry = &all.0[1];
    assert_eq!(entry.status.as_deref(), Some("failed"));
    assert_eq!(entry.user, "alice@pve");
    assert_eq!(entry.tokenid.as_deref(), Some("backup"));
    let json = serde_json::to_value(&all.0[0]).unwrap();
    for key in [
        "upid",
        "node",
        "pid",
        "pstart",
        "starttime",
        "type",
        "id",
        "user",
        "status",
        "endtime",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["status"], "OK");
    assert_eq!(json["id"], "");
    assert!(json.get("tokenid").is_none());

    let f = |f: TaskFilter| upids(&tm.list(&f));
    assert_eq!(
        f(TaskFilter {
            typefilter: Some("qmstop".into()),
            ..Default::default()
        }),
        vec![b.clone()]
    );
    assert_eq!(
        f(TaskFilter {
            vmid: Some(100),
            ..Default::default()
        }),
        [b.clone(), a.clone()]
    );
    assert_eq!(
        f(TaskFilter {
            userfilter: Some("ALICE".into()),
            ..Default::default()
        }),
        [c.clone(), b.clone()]
    );
    assert_eq!(
        f(TaskFilter {
            errors: true,
            ..Default::default()
        }),
        [c.clone(), b.clone()]
    );
    assert_eq!(
        f(TaskFilter {
            statusfilter: Some(vec![TaskStatusType::Error]),
            ..Default::default()
        }),
        vec![c.clone()]
    );
    assert_eq!(
        f(TaskFilter {
            statusfilter: Some(TaskStatusType::parse_list("ok,warning").unwrap()),
            ..Default::default()
        }),
        [d.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        f(TaskFilter {
            since: Some(d.starttime() + 1),
            ..Default::default()
        }),
        Vec::<Upid>::new()
    );
    assert_eq!(
        f(TaskFilter {
            until: Some(a.starttime() - 1),
            ..Default::default()
        }),
        Vec::<Upid>::new()
    );
    assert_eq!(
        f(TaskFilter {
            since: Some(a.starttime()),
            until: Some(d.starttime()),
            ..Default::default()
        })
        .len(),
        4
    );

    let page = tm.list(&TaskFilter {
        start: 1,
        limit: 2,
        ..Default::default()
    });
    assert_eq!(upids(&page), [c.clone(), b.clone()]);
    assert_eq!(page.1, 4, "total counts all matches");
    let none = tm.list(&TaskFilter {
        limit: 0,
        ..Default::default()
    });
    assert!(none.0.is_empty());
    assert_eq!(none.1, 4);

    let active = tm.list(&TaskFilter {
        source: TaskSource::Active,
        ..Default::default()
    });
    assert_eq!(upids(&active), vec![running.clone()]);
    assert_eq!(active.0[0].status.as_deref(), Some("RUNNING"));
    assert_eq!(active.0[0].endtime, None);
    let everything = tm.list(&TaskFilter {
        source: TaskSource::All,
        ..Default::default()
    });
    assert_eq!(everything.1, 5);
    assert_eq!(everything.0[0].upid, running);
    let running_errors = tm.list(&TaskFilter {
        source: TaskSource::All,
        errors: true,
        ..Default::default()
    });
    assert_eq!(
        upids(&running_errors),
        [running.clone(), c.clone(), b.clone()]
    );
    let ok_only = tm.list(&TaskFilter {
        source: TaskSource::All,
        statusfilter: Some(vec![TaskStatusType::Ok]),
        ..Default::default()
    });
    assert_eq!(
        upids(&ok_only),
        [d.clone(), a.clone()],
        "running tasks are 'unknown'"
    );

    tx.send(()).unwrap();
    tm.wait(&running).await.unwrap();
    assert_eq!(tm.list(&TaskFilter::default()).0[0].upid, running);
    assert!(tm
        .list(&TaskFilter {
            source: TaskSource::Active,
            ..Default::default()
        })
        .0
        .is_empty());
}
