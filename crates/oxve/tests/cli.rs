//! The `oxve` CLI as a client of a real daemon: over the root-only unix socket without a
//! password, and remotely with a login.

mod common;

use std::process::Command;

use common::{Daemon, ADMIN_PASSWORD};

fn oxve(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxve"))
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("OXVE_HOST")
        .output()
        .expect("run oxve");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_over_socket_and_remote() {
    let d = Daemon::start();
    let socket = d.socket();
    let socket = socket.to_str().unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the CLI socket is root-only");

    let env = [("OXVE_SOCKET", socket)];
    let (ok, out, err) = oxve(&["api", "get", "/version", "--output-format", "json"], &env);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["version"].is_string());

    let (ok, _, err) = oxve(
        &[
            "api",
            "create",
            "/access/users",
            "--userid",
            "cli@pve",
            "--comment",
            "made by cli",
        ],
        &env,
    );
    assert!(ok, "{err}");
    let (ok, out, _) = oxve(&["user", "list"], &env);
    assert!(ok);
    assert!(
        out.contains("cli@pve") && out.contains("made by cli"),
        "{out}"
    );
    let (ok, out, _) = oxve(
        &[
            "api",
            "get",
            "/access/users/cli@pve",
            "--output-format",
            "json-pretty",
        ],
        &env,
    );
    assert!(ok);
    assert!(out.contains("\"comment\": \"made by cli\""));

    // parameters are checked against the same declarations before sending
    let (ok, _, err) = oxve(
        &["api", "get", "/nodes/testnode/tasks", "--limit", "abc"],
        &env,
    );
    assert!(!ok);
    assert!(err.contains("limit") && err.contains("integer"), "{err}");
    // server errors are shown
    let (ok, _, err) = oxve(&["api", "get", "/no/such"], &env);
    assert!(!ok);
    assert!(err.contains("not implemented"), "{err}");
    // usage comes from the declarations
    let (ok, out, _) = oxve(&["api", "usage", "/access/users"], &env);
    assert!(ok);
    assert!(out.contains("--userid"));

    // short forms for storages and VMs
    let (ok, out, err) = oxve(&["storage", "list", "testnode"], &env);
    assert!(ok, "{err}");
    assert!(out.contains("local") && out.contains("dir"), "{out}");
    let (ok, out, err) = oxve(
        &[
            "vm", "create", "testnode", "150", "--memory", "128", "--name", "clivm",
        ],
        &env,
    );
    assert!(ok, "{err}");
    // a task-starting command waits for its task (and prints its log), like `qm create`
    assert!(!out.contains("UPID:"), "{out}");
    let listed = oxve(&["vm", "list", "testnode"], &env).1;
    assert!(listed.contains("clivm"), "{listed}");
    // ... unless sent to the background: then it prints the UPID
    let (ok, out, err) = oxve(
        &[
            "vm",
            "create",
            "testnode",
            "151",
            "--memory",
            "128",
            "--background",
        ],
        &env,
    );
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("UPID:testnode:"), "{out}");
    // a failing task makes the command fail (USB passthrough is refused at start)
    let (ok, _, _) = oxve(
        &["vm", "set", "testnode", "150", "--usb0", "host=1234:5678"],
        &env,
    );
    assert!(ok);
    let (ok, _, err) = oxve(&["vm", "start", "testnode", "150"], &env);
    assert!(!ok);
    assert!(err.contains("task failed") && err.contains("USB"), "{err}");

    // remote: log in with a password and reuse the cached ticket
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().to_str().unwrap();
    let remote = [("HOME", home_s), ("OXVE_PASSWORD", ADMIN_PASSWORD)];
    let (ok, out, err) = oxve(
        &[
            "api",
            "get",
            "/nodes",
            "--host",
            &d.base,
            "--user",
            "admin@pve",
            "--insecure",
        ],
        &remote,
    );
    assert!(ok, "{err}");
    assert!(out.contains("testnode"));
    assert!(home.path().join(".cache/oxve/tickets.json").exists());
    let cached_only = [("HOME", home_s)];
    let (ok, out, err) = oxve(
        &[
            "node",
            "list",
            "--host",
            &d.base,
            "--user",
            "admin@pve",
            "--insecure",
        ],
        &cached_only,
    );
    assert!(ok, "cached ticket reused without a password: {err}");
    assert!(out.contains("testnode"));
}
