//! One vzdump job: each selected guest in turn, in its own step of the task log. A guest that
//! fails is reported and the job goes on with the next; the job fails at the end if any did.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use oxve_archive::Compression;
use oxve_store::GuestKind;
use oxve_tasks::TaskContext;

use super::archive::human;
use crate::env::RpcEnv;

/// vzdump's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Stop,
    Suspend,
    Snapshot,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "stop" => Some(Mode::Stop),
            "suspend" => Some(Mode::Suspend),
            "snapshot" => Some(Mode::Snapshot),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Stop => "stop",
            Mode::Suspend => "suspend",
            Mode::Snapshot => "snapshot",
        }
    }
}

/// Everything a job needs, checked before the task starts.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub guests: Vec<(u32, GuestKind)>,
    pub mode: Mode,
    pub compression: Compression,
    /// Where archives go.
    pub dumpdir: PathBuf,
    /// The storage of `dumpdir`, when it is one.
    pub storage: Option<String>,
    pub bwlimit: Option<u64>,
    /// `ionice` of the archive thread.
    pub ionice: u8,
    pub notes_template: Option<String>,
    pub protected: bool,
    /// Retention applied to each guest's backups after it is backed up (`remove`).
    pub prune: Option<oxve_storage::config::PruneBackups>,
    /// Minutes to wait for a clean shutdown in `stop` mode.
    pub stopwait: u64,
    /// What container backups leave out (`exclude-path`, `stdexcludes`).
    pub exclusions: super::exclude::Exclusions,
    /// The command line as Proxmox logs it (`vzdump 100 --mode snapshot ...`).
    pub command_line: String,
}

/// The log of one guest's backup: to the task log (prefixed as vzdump does) and kept for the
/// `.log` file next to the archive.
#[derive(Clone)]
pub struct GuestLog {
    ctx: TaskContext,
    lines: Arc<Mutex<Vec<String>>>,
}

impl GuestLog {
    pub fn info(&self, message: impl AsRef<str>) {
        self.line(format!("INFO: {}", message.as_ref()));
    }
    pub fn error(&self, message: impl AsRef<str>) {
        self.line(format!("ERROR: {}", message.as_ref()));
    }
    fn line(&self, line: String) {
        self.ctx.log(&line);
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }
    pub fn ctx(&self) -> &TaskContext {
        &self.ctx
    }
    pub fn text(&self) -> String {
        self.lines
            .lock()
            .map(|l| l.iter().map(|x| format!("{x}\n")).collect())
            .unwrap_or_default()
    }
}

/// Runs the job; `Err("job errors")` when a guest failed, as Proxmox's task status says.
pub async fn run(env: RpcEnv, spec: JobSpec, ctx: TaskContext) -> Result<(), String> {
    ctx.log(format!(
        "INFO: starting new backup job: {}",
        spec.command_line
    ));
    if let Some(storage) = &spec.storage {
        ctx.log(format!(
            "INFO: backup storage: {storage} ({})",
            spec.dumpdir.display()
        ));
    }
    let mut failed = 0;
    for (vmid, kind) in &spec.guests {
        let log = GuestLog {
            ctx: ctx.clone(),
            lines: Arc::default(),
        };
        let started = Instant::now();
        let type_name = match kind {
            GuestKind::Lxc => "lxc",
            _ => "qemu",
        };
        log.info(format!("Starting Backup of VM {vmid} ({type_name})"));
        let result = match kind {
            GuestKind::Lxc => super::lxc::backup(&env, &spec, *vmid, &log).await,
            _ => super::qemu::backup(&env, &spec, *vmid, &log).await,
        };
        match result {
            Ok(done) => {
                log.info(format!(
                    "archive file size: {}",
                    human(std::fs::metadata(&done.archive).map_or(0, |m| m.len()))
                ));
                if let Some(notes) = &spec.notes_template {
                    let text = render_notes(notes, &env.state.node, *vmid, done.name.as_deref());
                    write_sidecar(&done.archive, "notes", text.as_bytes());
                    log.info("adding notes to backup");
                }
                if spec.protected {
                    write_sidecar(&done.archive, "protected", b"");
                    log.info("marking backup as protected");
                }
                log.info(format!(
                    "Finished Backup of VM {vmid} ({})",
                    elapsed(started)
                ));
                write_log_file(&done.archive, &log.text());
                if let (Some(keep), Some(storage)) = (&spec.prune, &spec.storage) {
                    prune(&env, storage, type_name, *vmid, keep, &log).await;
                }
            }
            Err(e) => {
                failed += 1;
                log.error(format!("Backup of VM {vmid} failed - {e}"));
            }
        }
    }
    if failed > 0 {
        ctx.log("INFO: Backup job finished with errors");
        return Err("job errors".into());
    }
    ctx.log("INFO: Backup job finished successfully");
    Ok(())
}

/// Removes the guest's older backups that `keep` does not keep; a failure is only logged.
async fn prune(
    env: &RpcEnv,
    storage: &str,
    guest_type: &str,
    vmid: u32,
    keep: &oxve_storage::config::PruneBackups,
    log: &GuestLog,
) {
    use crate::api::storage::prune::prune_guest_backups;
    use oxve_storage::retention::PruneMark;
    log.info(format!("prune older backups with retention: {keep}"));
    match prune_guest_backups(env, storage, guest_type, vmid, keep, false).await {
        Ok(entries) => {
            let removed: Vec<_> = entries
                .iter()
                .filter(|e| e.mark == Some(PruneMark::Remove))
                .collect();
            for e in &removed {
                log.info(format!("removing backup '{}'", e.volid));
            }
            log.info(format!("pruned {} backup(s)", removed.len()));
        }
        Err(e) => log.error(format!("pruning failed - {}", e.message)),
    }
}

/// Runs `backup` under the guest's `backup` lock: a guest holding another lock is refused,
/// and the lock is released however the backup ends.
pub async fn under_backup_lock(
    env: &RpcEnv,
    guest: &oxve_store::GuestRef,
    label: &str,
    current_lock: Option<&str>,
    backup: impl std::future::Future<Output = Result<Done, String>>,
) -> Result<Done, String> {
    use oxve_store::{clear_guest_lock, set_guest_lock, GuestLock};
    if let Some(lock) = current_lock {
        return Err(format!("{label} is locked ({lock})"));
    }
    set_guest_lock(env.state.store.as_ref(), guest, GuestLock::Backup)
        .await
        .map_err(|e| e.to_string())?;
    let result = backup.await;
    let _ = clear_guest_lock(env.state.store.as_ref(), guest, GuestLock::Backup).await;
    result
}

/// The first lines of a guest's backup log.
pub fn log_start(log: &GuestLog, running: bool) {
    log.info(format!("Backup started at {}", archive_time(now())));
    log.info(format!(
        "status = {}",
        if running { "running" } else { "stopped" }
    ));
}

/// What a successful guest backup produced.
pub struct Done {
    pub archive: PathBuf,
    /// The guest's name or hostname, for notes.
    pub name: Option<String>,
}

fn elapsed(started: Instant) -> String {
    let s = started.elapsed().as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `notes-template` with `{{guestname}}`, `{{node}}`, `{{vmid}}` and `{{cluster}}` filled in,
/// and `\n` / `\\` as line break and backslash, as Proxmox renders it.
pub fn render_notes(template: &str, node: &str, vmid: u32, name: Option<&str>) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out.replace("{{guestname}}", name.unwrap_or(""))
        .replace("{{node}}", node)
        .replace("{{vmid}}", &vmid.to_string())
        .replace("{{cluster}}", "")
}

fn sidecar(archive: &std::path::Path, suffix: &str) -> PathBuf {
    let mut p = archive.as_os_str().to_owned();
    p.push(format!(".{suffix}"));
    PathBuf::from(p)
}

fn write_sidecar(archive: &std::path::Path, suffix: &str, data: &[u8]) {
    let _ = std::fs::write(sidecar(archive, suffix), data);
}

/// The `.log` next to the archive: `vzdump-qemu-100-<time>.log`.
fn write_log_file(archive: &std::path::Path, text: &str) {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once(".oxar").map(|(stem, _)| format!("{stem}.log")));
    if let (Some(name), Some(dir)) = (name, archive.parent()) {
        let _ = std::fs::write(dir.join(name), text);
    }
}

/// Seconds since the epoch, as archive names and manifests carry the backup time.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY_MM_DD-HH_MM_SS` in local time, as archive names carry it.
pub fn archive_time(unix: u64) -> String {
    let t = unix as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&t, &mut tm) };
    format!(
        "{:04}_{:02}_{:02}-{:02}_{:02}_{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_templates_render_as_proxmox() {
        assert_eq!(
            render_notes(
                "{{guestname}} on {{node}}\\nid {{vmid}} \\\\x",
                "n1",
                100,
                Some("web")
            ),
            "web on n1\nid 100 \\x"
        );
    }
}
