//! Whether a backup job runs now: Proxmox's `PVE::Jobs::run_jobs` for one job, as a pure
//! function of the job, its state, the time and whether its last task still runs, so the
//! decisions are tested with a simulated clock.

use oxve_types::calendar::{CalendarEvent, Zone};

use crate::api::backup_jobs::state::JobState;
use crate::api::backup_jobs::store::BackupJob;

/// One scheduler pass.
pub(crate) struct Tick<'a> {
    pub node: &'a str,
    pub now: i64,
    /// The first pass after the daemon started.
    pub first_run: bool,
    pub zone: &'a dyn Zone,
}

/// What the scheduler does with a job in this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Start it now.
    Run,
    /// Not yet; its next run (none: the schedule has no future event).
    Wait(Option<i64>),
    /// Its run at this time was missed while the daemon was down and `repeat-missed` is off,
    /// so it is not made up (as Proxmox); it waits for its next run.
    MissedSkipped(i64),
    /// Not for this pass: another node's job, disabled, without a valid schedule, or its
    /// previous run still going.
    Skip(&'static str),
}

/// Decide for one job, updating its state as Proxmox does before deciding: a task that has
/// ended is noted, a changed schedule or enabled flag counts from now, and on the first pass
/// without `repeat-missed` the time missed while down is skipped.
pub(crate) fn decide(
    job: &BackupJob,
    st: &mut JobState,
    tick: &Tick,
    task_running: bool,
) -> Decision {
    use Decision::Skip;
    if job.get("node").is_some_and(|n| n != tick.node) {
        return Skip("runs on another node");
    }
    if st.state == "started" && !task_running {
        st.state = "stopped".into();
    }
    let seen = (job.get("schedule"), job.get("enabled"));
    if (st.config.schedule.as_deref(), st.config.enabled.as_deref()) != seen {
        st.config.schedule = seen.0.map(str::to_string);
        st.config.enabled = seen.1.map(str::to_string);
        st.updated = Some(tick.now);
    }
    let event = job
        .get("schedule")
        .and_then(|s| CalendarEvent::parse(s).ok());
    let mut missed = None;
    if tick.first_run && job.flag("repeat-missed") != Some(true) {
        if let Some(at) = event
            .as_ref()
            .and_then(|e| e.next_after(st.last_runtime(), tick.zone))
            .filter(|at| *at <= tick.now)
        {
            missed = Some(at);
        }
        st.updated = Some(tick.now);
    }
    if !job.flag("enabled").unwrap_or(true) {
        return Skip("disabled");
    }
    let Some(event) = event else {
        return Skip("no valid schedule");
    };
    let next = event.next_after(st.last_runtime(), tick.zone);
    match next {
        Some(at) if at <= tick.now => {
            if st.state == "started" {
                Skip("previous run still active")
            } else {
                Decision::Run
            }
        }
        _ => match missed {
            Some(at) => Decision::MissedSkipped(at),
            None => Decision::Wait(next),
        },
    }
}

/// The state of a job that is being started now (Proxmox's `starting_job`).
pub(crate) fn starting(st: &JobState, now: i64) -> JobState {
    JobState {
        state: "starting".into(),
        time: now,
        upid: None,
        msg: None,
        updated: None,
        config: st.config.clone(),
    }
}

/// After the start: the task that runs it, or why it could not start (`started_job`).
pub(crate) fn started(st: &mut JobState, result: Result<String, String>) {
    match result {
        Ok(upid) => {
            st.state = "started".into();
            st.upid = Some(upid);
        }
        Err(msg) => {
            st.state = "stopped".into();
            st.msg = Some(msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxve_types::calendar::{days_from_civil, FixedOffset};

    fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    fn job(props: &[(&str, &str)]) -> BackupJob {
        let mut j = BackupJob {
            id: "backup-1".into(),
            ..Default::default()
        };
        for (k, v) in props {
            j.set(k, *v);
        }
        j
    }

    /// Simulates the scheduler ticking every minute from `from` to `to` (the daemon started at
    /// `from`); each run's task ends within the minute. Returns the run times.
    fn simulate(
        job: &BackupJob,
        st: &mut JobState,
        from: i64,
        to: i64,
        zone: &dyn Zone,
    ) -> Vec<i64> {
        let mut runs = Vec::new();
        let mut now = from;
        let mut first = true;
        while now <= to {
            let tick = Tick {
                node: "n1",
                now,
                first_run: first,
                zone,
            };
            if decide(job, st, &tick, false) == Decision::Run {
                *st = starting(st, now);
                started(st, Ok(format!("UPID:{now}")));
                runs.push(now);
            }
            first = false;
            now += 60;
        }
        runs
    }

    fn created(j: &BackupJob, t: i64) -> JobState {
        JobState::created(t, j.get("schedule"), j.get("enabled"))
    }

    #[test]
    fn runs_at_each_calendar_time_once() {
        // 2024-01-06 is a Saturday.
        let j = job(&[("schedule", "sat 02:00"), ("enabled", "1")]);
        let mut st = created(&j, at(2024, 1, 1, 12, 0));
        let runs = simulate(
            &j,
            &mut st,
            at(2024, 1, 1, 12, 0),
            at(2024, 1, 20, 0, 0),
            &FixedOffset::UTC,
        );
        assert_eq!(runs, [at(2024, 1, 6, 2, 0), at(2024, 1, 13, 2, 0)]);

        let j = job(&[("schedule", "*/4:00")]);
        let mut st = created(&j, at(2024, 1, 1, 1, 0));
        let runs = simulate(
            &j,
            &mut st,
            at(2024, 1, 1, 1, 0),
            at(2024, 1, 1, 13, 0),
            &FixedOffset::UTC,
        );
        assert_eq!(
            runs,
            [
                at(2024, 1, 1, 4, 0),
                at(2024, 1, 1, 8, 0),
                at(2024, 1, 1, 12, 0)
            ]
        );
    }

    #[test]
    fn local_time_decides() {
        // 02:00 at UTC+2 is 00:00 UTC.
        let j = job(&[("schedule", "02:00")]);
        let mut st = created(&j, at(2024, 1, 1, 12, 0));
        let runs = simulate(
            &j,
            &mut st,
            at(2024, 1, 1, 12, 0),
            at(2024, 1, 2, 12, 0),
            &FixedOffset::hours(2),
        );
        assert_eq!(runs, [at(2024, 1, 2, 0, 0)]);
    }

    #[test]
    fn restart_neither_repeats_nor_runs_twice() {
        let j = job(&[("schedule", "daily")]);
        let mut st = created(&j, at(2024, 1, 1, 12, 0));
        let runs = simulate(
            &j,
            &mut st,
            at(2024, 1, 1, 12, 0),
            at(2024, 1, 2, 0, 5),
            &FixedOffset::UTC,
        );
        assert_eq!(runs, [at(2024, 1, 2, 0, 0)]);
        // The daemon restarts a few minutes later: the run of today is not repeated.
        let runs = simulate(
            &j,
            &mut st,
            at(2024, 1, 2, 0, 10),
            at(2024, 1, 2, 12, 0),
            &FixedOffset::UTC,
        );
        assert!(runs.is_empty());
    }

    #[test]
    fn missed_runs_follow_repeat_missed() {
        // Down from before midnight until 03:00: the 00:00 run was missed.
        let mut j = job(&[("schedule", "daily")]);
        let down = at(2024, 1, 1, 23, 0);
        let back = at(2024, 1, 2, 3, 0);
        let tick = Tick {
            node: "n1",
            now: back,
            first_run: true,
            zone: &FixedOffset::UTC,
        };
        let mut st = created(&j, down);
        assert_eq!(
            decide(&j, &mut st, &tick, false),
            Decision::MissedSkipped(at(2024, 1, 2, 0, 0))
        );
        // Not made up later that day either.
        let later = Tick {
            now: back + 60,
            first_run: false,
            ..tick
        };
        assert_eq!(
            decide(&j, &mut st, &later, false),
            Decision::Wait(Some(at(2024, 1, 3, 0, 0)))
        );

        // With repeat-missed the missed run starts at once, then once only.
        j.set("repeat-missed", "1");
        let mut st = created(&j, down);
        assert_eq!(decide(&j, &mut st, &tick, false), Decision::Run);
        st = starting(&st, back);
        started(&mut st, Ok("UPID:x".into()));
        let later = Tick {
            now: back + 60,
            first_run: false,
            ..tick
        };
        assert_eq!(
            decide(&j, &mut st, &later, false),
            Decision::Wait(Some(at(2024, 1, 3, 0, 0)))
        );
    }

    #[test]
    fn skips_other_nodes_disabled_and_running() {
        let tick = Tick {
            node: "n1",
            now: at(2024, 1, 2, 0, 0),
            first_run: false,
            zone: &FixedOffset::UTC,
        };
        let j = job(&[("schedule", "daily"), ("node", "n2")]);
        let mut st = created(&j, at(2024, 1, 1, 12, 0));
        assert!(matches!(
            decide(&j, &mut st, &tick, false),
            Decision::Skip(_)
        ));
        let j = job(&[("schedule", "daily"), ("enabled", "0")]);
        let mut st = created(&j, at(2024, 1, 1, 12, 0));
        assert_eq!(
            decide(&j, &mut st, &tick, false),
            Decision::Skip("disabled")
        );
        // Re-enabled: counts from the change, so the past midnight is not run.
        let j = job(&[("schedule", "daily"), ("enabled", "1")]);
        assert!(matches!(
            decide(&j, &mut st, &tick, false),
            Decision::Wait(_)
        ));

        let j = job(&[("schedule", "*:*")]);
        let mut st = created(&j, at(2024, 1, 1, 23, 58));
        st = starting(&st, at(2024, 1, 1, 23, 59));
        started(&mut st, Ok("UPID:x".into()));
        assert_eq!(
            decide(&j, &mut st, &tick, true),
            Decision::Skip("previous run still active")
        );
        assert_eq!(decide(&j, &mut st, &tick, false), Decision::Run);

        // A start that failed is noted, and the job is due again at its next time.
        let mut st = created(&j, at(2024, 1, 1, 23, 58));
        started(&mut st, Err("vzdump failed".into()));
        assert_eq!(st.state, "stopped");
        assert_eq!(decide(&j, &mut st, &tick, false), Decision::Run);
    }
}
