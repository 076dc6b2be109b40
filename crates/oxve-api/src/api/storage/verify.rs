//! The verify task: read a whole backup archive with the archive reader, which checks each
//! block's digest, each disk's map digest and the stream digest at the manifest, and record
//! the outcome in `<archive>.verify` for the storage content listing.

use std::path::PathBuf;

use oxve_router::ApiError;
use oxve_storage::backup::{write_verification, Verification};
use oxve_storage::VolumeId;
use serde_json::{json, Value};

use crate::env::RpcEnv;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Check one archive; `Ok` with what it holds, or why it is damaged.
fn verify_archive(path: &std::path::Path) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = oxve_archive::ArchiveReader::new(file).map_err(|e| e.to_string())?;
    let manifest = reader.verify().map_err(|e| e.to_string())?;
    let disks: Vec<String> = manifest
        .disks
        .iter()
        .map(|d| {
            let kind = if d.tree { "directory tree, " } else { "" };
            format!("{} ({kind}{} bytes, {} blocks)", d.name, d.size, d.blocks)
        })
        .collect();
    Ok(format!(
        "{} {}: configs {:?}, disks [{}]",
        manifest.guest_type,
        manifest.vmid,
        manifest.configs,
        disks.join(", ")
    ))
}

/// Start the verify task of `volid` (archive at `path`); returns its UPID.
pub(crate) fn spawn_verify(
    env: &RpcEnv,
    volid: VolumeId,
    path: PathBuf,
    owner: Option<u32>,
) -> Result<Value, ApiError> {
    let worker_id = owner.map(|v| v.to_string());
    let upid = env
        .state
        .tasks
        .spawn(
            "verify",
            worker_id.as_deref(),
            &env.caller_string(),
            move |ctx| async move {
                ctx.log(format!("verifying backup '{volid}'"));
                let check = path.clone();
                let result = tokio::task::spawn_blocking(move || verify_archive(&check))
                    .await
                    .map_err(|e| format!("verify worker failed: {e}"))?;
                let record = Verification {
                    state: if result.is_ok() { "ok" } else { "failed" }.into(),
                    upid: ctx.upid().to_string(),
                    time: now(),
                    error: result.as_ref().err().cloned(),
                };
                write_verification(&path, &record).map_err(|e| e.to_string())?;
                match result {
                    Ok(summary) => {
                        ctx.log(format!("archive OK: {summary}"));
                        Ok(())
                    }
                    Err(err) => Err(format!("verification of '{volid}' failed - {err}")),
                }
            },
        )
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json!(upid.to_string()))
}
