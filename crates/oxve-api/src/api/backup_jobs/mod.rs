//! `/cluster/backup`: backup jobs (Proxmox's `PVE::API2::Backup`), kept as `vzdump` sections
//! of `jobs.cfg` in the store and run by the daemon's scheduler ([`crate::scheduler`]) at
//! their calendar `schedule` through vzdump.

pub(crate) mod included;
mod info;
pub(crate) mod schema;
pub(crate) mod state;
pub(crate) mod store;
mod validate;

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission, PermissionChecker};
use oxve_types::calendar::{CalendarEvent, LocalZone};
use oxve_types::params::Params;
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use crate::env::RpcEnv;
use schema::{to_json, to_texts, JOB_ONLY, ROOT_ONLY};
use state::JobState;
use store::{read_jobs, update_jobs, BackupJob, JOB_TYPE};

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A job as `GET` returns it: typed values, `id`, `type`.
fn job_json(job: &BackupJob) -> Value {
    let mut v = json!({ "id": job.id, "type": JOB_TYPE });
    for (key, texts) in &job.props {
        v[key.as_str()] = to_json(key, texts);
    }
    v
}

/// When the job runs next, computed from now as Proxmox lists it.
fn next_run(job: &BackupJob, now: i64) -> Option<i64> {
    CalendarEvent::parse(job.get("schedule")?)
        .ok()?
        .next_after(now, &LocalZone)
}

/// A random job id like Proxmox's: `backup-` and the first 13 characters of a UUID.
fn generate_id() -> String {
    let mut bytes = [0u8; 6];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("backup-{}-{}", &hex[..8], &hex[8..12])
}

/// Proxmox's `assert_param_permission_*`: root-only options, and Datastore.Allocate on the
/// target storage (`local` when neither storage nor dumpdir is given) for new targets.
async fn check_param_permissions(
    env: &RpcEnv,
    set: &[&str],
    storage_target: Option<&str>,
) -> Result<(), ApiError> {
    let perms = env.permissions().await?;
    if perms.is_root() {
        return Ok(());
    }
    for key in ROOT_ONLY.iter().chain(["job-id"].iter()) {
        if set.contains(key) {
            return Err(ApiError::param(*key, "Only root may set this option."));
        }
    }
    if let Some(storage) = storage_target {
        let path = format!("/storage/{storage}");
        if !perms.has_privs(&path, &["Datastore.Allocate"], false) {
            return Err(ApiError::permission_check_failed(
                &path,
                "Datastore.Allocate",
            ));
        }
    }
    Ok(())
}

/// The job properties given in `params` (validated), as stored texts.
fn given_props(params: &Params) -> Vec<(String, Vec<String>)> {
    schema::properties()
        .into_iter()
        .filter_map(|(name, _, _)| params.get(name).map(|v| (name.to_string(), to_texts(v))))
        .collect()
}

fn no_such_job(id: &str) -> ApiError {
    ApiError::param("id", format!("No such job '{id}'"))
}

const AUDIT: Permission = Permission::Privs {
    path: "/",
    privs: &["Sys.Audit"],
    any: false,
};
const MODIFY: Permission = Permission::Privs {
    path: "/",
    privs: &["Sys.Modify"],
    any: false,
};

async fn create_job(env: RpcEnv, params: Params) -> Result<Value, ApiError> {
    let given = given_props(&params);
    let keys: Vec<&str> = given.iter().map(|(k, _)| k.as_str()).collect();
    let storage_target = params.str("storage").or(if params.has("dumpdir") {
        None
    } else {
        Some("local")
    });
    check_param_permissions(&env, &keys, storage_target).await?;
    let mut job = BackupJob {
        id: params.str("id").map_or_else(generate_id, str::to_string),
        ..Default::default()
    };
    job.props.extend(given);
    validate::convert_starttime(&mut job);
    if job.get("enabled").is_none() {
        job.set("enabled", "1");
    }
    if job.get("exclude").is_some() && job.get("pool").is_none() {
        job.set("all", "1");
    }
    validate::verify_job(&job)?;
    let created = job.clone();
    update_jobs(env.state.store.as_ref(), move |jobs| {
        if jobs.iter().any(|j| j.id == created.id) {
            return Err(ApiError::param(
                "id",
                format!("Job ID '{}' already exists", created.id),
            ));
        }
        jobs.push(created.clone());
        Ok(())
    })
    .await?;
    let st = JobState::created(now(), job.get("schedule"), job.get("enabled"));
    state::write_state(&env.state.data_dir, &job.id, &st)
        .map_err(|e| ApiError::internal(format!("cannot record the job state: {e}")))?;
    Ok(Value::Null)
}

async fn update_job(env: RpcEnv, params: Params) -> Result<Value, ApiError> {
    let id = params.req_str("id").to_string();
    let given = given_props(&params);
    let delete: Vec<String> = params
        .str("delete")
        .map(|d| {
            oxve_types::format::split_list(d)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if given.is_empty() && delete.is_empty() {
        return Err(ApiError::bad_request("no options specified"));
    }
    for key in &delete {
        if schema::kind_of(key).is_none() || matches!(key.as_str(), "id") {
            return Err(ApiError::param("delete", format!("unknown option '{key}'")));
        }
    }
    let mut keys: Vec<&str> = given.iter().map(|(k, _)| k.as_str()).collect();
    keys.extend(delete.iter().map(String::as_str));
    let storage_target = match params.str("storage") {
        Some(s) => Some(s),
        None if delete.iter().any(|d| d == "storage") => Some("local"),
        None => None,
    };
    check_param_permissions(&env, &keys, storage_target).await?;
    let given_keys: Vec<String> = given.iter().map(|(k, _)| k.clone()).collect();
    let job = update_jobs(env.state.store.as_ref(), move |jobs| {
        let job = jobs
            .iter_mut()
            .find(|j| j.id == id)
            .ok_or_else(|| no_such_job(&id))?;
        let mut changed = job.clone();
        for key in &delete {
            changed.props.remove(key);
        }
        changed.props.extend(given.iter().cloned());
        validate::convert_starttime(&mut changed);
        let given: Vec<&str> = given_keys.iter().map(String::as_str).collect();
        validate::normalize_selection(&mut changed, &given);
        validate::verify_job(&changed)?;
        *job = changed.clone();
        Ok(changed)
    })
    .await?;
    // A new schedule or enabled flag counts from now (Proxmox's update_last_runtime).
    let data_dir = &env.state.data_dir;
    let mut st = state::read_state(data_dir, &job.id)
        .unwrap_or_else(|| JobState::created(now(), None, None));
    let seen = (st.config.schedule.as_deref(), st.config.enabled.as_deref());
    if seen != (job.get("schedule"), job.get("enabled")) {
        st.config.schedule = job.get("schedule").map(str::to_string);
        st.config.enabled = job.get("enabled").map(str::to_string);
        st.updated = Some(now());
        state::write_state(data_dir, &job.id, &st)
            .map_err(|e| ApiError::internal(format!("cannot record the job state: {e}")))?;
    }
    Ok(Value::Null)
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let mut all = info::methods();
    all.extend(included::methods());
    all.extend(job_methods());
    all
}

fn job_methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/cluster/backup", "index")
            .description("List vzdump backup schedule.")
            .returns(Schema::array(
                "",
                Schema::object("").additional_properties(true),
            ))
            .permission(AUDIT)
            .handler(|env: RpcEnv, _| async move {
                let now = now();
                let jobs = read_jobs(env.state.store.as_ref()).await?;
                let list: Vec<Value> = jobs
                    .iter()
                    .map(|job| {
                        let mut v = job_json(job);
                        if let Some(next) = next_run(job, now) {
                            v["next-run"] = json!(next);
                        }
                        v
                    })
                    .collect();
                Ok(json!(list))
            }),
        ApiMethod::new(HttpMethod::Post, "/cluster/backup", "create_job")
            .description("Create new vzdump backup job.")
            .parameters(schema::create_schema())
            .returns(Schema::Null)
            .permission(MODIFY)
            .protected()
            .handler(create_job),
        ApiMethod::new(HttpMethod::Get, "/cluster/backup/{id}", "read_job")
            .description("Read vzdump backup job definition.")
            .parameters(Schema::object("").required("id", schema::id_param()))
            .returns(Schema::object("").additional_properties(true))
            .permission(AUDIT)
            .handler(|env: RpcEnv, params| async move {
                let id = params.req_str("id");
                let jobs = read_jobs(env.state.store.as_ref()).await?;
                let job = jobs
                    .iter()
                    .find(|j| j.id == id)
                    .ok_or_else(|| no_such_job(id))?;
                Ok(job_json(job))
            }),
        ApiMethod::new(HttpMethod::Put, "/cluster/backup/{id}", "update_job")
            .description("Update vzdump backup job definition.")
            .parameters(schema::update_schema())
            .returns(Schema::Null)
            .permission(MODIFY)
            .protected()
            .handler(update_job),
        ApiMethod::new(HttpMethod::Delete, "/cluster/backup/{id}", "delete_job")
            .description("Delete vzdump backup job definition.")
            .parameters(Schema::object("").required("id", schema::id_param()))
            .returns(Schema::Null)
            .permission(MODIFY)
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let id = params.req_str("id").to_string();
                let target = id.clone();
                update_jobs(env.state.store.as_ref(), move |jobs| {
                    let before = jobs.len();
                    jobs.retain(|j| j.id != target);
                    if jobs.len() == before {
                        return Err(no_such_job(&target));
                    }
                    Ok(())
                })
                .await?;
                state::remove_state(&env.state.data_dir, &id);
                Ok(Value::Null)
            }),
    ]
}

/// The vzdump parameters a job runs with: its vzdump options, this node, the job id, quiet
/// (as Proxmox's `PVE::Jobs::VZDump::run`).
pub(crate) fn vzdump_params(job: &BackupJob, node: &str) -> Params {
    let mut map = serde_json::Map::new();
    for (key, texts) in &job.props {
        if JOB_ONLY.contains(&key.as_str()) || key == "node" {
            continue;
        }
        map.insert(key.clone(), schema::to_param(key, texts));
    }
    map.insert("node".into(), json!(node));
    map.insert("job-id".into(), json!(job.id));
    map.insert("quiet".into(), json!(true));
    Params::new(map)
}
