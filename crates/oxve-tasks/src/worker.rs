//! Running one worker: its supervisor task turns how the worker ended
//! (result, panic, abort) into Proxmox' status line and records it.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;

use crate::context::TaskContext;
use crate::error::INTERRUPTED_STATUS;
use crate::index::IndexEntry;
use crate::state::{unix_now, Shared};
use crate::status::Outcome;

/// Runs the worker `f` as its own tokio task and waits for it.
///
/// The worker runs in a separate task so that a panic is caught as a
/// `JoinError` instead of killing the supervisor. After an abort request
/// the worker gets `abort_grace` to stop by itself; then its task is
/// aborted (dropped at its next await point) and the task ends as
/// interrupted at once, whatever the worker still does.
pub(crate) async fn supervise<F, Fut, E>(
    shared: Arc<Shared>,
    ctx: TaskContext,
    done: CancellationToken,
    f: F,
) where
    F: FnOnce(TaskContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let abort = ctx.cancellation_token().clone();
    let worker_ctx = ctx.clone();
    let mut work = tokio::spawn(async move { f(worker_ctx).await.map_err(|e| e.to_string()) });
    let grace = shared.options.abort_grace;
    let joined = tokio::select! {
        joined = &mut work => Some(joined),
        _ = async { abort.cancelled().await; tokio::time::sleep(grace).await } => None,
    };
    let outcome = match joined {
        None => {
            work.abort();
            Outcome::error(INTERRUPTED_STATUS)
        }
        Some(joined) => outcome_of(joined, &ctx),
    };
    finish(shared, ctx, outcome).await;
    done.cancel();
}

/// The outcome of a worker that ended by itself (or was cancelled).
fn outcome_of(joined: Result<Result<(), String>, JoinError>, ctx: &TaskContext) -> Outcome {
    match joined {
        Ok(Err(msg)) => Outcome::error(&msg),
        Ok(Ok(())) if ctx.is_aborted() => Outcome::error(INTERRUPTED_STATUS),
        Ok(Ok(())) => match ctx.warnings() {
            0 => Outcome::Ok,
            n => Outcome::Warnings(n),
        },
        Err(e) if e.is_panic() => Outcome::error(&format!(
            "task panicked - {}",
            panic_message(e.into_panic())
        )),
        Err(_) => Outcome::error(INTERRUPTED_STATUS),
    }
}

/// Text of a panic payload.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Writes the status line and records the end. Takes the manager by value
/// and releases it before returning, so a waiter woken afterwards that
/// drops its manager can re-open the task directory right away.
async fn finish(shared: Arc<Shared>, ctx: TaskContext, outcome: Outcome) {
    let upid = ctx.upid().clone();
    let recorder = shared.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        if let Err(e) = ctx.close(&outcome.log_line()) {
            tracing::warn!(upid = %ctx.upid(), "unable to write task log - {e}");
        }
        let entry = IndexEntry {
            upid: ctx.upid().clone(),
            endtime: unix_now(),
            status: outcome.exit_status(),
        };
        recorder.record_finished(vec![entry]);
        if let Err(e) = recorder.write_active() {
            tracing::warn!("{e}");
        }
    })
    .await;
    drop(shared);
    if let Err(e) = recorded {
        tracing::error!(%upid, "recording the end of the task failed - {e}");
    }
}
