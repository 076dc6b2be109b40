//! Worker tasks through the API: UPIDs, status, logs with paging, list filters, abort,
//! owner-only visibility, and tasks surviving a daemon restart.

mod common;

use common::{wait_task, Daemon, DaemonOptions, Session};

#[tokio::test]
async fn task_lifecycle_logs_and_abort() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;

    let r = s
        .post(
            "/nodes/testnode/oxve-test/sleep",
            &[("seconds", "1"), ("warn", "2")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let upid = r.data().as_str().unwrap().to_string();
    assert_eq!(upid.split(':').count(), 9, "{upid}");
    assert!(upid.starts_with("UPID:testnode:"));
    assert!(upid.ends_with(":testsleep::admin@pve:"));

    // running: no exitstatus key yet
    let running = s
        .get(&format!("/nodes/testnode/tasks/{upid}/status"), &[])
        .await;
    assert_eq!(running.data()["status"], "running");
    assert!(running.data().get("exitstatus").is_none());

    let done = wait_task(&s, &upid).await;
    assert_eq!(done["exitstatus"], "WARNINGS: 2");
    assert_eq!(done["type"], "testsleep");
    assert_eq!(done["user"], "admin@pve");

    let log = s
        .get(&format!("/nodes/testnode/tasks/{upid}/log"), &[])
        .await;
    let lines = log.data().as_array().unwrap();
    assert_eq!(lines[0]["n"], 1);
    assert_eq!(lines[0]["t"], "starting test sleep");
    assert_eq!(lines.last().unwrap()["t"], "TASK WARNINGS: 2");
    let total = log.body["total"].as_u64().unwrap();
    assert_eq!(total as usize, lines.len());
    let page = s
        .get(
            &format!("/nodes/testnode/tasks/{upid}/log"),
            &[("start", "1"), ("limit", "2")],
        )
        .await;
    let page = page.data().as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["n"], 2);

    // a failing task
    let r = s
        .post(
            "/nodes/testnode/oxve-test/sleep",
            &[("seconds", "0"), ("fail", "disk exploded")],
        )
        .await;
    let failed = r.data().as_str().unwrap().to_string();
    assert_eq!(wait_task(&s, &failed).await["exitstatus"], "disk exploded");

    // abort a long task
    let r = s
        .post("/nodes/testnode/oxve-test/sleep", &[("seconds", "600")])
        .await;
    let long = r.data().as_str().unwrap().to_string();
    let active = s
        .get("/nodes/testnode/tasks", &[("source", "active")])
        .await;
    assert!(active
        .data()
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["upid"] == long.as_str()));
    let stop = s
        .delete(&format!("/nodes/testnode/tasks/{long}"), &[])
        .await;
    assert_eq!(stop.status, 200, "{:?}", stop.body);
    let aborted = wait_task(&s, &long).await;
    assert_ne!(aborted["exitstatus"], "OK");

    // list with filters
    let list = s
        .get("/nodes/testnode/tasks", &[("typefilter", "testsleep")])
        .await;
    assert_eq!(list.body["total"], 3);
    let errors = s.get("/nodes/testnode/tasks", &[("errors", "1")]).await;
    let errs = errors.data().as_array().unwrap();
    assert!(errs.iter().all(|t| t["status"] != "OK"));
    assert!(errs.iter().any(|t| t["upid"] == failed.as_str()));
    let limited = s.get("/nodes/testnode/tasks", &[("limit", "1")]).await;
    assert_eq!(limited.data().as_array().unwrap().len(), 1);

    // garbage UPIDs are parameter errors, not file lookups
    let bad = s
        .get("/nodes/testnode/tasks/UPID:..%2F..%2Fetc:x/status", &[])
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
}

#[tokio::test]
async fn tasks_are_private_and_survive_restart() {
    let mut d = Daemon::start();
    let admin = Session::admin(&d).await;
    assert_eq!(
        admin
            .post(
                "/access/users",
                &[("userid", "bob@pve"), ("password", "bob-pass-1")]
            )
            .await
            .status,
        200
    );
    // bob may run test tasks (Sys.Modify on the node) but has no Sys.Audit there
    let r = admin
        .post(
            "/access/roles",
            &[("roleid", "Runner"), ("privs", "Sys.Modify")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = admin
        .put(
            "/access/acl",
            &[
                ("path", "/nodes/testnode"),
                ("roles", "Runner"),
                ("users", "bob@pve"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bob = Session::new(&d, "bob@pve", "bob-pass-1").await;
    let mine = bob
        .post("/nodes/testnode/oxve-test/sleep", &[("seconds", "0")])
        .await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    let mine = mine.data().as_str().unwrap().to_string();
    let admins = admin
        .post("/nodes/testnode/oxve-test/sleep", &[("seconds", "600")])
        .await;
    let admins = admins.data().as_str().unwrap().to_string();
    wait_task(&bob, &mine).await;

    // without any rights on the node bob still sees his own tasks, and only those
    admin
        .put(
            "/access/acl",
            &[
                ("path", "/nodes/testnode"),
                ("roles", "Runner"),
                ("users", "bob@pve"),
                ("delete", "1"),
            ],
        )
        .await;
    let list = bob.get("/nodes/testnode/tasks", &[("source", "all")]).await;
    let upids: Vec<&str> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["upid"].as_str().unwrap())
        .collect();
    assert!(upids.contains(&mine.as_str()));
    assert!(!upids.contains(&admins.as_str()));
    let other = bob
        .get(&format!("/nodes/testnode/tasks/{admins}/status"), &[])
        .await;
    assert_eq!(other.status, 403);
    assert_eq!(
        bob.delete(&format!("/nodes/testnode/tasks/{admins}"), &[])
            .await
            .status,
        403
    );

    // kill the daemon while the admin's task runs: after restart it is listed as ended
    d.restart(&DaemonOptions::default());
    let admin = Session::admin(&d).await;
    let st = admin
        .get(&format!("/nodes/testnode/tasks/{admins}/status"), &[])
        .await;
    assert_eq!(st.status, 200, "{:?}", st.body);
    assert_eq!(st.data()["status"], "stopped");
    assert_eq!(st.data()["exitstatus"], "unexpected status");
    let list = admin.get("/nodes/testnode/tasks", &[]).await;
    let upids: Vec<&str> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["upid"].as_str().unwrap())
        .collect();
    assert!(upids.contains(&mine.as_str()) && upids.contains(&admins.as_str()));
}
