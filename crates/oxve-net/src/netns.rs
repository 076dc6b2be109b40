//! Named network namespaces (`ip netns`), for running code and commands inside one. The test
//! suites build their networks from these; nothing here touches the caller's own namespace.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace made by `ip netns add`; on drop, the processes left in it are killed
/// and it is deleted.
#[derive(Debug)]
pub struct NamedNetns {
    pub name: String,
}

fn run_ip(args: &[&str]) -> io::Result<Output> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl NamedNetns {
    /// A fresh namespace `<prefix>-<pid>-<n>` with its loopback up.
    pub fn create(prefix: &str) -> io::Result<Self> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run_ip(&["netns", "add", &name])?;
        let ns = NamedNetns { name };
        run_ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Run `f` on a thread that entered this namespace (sockets it opens live there; processes
    /// it spawns start there).
    pub fn run<F, T>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let file = File::open(format!("/run/netns/{}", self.name))?;
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns on a valid namespace fd only changes this thread's namespace.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// `ip netns exec <ns> <args...>`, waiting for it.
    pub fn exec(&self, args: &[&str]) -> io::Result<Output> {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
    }

    /// A command that runs inside the namespace (`ip netns exec`), to spawn.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// `ip -n <ns> <args...>`, failing on a non-zero exit.
    pub fn ip(&self, args: &[&str]) -> io::Result<Output> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// `ip -j -n <ns> <args...>` parsed.
    pub fn ip_json(&self, args: &[&str]) -> io::Result<serde_json::Value> {
        let mut all = vec!["-j", "-n", self.name.as_str()];
        all.extend_from_slice(args);
        let out = run_ip(&all)?;
        serde_json::from_slice(&out.stdout).map_err(io::Error::other)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: plain kill(2) of a process that lives in our test namespace.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Connect two namespaces with a veth pair `a_if` (in `a`) – `b_if` (in `b`), both up.
pub fn veth_between(a: &NamedNetns, a_if: &str, b: &NamedNetns, b_if: &str) -> io::Result<()> {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}
