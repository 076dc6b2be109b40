//! Consoles and the monitor of a real VM: the serial console through termproxy + vncwebsocket
//! (HTTPS websocket and `oxve vm terminal`), the VNC display through vncproxy, HMP through
//! `monitor`, keys through `sendkey`, and `showcmd`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{create_and_start_guest, wait_task, ws, Daemon, Session};
use futures::{SinkExt, StreamExt};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio_tungstenite::tungstenite::Message;

const VM: &str = "/nodes/testnode/qemu/410";

fn websocket_path(port: &serde_json::Value, ticket: &str) -> String {
    format!(
        "{VM}/vncwebsocket?port={port}&vncticket={}",
        utf8_percent_encode(ticket, NON_ALPHANUMERIC)
    )
}

/// Sends `command` to the guest's shell until `expect` shows in its output.
async fn run_in_guest(socket: &mut ws::Ws, command: &str, expect: &str) -> String {
    let mut output = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next_send = Instant::now();
    while !output.contains(expect) {
        assert!(Instant::now() < deadline, "no '{expect}' in: {output}");
        if Instant::now() >= next_send {
            let line = format!("{command}\r");
            let msg = format!("0:{}:{line}", line.len());
            socket.send(Message::text(msg)).await.unwrap();
            next_send = Instant::now() + Duration::from_secs(3);
        }
        if let Ok(Some(Ok(msg))) =
            tokio::time::timeout(Duration::from_millis(500), socket.next()).await
        {
            output.push_str(&String::from_utf8_lossy(&msg.into_data()));
        }
    }
    output
}

async fn wait_for_output(socket: &mut ws::Ws, expect: &str, secs: u64) -> String {
    let mut output = String::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !output.contains(expect) {
        assert!(Instant::now() < deadline, "no '{expect}' in: {output}");
        if let Ok(Some(Ok(msg))) =
            tokio::time::timeout(Duration::from_millis(500), socket.next()).await
        {
            output.push_str(&String::from_utf8_lossy(&msg.into_data()));
        }
    }
    output
}

#[tokio::test]
async fn serial_and_vnc_consoles_monitor_and_keys() {
    let d = Daemon::start();
    let s = Session::admin(&d).await;
    create_and_start_guest(&d, &s, 410, &[]).await;

    // termproxy: a session on a port in 5900-5999 with a one-time ticket
    let r = s
        .post(&format!("{VM}/termproxy"), &[("serial", "serial0")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (port, ticket) = (
        r.data()["port"].clone(),
        r.data()["ticket"].as_str().unwrap(),
    );
    assert!((5900..=5999).contains(&port.as_u64().unwrap()));
    assert_eq!(r.data()["user"], "admin@pve");
    let upid = r.data()["upid"].as_str().unwrap().to_string();
    assert!(upid.contains(":termproxy:410:"), "{upid}");
    // a serial port the VM does not have
    let r = s
        .post(&format!("{VM}/termproxy"), &[("serial", "serial2")])
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // a wrong ticket is refused, and does not use up the session
    assert_eq!(
        ws::connect(&s, &websocket_path(&port, "PVEVNC:wrong"))
            .await
            .err(),
        Some(403)
    );
    let mut term = ws::connect(&s, &websocket_path(&port, ticket))
        .await
        .expect("websocket upgrade");
    term.send(Message::text(format!("admin@pve:{ticket}\n")))
        .await
        .unwrap();
    let ok = term.next().await.unwrap().unwrap();
    assert_eq!(ok.into_text().unwrap().as_str(), "OK");
    // the guest's root shell answers on its serial port
    run_in_guest(&mut term, "echo OXVE-$((6*7))", "OXVE-42").await;

    // sendkey ctrl-alt-delete: busybox init reboots the guest, which boots again
    let r = s
        .put(&format!("{VM}/sendkey"), &[("key", "ctrl-alt-delete")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    wait_for_output(&mut term, "OXVE-GUEST-INFO", 120).await;
    let r = s.put(&format!("{VM}/sendkey"), &[("key", "ctrl--x")]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    term.close(None).await.unwrap();
    let task = wait_task(&s, &upid).await;
    assert_eq!(task["exitstatus"], "OK", "{task}");
    // the ticket was good once
    assert_eq!(
        ws::connect(&s, &websocket_path(&port, ticket)).await.err(),
        Some(403)
    );

    // `oxve vm terminal` through the node's socket, input piped
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args(["vm", "terminal", "410", "--socket"])
        .arg(d.socket())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for _ in 0..3 {
            stdin.write_all(b"echo CLI-$((5*5))\r").unwrap();
            std::thread::sleep(Duration::from_millis(700));
        }
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CLI-25"), "{stdout}");

    // vncproxy: the websocket carries QEMU's RFB stream
    let r = s
        .post(&format!("{VM}/vncproxy"), &[("websocket", "1")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.data()["cert"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let mut vnc = ws::connect(
        &s,
        &websocket_path(&r.data()["port"], r.data()["ticket"].as_str().unwrap()),
    )
    .await
    .expect("vnc websocket");
    let banner = vnc.next().await.unwrap().unwrap().into_data();
    assert!(banner.starts_with(b"RFB 003.008"), "{banner:?}");
    vnc.close(None).await.unwrap();

    // monitor: read-only commands for VM auditors, root-only commands refused to others
    let r = s
        .post(&format!("{VM}/monitor"), &[("command", "info status")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.data().as_str().unwrap().contains("running"),
        "{:?}",
        r.body
    );
    let r = s
        .post(&format!("{VM}/monitor"), &[("command", "device_del scsi0")])
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // showcmd: root only (the CLI on the node is root)
    assert_eq!(s.get(&format!("{VM}/showcmd"), &[]).await.status, 403);
    let out = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args([
            "api",
            "get",
            "/nodes/localhost/qemu/410/showcmd",
            "--socket",
        ])
        .arg(d.socket())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-name") && text.contains("410.qmp"), "{text}");

    let r = s.post(&format!("{VM}/status/stop"), &[]).await;
    assert_eq!(
        wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
        "OK"
    );
    // consoles of a stopped VM
    let r = s.post(&format!("{VM}/vncproxy"), &[]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
}
