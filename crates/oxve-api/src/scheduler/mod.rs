//! The daemon's job scheduler (Proxmox's `pvescheduler`): at start and then at the start of
//! every minute it reads the backup jobs and starts each one that is due on this node through
//! vzdump, as `root@pam`, recording each start in the job's state file. The decisions are
//! made by [`decide`], a pure function tested with a simulated clock.

pub(crate) mod decide;

use std::sync::Arc;
use std::time::Duration;

use oxve_types::calendar::{LocalZone, Zone};

use crate::api::backup_jobs::state::{self, JobState};
use crate::api::backup_jobs::store::read_jobs;
use crate::api::backup_jobs::vzdump_params;
use crate::env::RpcEnv;
use crate::state::AppState;
use decide::{decide, started, starting, Decision, Tick};

/// Where the scheduler gets the time from (tests of the loop can pass their own).
pub trait Clock: Send + Sync + 'static {
    /// UNIX time in milliseconds.
    fn now_ms(&self) -> i64;

    /// UNIX seconds.
    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Run the scheduler for the daemon's life.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(run(state, Arc::new(SystemClock), Arc::new(LocalZone)));
}

async fn run(state: Arc<AppState>, clock: Arc<dyn Clock>, zone: Arc<dyn Zone>) {
    let mut first_run = true;
    loop {
        let now = clock.now();
        run_due_jobs(&state, now, first_run, zone.as_ref()).await;
        first_run = false;
        // Wake at the start of the minute after this pass's time (at once if the pass ran
        // into it), so no minute is left out.
        let next_minute_ms = (now.div_euclid(60) + 1) * 60_000;
        let wait = (next_minute_ms - clock.now_ms()).max(0);
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// One pass over every job: start those that are due; drop states of deleted jobs.
pub(crate) async fn run_due_jobs(
    state: &Arc<AppState>,
    now: i64,
    first_run: bool,
    zone: &dyn Zone,
) {
    let jobs = match read_jobs(state.store.as_ref()).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!("backup scheduler: cannot read jobs.cfg: {}", e.message);
            return;
        }
    };
    for id in state::state_ids(&state.data_dir) {
        if !jobs.iter().any(|j| j.id == id) {
            state::remove_state(&state.data_dir, &id);
        }
    }
    let running = state.tasks.running_tasks();
    for job in &jobs {
        let mut st = state::read_state(&state.data_dir, &job.id)
            .unwrap_or_else(|| JobState::created(now, job.get("schedule"), job.get("enabled")));
        let before = st.clone();
        let task_running = st
            .upid
            .as_ref()
            .is_some_and(|u| running.iter().any(|r| r.to_string() == *u));
        let tick = Tick {
            node: &state.node,
            now,
            first_run,
            zone,
        };
        let decision = decide(job, &mut st, &tick, task_running);
        match &decision {
            Decision::Run => {
                st = starting(&st, now);
                persist(state, &job.id, &st);
                let result = start_job(state, job).await;
                if let Err(msg) = &result {
                    tracing::warn!("backup job '{}' could not start: {msg}", job.id);
                }
                started(&mut st, result);
            }
            Decision::MissedSkipped(at) => tracing::info!(
                "backup job '{}' missed its run at {at} while the scheduler was not running; \
                 not repeated (repeat-missed is off)",
                job.id
            ),
            _ => {}
        }
        if st != before {
            persist(state, &job.id, &st);
        }
    }
}

fn persist(state: &AppState, id: &str, st: &JobState) {
    if let Err(e) = state::write_state(&state.data_dir, id, st) {
        tracing::warn!("backup job '{id}': cannot record its state: {e}");
    }
}

/// Start one run of a job through vzdump as `root@pam`; the UPID of its task.
async fn start_job(
    state: &Arc<AppState>,
    job: &crate::api::backup_jobs::store::BackupJob,
) -> Result<String, String> {
    let env = RpcEnv {
        state: state.clone(),
        auth_id: Some(oxve_auth::Authid::root()),
        client: None,
        upload: None,
    };
    let params = vzdump_params(job, &state.node);
    crate::api::vzdump::start_vzdump(&env, params)
        .await
        .map_err(|e| e.message)
}
