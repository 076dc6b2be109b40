//! /nodes/{node}/tasks: list, status, log and stop of worker tasks. Users see their own
//! tasks; Sys.Audit on /nodes/<node> shows everyone's, Sys.Modify stops everyone's.

use oxve_router::{ApiError, ApiMethod, ApiResponse, HttpMethod, Permission};
use oxve_tasks::{TaskError, TaskFilter, TaskSource, TaskStatusType, Upid};
use oxve_types::params::Params;
use oxve_types::schema::Schema;
use serde_json::json;

use super::common::{local_node, node_param};
use crate::env::RpcEnv;

fn upid_param() -> oxve_types::schema::StringSchema {
    Schema::string("The task's unique ID.").max_length(oxve_tasks::MAX_UPID_LEN)
}

fn task_error(err: TaskError) -> ApiError {
    match err {
        TaskError::InvalidUpid { .. } | TaskError::InvalidField { .. } => {
            ApiError::param("upid", err.to_string())
        }
        TaskError::NoSuchTask { .. } => ApiError::internal(err.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

fn parse_upid(params: &Params) -> Result<Upid, ApiError> {
    params.req_str("upid").parse::<Upid>().map_err(task_error)
}

/// Owners may see and stop their own tasks; others need `privilege` on the node.
async fn check_task_access(
    env: &RpcEnv,
    upid: &Upid,
    privilege: &'static str,
) -> Result<(), ApiError> {
    if upid.auth_id() == env.caller_string() {
        return Ok(());
    }
    let path = format!("/nodes/{}", upid.node());
    if env.has_privs(&path, &[privilege], false).await {
        Ok(())
    } else {
        Err(ApiError::permission_check_failed(&path, privilege))
    }
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    let node_upid = || {
        Schema::object("")
            .required("node", node_param())
            .required("upid", upid_param())
    };
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/tasks", "node_tasks")
            .description("Read task list for one node (finished tasks by default).")
            .parameters(
                Schema::object("")
                    .required("node", node_param())
                    .optional("start", Schema::integer("List tasks beginning from this offset.").minimum(0).default(0))
                    .optional("limit", Schema::integer("Only list this number of tasks.").minimum(0).default(50))
                    .optional("vmid", Schema::integer("Only list tasks for this VM.").minimum(100).maximum(999_999_999))
                    .optional("typefilter", Schema::string("Only list tasks of this type (e.g., vzstart, vzdump)."))
                    .optional("userfilter", Schema::string("Only list tasks from this user."))
                    .optional("errors", Schema::boolean("Only list tasks with a status of ERROR.").default(false))
                    .optional("source", Schema::string("List archived, active or all tasks.").enum_values(&["archive", "active", "all"]).default("archive"))
                    .optional("since", Schema::integer("Only list tasks since this UNIX epoch."))
                    .optional("until", Schema::integer("Only list tasks until this UNIX epoch."))
                    .optional("statusfilter", Schema::string("List of task states that should be returned (ok, error, warning, unknown).")),
            )
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Custom(
                "the caller's own tasks, or all with Sys.Audit on /nodes/<node>",
            ))
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let mut filter = TaskFilter {
                    start: params.int_or("start", 0) as usize,
                    limit: params.int_or("limit", 50) as usize,
                    vmid: params.int("vmid").map(|v| v as u32),
                    typefilter: params.str("typefilter").map(str::to_string),
                    userfilter: params.str("userfilter").map(str::to_string),
                    errors: params.bool_or("errors", false),
                    source: params
                        .str("source")
                        .unwrap_or("archive")
                        .parse::<TaskSource>()
                        .map_err(|e| ApiError::param("source", e))?,
                    since: params.int("since"),
                    until: params.int("until"),
                    statusfilter: params
                        .str("statusfilter")
                        .map(TaskStatusType::parse_list)
                        .transpose()
                        .map_err(|e| ApiError::param("statusfilter", e))?,
                };
                let node_path = format!("/nodes/{}", env.state.node);
                if !env.has_privs(&node_path, &["Sys.Audit"], false).await {
                    // Without audit rights only the caller's own tasks are listed.
                    filter.userfilter = None;
                    let (all, _) = env.state.tasks.list(&TaskFilter {
                        start: 0,
                        limit: usize::MAX,
                        ..filter.clone()
                    });
                    let me = env.caller_string();
                    let mine: Vec<_> = all
                        .into_iter()
                        .filter(|t| t.upid.auth_id() == me)
                        .collect();
                    let total = mine.len() as u64;
                    let page: Vec<_> = mine.into_iter().skip(filter.start).take(filter.limit).collect();
                    return Ok(ApiResponse::with_total(json!(page), total));
                }
                let (entries, total) = env.state.tasks.list(&filter);
                Ok(ApiResponse::with_total(json!(entries), total as u64))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/tasks/{upid}", "upid_index")
            .description("Index of one task's subdirectories.")
            .parameters(node_upid())
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Anybody)
            .handler(|_env: RpcEnv, _params| async move {
                Ok(json!([{"name": "log"}, {"name": "status"}]))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/tasks/{upid}/status", "read_task_status")
            .description("Read task status.")
            .parameters(node_upid())
            .returns(Schema::object("").additional_properties(true))
            .permission(Permission::Custom(
                "the task's owner, or Sys.Audit on /nodes/<node>",
            ))
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let upid = parse_upid(&params)?;
                check_task_access(&env, &upid, "Sys.Audit").await?;
                let status = env.state.tasks.status(&upid).await.map_err(task_error)?;
                Ok(json!(status))
            }),
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/tasks/{upid}/log", "read_task_log")
            .description("Read task log.")
            .parameters(
                node_upid()
                    .optional("start", Schema::integer("Start at this line (0-based offset).").minimum(0).default(0))
                    .optional("limit", Schema::integer("The number of lines to read.").minimum(0).default(50))
                    .optional("download", Schema::boolean("Whether the whole log should be returned.")),
            )
            .returns(Schema::array("", Schema::object("").additional_properties(true)))
            .permission(Permission::Custom(
                "the task's owner, or Sys.Audit on /nodes/<node>",
            ))
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let upid = parse_upid(&params)?;
                check_task_access(&env, &upid, "Sys.Audit").await?;
                let (start, limit) = if params.bool_or("download", false) {
                    (0, 0)
                } else {
                    (params.int_or("start", 0) as usize, params.int_or("limit", 50) as usize)
                };
                let (lines, total) = env
                    .state
                    .tasks
                    .read_log(&upid, start, limit)
                    .await
                    .map_err(task_error)?;
                Ok(ApiResponse::with_total(json!(lines), total as u64))
            }),
        ApiMethod::new(HttpMethod::Delete, "/nodes/{node}/tasks/{upid}", "stop_task")
            .description("Stop a task.")
            .parameters(node_upid())
            .returns(Schema::Null)
            .permission(Permission::Custom(
                "the task's owner, or Sys.Modify on /nodes/<node>",
            ))
            .protected()
            .handler(|env: RpcEnv, params| async move {
                local_node(&env, params.req_str("node"))?;
                let upid = parse_upid(&params)?;
                check_task_access(&env, &upid, "Sys.Modify").await?;
                env.state.tasks.abort(&upid).await.map_err(task_error)?;
                Ok(json!(null))
            }),
    ]
}
