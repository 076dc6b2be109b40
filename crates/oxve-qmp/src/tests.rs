//! The client against the fake QMP peer: handshake, id matching, events, errors, timeouts,
//! disconnects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::events::names;
use crate::fake::{FakeCommand, FakeQmpServer, FakeReply};
use crate::types::{JobStatus, RunState};
use crate::{BlockRef, ConnectOptions, QmpClient, QmpError};

const T: Duration = Duration::from_secs(5);

fn server() -> (tempfile::TempDir, FakeQmpServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeQmpServer::bind(dir.path().join("qmp.sock")).unwrap();
    (dir, server)
}

/// Starts a fake peer answering with `handler` and a client connected to it; also returns
/// every command the peer received.
async fn serve<F>(handler: F) -> (tempfile::TempDir, QmpClient, Arc<Mutex<Vec<FakeCommand>>>)
where
    F: Fn(&FakeCommand) -> FakeReply + Send + 'static,
{
    let (dir, server) = server();
    let path = server.path().to_path_buf();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(server.serve(move |cmd| {
        log.lock().unwrap().push(cmd.clone());
        handler(cmd)
    }));
    let client = QmpClient::connect(&path).await.unwrap();
    (dir, client, seen)
}

#[tokio::test]
async fn handshake_reads_the_greeting() {
    let (_dir, client, seen) = serve(|_| FakeReply::Return(json!({}))).await;
    assert_eq!(client.greeting().version.qemu.major, 10);
    assert_eq!(client.greeting().version.qemu.to_string(), "10.0.2");
    client.stop().await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "qmp_capabilities is answered by accept()");
    assert_eq!(seen[0].execute, "stop");
    assert!(seen[0].arguments.is_null());
}

#[tokio::test]
async fn replies_are_matched_to_requests_by_id() {
    let (_dir, server) = server();
    let path = server.path().to_path_buf();
    let peer = tokio::spawn(async move {
        let mut conn = server.accept().await.unwrap();
        let a = conn.recv().await.unwrap().unwrap();
        let b = conn.recv().await.unwrap().unwrap();
        assert_ne!(a.id, b.id);
        // Answer in reverse order.
        for cmd in [&b, &a] {
            let status = if cmd.execute == "query-status" {
                json!({"running": true, "status": "running"})
            } else {
                json!({"qemu": {"major": 9, "minor": 2, "micro": 0}, "package": ""})
            };
            conn.reply(cmd, status).await.unwrap();
        }
        conn
    });
    let client = QmpClient::connect(&path).await.unwrap();
    let (status, version) = tokio::join!(client.query_status(), client.query_version());
    assert_eq!(status.unwrap().status, RunState::Running);
    assert_eq!(version.unwrap().qemu.major, 9);
    drop(peer.await.unwrap());
}

#[tokio::test]
async fn events_interleaved_with_replies_reach_every_subscriber() {
    let (_dir, client, _) = serve(|cmd| match cmd.execute.as_str() {
        "stop" => FakeReply::EventsThen(
            vec![(names::STOP.into(), Value::Null)],
            Box::new(FakeReply::Return(json!({}))),
        ),
        "cont" => FakeReply::EventsThen(
            vec![
                (names::RESUME.into(), Value::Null),
                (
                    names::SHUTDOWN.into(),
                    json!({"guest": true, "reason": "guest-shutdown"}),
                ),
            ],
            Box::new(FakeReply::Return(json!({}))),
        ),
        _ => FakeReply::Return(json!({})),
    })
    .await;
    let mut first = client.subscribe();
    let mut second = client.subscribe();
    client.stop().await.unwrap();
    client.cont().await.unwrap();
    for events in [&mut first, &mut second] {
        assert_eq!(events.recv().await.unwrap().event, names::STOP);
        assert_eq!(events.recv().await.unwrap().event, names::RESUME);
        let shutdown = events.recv().await.unwrap();
        let data: crate::events::Shutdown = shutdown.data_as().unwrap();
        assert!(data.guest);
        assert_eq!(data.reason, "guest-shutdown");
    }
    assert!(first.try_recv().is_none());
}

#[tokio::test]
async fn error_replies_carry_class_and_description() {
    let (_dir, client, _) = serve(|cmd| FakeReply::Error {
        class: "DeviceNotActive".into(),
        desc: format!("No balloon device has been activated ({})", cmd.execute),
    })
    .await;
    let err = client.query_balloon().await.unwrap_err();
    assert_eq!(err.class(), Some("DeviceNotActive"));
    match &err {
        QmpError::Command {
            command,
            class,
            desc,
        } => {
            assert_eq!(command, "query-balloon");
            assert_eq!(class, "DeviceNotActive");
            assert!(desc.contains("No balloon device"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("query-balloon"));
}

#[tokio::test]
async fn a_command_times_out_and_its_late_reply_is_dropped() {
    let (_dir, server) = server();
    let path = server.path().to_path_buf();
    let peer = tokio::spawn(async move {
        let mut conn = server.accept().await.unwrap();
        let slow = conn.recv().await.unwrap().unwrap();
        let next = conn.recv().await.unwrap().unwrap();
        // The late reply to the first command, then the answer to the second.
        conn.reply(&slow, json!({"running": true, "status": "running"}))
            .await
            .unwrap();
        conn.reply(&next, json!({"running": false, "status": "paused"}))
            .await
            .unwrap();
        conn
    });
    let client = QmpClient::connect(&path).await.unwrap();
    let quick = client.with_timeout(Duration::from_millis(100));
    let err = quick.query_status().await.unwrap_err();
    assert!(
        matches!(&err, QmpError::Timeout { command, timeout } if command == "query-status" && *timeout == Duration::from_millis(100)),
        "{err:?}"
    );
    let status = client.query_status().await.unwrap();
    assert_eq!(status.status, RunState::Paused);
    drop(peer.await.unwrap());
}

#[tokio::test]
async fn a_disconnect_fails_pending_and_later_commands_and_ends_event_streams() {
    let (_dir, server) = server();
    let path = server.path().to_path_buf();
    let peer = tokio::spawn(async move {
        let mut conn = server.accept().await.unwrap();
        let _cmd = conn.recv().await.unwrap().unwrap();
        conn.event(names::STOP, Value::Null).await.unwrap();
        drop(conn);
        server
    });
    let client = QmpClient::connect(&path).await.unwrap();
    let mut events = client.subscribe();
    let err = client.query_status().await.unwrap_err();
    assert!(err.is_disconnected(), "{err:?}");
    tokio::time::timeout(T, client.closed()).await.unwrap();
    assert!(client.is_closed());
    let err = client.cont().await.unwrap_err();
    assert!(matches!(&err, QmpError::Disconnected { command } if command == "cont"));
    // Events received before the close are still delivered, then the stream ends.
    assert_eq!(events.recv().await.unwrap().event, names::STOP);
    assert!(events.recv().await.unwrap_err().is_disconnected());
    let err = client
        .subscribe()
        .wait_for_event(names::SHUTDOWN, T)
        .await
        .unwrap_err();
    assert!(matches!(err, QmpError::EventsClosed { .. }), "{err:?}");
    drop(peer.await.unwrap());
}

#[tokio::test]
async fn quit_succeeds_when_qemu_closes_before_answering() {
    let (_dir, client, _) = serve(|cmd| match cmd.execute.as_str() {
        "quit" => FakeReply::Close,
        _ => FakeReply::Return(json!({})),
    })
    .await;
    client.quit().await.unwrap();
    tokio::time::timeout(T, client.closed()).await.unwrap();
}

#[tokio::test]
async fn connect_errors_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sock");
    let err = QmpClient::connect(&missing).await.unwrap_err();
    assert!(matches!(&err, QmpError::Connect { path, .. } if path == &missing));

    // A peer that accepts but never greets.
    let silent = FakeQmpServer::bind(dir.path().join("silent.sock")).unwrap();
    let opts = ConnectOptions {
        handshake_timeout: Duration::from_millis(200),
        ..ConnectOptions::default()
    };
    let hold = tokio::spawn(async move {
        let conn = silent.accept_raw().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(conn);
    });
    let err = QmpClient::connect_with(dir.path().join("silent.sock"), opts.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, QmpError::ConnectTimeout { .. }), "{err:?}");
    hold.abort();

    // A peer that does not speak QMP.
    let garbage = FakeQmpServer::bind(dir.path().join("garbage.sock")).unwrap();
    tokio::spawn(async move {
        let mut conn = garbage.accept_raw().await.unwrap();
        conn.send_raw(b"SSH-2.0-OpenSSH\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let err = QmpClient::connect_with(dir.path().join("garbage.sock"), opts)
        .await
        .unwrap_err();
    assert!(matches!(err, QmpError::Handshake { .. }), "{err:?}");
}

#[tokio::test]
async fn connect_waits_for_a_socket_that_appears_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.sock");
    let bind_path = path.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let server = FakeQmpServer::bind(&bind_path).unwrap();
        let _conn = server.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let opts = ConnectOptions {
        wait_for_socket: Duration::from_secs(5),
        ..ConnectOptions::default()
    };
    let client = QmpClient::connect_with(&path, opts).await.unwrap();
    assert_eq!(client.path(), path.as_path());
}

#[tokio::test]
async fn a_slow_subscriber_is_told_it_lost_events() {
    let (_dir, server) = server();
    let path = server.path().to_path_buf();
    let peer = tokio::spawn(async move {
        let mut conn = server.accept().await.unwrap();
        let cmd = conn.recv().await.unwrap().unwrap();
        for _ in 0..5 {
            conn.event(names::RESET, Value::Null).await.unwrap();
        }
        conn.reply(&cmd, json!({})).await.unwrap();
        conn
    });
    let opts = ConnectOptions {
        event_capacity: 2,
        ..ConnectOptions::default()
    };
    let client = QmpClient::connect_with(&path, opts).await.unwrap();
    let mut events = client.subscribe();
    client.system_reset().await.unwrap();
    let err = events.recv().await.unwrap_err();
    assert!(matches!(err, QmpError::EventsLagged(3)), "{err:?}");
    assert_eq!(events.recv().await.unwrap().event, names::RESET);
    drop(peer.await.unwrap());
}

#[tokio::test]
async fn wait_job_follows_a_job_to_its_end_and_dismisses_it() {
    let (_dir, server) = server();
    let path = server.path().to_path_buf();
    let peer = tokio::spawn(async move {
        let mut conn = server.accept().await.unwrap();
        let start = conn.recv().await.unwrap().unwrap();
        assert_eq!(start.execute, "snapshot-save");
        assert_eq!(
            start.arguments,
            json!({"job-id": "snap1", "tag": "s1", "vmstate": "disk0", "devices": ["disk0"]})
        );
        conn.reply(&start, json!({})).await.unwrap();
        let job = |status: &str, error: Option<&str>| {
            let mut j = json!({"id": "snap1", "type": "snapshot-save", "status": status,
                               "current-progress": 1, "total-progress": 1});
            if let Some(e) = error {
                j["error"] = json!(e);
            }
            json!([j])
        };
        let q = conn.recv().await.unwrap().unwrap();
        assert_eq!(q.execute, "query-jobs");
        conn.reply(&q, job("running", None)).await.unwrap();
        conn.event(
            names::JOB_STATUS_CHANGE,
            json!({"id": "other", "status": "concluded"}),
        )
        .await
        .unwrap();
        conn.event(
            names::JOB_STATUS_CHANGE,
            json!({"id": "snap1", "status": "concluded"}),
        )
        .await
        .unwrap();
        let q = conn.recv().await.unwrap().unwrap();
        assert_eq!(q.execute, "query-jobs");
        conn.reply(
            &q,
            job(
                "concluded",
                Some("Device 'disk0' is writable but does not support snapshots"),
            ),
        )
        .await
        .unwrap();
        let d = conn.recv().await.unwrap().unwrap();
        assert_eq!(d.execute, "job-dismiss");
        assert_eq!(d.arguments, json!({"id": "snap1"}));
        conn.reply(&d, json!({})).await.unwrap();
        conn
    });
    let client = QmpClient::connect(&path).await.unwrap();
    client
        .snapshot_save("snap1", "s1", "disk0", &["disk0"])
        .await
        .unwrap();
    let err = client.wait_job("snap1", T).await.unwrap_err();
    match err {
        QmpError::JobFailed { job, error } => {
            assert_eq!(job, "snap1");
            assert!(error.contains("does not support snapshots"));
        }
        other => panic!("{other:?}"),
    }
    drop(peer.await.unwrap());
}

#[tokio::test]
async fn typed_helpers_send_qemu_argument_names() {
    let (_dir, client, seen) = serve(|cmd| match cmd.execute.as_str() {
        "human-monitor-command" => FakeReply::Return(json!("QEMU 10.0.2 monitor\r\n")),
        "query-jobs" => FakeReply::Return(json!([{"id": "j", "type": "mirror",
            "status": "ready", "current-progress": 5, "total-progress": 5}])),
        _ => FakeReply::Return(json!({})),
    })
    .await;
    client
        .block_resize(BlockRef::Node("drive-scsi0"), 1 << 30)
        .await
        .unwrap();
    client
        .block_resize(BlockRef::Device("scsi0"), 2 << 30)
        .await
        .unwrap();
    client
        .device_add(
            "scsi-hd",
            "scsi1",
            &json!({"drive": "drive-scsi1", "bus": "scsihw0.0"}),
        )
        .await
        .unwrap();
    client
        .send_qcodes(&["ctrl", "alt", "delete"])
        .await
        .unwrap();
    client
        .migrate_set_capabilities(&[("xbzrle", true), ("events", false)])
        .await
        .unwrap();
    client.balloon(512 << 20).await.unwrap();
    let out = client.human_monitor_command("info version").await.unwrap();
    assert!(out.starts_with("QEMU 10.0.2"));
    let jobs = client.query_jobs().await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Ready);

    let seen = seen.lock().unwrap();
    let args: Vec<(&str, &Value)> = seen
        .iter()
        .map(|c| (c.execute.as_str(), &c.arguments))
        .collect();
    assert_eq!(
        args[0],
        (
            "block_resize",
            &json!({"node-name": "drive-scsi0", "size": 1u64 << 30})
        )
    );
    assert_eq!(
        args[1],
        (
            "block_resize",
            &json!({"device": "scsi0", "size": 2u64 << 30})
        )
    );
    assert_eq!(
        args[2],
        (
            "device_add",
            &json!({"driver": "scsi-hd", "id": "scsi1", "drive": "drive-scsi1", "bus": "scsihw0.0"})
        )
    );
    assert_eq!(
        args[3],
        (
            "send-key",
            &json!({"keys": [{"type": "qcode", "data": "ctrl"}, {"type": "qcode", "data": "alt"},
                             {"type": "qcode", "data": "delete"}]})
        )
    );
    assert_eq!(
        args[4],
        (
            "migrate-set-capabilities",
            &json!({"capabilities": [{"capability": "xbzrle", "state": true},
                                     {"capability": "events", "state": false}]})
        )
    );
    assert_eq!(args[5], ("balloon", &json!({"value": 512u64 << 20})));
    assert_eq!(
        args[6],
        (
            "human-monitor-command",
            &json!({"command-line": "info version"})
        )
    );
}

#[tokio::test]
async fn many_concurrent_commands_on_clones_all_get_their_own_reply() {
    let (_dir, client, _) = serve(|cmd| {
        FakeReply::Return(json!(format!(
            "{}",
            cmd.arguments["command-line"].as_str().unwrap()
        )))
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let line = format!("cmd-{i}");
            assert_eq!(c.human_monitor_command(&line).await.unwrap(), line);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
