//! The template index like `pveam`: an offline `file://` index lists the project's template;
//! `update`, `available` and `download` go through the API (and the CLI aliases), the
//! SHA-512 is checked and a bad download leaves nothing behind; the downloaded template
//! creates a container.

mod common;

use std::process::Command;

use common::ct::{ct_template as template, TEMPLATE};
use common::{wait_task, Daemon, DaemonOptions, Session};

fn sha512(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha512};
    hex::encode(Sha512::digest(std::fs::read(path).unwrap()))
}

#[tokio::test]
async fn index_update_available_download() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join("system")).unwrap();
    let copy = repo.path().join("system").join(TEMPLATE);
    std::fs::copy(template(), &copy).unwrap();
    std::fs::write(
        repo.path().join("system/broken_1.0_amd64.tar.gz"),
        b"not what the index says",
    )
    .unwrap();
    let index = format!(
        "Package: oxve-busybox\nVersion: 1.0\nType: lxc\nOS: busybox\nSection: system\n\
         Architecture: amd64\nLocation: system/{TEMPLATE}\nsha512sum: {}\n\
         Description: oxve busybox test system\n Built from Debian's busybox-static.\n\n\
         Package: broken\nVersion: 1.0\nType: lxc\nOS: busybox\nSection: system\n\
         Location: system/broken_1.0_amd64.tar.gz\nsha512sum: {}\nDescription: checksum mismatch\n",
        sha512(&copy),
        "0".repeat(128)
    );
    std::fs::write(repo.path().join("aplinfo.dat"), index).unwrap();

    let mut opts = DaemonOptions::default();
    opts.extra_args.extend([
        "--appliance-index".to_string(),
        format!("file://{}/aplinfo.dat", repo.path().display()),
    ]);
    let d = Daemon::start_with(opts);
    let s = Session::admin(&d).await;

    let r = s.put("/nodes/testnode/aplinfo", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data(), 2);
    let r = s.get("/nodes/testnode/aplinfo", &[]).await;
    let list = r.data().as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["template"], TEMPLATE, "{list:?}");
    assert_eq!(list[0]["os"], "busybox");
    assert_eq!(list[0]["package"], "oxve-busybox");

    // the CLI aliases over the root-only socket
    let socket = d.socket();
    let out = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args([
            "template",
            "available",
            "testnode",
            "--output-format",
            "json",
        ])
        .env("OXVE_SOCKET", &socket)
        .env_remove("OXVE_HOST")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(TEMPLATE));

    let r = s
        .post(
            "/nodes/testnode/aplinfo",
            &[("storage", "local"), ("template", TEMPLATE)],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert_eq!(t["exitstatus"], "OK", "{t}");
    assert_eq!(t["type"], "download");
    let dest = d.data_dir.join("local/template/cache").join(TEMPLATE);
    assert_eq!(sha512(&dest), sha512(&copy));
    let r = s
        .get(
            "/nodes/testnode/storage/local/content",
            &[("content", "vztmpl")],
        )
        .await;
    assert_eq!(r.data()[0]["volid"], format!("local:vztmpl/{TEMPLATE}"));

    // a checksum mismatch fails and leaves nothing
    let r = s
        .post(
            "/nodes/testnode/aplinfo",
            &[
                ("storage", "local"),
                ("template", "broken_1.0_amd64.tar.gz"),
            ],
        )
        .await;
    let t = wait_task(&s, r.data().as_str().unwrap()).await;
    assert!(
        t["exitstatus"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{t}"
    );
    let names: Vec<String> = std::fs::read_dir(d.data_dir.join("local/template/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [TEMPLATE]);

    // bad requests
    let r = s
        .post(
            "/nodes/testnode/aplinfo",
            &[("storage", "local"), ("template", "nope.tar.gz")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["errors"]["template"].is_string());
    let r = s
        .post(
            "/nodes/testnode/aplinfo",
            &[("storage", "nosuch"), ("template", TEMPLATE)],
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // the downloaded template creates a container
    if nix::unistd::Uid::effective().is_root()
        && std::path::Path::new("/usr/bin/lxc-start").exists()
    {
        let r = s
            .post(
                "/nodes/testnode/lxc",
                &[
                    ("vmid", "9741"),
                    ("ostemplate", &format!("local:vztmpl/{TEMPLATE}")),
                    ("rootfs", "local:0.1"),
                ],
            )
            .await;
        let t = wait_task(&s, r.data().as_str().unwrap()).await;
        assert_eq!(t["exitstatus"], "OK", "{t}");
        let r = s.delete("/nodes/testnode/lxc/9741", &[]).await;
        assert_eq!(
            wait_task(&s, r.data().as_str().unwrap()).await["exitstatus"],
            "OK"
        );
    }
}
