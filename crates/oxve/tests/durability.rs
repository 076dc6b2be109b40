//! A daemon killed with SIGKILL in the middle of a burst of writes loses no acknowledged
//! change and comes back with a consistent store.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Daemon, DaemonOptions, Session};

#[tokio::test]
async fn sigkill_during_write_burst_loses_nothing_acknowledged() {
    let mut d = Daemon::start();
    let s = Session::admin(&d).await;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();

    let mut writers = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..1000 {
                let userid = format!("burst{w}x{i}@pve");
                let form = [("userid", userid.as_str()), ("comment", "burst")];
                let req = s
                    .http
                    .post(format!("{}/api2/json/access/users", s.base))
                    .header("Cookie", format!("PVEAuthCookie={}", s.ticket))
                    .header("CSRFPreventionToken", &s.csrf)
                    .form(&form);
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => acked.lock().unwrap().push(userid),
                    _ => break, // the daemon is gone
                }
            }
        }));
    }
    // let the burst run, then kill the daemon mid-flight
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().unwrap().len() >= 40 {
            break;
        }
    }
    d.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 40);

    d.restart(&DaemonOptions::default());
    let s = Session::admin(&d).await;
    let users = s.get("/access/users", &[]).await;
    assert_eq!(users.status, 200);
    let present: std::collections::HashSet<&str> = users
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userid"].as_str())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|u| !present.contains(u.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after SIGKILL: {lost:?}"
    );
    // the store still takes writes after recovery
    assert_eq!(
        s.post("/access/users", &[("userid", "after@pve")])
            .await
            .status,
        200
    );
}
