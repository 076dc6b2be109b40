//! A container's console through the API, as the web UI's xterm.js uses it (real LXC, as
//! root): `termproxy` then `vncwebsocket` with the termproxy protocol reach a shell inside
//! the container (`cmode: shell`); refusals for a stopped container and a wrong ticket; the
//! console's processes end with the connection.

mod common;

use std::process::Command;

use common::ct::{attach, can_run_containers, install_template, StopContainers, TEMPLATE};
use common::ws::{connect, guest_exec, open_termproxy};
use common::{wait_task, Daemon, Session};

const CT: &str = "/nodes/testnode/lxc/9781";

/// The console processes (`lxc-attach` / `lxc-console`) of container 9781 of this daemon.
fn console_processes(lxc_path: &std::path::Path) -> usize {
    let out = Command::new("pgrep")
        .args(["-f", "--", &format!("-n 9781 -P {}", lxc_path.display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test]
async fn console_reaches_a_shell_inside() {
    if !can_run_containers() {
        return;
    }
    let d = Daemon::start();
    let lxc_path = d.data_dir.join("run/lxc");
    let _stop = StopContainers {
        lxc_path: lxc_path.clone(),
        vmids: vec![9781],
    };
    let s = Session::admin(&d).await;
    install_template(&d);
    let r = s
        .post(
            "/nodes/testnode/lxc",
            &[
                ("vmid", "9781"),
                ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                ("rootfs", "local:0.1"),
                ("hostname", "consoled"),
                ("cmode", "shell"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    // a stopped container has no console
    let r = s.post(&format!("{CT}/termproxy"), &[]).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("not running"));

    let r = s.post(&format!("{CT}/status/start"), &[]).await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");

    // a wrong ticket is refused
    let r = s.post(&format!("{CT}/termproxy"), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let port = r.data()["port"].clone();
    let refused = connect(
        &s,
        &format!("{CT}/vncwebsocket?port={port}&vncticket=PVEVNC%3Awrong"),
    )
    .await;
    assert_eq!(refused.err(), Some(403));

    // the shell runs inside: the container's hostname, root in its user namespace
    let mut ws = open_termproxy(&s, CT, &[]).await;
    let out = guest_exec(&mut ws, "hostname; id -u; echo TERM=$TERM").await;
    assert!(out.contains("consoled"), "{out}");
    assert!(out.lines().any(|l| l == "0"), "root inside: {out}");
    assert!(out.contains("TERM=xterm-256color"), "{out}");
    // what the console writes lands in the container
    guest_exec(&mut ws, "echo typed > /root/from-console").await;
    assert_eq!(attach(&lxc_path, 9781, "cat /root/from-console"), "typed");
    assert!(console_processes(&lxc_path) >= 1);

    // closing the websocket ends the console and its task
    drop(ws);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while console_processes(&lxc_path) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(console_processes(&lxc_path), 0, "the console ended");

    let r = s.post(&format!("{CT}/status/stop"), &[]).await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
}
