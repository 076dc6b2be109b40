//! Confirm-or-rollback (an oxve extension): a client reaching the API over a bridge applies a
//! change that cuts it off, with `rollback-timeout`. Unconfirmed, the previous configuration
//! comes back by itself and the client reaches the API again; confirmed (by the client from
//! its new address), the change stays.

mod common;
mod netns_daemon;

use std::future::Future;
use std::time::{Duration, Instant};

use common::wait_task;
use netns_daemon::{ping, NetDaemon};
use oxve_net::netns::{veth_between, NamedNetns};

const N: &str = "/nodes/testnode/network";

/// Run `f` on a runtime inside `ns`.
fn in_ns<T: Send>(ns: &NamedNetns, f: impl Future<Output = T> + Send) -> T {
    ns.run(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .unwrap()
}

/// Whether a client in `ns` can open a TCP connection to `addr` (the API's port).
fn api_reachable(ns: &NamedNetns, addr: &str) -> bool {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    ns.run(move || std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok())
        .unwrap()
}

#[test]
fn an_unconfirmed_change_rolls_back_and_a_confirmed_one_stays() {
    let d = NetDaemon::start_on("0.0.0.0:0");
    let outside = NamedNetns::create("oxvetest").unwrap();
    veth_between(&d.ns, "eth1", &outside, "up0").unwrap();
    outside
        .ip(&["addr", "add", "10.78.1.2/24", "dev", "up0"])
        .unwrap();
    d.run(async {
        let s = d.admin().await;
        let r = s
            .post(
                N,
                &[
                    ("iface", "vmbr0"),
                    ("type", "bridge"),
                    ("bridge_ports", "eth1"),
                    ("cidr", "10.78.1.1/24"),
                    ("autostart", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let t = wait_task(&s, s.put(N, &[]).await.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
        // bad input: 400 naming the parameter
        let r = s.put(N, &[("rollback-timeout", "0")]).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(r.body["errors"]["rollback-timeout"].is_string());
        let r = s.post(&format!("{N}/confirm"), &[]).await;
        assert_eq!(r.status, 400, "nothing to confirm: {:?}", r.body);
    });
    let old_api = format!("10.78.1.1:{}", d.port());
    let new_api = format!("10.78.9.1:{}", d.port());

    // from outside: move the bridge to another subnet, applied with a 3 s rollback window
    let upid = in_ns(&outside, async {
        let s = d.admin_at(&format!("https://{old_api}")).await;
        let r = s
            .put(
                &format!("{N}/vmbr0"),
                &[("type", "bridge"), ("cidr", "10.78.9.1/24")],
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = s.put(N, &[("rollback-timeout", "3")]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.data().as_str().unwrap().to_string()
    });
    let applied_at = Instant::now();
    d.run(async {
        let s = d.admin().await;
        let t = wait_task(&s, &upid).await;
        assert_eq!(t["exitstatus"], "OK", "applied despite the cut-off: {t}");
        let c = s.get(&format!("{N}/confirm"), &[]).await;
        assert_eq!(c.data()["awaiting"], 1, "{:?}", c.body);
    });
    assert_eq!(
        d.addrs("vmbr0"),
        vec!["10.78.9.1/24"],
        "the change is applied"
    );
    assert!(!api_reachable(&outside, &old_api), "the client is cut off");

    // nobody confirms: the previous configuration comes back by itself
    let back = loop {
        if api_reachable(&outside, &old_api) {
            break applied_at.elapsed();
        }
        assert!(
            applied_at.elapsed() < Duration::from_secs(20),
            "not rolled back in time"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        back >= Duration::from_secs(2),
        "not before the window: {back:?}"
    );
    assert_eq!(d.addrs("vmbr0"), vec!["10.78.1.1/24"]);
    assert!(ping(&outside, "10.78.1.1"));
    in_ns(&outside, async {
        let s = d.admin_at(&format!("https://{old_api}")).await;
        let list = s.get(N, &[]).await;
        assert!(
            list.body["changes"]
                .as_str()
                .unwrap_or_default()
                .contains("10.78.9.1"),
            "the unconfirmed change is pending again: {:?}",
            list.body
        );
        assert_eq!(
            s.get(&format!("{N}/confirm"), &[]).await.data()["awaiting"],
            0
        );
        // applied again, with a window; the client follows it to the new subnet and confirms
        let r = s.put(N, &[("rollback-timeout", "6")]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    });
    let deadline = Instant::now() + Duration::from_secs(6);
    outside
        .ip(&["addr", "add", "10.78.9.2/24", "dev", "up0"])
        .unwrap();
    while !api_reachable(&outside, &new_api) {
        assert!(Instant::now() < deadline, "the new address never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    in_ns(&outside, async {
        let s = d.admin_at(&format!("https://{new_api}")).await;
        let r = s.post(&format!("{N}/confirm"), &[]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    });
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(
        d.addrs("vmbr0"),
        vec!["10.78.9.1/24"],
        "the confirmed change stays"
    );
    d.run(async {
        let s = d.admin().await;
        assert_eq!(
            s.get(&format!("{N}/confirm"), &[]).await.data()["awaiting"],
            0
        );
        assert!(
            s.get(N, &[]).await.body["changes"].is_null(),
            "nothing pending"
        );
    });
}
