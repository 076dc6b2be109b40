//! The seam to external tools (`qemu-img`, `lvcreate`, `zfs`, `btrfs`, `mount`, ...): plugins
//! issue [`Cmd`]s through a [`CommandRunner`]. [`SystemRunner`] runs them; [`RecordingRunner`]
//! records them and answers from a script, so unit tests can assert the exact commands.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::error::StorageError;

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program (looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Working directory, when it matters (relative backing files).
    pub cwd: Option<PathBuf>,
}

impl Cmd {
    /// A command without arguments.
    pub fn new(program: &str) -> Self {
        Cmd {
            program: program.to_string(),
            args: Vec::new(),
            cwd: None,
        }
    }

    /// Append one argument.
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Append several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for a in args {
            self.args.push(a.as_ref().to_string_lossy().into_owned());
        }
        self
    }

    /// Run in `dir`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Program and arguments as one list.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }
}

impl fmt::Display for Cmd {
    /// The command line, arguments with spaces or quotes single-quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |s: &str| {
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b))
            {
                s.to_string()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        };
        let parts: Vec<String> = self.argv().into_iter().map(quote).collect();
        f.write_str(&parts.join(" "))
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    /// Exit status; -1 when killed by a signal.
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CmdOutput {
    /// A successful run printing `stdout`.
    pub fn ok(stdout: &str) -> Self {
        CmdOutput {
            status: 0,
            stdout: stdout.to_string(),
            stderr: String::new(),
        }
    }

    /// A failed run.
    pub fn failed(status: i32, stderr: &str) -> Self {
        CmdOutput {
            status,
            stdout: String::new(),
            stderr: stderr.to_string(),
        }
    }
}

/// Runs external commands.
pub trait CommandRunner: Send + Sync {
    /// Run `cmd` to completion. `on_output` (if given) sees stdout as it arrives, in chunks
    /// split at `\r` and `\n` (for progress output). A non-zero exit is not an error here.
    fn run_streaming(
        &self,
        cmd: &Cmd,
        on_output: Option<&mut dyn FnMut(&str)>,
    ) -> Result<CmdOutput, StorageError>;

    /// Run `cmd` and return its output; a non-zero exit is not an error.
    fn run(&self, cmd: &Cmd) -> Result<CmdOutput, StorageError> {
        self.run_streaming(cmd, None)
    }

    /// Run `cmd`; a non-zero exit becomes [`StorageError::CommandFailed`].
    fn run_ok(&self, cmd: &Cmd) -> Result<CmdOutput, StorageError> {
        let out = self.run(cmd)?;
        check_status(cmd, out)
    }
}

/// Turn a non-zero exit into [`StorageError::CommandFailed`].
pub fn check_status(cmd: &Cmd, out: CmdOutput) -> Result<CmdOutput, StorageError> {
    if out.status == 0 {
        Ok(out)
    } else {
        Err(StorageError::CommandFailed {
            command: cmd.to_string(),
            status: out.status,
            stderr: out.stderr.trim().to_string(),
        })
    }
}

/// Runs commands for real, with stdin closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run_streaming(
        &self,
        cmd: &Cmd,
        on_output: Option<&mut dyn FnMut(&str)>,
    ) -> Result<CmdOutput, StorageError> {
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("LC_ALL", "C");
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        let spawn_err = |source| StorageError::CommandSpawn {
            command: cmd.to_string(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_err)?;
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr_thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            buf
        });
        let mut stdout_pipe = child.stdout.take().expect("stdout is piped");
        let mut stdout = Vec::new();
        let mut on_output = on_output;
        let mut pending = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = match stdout_pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(spawn_err(e)),
            };
            stdout.extend_from_slice(&chunk[..n]);
            if let Some(cb) = on_output.as_mut() {
                for &b in &chunk[..n] {
                    if b == b'\r' || b == b'\n' {
                        if !pending.is_empty() {
                            cb(&String::from_utf8_lossy(&pending));
                            pending.clear();
                        }
                    } else {
                        pending.push(b);
                    }
                }
            }
        }
        if let (Some(cb), false) = (on_output.as_mut(), pending.is_empty()) {
            cb(&String::from_utf8_lossy(&pending));
        }
        let status = child.wait().map_err(spawn_err)?;
        let stderr = stderr_thread.join().unwrap_or_default();
        Ok(CmdOutput {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }
}

struct Rule {
    prefix: Vec<String>,
    output: CmdOutput,
    once: bool,
}

/// A fake runner for unit tests: records every command and answers from scripted rules
/// (first matching argv prefix; one-shot rules before persistent ones). Unmatched commands
/// succeed with empty output.
#[derive(Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<Cmd>>,
    rules: Mutex<Vec<Rule>>,
}

impl RecordingRunner {
    /// A runner with no rules.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&self, prefix: &[&str], output: CmdOutput, once: bool) {
        self.rules.lock().expect("rules lock").push(Rule {
            prefix: prefix.iter().map(|s| s.to_string()).collect(),
            output,
            once,
        });
    }

    /// Answer every command starting with `prefix` with `output`.
    pub fn respond(&self, prefix: &[&str], output: CmdOutput) -> &Self {
        self.add(prefix, output, false);
        self
    }

    /// Answer the next command starting with `prefix` with `output`, once.
    pub fn respond_once(&self, prefix: &[&str], output: CmdOutput) -> &Self {
        self.add(prefix, output, true);
        self
    }

    /// Every command run so far.
    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().expect("calls lock").clone()
    }

    /// Every command run so far, as command lines.
    pub fn lines(&self) -> Vec<String> {
        self.calls().iter().map(Cmd::to_string).collect()
    }

    /// Forget the recorded commands (rules stay).
    pub fn clear(&self) {
        self.calls.lock().expect("calls lock").clear();
    }
}

impl CommandRunner for RecordingRunner {
    fn run_streaming(
        &self,
        cmd: &Cmd,
        on_output: Option<&mut dyn FnMut(&str)>,
    ) -> Result<CmdOutput, StorageError> {
        self.calls.lock().expect("calls lock").push(cmd.clone());
        let argv = cmd.argv();
        let mut rules = self.rules.lock().expect("rules lock");
        let matches = |r: &Rule| {
            r.prefix.len() <= argv.len() && r.prefix.iter().zip(&argv).all(|(a, b)| a == b)
        };
        let index = rules
            .iter()
            .position(|r| r.once && matches(r))
            .or_else(|| rules.iter().position(|r| !r.once && matches(r)));
        let output = match index {
            Some(i) if rules[i].once => rules.remove(i).output,
            Some(i) => rules[i].output.clone(),
            None => CmdOutput::default(),
        };
        drop(rules);
        if let Some(cb) = on_output {
            for part in output.stdout.split(['\r', '\n']).filter(|s| !s.is_empty()) {
                cb(part);
            }
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_quoted_command_lines() {
        let cmd = Cmd::new("lvs").args(["--config", "report/time_format=\"%s\"", "a b"]);
        assert_eq!(
            cmd.to_string(),
            "lvs --config 'report/time_format=\"%s\"' 'a b'"
        );
    }

    #[test]
    fn system_runner_streams_and_reports_status() {
        let mut parts = Vec::new();
        let cmd = Cmd::new("sh").args(["-c", "printf 'a\\rb\\nc'; echo err >&2; exit 3"]);
        let mut cb = |s: &str| parts.push(s.to_string());
        let out = SystemRunner.run_streaming(&cmd, Some(&mut cb)).unwrap();
        assert_eq!(out.status, 3);
        assert_eq!(out.stderr, "err\n");
        assert_eq!(parts, ["a", "b", "c"]);
        let err = SystemRunner.run_ok(&cmd).unwrap_err();
        assert!(err.to_string().contains("exit code 3: err"), "{err}");
        assert!(matches!(
            SystemRunner.run(&Cmd::new("/nonexistent/tool")),
            Err(StorageError::CommandSpawn { .. })
        ));
    }

    #[test]
    fn recording_runner_scripts_answers() {
        let r = RecordingRunner::new();
        r.respond(&["zfs", "list"], CmdOutput::ok("x\n"));
        r.respond_once(&["zfs", "list"], CmdOutput::failed(1, "busy"));
        assert_eq!(r.run(&Cmd::new("zfs").arg("list")).unwrap().status, 1);
        assert_eq!(r.run(&Cmd::new("zfs").arg("list")).unwrap().stdout, "x\n");
        assert_eq!(r.run(&Cmd::new("zpool")).unwrap(), CmdOutput::default());
        assert_eq!(r.lines(), ["zfs list", "zfs list", "zpool"]);
    }
}
