//! Durability: a writer process killed with SIGKILL in the middle of a burst of writes must
//! not lose any write it had acknowledged, and must leave a consistent database.
//!
//! The writer is this same test binary, re-executed with `CRASH_CHILD_DB` set so that only
//! `crash_child_writer` does any work.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use oxve_store::{digest, ConfigStore, Expect, GuestKind, GuestRef, SqliteStore};

const CHILD_ENV: &str = "CRASH_CHILD_DB";
const ACK: &str = "ACK ";
/// Concurrent writer tasks in the child.
const CHILD_TASKS: usize = 4;
/// Acknowledgements to wait for before killing the child; the child never finishes first.
const KILL_AFTER: usize = 150;

/// Runs only as the child: writes until killed, printing `ACK <key> <digest>` after each
/// write returns. Stdout is flushed per line, so every printed ack was a returned write.
#[test]
fn crash_child_writer() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Arc::new(SqliteStore::open(Path::new(&db)).unwrap());
        let round = store.revision().await.unwrap();
        let tasks: Vec<_> = (0..CHILD_TASKS)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { child_task(&*store, round, t).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

async fn child_task(store: &dyn ConfigStore, round: u64, task: usize) {
    use std::io::Write;
    for i in 0usize.. {
        // Mix plain documents, guest creations and rewrites of a shared document.
        let (key, text) = match i % 3 {
            0 => {
                let key = format!("crash/r{round}/t{task}/{i}");
                let text = format!("round {round} task {task} write {i}\n");
                store.put(&key, &text, Expect::Absent).await.unwrap();
                (key, text)
            }
            1 => {
                let vmid = store.next_free_vmid(None).await.unwrap();
                let guest = GuestRef::new(format!("n{task}"), GuestKind::ALL[i % 2], vmid);
                let text = format!("name: g{vmid}\n");
                match store.create_guest(&guest, &text).await {
                    Ok(_) => (guest.config_key(), text),
                    // Another task took the VMID first.
                    Err(oxve_store::StoreError::VmidInUse { .. }) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            _ => {
                let key = format!("crash/shared/t{task}");
                let text = format!("round {round} write {i}\n");
                store.put(&key, &text, Expect::Any).await.unwrap();
                (key, text)
            }
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{ACK}{key} {}", digest(&text)).unwrap();
        out.flush().unwrap();
    }
}

/// Start the child on `db`, kill it after enough acks, and return the acknowledged state:
/// the last acknowledged digest of every key.
fn run_and_kill_child(db: &Path) -> BTreeMap<String, String> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked = BTreeMap::new();
    let mut count = 0;
    let mut killed = false;
    for line in stdout.lines() {
        let line = line.unwrap();
        let Some(ack) = line.strip_prefix(ACK) else {
            continue;
        };
        let (key, digest) = ack.rsplit_once(' ').unwrap();
        acked.insert(key.to_owned(), digest.to_owned());
        count += 1;
        if count == KILL_AFTER && !killed {
            // SIGKILL on Unix: no destructors, no clean close of the database.
            child.kill().unwrap();
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(killed, "child exited on its own: {status}");
    assert!(!status.success());
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut all_acked = BTreeMap::new();
    // Several rounds: each reopens a database left behind by a killed writer.
    for round in 0..3 {
        let acked = tokio::task::spawn_blocking({
            let db = db.clone();
            move || run_and_kill_child(&db)
        })
        .await
        .unwrap();
        assert!(
            acked.len() >= KILL_AFTER / 2,
            "round {round}: {}",
            acked.len()
        );
        all_acked.extend(acked);

        let store = SqliteStore::open(&db).unwrap();
        store.integrity_check().await.unwrap();
        for (key, want) in &all_acked {
            let entry = store.get(key).await.unwrap();
            let entry = entry.unwrap_or_else(|| panic!("round {round}: acked {key} lost"));
            // Later unacknowledged writes may have landed too, but only on the shared keys.
            if !key.starts_with("crash/shared/") {
                assert_eq!(&entry.digest, want, "round {round}: {key}");
            }
        }
        // The guests index agrees with the guest configs.
        let guests = store.guests().await.unwrap();
        let guest_docs = store.list("nodes/").await.unwrap();
        assert_eq!(guests.len(), guest_docs.len());
        for g in &guests {
            assert!(store.get(&g.config_key()).await.unwrap().is_some());
        }
        assert!(store.revision().await.unwrap() >= all_acked.len() as u64);
    }
}
